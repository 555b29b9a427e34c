"""The SOQL syntax tree produced by ``soql_parser`` and walked by ``soql_eval``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldPath:
    """``Name`` or ``Account.Owner.Name``: relationship names, then a field."""

    parts: tuple[str, ...]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Aggregate:
    func: str  # COUNT, COUNT_DISTINCT, SUM, AVG, MIN, MAX
    arg: FieldPath | None  # None for COUNT()
    alias: str | None
    pos: int


@dataclass(frozen=True)
class FieldsMacro:
    kind: str  # ALL, STANDARD, CUSTOM
    pos: int


@dataclass(frozen=True)
class SubQuery:
    query: Query
    pos: int


SelectItem = FieldPath | Aggregate | FieldsMacro | SubQuery


@dataclass(frozen=True)
class Literal:
    kind: str  # string, number, boolean, null, date, datetime, date_literal
    value: Any  # date_literal: (NAME, n or None)
    pos: int


@dataclass(frozen=True)
class Comparison:
    path: FieldPath
    op: str  # = != < <= > >= LIKE IN NOT IN INCLUDES EXCLUDES
    value: Literal | tuple[Literal, ...] | Query


@dataclass(frozen=True)
class And:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Comparison | And | Or | Not


@dataclass(frozen=True)
class OrderItem:
    path: FieldPath
    descending: bool = False
    nulls_last: bool | None = None  # None = Salesforce default (first when ascending, last when descending)


@dataclass(frozen=True)
class Query:
    select: tuple[SelectItem, ...]
    sobject: str
    sobject_pos: int
    where: Condition | None = None
    group_by: tuple[FieldPath, ...] = ()
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None
    alias: str | None = None
    source: str = field(default="", compare=False)
