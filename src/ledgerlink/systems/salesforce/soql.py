"""Literals for SOQL built from data: every id and string that reaches a query goes through here, so a quote in a
record can never change the query."""

from __future__ import annotations

from collections.abc import Iterable

from ledgerlink.systems.errors import PermanentError


def escape(text: str) -> str:
    """The inside of a quoted SOQL string: backslashes and quotes escaped."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


def escape_like(text: str) -> str:
    """The inside of a LIKE pattern matched literally: the wildcards escaped too."""
    return escape(text).replace("%", "\\%").replace("_", "\\_")


def string(text: str) -> str:
    """A quoted SOQL string literal."""
    return f"'{escape(text)}'"


def record_id(value: str) -> str:
    """A Salesforce id, refused unless it looks like one (ids come from Salesforce or our own queue)."""
    if not value.isalnum() or len(value) not in (15, 18):
        raise PermanentError(f"{value!r} is not a Salesforce id", system="salesforce", code="INVALID_ID", field="Id")
    return value


def id_list(ids: Iterable[str]) -> str:
    """``'001…', '001…'`` for ``WHERE Id IN (…)``."""
    return ", ".join(f"'{record_id(value)}'" for value in ids)
