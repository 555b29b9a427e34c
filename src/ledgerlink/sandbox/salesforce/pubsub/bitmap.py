"""``changedFields`` / ``nulledFields`` / ``diffFields`` as Pub/Sub API bitmaps.

Salesforce's published encoding: the list's first element is ``"0x"`` + hex of an integer in which bit *i*
(least significant bit = 0) is set when the field at position *i* of the event's Avro schema (top-level fields,
``ChangeEventHeader`` at 0) is in the set. Decoders read the hex digits big-endian and reverse the bit string, so
the integer reading is the same thing. Nested fields of compound fields follow as ``"<parentPos>-0x<hex>"`` (written
by ``ChangeEventSchema.bitmap``). We write whole bytes in upper-case hex (``0x650004E0``, as in Salesforce's
examples) and an empty list when no field is named.
"""

from __future__ import annotations


def encode_bitmap(names: list[str], field_order: tuple[str, ...]) -> list[str]:
    positions = {name: index for index, name in enumerate(field_order)}
    value = 0
    for name in names:
        if name in positions:  # fields outside the event schema (e.g. SystemModstamp) are not reported
            value |= 1 << positions[name]
    if not value:
        return []
    width = (value.bit_length() + 7) // 8 * 2
    return [f"0x{value:0{width}X}"]
