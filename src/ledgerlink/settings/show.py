"""The settings as shown (``config show``, the console): every key in force, with secrets masked."""

from __future__ import annotations

import re
from typing import Any

import tomlkit

from ledgerlink.settings.model import LedgerLinkSettings

MASK = "***"
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+(?P<tail>@)", re.IGNORECASE)
_SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey", "private_key")


def mask_url(url: str) -> str:
    """A database URL without its password."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}{m.group('tail')}", url)


def _masked(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _masked(v, k) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_masked(v, key) for v in value]
    if isinstance(value, str):
        if any(word in key.lower() for word in _SECRET_WORDS):
            return MASK
        return mask_url(value) if "://" in value else value
    return value


def as_dict(settings: LedgerLinkSettings) -> dict[str, Any]:
    """Plain values (JSON-able), secrets masked, unset overrides left out."""
    data = settings.model_dump(mode="json", exclude_none=True)
    return dict(_masked(data))


def as_toml(settings: LedgerLinkSettings) -> str:
    return tomlkit.dumps(as_dict(settings))
