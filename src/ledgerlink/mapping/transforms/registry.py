"""The registry of named transforms. A transform is built once at load from its YAML arguments into a closure
``(value, ctx) -> value``; bad arguments raise ValueError (a load error), bad values raise TransformError (a record
error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledgerlink.mapping.context import TransformContext

TransformFn = Callable[[Any, TransformContext], Any]
Factory = Callable[[Any], TransformFn]

_NO_ARGS = object()


@dataclass(frozen=True)
class TransformInfo:
    name: str
    factory: Factory
    handles_none: bool  # False: a None value skips the transform (most transforms have nothing to do with None)
    doc: str


REGISTRY: dict[str, TransformInfo] = {}


def register(name: str, *, handles_none: bool = False) -> Callable[[Factory], Factory]:
    def decorate(factory: Factory) -> Factory:
        REGISTRY[name] = TransformInfo(name, factory, handles_none, (factory.__doc__ or "").strip())
        return factory

    return decorate


def build_transform(entry: str | dict[str, Any]) -> tuple[str, TransformFn]:
    """``"strip"`` or ``{"date": {...}}`` → (name, closure); unknown names and bad arguments raise ValueError."""
    if isinstance(entry, str):
        name, args = entry, None
    else:
        ((name, args),) = entry.items()
    info = REGISTRY.get(name)
    if info is None:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown transform {name!r} (known: {known})")
    fn = info.factory(args)
    if info.handles_none:
        return name, fn

    def skip_none(value: Any, ctx: TransformContext) -> Any:
        return None if value is None else fn(value, ctx)

    return name, skip_none


def chain(functions: list[TransformFn]) -> TransformFn:
    """Compose transforms left to right into one closure (no loop for the common short chains)."""
    if not functions:
        return lambda value, ctx: value
    if len(functions) == 1:
        return functions[0]
    if len(functions) == 2:
        first, second = functions
        return lambda value, ctx: second(first(value, ctx), ctx)
    fns = tuple(functions)

    def run(value: Any, ctx: TransformContext) -> Any:
        for fn in fns:
            value = fn(value, ctx)
        return value

    return run


def setting_or_value(arg: Any) -> Callable[[TransformContext], Any]:
    """An argument may be a literal or ``{setting: name[, default: x]}`` read from the context at apply time."""
    if isinstance(arg, dict) and "setting" in arg:
        unknown = set(arg) - {"setting", "default"}
        if unknown:
            raise ValueError(f"unexpected keys {sorted(unknown)} beside 'setting'")
        name, fallback = str(arg["setting"]), arg.get("default")

        def read(ctx: TransformContext) -> Any:
            value = ctx.setting(name)
            return fallback if value is None else value

        return read
    return lambda ctx: arg


def expect_mapping(name: str, args: Any, allowed: set[str]) -> dict[str, Any]:
    """Arguments given as a mapping with known keys only (typos are load errors, not silent no-ops)."""
    if args is None:
        return {}
    if not isinstance(args, dict):
        raise ValueError(f"{name} takes a mapping of arguments ({', '.join(sorted(allowed))})")
    unknown = set(args) - allowed
    if unknown:
        raise ValueError(f"{name}: unknown argument(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    return dict(args)


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
