"""Record filters. The simple form ``StageName = 'Closed Won' and Amount > 0`` (paths, literals, = != < <= > >=,
and/or, parentheses) is a subset of JSONata compiled to a Python closure; anything else is evaluated by JSONata.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ledgerlink.mapping.expressions import JsonataExpression
from ledgerlink.mapping.paths import Path, compile_getter, parse_path

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'[^']*'|\"[^\"]*\")|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>!=|<=|>=|=|<|>)|(?P<paren>[()])"
    r"|(?P<word>[A-Za-z_$][\w$.]*))"
)
_KEYWORDS = {"and", "or", "true", "false", "null"}
_MISSING = object()


class _NotSimple(Exception):
    """The filter uses more than the simple subset; JSONata will evaluate it."""


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _NotSimple
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        return (op == "=" and left is right) or (op == "!=" and left is not right)
    if isinstance(right, int | float | Decimal) and isinstance(left, str):
        try:
            left = Decimal(left)
        except ArithmeticError:
            return op == "!="
    if isinstance(left, bool) != isinstance(right, bool):
        return op == "!="
    try:
        if op == "=":
            return bool(left == right)
        if op == "!=":
            return bool(left != right)
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)
    except TypeError:
        return False


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.paths: list[Path] = []

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise _NotSimple
        self.pos += 1
        return token

    def parse(self) -> Callable[[Any], bool]:
        result = self.disjunction()
        if self.peek() is not None:
            raise _NotSimple
        return result

    def disjunction(self) -> Callable[[Any], bool]:
        parts = [self.conjunction()]
        while self.peek() == ("word", "or"):
            self.take()
            parts.append(self.conjunction())
        if len(parts) == 1:
            return parts[0]
        return lambda rec: any(p(rec) for p in parts)

    def conjunction(self) -> Callable[[Any], bool]:
        parts = [self.primary()]
        while self.peek() == ("word", "and"):
            self.take()
            parts.append(self.primary())
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:
            first, second = parts
            return lambda rec: first(rec) and second(rec)
        return lambda rec: all(p(rec) for p in parts)

    def primary(self) -> Callable[[Any], bool]:
        if self.peek() == ("paren", "("):
            self.take()
            inner = self.disjunction()
            if self.take() != ("paren", ")"):
                raise _NotSimple
            return inner
        left = self.operand()
        token = self.peek()
        if token is None or token[0] != "op":
            return lambda rec: bool(left(rec))
        op = self.take()[1]
        right = self.operand()
        return lambda rec: _compare(op, left(rec), right(rec))

    def operand(self) -> Callable[[Any], Any]:
        kind, text = self.take()
        if kind == "str":
            literal: Any = text[1:-1]
        elif kind == "num":
            literal = Decimal(text) if "." in text else int(text)
        elif kind == "word" and text in _KEYWORDS:
            if text in ("and", "or"):
                raise _NotSimple
            literal = {"true": True, "false": False, "null": None}[text]
        elif kind == "word":
            if text.startswith("$"):
                raise _NotSimple
            path = parse_path(text)
            self.paths.append(path)
            getter = compile_getter(path)
            return lambda rec: getter(rec, rec)
        else:
            raise _NotSimple
        return lambda rec: literal


def compile_simple_filter(text: str) -> tuple[Predicate, list[Path]] | None:
    """The compiled predicate and the paths it reads, or None when ``text`` is not in the simple subset."""
    try:
        parser = _Parser(_tokenize(text))
        predicate = parser.parse()
    except (_NotSimple, ValueError):
        return None
    return predicate, parser.paths


def compile_filter(text: str, *, force_jsonata: bool = False) -> tuple[Predicate, list[Path], str]:
    """(predicate, paths to check against the schema, "compiled" | "jsonata"). JSONata syntax errors propagate."""
    simple = None if force_jsonata else compile_simple_filter(text)
    if simple is not None:
        return simple[0], simple[1], "compiled"
    expression = JsonataExpression(text)

    def matches(record: dict[str, Any]) -> bool:
        return bool(expression.evaluate(record))

    return matches, [], "jsonata"
