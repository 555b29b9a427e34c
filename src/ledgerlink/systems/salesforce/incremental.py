"""Incremental reads by ``(SystemModstamp, Id)``: the watermark that loses nothing.

Records are read in ``(SystemModstamp, Id)`` order, resuming with
``(SystemModstamp = :ts AND Id > :id) OR SystemModstamp > :ts``, only up to ``now − lag`` (commits land late).
The caller saves the position only after a page has been durably handed on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

EPOCH = "1970-01-01T00:00:00.000Z"


@dataclass(frozen=True)
class Position:
    modstamp: str  # SOQL datetime literal, e.g. 2024-01-01T00:00:00.000Z
    record_id: str

    def encode(self) -> str:
        return f"{self.modstamp}|{self.record_id}"

    @classmethod
    def decode(cls, text: str | None) -> Position:
        if not text:
            return cls(EPOCH, "")
        stamp, _, record_id = text.partition("|")
        return cls(stamp, record_id)


def soql_datetime(value: str) -> str:
    """Salesforce's JSON datetime (``2022-07-28T12:49:16.000+0000``) as a SOQL literal in UTC."""
    parsed = dt.datetime.strptime(value.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def incremental_soql(sobject: str, fields: list[str], where: str | None, since: Position, upper: str | None) -> str:
    resume = (
        f"(SystemModstamp = {since.modstamp} AND Id > '{since.record_id}') OR SystemModstamp > {since.modstamp}"
        if since.record_id
        else f"SystemModstamp > {since.modstamp}"
    )
    clauses = [f"({resume})"]
    if upper:
        clauses.append(f"SystemModstamp <= {upper}")
    if where:
        clauses.insert(0, f"({where})")
    columns = ", ".join(dict.fromkeys(["Id", "SystemModstamp", *fields]))
    return f"SELECT {columns} FROM {sobject} WHERE {' AND '.join(clauses)} ORDER BY SystemModstamp, Id"


def upper_bound(lag_seconds: float, now: dt.datetime | None = None) -> str | None:
    """``now − lag`` as a SOQL literal; None for no lag (tests and the demo, where nothing commits late)."""
    if lag_seconds <= 0:
        return None
    upper = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=lag_seconds)
    return upper.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
