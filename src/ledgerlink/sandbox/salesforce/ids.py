"""Salesforce record ids: 15 case-sensitive characters plus the 3-character case-safe checksum.

The 15-character form is ``<key prefix:3><pod:2><reserved:1><counter:9>``; the counter is base 62 in ASCII order
(0-9, A-Z, a-z), so ids of one object sort in creation order when compared case-sensitively, as they do in a real org.
"""

from __future__ import annotations

import re

_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")
POD = "5g"


def checksum(id15: str) -> str:
    """The 3-character suffix: for each 5-character chunk, a bit per upper-case letter, read right to left."""
    if len(id15) != 15:
        raise ValueError(f"expected 15 characters, got {id15!r}")
    suffix = ""
    for start in (0, 5, 10):
        bits = 0
        for i, ch in enumerate(id15[start : start + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        suffix += _CHECKSUM_ALPHABET[bits]
    return suffix


def to18(record_id: str) -> str:
    """Return the 18-character form of a 15- or 18-character id (an 18-character id is re-derived, not trusted)."""
    return record_id[:15] + checksum(record_id[:15])


def is_valid_id(value: str) -> bool:
    """True for a well-formed 15-character id or an 18-character id whose checksum matches."""
    if not _ID_RE.match(value):
        return False
    return len(value) == 15 or value[15:] == checksum(value[:15])


def normalize(value: str) -> str | None:
    """The 18-character id for a 15/18-character input, or None if it is not an id."""
    return to18(value) if is_valid_id(value) else None


def make_id(key_prefix: str, counter: int) -> str:
    """The 18-character id number ``counter`` of the object with ``key_prefix``."""
    digits = ""
    n = counter
    while n:
        n, rem = divmod(n, 62)
        digits = _BASE62[rem] + digits
    body = digits.rjust(9, "0")
    if len(body) > 9:
        raise OverflowError("id counter exhausted")
    return to18(f"{key_prefix}{POD}0{body}")
