"""What a mapping reads from its source record: the field paths its rules and filter use, as a tree (the fields of
the record, and per child relationship the fields of its rows). A system's reader turns it into its own query
(e.g. SOQL), so a field a user maps in their own copy of a template is read without code.

``from`` paths are exact. A JSONata ``expr`` or filter is scanned for names (a name it uses that is not a field
of the source only costs a check against the source's own description, which the reader does anyway).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ledgerlink.mapping.mapping import Mapping
from ledgerlink.mapping.paths import parse_path
from ledgerlink.mapping.spec import FilterSpec, RuleSpec, iter_rules

# A list of child rows, as a source path spells it: "OpportunityLineItems.records[]" (Salesforce's subquery shape)
# or "Lines[]".
_ROWS = "records"
_NAME = re.compile(r"(?<![\w$.'\"])([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)")
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_WORDS = frozenset({"and", "or", "not", "in", "true", "false", "null", "function", "then", "else", "if"})


@dataclass
class Reads:
    """Fields read from one record (dotted paths through lookups, e.g. ``Account.BillingCountry``), and per
    child relationship the fields read from its rows."""

    fields: set[str] = field(default_factory=set)
    children: dict[str, Reads] = field(default_factory=dict)

    def add(self, path: str) -> None:
        self.fields.add(path)

    def child(self, relationship: str) -> Reads:
        return self.children.setdefault(relationship, Reads())

    def merge(self, other: Reads) -> Reads:
        self.fields |= other.fields
        for name, rows in other.children.items():
            self.child(name).merge(rows)
        return self

    def as_dict(self) -> dict[str, object]:
        return {"fields": sorted(self.fields), "children": {k: v.as_dict() for k, v in sorted(self.children.items())}}


def mapping_reads(mapping: Mapping) -> Reads:
    """Every source field ``mapping`` reads (its rules, nested rules and filter)."""
    root = Reads()
    for _target, rule, _loc in iter_rules(mapping.spec.fields):
        _rule_reads(rule, root, root)
    flt = mapping.spec.filter
    if flt is not None:
        for name in expression_names(flt.expr if isinstance(flt, FilterSpec) else flt):
            root.add(name)
    return root


def _rule_reads(rule: RuleSpec, here: Reads, root: Reads) -> None:
    sources = [rule.from_] if isinstance(rule.from_, str) else list(rule.from_ or [])
    rows: Reads | None = None
    for source in sources:
        rows = _path_reads(source, here, root) or rows
    if rule.expr:
        for name in expression_names(rule.expr):
            here.add(name)
    if rule.fields is not None:
        inner = rows or here
        for _target, sub, _loc in iter_rules(rule.fields):
            _rule_reads(sub, inner, root)


def _path_reads(text: str, here: Reads, root: Reads) -> Reads | None:
    """Add one source path; returns the rows' Reads when the path ends in a list of child rows."""
    try:
        path = parse_path(text)
    except ValueError:
        return None  # the loader refuses such a mapping; nothing to read
    node = root if path.from_root else here
    names: list[str] = []
    for index, segment in enumerate(path.segments):
        if segment.kind in ("each", "index", "select"):
            # "Rel.records[]" / "Rel.records[0]": rows of child relationship Rel; "Lines[]": rows of Lines.
            relationship = ".".join(names) if segment.name == _ROWS and names else ".".join([*names, segment.name])
            node = node.child(relationship)
            if segment.kind == "select":
                node.add(segment.key)
            names = []
            if index == len(path.segments) - 1:
                return node
            continue
        if segment.name == _ROWS and index == len(path.segments) - 1 and names:
            return node.child(".".join(names))  # "Rel.records" as a whole list
        names.append(segment.name)
    if names and not (len(names) == 1 and names[0].startswith("$")):
        node.add(".".join(names))
    return None


def expression_names(expr: str) -> list[str]:
    """Field-like names an expression uses (strings and keywords left out)."""
    text = _STRING.sub("''", expr)
    out = []
    for match in _NAME.finditer(text):
        name = match.group(1)
        if name.lower() in _WORDS or name.startswith("$"):
            continue
        after = text[match.end() : match.end() + 1]
        if after == "(":
            continue  # a function call
        out.append(name)
    return out
