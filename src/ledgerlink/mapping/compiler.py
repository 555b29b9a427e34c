"""Compile validated rules into closures: one small function per rule, no interpretation per record.

Only ``expr`` rules call into JSONata; plain paths and named transforms run as straight Python.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ledgerlink.mapping.context import TransformContext
from ledgerlink.mapping.errors import MappingError, TransformError
from ledgerlink.mapping.expressions import ExpressionSyntaxError, JsonataExpression
from ledgerlink.mapping.paths import Path, compile_getter, compile_setter, parse_path
from ledgerlink.mapping.spec import RuleSpec, iter_rules
from ledgerlink.mapping.transforms import build_transform, chain

# (record, root record, output dict, ctx) -> True when the rule wrote a value.
RuleFn = Callable[[Any, Any, dict[str, Any], TransformContext], bool]
Loc = tuple[str | int, ...]


class RuleCompileError(ValueError):
    """A rule cannot be compiled; ``loc`` points into the YAML below the rule (e.g. ``("transforms", 1)``)."""

    def __init__(self, message: str, loc: Loc, offset: int = 0, at_value: bool = False) -> None:
        super().__init__(message)
        self.loc = loc
        self.offset = offset
        self.at_value = at_value


class _ElementError(Exception):
    """A rule inside a list element failed; carries the element's field path for the MappingError."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.message = message


@dataclass
class CompiledRule:
    target: str
    description: str
    run: RuleFn
    owner: str | None
    loc: Loc  # position of the rule in the YAML, for load errors
    source_paths: list[tuple[Path, Loc]] = field(default_factory=list)
    target_path: Path | None = None
    children: list[CompiledRule] = field(default_factory=list)  # element rules of a list rule


def _describe(rule: RuleSpec) -> str:
    if rule.expr is not None:
        head = f"expr {rule.expr}"
    elif rule.from_ is None:
        head = "constant"
    elif isinstance(rule.from_, list):
        head = f"from [{', '.join(rule.from_)}]"
    else:
        head = f"from {rule.from_}"
    names = [t if isinstance(t, str) else next(iter(t)) for t in rule.transforms]
    parts = [head, *names]
    if rule.default is not None:
        parts.append(f"default {_short_repr(rule.default)}")
    return " | ".join(parts)


_REPR = reprlib.Repr()  # Python 3.11: no keyword arguments yet
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 3, 6, 6, 60, 60, 40


def _short_repr(value: Any) -> str:
    """A bounded description of user data: never a full ``repr()`` of something a user sent (it may be huge)."""
    return _REPR.repr(value)


def _compile_source(rule: RuleSpec, loc: Loc) -> tuple[Callable[[Any, Any], Any], list[tuple[Path, Loc]]]:
    if rule.expr is not None:
        try:
            expression = JsonataExpression(rule.expr)
        except ExpressionSyntaxError as exc:
            raise RuleCompileError(str(exc), (*loc, "expr"), offset=exc.position, at_value=True) from exc

        def evaluate(rec: Any, root: Any) -> Any:
            return expression.evaluate(rec, None if rec is root else {"root": root})

        return evaluate, []
    if rule.from_ is None:
        return (lambda rec, root: None), []  # a constant: the rule's default or a transform supplies the value
    sources = rule.from_ if isinstance(rule.from_, list) else [rule.from_]
    paths: list[tuple[Path, Loc]] = []
    for index, text in enumerate(sources):
        where: Loc = (*loc, "from", index) if isinstance(rule.from_, list) else (*loc, "from")
        try:
            paths.append((parse_path(text), where))
        except ValueError as exc:
            raise RuleCompileError(str(exc), where, at_value=True) from exc
    getters = [compile_getter(p) for p, _ in paths]
    if not isinstance(rule.from_, list):
        return getters[0], paths
    # A list of paths gives a tuple of values (for coalesce, join_name, tax_rate, to_cents with currency …).
    return (lambda rec, root: tuple(g(rec, root) for g in getters)), paths


def compile_rules(fields: Any, loc: Loc, default_owner: str | None) -> list[CompiledRule]:
    try:
        entries = iter_rules(fields)
    except ValueError as exc:
        raise RuleCompileError(str(exc), loc) from exc
    return [compile_rule(target, rule, (*loc, *where), default_owner) for target, rule, where in entries]


def compile_rule(target: str, rule: RuleSpec, loc: Loc, default_owner: str | None) -> CompiledRule:
    try:
        target_path = parse_path(target)
        setter = compile_setter(target_path)
    except ValueError as exc:
        raise RuleCompileError(f"target {target!r}: {exc}", loc) from exc
    get, source_paths = _compile_source(rule, loc)
    functions = []
    for index, entry in enumerate(rule.transforms):
        try:
            functions.append(build_transform(entry)[1])
        except (ValueError, TypeError) as exc:
            raise RuleCompileError(str(exc), (*loc, "transforms", index)) from exc
    transform = chain(functions) if functions else None
    description = _describe(rule)
    owner = rule.owner or default_owner

    if rule.fields is not None:
        children = compile_rules(rule.fields, (*loc, "fields"), default_owner)
        run = _list_rule(target, get, children, setter, rule.required)
        return CompiledRule(target, f"each {description}", run, owner, loc, source_paths, target_path, children)

    plain = source_paths[0][0] if len(source_paths) == 1 and not isinstance(rule.from_, list) else None
    field_name = plain.segments[0].name if plain and not plain.from_root and _is_plain_field(plain) else None
    run = _value_rule(target_path, get, field_name, transform, setter, rule.default, rule.required)
    return CompiledRule(target, description, run, owner, loc, source_paths, target_path)


