"""A loaded mapping: filter, compiled rules, field owners, and apply over one record or a batch."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

from ledgerlink.mapping.compiler import CompiledRule, run_rules
from ledgerlink.mapping.context import DEFAULT_CONTEXT, TransformContext
from ledgerlink.mapping.errors import MappingError
from ledgerlink.mapping.spec import MappingSpec

_ID_FIELDS = ("Id", "id", "Code", "Number", "code", "number", "reference", "invoice_number")


class MappedRecord:
    """The output of one apply: ``values`` (the target dict) and ``provenance`` (target field → rule description)."""

    __slots__ = ("_descriptions", "_written", "values")

    def __init__(self, values: dict[str, Any], written: list[str], descriptions: dict[str, dict[str, str]]) -> None:
        self.values = values
        self._written = written
        self._descriptions = descriptions

    @property
    def provenance(self) -> dict[str, str]:
        # Built on demand: most callers never look, and apply stays cheap.
        out: dict[str, str] = {}
        for target in self._written:
            out.update(self._descriptions[target])
        return out

    def __repr__(self) -> str:
        return f"MappedRecord(values={self.values!r})"


@dataclass(frozen=True)
class Endpoint:
    system: str
    object: str


class Mapping:
    """A compiled mapping. Build it with ``load_mapping``; ``apply`` is safe to call from many threads."""

    def __init__(
        self,
        name: str,
        file: FilePath | None,
        spec: MappingSpec,
        rules: list[CompiledRule],
        predicate: Callable[[dict[str, Any]], bool] | None,
        filter_kind: str | None,
    ) -> None:
        self.name = name
        self.file = file
        self.spec = spec
        self.source = Endpoint(spec.source.system, spec.source.object)
        self.target = Endpoint(spec.target.system, spec.target.object)
        self.direction = spec.direction
        self.rules = rules
        self.filter_kind = filter_kind  # "compiled", "jsonata" or None
        self._predicate = predicate
        self._steps = tuple((rule.target, rule.run, rule.description) for rule in rules)
        self._descriptions = {rule.target: _descriptions(rule) for rule in rules}
        id_fields = spec.id_field if isinstance(spec.id_field, list) else [spec.id_field] if spec.id_field else []
        self._id_fields = tuple(id_fields) or _ID_FIELDS

    @property
    def owners(self) -> dict[str, str]:
        """Target field → the system that owns it (declared per rule or for the whole file), for conflict rules."""
        out: dict[str, str] = {}
        for rule in self.rules:
            if rule.owner:
                out[rule.target] = rule.owner
        return out

    @property
    def provenance(self) -> dict[str, str]:
        """Every target field this mapping can write → the rule that writes it."""
        out: dict[str, str] = {}
        for entries in self._descriptions.values():
            out.update(entries)
        return out

    def matches(self, record: dict[str, Any]) -> bool:
        """True when the record passes the mapping's filter (always, without one)."""
        if self._predicate is None:
            return True
        try:
            return self._predicate(record)
        except ValueError as exc:
            raise MappingError(self.record_id(record), f"filter {self.spec.filter}", "(filter)", str(exc)) from exc

    def apply(self, record: dict[str, Any], ctx: TransformContext | None = None) -> MappedRecord:
        """Map one record; raises MappingError naming record, rule and field when a rule fails."""
        values, written = run_rules(self._steps, record, ctx or DEFAULT_CONTEXT, self.record_id)
        return MappedRecord(values, written, self._descriptions)

    def apply_many(
        self, records: Iterable[dict[str, Any]], ctx: TransformContext | None = None, *, skip_unmatched: bool = False
    ) -> tuple[list[MappedRecord], list[MappingError]]:
        """Map a batch, going on past bad records: (results in input order, errors). Filter first if asked."""
        context = ctx or DEFAULT_CONTEXT
        results: list[MappedRecord] = []
        errors: list[MappingError] = []
        steps, descriptions, record_id = self._steps, self._descriptions, self.record_id
        for record in records:
            try:
                if skip_unmatched and not self.matches(record):
                    continue
                values, written = run_rules(steps, record, context, record_id)
            except MappingError as exc:
                errors.append(exc)
                continue
            results.append(MappedRecord(values, written, descriptions))
        return results, errors

    def record_id(self, record: Any) -> str | None:
        if not isinstance(record, dict):
            return None
        for name in self._id_fields:
            value = record.get(name)
            if value not in (None, ""):
                return str(value)
        return None

    def __repr__(self) -> str:
        source, target = self.source, self.target
        return f"Mapping({self.name!r}, {source.system}.{source.object} → {target.system}.{target.object})"


def _descriptions(rule: CompiledRule, prefix: str = "") -> dict[str, str]:
    out = {f"{prefix}{rule.target}": rule.description}
    for child in rule.children:
        out.update(_descriptions(child, f"{prefix}{rule.target}[]."))
    return out
