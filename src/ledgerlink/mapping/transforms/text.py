"""Small text and value transforms: strip, case, truncate, prefix, default, coalesce, picklist, str, bool."""

from __future__ import annotations

from typing import Any

from ledgerlink.mapping.context import TransformContext
from ledgerlink.mapping.errors import TransformError
from ledgerlink.mapping.transforms.registry import TransformFn, expect_mapping, is_blank, register, setting_or_value


@register("strip", handles_none=True)  # passes None through itself
def make_strip(args: Any) -> TransformFn:
    """Trim surrounding whitespace; an all-blank string becomes None."""

    def strip(value: Any, ctx: TransformContext) -> Any:
        if isinstance(value, str):
            return value.strip() or None
        return value

    return strip


@register("upper", handles_none=True)  # passes None through itself
def make_upper(args: Any) -> TransformFn:
    """Upper-case a string."""
    return lambda value, ctx: value.upper() if isinstance(value, str) else value


@register("lower", handles_none=True)  # passes None through itself
def make_lower(args: Any) -> TransformFn:
    """Lower-case a string."""
    return lambda value, ctx: value.lower() if isinstance(value, str) else value


@register("truncate")
def make_truncate(args: Any) -> TransformFn:
    """Cut a string to at most N characters: ``{truncate: 80}``."""
    if not isinstance(args, int) or args < 1:
        raise ValueError("truncate takes a positive length, e.g. {truncate: 80}")
    limit = args
    return lambda value, ctx: value[:limit] if isinstance(value, str) else value


@register("prefix")
def make_prefix(args: Any) -> TransformFn:
    """Put a prefix in front unless already there: ``{prefix: "INV-"}`` or ``{prefix: {setting: invoice_prefix}}``."""
    read = setting_or_value(args)

    def prefix(value: Any, ctx: TransformContext) -> Any:
        text, pre = str(value), str(read(ctx) or "")
        return text if text.startswith(pre) else pre + text

    return prefix


@register("default", handles_none=True)
def make_default(args: Any) -> TransformFn:
    """Replace a missing or blank value: ``{default: 4000}`` or ``{default: {setting: default_nominal_code}}``."""
    read = setting_or_value(args)
    return lambda value, ctx: read(ctx) if is_blank(value) else value


@register("coalesce", handles_none=True)
def make_coalesce(args: Any) -> TransformFn:
    """First non-blank of ``from: [A, B, …]``; then the literal fallbacks given as arguments, if any."""
    fallbacks = args if isinstance(args, list) else ([] if args is None else [args])

    def coalesce(value: Any, ctx: TransformContext) -> Any:
        candidates = list(value) if isinstance(value, list | tuple) else [value]
        for candidate in (*candidates, *fallbacks):
            if not is_blank(candidate):
                return candidate
        return None

    return coalesce


@register("picklist")
def make_picklist(args: Any) -> TransformFn:
    """Map values: ``{picklist: {map: {"Closed Won": Paid}, default: Draft, ignore_case: true, strict: false}}``.

    Unmapped values pass through, or become ``default`` if given, or fail when ``strict``.
    """
    options = expect_mapping("picklist", args, {"map", "default", "ignore_case", "strict"})
    table = options.get("map")
    if not isinstance(table, dict):
        raise ValueError("picklist needs a 'map' of source value → target value")
    ignore_case = bool(options.get("ignore_case", False))
    strict = bool(options.get("strict", False))
    has_default, fallback = "default" in options, options.get("default")

    def key(value: Any) -> Any:
        return str(value).casefold() if ignore_case else str(value)

    lookup = {key(k): v for k, v in table.items()}

    def pick(value: Any, ctx: TransformContext) -> Any:
        found = lookup.get(key(value), _MISSING)
        if found is not _MISSING:
            return found
        if has_default:
            return fallback
        if strict:
            raise TransformError(f"{value!r} is not in the picklist ({', '.join(map(str, table))})")
        return value

    return pick


_MISSING = object()


@register("str")
def make_str(args: Any) -> TransformFn:
    """Any scalar as a string (numbers keep their exact digits)."""
    return lambda value, ctx: value if isinstance(value, str) else str(value)


_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off", ""}


@register("bool")
def make_bool(args: Any) -> TransformFn:
    """true/false from booleans, 0/1 and yes/no strings; ``{bool: {negate: true}}`` flips it (IsActive ⇄ archived)."""
    negate = bool(expect_mapping("bool", args, {"negate"}).get("negate", False))

    def to_bool(value: Any, ctx: TransformContext) -> Any:
        if isinstance(value, bool):
            result = value
        elif isinstance(value, int | float):
            result = value != 0
        elif str(value).strip().casefold() in _TRUE:
            result = True
        elif str(value).strip().casefold() in _FALSE:
            result = False
        else:
            raise TransformError(f"{value!r} is not a boolean")
        return result != negate

    return to_bool
