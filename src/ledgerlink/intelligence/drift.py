"""Schema drift: what a system's objects look like now against the mappings in use and the last snapshot.
Drift is change: the first check only takes the snapshot the next ones compare with.

A field a mapping reads or writes that is gone (with the likeliest new name when one appeared beside it), a field
whose type changed since the last snapshot, or a field of an object a mapping creates that has become required
while the mapping doesn't set it: each is found before any record fails on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process

FieldShape = Mapping[str, Any]  # {"type": "...", "required": bool}
RENAME_SCORE = 80.0  # rapidfuzz ratio for a new field to be named as the likely new name of a removed one


@dataclass(frozen=True)
class FieldUse:
    mapping: str
    rule: str  # the mapping's target field the rule produces
    system: str
    object: str
    field: str  # top-level field of ``object``
    side: str  # "source" (read) or "target" (written)


@dataclass(frozen=True)
class Drift:
    rule: str  # field_removed | type_changed | became_required
    system: str
    object: str
    field: str
    mapping: str
    mapping_rule: str
    message: str
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"schema_drift:{self.rule}:{self.system}.{self.object}.{self.field}:{self.mapping}:{self.mapping_rule}"


def _renamed(name: str, before: Mapping[str, FieldShape] | None, now: Mapping[str, FieldShape]) -> str | None:
    new = [n for n in now if before is None or n not in before]
    best = process.extractOne(name, new, scorer=fuzz.ratio) if new else None
    return str(best[0]) if best and best[1] >= RENAME_SCORE else None


def compare(
    uses: Iterable[FieldUse],
    now: Mapping[tuple[str, str], Mapping[str, FieldShape]],
    before: Mapping[tuple[str, str], Mapping[str, FieldShape]],
) -> list[Drift]:
    """Drifts of the described objects (``now``: (system, object) -> fields) against the uses and ``before``."""
    found: list[Drift] = []
    written: dict[tuple[str, str, str], set[str]] = {}  # (system, object, mapping) -> fields it sets
    for use in uses:
        key = (use.system, use.object)
        fields_now = now.get(key)
        if fields_now is None:
            continue  # not described this time: nothing to say
        if use.side == "target":
            written.setdefault((use.system, use.object, use.mapping), set()).add(use.field)
        old = before.get(key)
        where = f"mapping {use.mapping}, rule {use.rule}"
        if use.field not in fields_now:
            if old is None or use.field not in old:
                continue  # never seen here (an optional field, e.g. CurrencyIsoCode without multi-currency)
            hint = _renamed(use.field, old, fields_now)
            also = f"; {hint} appeared, perhaps its new name" if hint else ""
            verb = "reads" if use.side == "source" else "writes"
            found.append(
                Drift(
                    "field_removed",
                    use.system,
                    use.object,
                    use.field,
                    use.mapping,
                    use.rule,
                    f"{use.system} {use.object}.{use.field} is gone ({where} {verb} it){also}",
                    {"renamed_to": hint} if hint else {},
                )
            )
            continue
        if old is not None and use.field in old:
            was, is_ = old[use.field].get("type"), fields_now[use.field].get("type")
            if was != is_:
                found.append(
                    Drift(
                        "type_changed",
                        use.system,
                        use.object,
                        use.field,
                        use.mapping,
                        use.rule,
                        f"{use.system} {use.object}.{use.field} changed type from {was} to {is_} ({where})",
                        {"was": was, "now": is_},
                    )
                )
    for (system, obj, mapping), sets in written.items():
        old = before.get((system, obj))
        if not old:
            continue  # no earlier snapshot: "became required" can't be told from "always was"
        for name, shape in (now.get((system, obj)) or {}).items():
            if shape.get("required") and not (old.get(name) or {}).get("required") and name not in sets:
                found.append(
                    Drift(
                        "became_required",
                        system,
                        obj,
                        name,
                        mapping,
                        "-",
                        f"{system} {obj}.{name} is now required and mapping {mapping} doesn't set it: creates will fail",  # noqa: E501
                    )
                )
    return found


def shape_from_describe(describe: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Field shapes from a Salesforce describe: required = must be given on create (not nillable, no default)."""
    out: dict[str, dict[str, Any]] = {}
    for entry in describe.get("fields", []):
        required = (
            bool(entry.get("createable"))
            and not entry.get("nillable", True)
            and not entry.get("defaultedOnCreate", False)
        )
        out[str(entry["name"])] = {"type": str(entry.get("type", "")), "required": required}
        if entry.get("relationshipName"):  # paths go through a lookup by its relationship name (Account.Name)
            out[str(entry["relationshipName"])] = {"type": "reference", "required": False}
    for child in describe.get("childRelationships", []):  # and into child records (Contacts, OpportunityLineItems)
        if child.get("relationshipName"):
            out[str(child["relationshipName"])] = {"type": "children", "required": False}
    return out
