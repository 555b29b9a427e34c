"""Reading a vendor's JSON whatever casing it uses for a key: before a mapping reads a row, every key whose name
matches a documented one ignoring case is renamed to the documented spelling (``VatNumber`` -> ``VATNumber``,
``FirstName`` -> ``Firstname``). Keys the table does not know are left as they are."""

from __future__ import annotations

from typing import Any


def spellings(*names: str) -> dict[str, str]:
    """The documented names by their case-folded form."""
    return {name.casefold(): name for name in names}


def documented_keys(value: Any, names: dict[str, str], aliases: dict[str, str] | None = None) -> Any:
    """``value`` with object keys spelled as documented, recursively. ``aliases`` names other keys for the same
    field (``TelephoneNumber`` -> ``Telephone``), used only when the documented key is absent."""
    if isinstance(value, list):
        return [documented_keys(v, names, aliases) if isinstance(v, (dict, list)) else v for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        text = str(key)
        # Scalars are copied as they are: no call per value (every row of a listing comes through here).
        out[names.get(text.casefold(), text)] = (
            documented_keys(item, names, aliases) if isinstance(item, (dict, list)) else item
        )
    for alias, name in (aliases or {}).items():
        folded = alias.casefold()
        for key in [k for k in out if k.casefold() == folded]:
            if out.get(name) is None:
                out[name] = out[key]
    return out
