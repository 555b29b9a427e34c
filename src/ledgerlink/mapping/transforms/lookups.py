"""Transforms that look outside the value: cross-reference ids (through the context) and conditional tax rates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledgerlink.mapping.context import TransformContext
from ledgerlink.mapping.errors import TransformError
from ledgerlink.mapping.transforms.countries import country_to_iso
from ledgerlink.mapping.transforms.numbers import to_decimal
from ledgerlink.mapping.transforms.registry import TransformFn, expect_mapping, register, setting_or_value


@register("lookup")
def make_lookup(args: Any) -> TransformFn:
    """The id of the same record in another system, through ``ctx.lookup_xref`` (the cross-reference ledger).

    ``{lookup: {from_system: books, from_object: Invoice, to_system: salesforce, missing: error|none}}``.
    ``from_system`` defaults to ``ctx.source_system``; ``from_object`` may be a per-system mapping
    (``{books_a: Invoice, books_b: invoice}``), or ``{canonical: Invoice}``: whatever the source system calls
    its invoices (``ctx.object_names``).
    """
    options = expect_mapping("lookup", args, {"from_system", "from_object", "to_system", "missing"})
    if "from_object" not in options or "to_system" not in options:
        raise ValueError("lookup needs from_object and to_system")
    fixed_system = options.get("from_system")
    objects = options["from_object"]
    to_system = str(options["to_system"])
    missing = options.get("missing", "error")
    if missing not in ("error", "none"):
        raise ValueError("lookup: missing is 'error' or 'none'")

    def lookup(value: Any, ctx: TransformContext) -> Any:
        if ctx.lookup_xref is None:
            raise TransformError("lookup needs a TransformContext with lookup_xref")
        system = fixed_system or ctx.source_system
        if not system:
            raise TransformError("lookup: no from_system in the mapping and no source_system in the context")
        if isinstance(objects, Mapping) and "canonical" in objects:
            obj = ctx.object_names.get(str(objects["canonical"]))
        else:
            obj = objects.get(system) if isinstance(objects, Mapping) else objects
        if obj is None:
            raise TransformError(f"lookup: no from_object for system {system!r}")
        found = ctx.lookup_xref(str(system), str(obj), str(value), to_system)
        if found is None and missing == "error":
            raise TransformError(f"no {to_system} record linked to {system} {obj} {value!r}")
        return found

    return lookup


def _normalise_country(value: Any) -> str:
    text = str(value).strip()
    return country_to_iso(text) or text.upper()


@register("tax_rate", handles_none=True)
def make_tax_rate(args: Any) -> TransformFn:
    """Percent tax rate chosen by rules over the value's parts, first match wins, else ``default``.

    ``from: [$root.Account.BillingCountry, Product2.Family]`` with
    ``{tax_rate: {by: [country, family], rules: [{country: [IE, FR], rate: 0}, {family: [Books], rate: 0}],
    default: {setting: default_tax_rate}}}``. Countries are compared as ISO codes, so "UK" matches GB.
    ``rules: {setting: tax_rules}`` takes the rules from the context.
    """
    options = expect_mapping("tax_rate", args, {"by", "rules", "default"})
    by = options.get("by", ["country"])
    by = [by] if isinstance(by, str) else list(by)
    read_rules = setting_or_value(options.get("rules", []))
    read_default = setting_or_value(options.get("default", {"setting": "default_tax_rate"}))
    static_rules = options.get("rules", [])
    if isinstance(static_rules, list):
        _check_rules(static_rules, by)

    def rate(value: Any, ctx: TransformContext) -> Any:
        parts = list(value) if isinstance(value, list | tuple) else [value]
        facts: dict[str, str] = {}
        for name, part in zip(by, parts, strict=False):
            if part is not None and str(part).strip():
                facts[name] = _normalise_country(part) if name == "country" else str(part).strip().casefold()
        for rule in read_rules(ctx) or ():
            if _matches(rule, facts):
                return to_decimal(rule["rate"])
        fallback = read_default(ctx)
        if fallback is None:
            raise TransformError(f"no tax rule matches {facts} and there is no default rate")
        return to_decimal(fallback)

    return rate


def _check_rules(rules: list[Any], by: list[str]) -> None:
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict) or "rate" not in rule:
            raise ValueError(f"tax_rate rule {index} needs a 'rate'")
        unknown = set(rule) - {"rate", *by}
        if unknown:
            raise ValueError(f"tax_rate rule {index}: {sorted(unknown)} not in by: {by}")
        to_decimal(rule["rate"])


def _matches(rule: Mapping[str, Any], facts: dict[str, str]) -> bool:
    for name, wanted in rule.items():
        if name == "rate":
            continue
        options = wanted if isinstance(wanted, list) else [wanted]
        have = facts.get(name)
        normalised = {_normalise_country(w) if name == "country" else str(w).strip().casefold() for w in options}
        if have is None or have not in normalised:
            return False
    return True