class _Required(TransformError):
    pass


def _is_plain_field(path: Path) -> bool:
    return len(path.segments) == 1 and path.segments[0].kind == "field"


def _value_rule(
    target: Path,
    get: Callable[[Any, Any], Any],
    field_name: str | None,
    transform: Callable[[Any, TransformContext], Any] | None,
    setter: Callable[[dict[str, Any], Any], None],
    default: Any,
    required: bool,
) -> RuleFn:
    top = target.segments[0].name if len(target.segments) == 1 and target.segments[0].kind == "field" else None
    # The common case (a top-level copy, optionally transformed) gets a closure with nothing else in it; reading a
    # plain field is inlined (rec.get) rather than a call through the compiled path.
    if top is not None and default is None and not required and field_name is not None:
        name = field_name
        if transform is None:

            def copy_field(rec: Any, root: Any, out: dict[str, Any], ctx: TransformContext) -> bool:
                value = rec.get(name)
                if value is None or value == "":
                    return False
                out[top] = value
                return True

            return copy_field

        def copy_field_transformed(rec: Any, root: Any, out: dict[str, Any], ctx: TransformContext) -> bool:
            value = transform(rec.get(name), ctx)
            if value is None or value == "":
                return False
            out[top] = value
            return True

        return copy_field_transformed

    if top is not None and default is None and not required:
        if transform is None:

            def copy(rec: Any, root: Any, out: dict[str, Any], ctx: TransformContext) -> bool:
                value = get(rec, root)
                if value is None or value == "":
                    return False
                out[top] = value
                return True

            return copy

        def copy_transformed(rec: Any, root: Any, out: dict[str, Any], ctx: TransformContext) -> bool:
            value = transform(get(rec, root), ctx)
            if value is None or value == "":
                return False
            out[top] = value
            return True

        return copy_transformed

    if default is None and not required and field_name is not None:
        name = field_name

        def copy_field_nested(rec: Any, root: Any, out: dict[str, Any], ctx: TransformContext) -> bool:
            value = rec.get(name)
            if transform is not None:
                value = transform(value, ctx)
            if value is None or value == "" or value == []:
                return False
            setter(out, value)
            return True

        return copy_field_nested

    if default is None and not required:
        # Nested targets (billing_address.city) without default or requirement: same, through the setter.
        def copy_nested(rec: Any, root: Any, out: dict[str, Any], ctx: TransformContext) -> bool:
            value = get(rec, root)
            if transform is not None:
                value = transform(value, ctx)
            if value is None or value == "" or value == []:
                return False
            setter(out, value)
            return True

        return copy_nested

    def general(rec: Any, root: Any, out: dict[str, Any], ctx: TransformContext) -> bool:
        value = get(rec, root)
        if transform is not None:
            value = transform(value, ctx)
        if value is None or value == "" or value == []:
            if default is not None:
                value = default
            elif required:
                raise _Required("required value is missing")
            else:
                return False
        setter(out, value)
        return True

    return general


def _list_rule(
    target: str,
    get: Callable[[Any, Any], Any],
    children: list[CompiledRule],
    setter: Callable[[dict[str, Any], Any], None],
    required: bool,
) -> RuleFn:
    steps = tuple((child.target, child.run, child.description) for child in children)

    def build(rec: Any, root: Any, out: dict[str, Any], ctx: TransformContext) -> bool:
        items = get(rec, root)
        if isinstance(items, dict) and isinstance(items.get("records"), list):
            items = items["records"]  # a Salesforce subquery result given without ".records[]"
        elif items is not None and not isinstance(items, list):
            items = [items]
        built = []
        for index, item in enumerate(items or ()):
            element: dict[str, Any] = {}
            for child_target, run, description in steps:
                try:
                    run(item, root, element, ctx)
                except _ElementError as exc:
                    raise _ElementError(f"{target}[{index}].{exc.field}", exc.rule, exc.message) from exc
                except (ArithmeticError, TypeError, ValueError, KeyError, AttributeError) as exc:
                    message = str(exc) if isinstance(exc, TransformError) else f"{type(exc).__name__}: {exc}"
                    raise _ElementError(f"{target}[{index}].{child_target}", description, message) from exc
            built.append(element)
        if not built:
            if required:
                raise _Required("required list is empty or missing")
            return False
        setter(out, built)
        return True

    return build


def run_rules(
    rules: tuple[tuple[str, RuleFn, str], ...],
    record: Any,
    ctx: TransformContext,
    record_id: Callable[[Any], str | None],
) -> tuple[dict[str, Any], list[str]]:
    """Apply compiled rules to one record; failures become MappingError naming record, rule and field."""
    out: dict[str, Any] = {}
    written: list[str] = []
    append = written.append
    for target, run, description in rules:
        try:
            if run(record, record, out, ctx):
                append(target)
        except _ElementError as exc:
            raise MappingError(record_id(record), exc.rule, exc.field, exc.message) from exc
        except TransformError as exc:
            raise MappingError(record_id(record), description, target, str(exc)) from exc
        except (ArithmeticError, TypeError, ValueError, KeyError, AttributeError) as exc:
            # A transform met a value shape it did not expect: still one record's problem, not a crash.
            raise MappingError(record_id(record), description, target, f"{type(exc).__name__}: {exc}") from exc
    return out, written
