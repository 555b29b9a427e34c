"""Evaluating a parsed SOQL query against the record store.

Compilation checks every name against the schema first (INVALID_TYPE / INVALID_FIELD with row and column), turns the
WHERE clause into Python predicates and the ORDER BY into sort keys; evaluation then loads the object's records once,
filters (O(n)), sorts (O(n log n)) and projects. Parents for relationship fields and children for subqueries are
loaded per object once per query and joined through dicts, never record by record.

Semantics as in Salesforce: text compares case-insensitively, ids exactly; ``!=`` and ``NOT IN`` match nulls;
``ORDER BY`` puts nulls first ascending and last descending unless told; OFFSET is capped at 2,000.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import ids
from .errors import ApiError
from .record_store import Record, RecordStore
from .schema import NUMBER_TYPES, FieldDef, ObjectDef, Schema
from .soql_ast import (
    Aggregate,
    And,
    Comparison,
    Condition,
    FieldPath,
    FieldsMacro,
    Literal,
    Not,
    Or,
    Query,
    SubQuery,
)
from .soql_dates import date_range
from .soql_lexer import position
from .soql_parser import parse
from .timefmt import format_datetime, parse_datetime

MAX_OFFSET = 2000
Predicate = Callable[[Record], bool]


@dataclass
class QueryResult:
    total_size: int
    records: list[dict[str, Any]]
    count_only: bool = False


@dataclass(frozen=True)
class ResolvedPath:
    """A field path resolved against the schema: the reference fields to follow, then the final field."""

    hops: tuple[FieldDef, ...]
    field: FieldDef
    path: FieldPath

    @property
    def output_names(self) -> list[str]:
        return [h.relationship_name or h.name for h in self.hops] + [self.field.name]


def _semantic_error(source: str, pos: int, code: str, detail: str) -> ApiError:
    row, col = position(source, pos)
    line = source.split("\n")[row - 1]
    return ApiError(400, code, f"\n{line}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{detail}")


class QueryEngine:
    def __init__(self, schema: Schema, records: RecordStore, today: Callable[[], dt.date] | None = None) -> None:
        self.schema = schema
        self.records = records
        self.today = today or (lambda: dt.datetime.now(dt.UTC).date())

    def run(self, soql: str, *, include_deleted: bool = False, api_version: str = "59.0") -> QueryResult:
        query = parse(soql)
        run = _Run(self, soql, include_deleted, api_version)
        return run.execute(query)


class _Run:
    """One query execution: holds the per-query caches of loaded objects."""

    def __init__(self, engine: QueryEngine, source: str, include_deleted: bool, api_version: str) -> None:
        self.engine = engine
        self.schema = engine.schema
        self.source = source
        self.include_deleted = include_deleted
        self.api_version = api_version
        self._by_id: dict[str, dict[str, Record]] = {}
        self._child_links: dict[str, tuple[ObjectDef, str]] = {}
        self._grouped: dict[str, dict[str, list[Record]]] = {}
        self._few_parents = False  # the outer rows were read by id: read their children by the reference index
        self.today = engine.today()

    # -- loading -------------------------------------------------------------------------------------------
    def records_of(self, obj: ObjectDef) -> list[Record]:
        return self.engine.records.load_all(obj, include_deleted=self.include_deleted)

    def candidates(self, obj: ObjectDef, query: Query) -> list[Record] | None:
        """The records a ``WHERE Id = …`` / ``Id IN (…)`` query (alone or ANDed) can match, read by id like the
        primary-key index Salesforce uses, instead of every record of the object; None for any other query.
        The full predicate still runs on them."""
        wanted = _id_filter(query.where, query.alias)
        if wanted is None:
            return None
        found = self.engine.records.get_many(sorted({ids.to18(i) for i in wanted}))
        rows = [r for r in found.values() if self.schema.for_id(r["Id"]) is obj]
        self._few_parents = True
        return sorted((r for r in rows if self.include_deleted or not r.get("IsDeleted")), key=lambda r: r["Id"])

    def by_id(self, obj_name: str) -> dict[str, Record]:
        if obj_name not in self._by_id:
            obj = self.schema.get(obj_name)
            assert obj is not None
            self._by_id[obj_name] = {r["Id"]: r for r in self.engine.records.load_all(obj)}
        return self._by_id[obj_name]

    def parent(self, record: Record | None, hop: FieldDef) -> Record | None:
        if record is None:
            return None
        target_id = record.get(hop.name)
        if not target_id:
            return None
        target = self.schema.for_id(target_id)
        if target is None or target.name not in hop.reference_to:
            return None
        return self.by_id(target.name).get(target_id)

    def value(self, record: Record, rp: ResolvedPath) -> Any:
        current: Record | None = record
        for hop in rp.hops:
            current = self.parent(current, hop)
        return None if current is None else current.get(rp.field.name)

    # -- resolution ----------------------------------------------------------------------------------------
    def object_named(self, name: str, pos: int) -> ObjectDef:
        obj = self.schema.get(name)
        if obj is None:
            raise _semantic_error(
                self.source,
                pos,
                "INVALID_TYPE",
                f"sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to "
                "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
                "appropriate names.",
            )
        return obj

    def resolve(self, obj: ObjectDef, path: FieldPath, alias: str | None) -> ResolvedPath:
        parts = list(path.parts)
        if (alias and len(parts) > 1 and parts[0].lower() == alias.lower()) or (
            len(parts) > 1 and parts[0].lower() == obj.name.lower()
        ):
            parts = parts[1:]
        hops: list[FieldDef] = []
        current = obj
        for part in parts[:-1]:
            hop = current.relationships.get(part.lower())
            if hop is None:
                raise self._no_column(current, path, part, relationship=True)
            hops.append(hop)
            target = self.schema.get(hop.reference_to[0])
            assert target is not None
            if len(hop.reference_to) > 1:
                # Polymorphic: only the fields every target shares (Id, Name, …) are reachable.
                target = self._common_fields(hop.reference_to)
            current = target
        fdef = current.field(parts[-1])
        if fdef is None:
            raise self._no_column(current, path, parts[-1], relationship=False)
        return ResolvedPath(tuple(hops), fdef, path)

    def _common_fields(self, names: tuple[str, ...]) -> ObjectDef:
        objs = [o for o in (self.schema.get(n) for n in names) if o is not None]
        shared = {k: v for k, v in objs[0].fields.items() if all(k in o.fields for o in objs[1:])}
        return ObjectDef(name="Name", key_prefix="", fields=shared)

    def _no_column(self, obj: ObjectDef, path: FieldPath, part: str, *, relationship: bool) -> ApiError:
        if relationship:
            detail = (
                f"Didn't understand relationship '{part}' in field path. If you are attempting to use a custom "
                "relationship, be sure to append the '__r' after the custom relationship name. Please reference "
                "your WSDL or the describe call for the appropriate names."
            )
        else:
            detail = (
                f"No such column '{part}' on entity '{obj.name}'. If you are attempting to use a custom field, be "
                "sure to append the '__c' after the custom field name. Please reference your WSDL or the describe "
                "call for the appropriate names."
            )
        return _semantic_error(self.source, path.pos, "INVALID_FIELD", detail)

    # -- execution -----------------------------------------------------------------------------------------
    def execute(self, query: Query) -> QueryResult:
        obj = self.object_named(query.sobject, query.sobject_pos)
        aggregates = [s for s in query.select if isinstance(s, Aggregate)]
        if query.offset is not None and query.offset > MAX_OFFSET:
            raise ApiError(400, "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        predicate = self.compile_condition(obj, query.where, query.alias) if query.where else None
        order = [(self.resolve(obj, o.path, query.alias), o) for o in query.order_by]
        projection = self.compile_select(obj, query) if not aggregates else None
        group = [self.resolve(obj, g, query.alias) for g in query.group_by]
        rows = self.candidates(obj, query)
        if rows is None:
            rows = self.records_of(obj)
        if predicate is not None:
            rows = [r for r in rows if predicate(r)]
        if aggregates:
            return self.aggregate(obj, query, rows, aggregates, group)
        rows = self.sort(rows, order)
        rows = rows[query.offset or 0 :]
        if query.limit is not None:
            rows = rows[: query.limit]
        assert projection is not None
        return QueryResult(len(rows), [projection(r) for r in rows])

    def sort(self, rows: list[Record], order: list[tuple[ResolvedPath, Any]]) -> list[Record]:
        rows = list(rows)
        for rp, item in reversed(order):
            nulls_last = item.nulls_last if item.nulls_last is not None else item.descending
            # Within one stable sort with reverse=desc, choose the null rank so nulls end where asked.
            null_rank = (0 if nulls_last else 2) if item.descending else (2 if nulls_last else 0)
            keyer = _sort_key(rp.field)

            def key(
                r: Record, rp: ResolvedPath = rp, null_rank: int = null_rank, keyer: Any = keyer
            ) -> tuple[Any, ...]:
                v = self.value(r, rp)
                return (null_rank,) if v is None else (1, keyer(v))

            rows.sort(key=key, reverse=item.descending)
        return rows

    # -- projection ----------------------------------------------------------------------------------------
    def compile_select(self, obj: ObjectDef, query: Query) -> Callable[[Record], dict[str, Any]]:
        paths: list[ResolvedPath] = []
        subqueries: list[tuple[str, Callable[[list[Record]], dict[str, Any] | None], str, str]] = []
        for item in query.select:
            if isinstance(item, FieldPath):
                paths.append(self.resolve(obj, item, query.alias))
            elif isinstance(item, FieldsMacro):
                if item.kind == "ALL" and (query.limit is None or query.limit > 200):
                    raise _semantic_error(
                        self.source,
                        item.pos,
                        "MALFORMED_QUERY",
                        "The SOQL FIELDS function must have a LIMIT of at most 200",
                    )
                for fdef in obj.fields.values():
                    if item.kind == "ALL" or (item.kind == "CUSTOM") == fdef.custom:
                        paths.append(ResolvedPath((), fdef, FieldPath((fdef.name,), item.pos)))
            elif isinstance(item, SubQuery):
                subqueries.append(self.compile_subquery(obj, item))
        obj_name = obj.name
        version = self.api_version

        def project(record: Record) -> dict[str, Any]:
            out: dict[str, Any] = {"attributes": _attributes(obj_name, record.get("Id"), version)}
            for rp in paths:
                self._put(out, record, rp)
            for name, build, link_field, _ in subqueries:
                out[name] = build(self._children(name, link_field, record["Id"]))
            return out

        return project

    def _put(self, out: dict[str, Any], record: Record, rp: ResolvedPath) -> None:
        target: dict[str, Any] = out
        current: Record | None = record
        for hop in rp.hops:
            name = hop.relationship_name or hop.name
            current = self.parent(current, hop)
            if current is None:
                target[name] = None
                return
            if target.get(name) is None:
                target_obj = self.schema.for_id(current["Id"])
                target[name] = {
                    "attributes": _attributes(target_obj.name if target_obj else "", current["Id"], self.api_version)
                }
            target = target[name]
        target[rp.field.name] = current.get(rp.field.name) if current is not None else None

    def compile_subquery(
        self, obj: ObjectDef, item: SubQuery
    ) -> tuple[str, Callable[[list[Record]], dict[str, Any] | None], str, str]:
        sub = item.query
        link = obj.children.get(sub.sobject.lower())
        if link is None:
            raise _semantic_error(
                self.source,
                sub.sobject_pos,
                "INVALID_TYPE",
                f"Didn't understand relationship '{sub.sobject}' in FROM part of query call. If you are attempting "
                "to use a custom relationship, be sure to append the '__r' after the custom relationship name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
            )
        child_name, link_field = link
        child_obj = self.schema.get(child_name)
        assert child_obj is not None
        rel_name = (
            next(
                f.child_relationship for f in child_obj.fields.values() if f.name == link_field and f.child_relationship
            )
            or sub.sobject
        )
        child_query = Query(
            sub.select, child_name, sub.sobject_pos, sub.where, (), sub.order_by, sub.limit, sub.offset, sub.alias
        )
        predicate = self.compile_condition(child_obj, sub.where, sub.alias) if sub.where else None
        order = [(self.resolve(child_obj, o.path, sub.alias), o) for o in sub.order_by]
        project = self.compile_select(child_obj, child_query)

        def build(children: list[Record]) -> dict[str, Any] | None:
            rows = [c for c in children if predicate is None or predicate(c)]
            rows = self.sort(rows, order) if order else rows
            rows = rows[sub.offset or 0 :]
            if sub.limit is not None:
                rows = rows[: sub.limit]
            if not rows:
                return None
            return {"totalSize": len(rows), "done": True, "records": [project(r) for r in rows]}

        self._child_links[rel_name] = (child_obj, link_field)
        return rel_name, build, link_field, child_name

    def _children(self, rel_name: str, link_field: str, parent_id: str) -> list[Record]:
        if self._few_parents:
            child_obj, _ = self._child_links[rel_name]
            fdef = child_obj.fields.get(link_field.lower())
            if fdef is not None and fdef.type == "reference":
                records = self.engine.records
                found = records.find_by_field(child_obj, fdef, parent_id, include_deleted=self.include_deleted)
                children = records.get_many(found)
                return [children[i] for i in found if i in children]
        if rel_name not in self._grouped:
            child_obj, _ = self._child_links[rel_name]
            grouped: dict[str, list[Record]] = {}
            for child in self.engine.records.load_all(child_obj, include_deleted=self.include_deleted):
                key = child.get(link_field)
                if key:
                    grouped.setdefault(key, []).append(child)
            self._grouped[rel_name] = grouped
        return self._grouped[rel_name].get(parent_id, [])

    # -- aggregates ----------------------------------------------------------------------------------------
    def aggregate(
        self, obj: ObjectDef, query: Query, rows: list[Record], aggregates: list[Aggregate], group: list[ResolvedPath]
    ) -> QueryResult:
        others = [s for s in query.select if not isinstance(s, Aggregate)]
        if len(aggregates) == 1 and aggregates[0].func == "COUNT" and aggregates[0].arg is None:
            if others or group:
                raise _semantic_error(
                    self.source,
                    aggregates[0].pos,
                    "MALFORMED_QUERY",
                    "COUNT() must be the only element in the SELECT list.",
                )
            count = len(rows[query.offset or 0 :])
            if query.limit is not None:
                count = min(count, query.limit)
            return QueryResult(count, [], count_only=True)
        group_texts = {g.path.text.lower() for g in group}
        for item in others:
            if not isinstance(item, FieldPath) or item.text.lower() not in group_texts:
                pos = item.pos if isinstance(item, FieldPath | SubQuery | FieldsMacro) else 0
                raise _semantic_error(
                    self.source,
                    pos,
                    "MALFORMED_QUERY",
                    f"Field must be grouped or aggregated: {getattr(item, 'text', '')}",
                )
        resolved = [(a, self.resolve(obj, a.arg, query.alias) if a.arg else None) for a in aggregates]
        buckets: dict[tuple[Any, ...], list[Record]] = {}
        for r in rows:
            key = tuple(self.value(r, g) for g in group)
            buckets.setdefault(key, []).append(r)
        if not group and not buckets:
            buckets[()] = []
        out = []
        for key, members in buckets.items():
            row: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
            for g, value in zip(group, key, strict=True):
                row[g.field.name] = value
            expr = 0
            for agg, rp in resolved:
                name = agg.alias
                if name is None:
                    name = f"expr{expr}"
                    expr += 1
                values = [self.value(m, rp) for m in members] if rp else [1] * len(members)
                row[name] = _aggregate(agg.func, [v for v in values if v is not None], rp.field if rp else None)
            out.append(row)
        return QueryResult(len(out), out)

    # -- WHERE -----------------------------------------------------------------------------------------------
    def compile_condition(self, obj: ObjectDef, cond: Condition, alias: str | None) -> Predicate:
        if isinstance(cond, And):
            parts = [self.compile_condition(obj, c, alias) for c in cond.items]
            return lambda r: all(p(r) for p in parts)
        if isinstance(cond, Or):
            parts = [self.compile_condition(obj, c, alias) for c in cond.items]
            return lambda r: any(p(r) for p in parts)
        if isinstance(cond, Not):
            inner = self.compile_condition(obj, cond.item, alias)
            return lambda r: not inner(r)
        return self.compile_comparison(obj, cond, alias)

    def compile_comparison(self, obj: ObjectDef, cmp: Comparison, alias: str | None) -> Predicate:
        rp = self.resolve(obj, cmp.path, alias)
        fdef = rp.field
        norm = _normalizer(fdef)
        value_of = self.value
        op = cmp.op
        if op in ("IN", "NOT IN"):
            if isinstance(cmp.value, Query):
                allowed = self._semi_join(cmp.value)
            else:
                assert isinstance(cmp.value, tuple)
                allowed = {self.literal(fdef, lit) for lit in cmp.value}
            negate = op == "NOT IN"

            def in_set(r: Record) -> bool:
                v = value_of(r, rp)
                found = v is not None and norm(v) in allowed
                return found != negate

            return in_set
        if op in ("INCLUDES", "EXCLUDES"):
            assert isinstance(cmp.value, tuple)
            wanted = [{p.strip().lower() for p in str(lit.value).split(";")} for lit in cmp.value]
            excludes = op == "EXCLUDES"

            def includes(r: Record) -> bool:
                v = value_of(r, rp)
                have = {p.strip().lower() for p in str(v).split(";")} if v else set()
                hit = any(w <= have for w in wanted)
                return hit != excludes

            return includes
        assert isinstance(cmp.value, Literal)
        lit = cmp.value
        if op == "LIKE":
            regex = _like_regex(str(lit.value))
            return lambda r: (v := value_of(r, rp)) is not None and regex.fullmatch(str(v)) is not None
        if lit.kind == "date_literal":
            self._check_literal_type(fdef, lit)
            name, n = lit.value
            start, end = date_range(name, n, self.today)
            lo, hi = _range_bound(fdef, start), _range_bound(fdef, end)
            return _range_predicate(op, lo, hi, lambda r: value_of(r, rp))
        target = self.literal(fdef, lit)
        if target is None:
            if op not in ("=", "!="):
                return lambda r: False
            is_eq = op == "="
            return lambda r: (value_of(r, rp) is None) == is_eq
        compare = _COMPARATORS[op]
        include_null = op == "!="

        def compare_value(r: Record) -> bool:
            v = value_of(r, rp)
            if v is None:
                return include_null
            return compare(norm(v), target)

        return compare_value

    def _semi_join(self, sub: Query) -> set[Any]:
        result = _Run(self.engine, self.source, False, self.api_version)
        obj = self.object_named(sub.sobject, sub.sobject_pos)
        if len(sub.select) != 1 or not isinstance(sub.select[0], FieldPath):
            raise _semantic_error(
                self.source,
                sub.sobject_pos,
                "MALFORMED_QUERY",
                "Semi join sub-selects must select exactly one Id field",
            )
        rp = result.resolve(obj, sub.select[0], sub.alias)
        predicate = result.compile_condition(obj, sub.where, sub.alias) if sub.where else None
        rows = [r for r in result.records_of(obj) if predicate is None or predicate(r)]
        return {result.value(r, rp) for r in rows} - {None}

    def literal(self, fdef: FieldDef, lit: Literal) -> Any:
        """The literal in the comparable form of the field (see ``_normalizer``)."""
        self._check_literal_type(fdef, lit)
        if lit.kind == "null":
            return None
        if fdef.type in NUMBER_TYPES:
            return float(lit.value)
        if fdef.type == "boolean":
            return bool(lit.value)
        if fdef.type == "datetime":
            parsed = parse_datetime(lit.value)
            if parsed is None:
                raise _semantic_error(self.source, lit.pos, "MALFORMED_QUERY", f"invalid datetime: {lit.value}")
            return format_datetime(parsed)
        if fdef.type in ("id", "reference"):
            return ids.normalize(str(lit.value)) or str(lit.value)
        if fdef.type == "date":
            return str(lit.value)
        return str(lit.value).lower()

    def _check_literal_type(self, fdef: FieldDef, lit: Literal) -> None:
        if lit.kind == "null":
            return
        expected = {
            "date": ("date", "date_literal"),
            "datetime": ("datetime", "date_literal"),
            "boolean": ("boolean",),
        }.get(fdef.type, ("number",) if fdef.type in NUMBER_TYPES else ("string",))
        if lit.kind in expected:
            return
        type_name = {"datetime": "dateTime", "currency": "double", "percent": "double"}.get(fdef.type, fdef.type)
        if fdef.type in ("id", "reference", "textarea", "email", "phone", "url", "picklist"):
            type_name = "string" if fdef.type not in ("id", "reference") else "id"
        quoted = "should be enclosed in quotes" if "string" in expected else "should not be enclosed in quotes"
        raise _semantic_error(
            self.source,
            lit.pos,
            "INVALID_FIELD",
            f"value of filter criterion for field '{fdef.name}' must be of type {type_name} and {quoted}",
        )


def _attributes(obj_name: str, record_id: Any, version: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {"type": obj_name}
    if record_id:
        attrs["url"] = f"/services/data/v{version}/sobjects/{obj_name}/{record_id}"
    return attrs


def _normalizer(fdef: FieldDef) -> Callable[[Any], Any]:
    if fdef.type in NUMBER_TYPES:
        return float
    if fdef.type in ("id", "reference", "date", "datetime", "boolean"):
        return lambda v: v
    return lambda v: str(v).lower()


def _sort_key(fdef: FieldDef) -> Callable[[Any], Any]:
    return _normalizer(fdef)


def _range_bound(fdef: FieldDef, day: dt.date) -> str:
    if fdef.type == "datetime":
        return format_datetime(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))
    return day.isoformat()


def _range_predicate(op: str, lo: str, hi: str, get: Callable[[Record], Any]) -> Predicate:
    checks: dict[str, Callable[[str], bool]] = {
        "=": lambda v: lo <= v < hi,
        "!=": lambda v: not (lo <= v < hi),
        "<": lambda v: v < lo,
        "<=": lambda v: v < hi,
        ">": lambda v: v >= hi,
        ">=": lambda v: v >= lo,
    }
    check = checks[op]

    def predicate(r: Record) -> bool:
        v = get(r)
        if v is None:
            return op == "!="
        return check(v)

    return predicate


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _aggregate(func: str, values: list[Any], fdef: FieldDef | None) -> Any:
    if func == "COUNT":
        return len(values)
    if func == "COUNT_DISTINCT":
        return len({str(v).lower() if isinstance(v, str) else v for v in values})
    if not values:
        return None
    if func == "SUM":
        return sum(float(v) for v in values)
    if func == "AVG":
        return sum(float(v) for v in values) / len(values)
    if func == "MIN":
        return min(values)
    return max(values)


def _id_filter(where: Any, alias: str | None) -> list[str] | None:
    """The ids a condition pins the Id to: ``Id = 'x'``, ``Id IN ('x', …)``, or such a term inside an AND."""
    if isinstance(where, And):
        for item in where.items:
            found = _id_filter(item, alias)
            if found is not None:
                return found
        return None
    if not isinstance(where, Comparison):
        return None
    parts = where.path.parts
    if alias and len(parts) == 2 and parts[0].lower() == alias.lower():
        parts = parts[1:]
    if len(parts) != 1 or parts[0].lower() != "id":
        return None
    values = where.value if where.op == "IN" and isinstance(where.value, tuple) else (where.value,)
    if where.op not in ("=", "IN") or not all(isinstance(v, Literal) and v.kind == "string" for v in values):
        return None
    texts = [str(v.value) for v in values if isinstance(v, Literal)]
    return texts if all(ids.is_valid_id(t) for t in texts) else None
