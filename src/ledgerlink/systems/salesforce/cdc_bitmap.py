"""Decode the Pub/Sub API's field bitmaps (``changedFields``, ``nulledFields``, ``diffFields``) into field names.

Salesforce's encoding: the first element ``"0x<hex>"`` is an integer whose bit i (least significant = 0) marks
top-level Avro field i of the event schema; further elements ``"<pos>-0x<hex>"`` do the same for the sub-fields of
the compound field at top-level position ``pos`` (reported as ``Parent.Child``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _positions(hex_text: str) -> list[int]:
    value = int(hex_text, 16)
    return [bit for bit in range(value.bit_length()) if value >> bit & 1]


def _record_fields(avro_type: Any) -> list[str] | None:
    """Sub-field names when ``avro_type`` is a record or an optional record (a union with null)."""
    candidates = avro_type if isinstance(avro_type, list) else [avro_type]
    for candidate in candidates:
        if isinstance(candidate, dict) and candidate.get("type") == "record":
            return [f["name"] for f in candidate["fields"]]
    return None


def decode_bitmap(bitmap: Sequence[str], schema: dict[str, Any]) -> list[str]:
    """Field names named by ``bitmap`` in ``schema`` (the event's Avro schema as JSON data); plain names pass through
    (CometD delivers names, and a list may already be decoded)."""
    fields = schema["fields"]
    names: list[str] = []
    for element in bitmap:
        if element.startswith("0x"):
            names.extend(fields[pos]["name"] for pos in _positions(element) if pos < len(fields))
            continue
        parent, sep, hex_text = element.partition("-")
        if sep and parent.isdigit() and hex_text.startswith("0x") and int(parent) < len(fields):
            parent_field = fields[int(parent)]
            sub_fields = _record_fields(parent_field["type"]) or []
            names.extend(
                f"{parent_field['name']}.{sub_fields[pos]}" for pos in _positions(hex_text) if pos < len(sub_fields)
            )
        else:
            names.append(element)
    return names
