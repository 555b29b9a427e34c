"""Recursive-descent SOQL parser: tokens from ``soql_lexer`` into the ``soql_ast`` tree.

Grammar (the part of SOQL the sandbox supports)::

    query      := SELECT item ("," item)* FROM name [alias] [WHERE cond] [GROUP BY path ("," path)*]
                  [ORDER BY order ("," order)*] [LIMIT int] [OFFSET int] [FOR (VIEW|REFERENCE|UPDATE)]
    item       := "(" query ")" | AGG "(" [path] ")" [alias] | FIELDS "(" ALL|STANDARD|CUSTOM ")" | path
    cond       := conj (OR conj)*            conj := neg (AND neg)*          neg := NOT neg | atom
    atom       := "(" cond ")" | path op value | path [NOT] IN "(" (value ("," value)* | query) ")"
                | path LIKE string | path (INCLUDES|EXCLUDES) "(" string ("," string)* ")"
    value      := string | number | date | datetime | TRUE | FALSE | NULL | DATE_LITERAL [":" int]
    order      := path [ASC|DESC] [NULLS (FIRST|LAST)]
"""

from __future__ import annotations

from .errors import ApiError
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
    OrderItem,
    Query,
    SelectItem,
    SubQuery,
)
from .soql_lexer import Token, malformed, tokenize

AGGREGATES = {"COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX"}
CLAUSE_WORDS = {
    "FROM",
    "WHERE",
    "GROUP",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "WITH",
    "FOR",
    "USING",
    "HAVING",
    "AND",
    "OR",
    "NOT",
    "ASC",
    "DESC",
    "NULLS",
    "SELECT",
    "IN",
    "LIKE",
    "INCLUDES",
    "EXCLUDES",
    "BY",
    "NULL",
    "TRUE",
    "FALSE",
}
DATE_LITERALS = {
    "TODAY",
    "YESTERDAY",
    "TOMORROW",
    "LAST_WEEK",
    "THIS_WEEK",
    "NEXT_WEEK",
    "LAST_MONTH",
    "THIS_MONTH",
    "NEXT_MONTH",
    "LAST_90_DAYS",
    "NEXT_90_DAYS",
    "THIS_QUARTER",
    "LAST_QUARTER",
    "NEXT_QUARTER",
    "THIS_YEAR",
    "LAST_YEAR",
    "NEXT_YEAR",
}
DATE_LITERALS_N = {
    "LAST_N_DAYS",
    "NEXT_N_DAYS",
    "N_DAYS_AGO",
    "LAST_N_WEEKS",
    "NEXT_N_WEEKS",
    "LAST_N_MONTHS",
    "NEXT_N_MONTHS",
    "LAST_N_YEARS",
    "NEXT_N_YEARS",
    "N_WEEKS_AGO",
    "N_MONTHS_AGO",
    "N_YEARS_AGO",
}
COMPARISON_OPS = {"=", "!=", "<>", "<", "<=", ">", ">="}


def parse(query: str) -> Query:
    """Parse a SOQL query; raises ApiError(MALFORMED_QUERY) pointing at the offending token."""
    parser = _Parser(query, tokenize(query))
    result = parser.query()
    parser.expect("EOF")
    return result


class _Parser:
    def __init__(self, source: str, tokens: list[Token]) -> None:
        self.source = source
        self.tokens = tokens
        self.i = 0

    # -- token helpers ---------------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "EOF":
            self.i += 1
        return tok

    def error(self, tok: Token | None = None, detail: str | None = None) -> ApiError:
        tok = tok or self.tok
        shown = "<EOF>" if tok.kind == "EOF" else tok.text if tok.kind != "STRING" else f"'{tok.text}'"
        return malformed(self.source, tok.pos, detail or f"unexpected token: '{shown}'")

    def expect(self, kind: str) -> Token:
        if self.tok.kind != kind:
            raise self.error()
        return self.advance()

    def keyword(self, *words: str) -> Token:
        if not self.tok.is_keyword(*words):
            raise self.error()
        return self.advance()

    def accept(self, *words: str) -> Token | None:
        return self.advance() if self.tok.is_keyword(*words) else None

    def ident(self) -> Token:
        if self.tok.kind != "IDENT" or self.tok.text.upper() in CLAUSE_WORDS:
            raise self.error()
        return self.advance()

    def object_name(self) -> Token:
        # Order is an sObject as well as a clause word: after FROM it names the object unless BY follows.
        follows_by = self.tokens[self.i + 1].is_keyword("BY")
        if self.tok.kind == "IDENT" and self.tok.text.upper() == "ORDER" and not follows_by:
            return self.advance()
        return self.ident()

    # -- grammar ---------------------------------------------------------------------------------------
    def query(self) -> Query:
        start = self.tok.pos
        self.keyword("SELECT")
        items = [self.select_item()]
        while self.tok.kind == "COMMA":
            self.advance()
            items.append(self.select_item())
        self.keyword("FROM")
        obj = self.object_name()
        alias = None
        if self.tok.kind == "IDENT" and self.tok.text.upper() not in CLAUSE_WORDS:
            alias = self.advance().text
        if self.accept("USING"):
            self.keyword("SCOPE")
            self.ident()
        where = self.condition() if self.accept("WHERE") else None
        if self.accept("WITH"):
            self.ident()  # WITH SECURITY_ENFORCED and friends: accepted, no effect here
        group_by: list[FieldPath] = []
        if self.accept("GROUP"):
            self.keyword("BY")
            group_by.append(self.path())
            while self.tok.kind == "COMMA":
                self.advance()
                group_by.append(self.path())
        order_by: list[OrderItem] = []
        if self.accept("ORDER"):
            self.keyword("BY")
            order_by.append(self.order_item())
            while self.tok.kind == "COMMA":
                self.advance()
                order_by.append(self.order_item())
        limit = self.integer() if self.accept("LIMIT") else None
        offset = self.integer() if self.accept("OFFSET") else None
        if self.accept("FOR"):
            self.keyword("VIEW", "REFERENCE", "UPDATE")
        end = self.tok.pos
        return Query(
            select=tuple(items),
            sobject=obj.text,
            sobject_pos=obj.pos,
            where=where,
            group_by=tuple(group_by),
            order_by=tuple(order_by),
            limit=limit,
            offset=offset,
            alias=alias,
            source=self.source[start:end],
        )

    def integer(self) -> int:
        tok = self.expect("NUMBER")
        if not tok.text.isdigit():
            raise self.error(tok)
        return int(tok.text)

    def select_item(self) -> SelectItem:
        tok = self.tok
        if tok.kind == "LPAREN":
            self.advance()
            sub = self.query()
            self.expect("RPAREN")
            return SubQuery(sub, tok.pos)
        nxt = self.tokens[self.i + 1]
        if tok.kind == "IDENT" and nxt.kind == "LPAREN":
            name = tok.text.upper()
            if name == "FIELDS":
                self.advance()
                self.advance()
                kind = self.keyword("ALL", "STANDARD", "CUSTOM").text.upper()
                self.expect("RPAREN")
                return FieldsMacro(kind, tok.pos)
            if name in AGGREGATES:
                self.advance()
                self.advance()
                arg = None if self.tok.kind == "RPAREN" and name == "COUNT" else self.path()
                self.expect("RPAREN")
                alias = None
                if self.tok.kind == "IDENT" and self.tok.text.upper() not in CLAUSE_WORDS:
                    alias = self.advance().text
                return Aggregate(name, arg, alias, tok.pos)
            raise self.error(nxt)
        return self.path()

    def path(self) -> FieldPath:
        first = self.ident()
        parts = [first.text]
        while self.tok.kind == "DOT":
            self.advance()
            parts.append(self.ident().text)
        return FieldPath(tuple(parts), first.pos)

    def order_item(self) -> OrderItem:
        path = self.path()
        descending = False
        if self.tok.is_keyword("ASC", "DESC"):
            descending = self.advance().text.upper() == "DESC"
        nulls_last = None
        if self.accept("NULLS"):
            nulls_last = self.keyword("FIRST", "LAST").text.upper() == "LAST"
        return OrderItem(path, descending, nulls_last)

    def condition(self) -> Condition:
        items = [self.conjunction()]
        while self.accept("OR"):
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self) -> Condition:
        items = [self.negation()]
        while self.accept("AND"):
            items.append(self.negation())
        return items[0] if len(items) == 1 else And(tuple(items))

    def negation(self) -> Condition:
        if self.accept("NOT"):
            return Not(self.negation())
        if self.tok.kind == "LPAREN":
            self.advance()
            inner = self.condition()
            self.expect("RPAREN")
            return inner
        return self.comparison()

    def comparison(self) -> Condition:
        path = self.path()
        tok = self.tok
        if tok.kind == "OP":
            self.advance()
            op = "!=" if tok.text == "<>" else tok.text
            return Comparison(path, op, self.value())
        if tok.is_keyword("LIKE"):
            self.advance()
            value = self.value()
            if value.kind != "string":
                raise self.error(self.tokens[self.i - 1])
            return Comparison(path, "LIKE", value)
        negated = bool(self.accept("NOT"))
        if self.tok.is_keyword("IN"):
            self.advance()
            return Comparison(path, "NOT IN" if negated else "IN", self.value_list())
        if not negated and self.tok.is_keyword("INCLUDES", "EXCLUDES"):
            op = self.advance().text.upper()
            values = self.value_list()
            if not isinstance(values, tuple):
                raise self.error()
            return Comparison(path, op, values)
        raise self.error()

    def value_list(self) -> tuple[Literal, ...] | Query:
        self.expect("LPAREN")
        if self.tok.is_keyword("SELECT"):
            sub = self.query()
            self.expect("RPAREN")
            return sub
        values = [self.value()]
        while self.tok.kind == "COMMA":
            self.advance()
            values.append(self.value())
        self.expect("RPAREN")
        return tuple(values)

    def value(self) -> Literal:
        tok = self.advance()
        if tok.kind == "STRING":
            return Literal("string", tok.text, tok.pos)
        if tok.kind == "NUMBER":
            number = float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text)
            return Literal("number", number, tok.pos)
        if tok.kind == "DATE":
            return Literal("date", tok.text, tok.pos)
        if tok.kind == "DATETIME":
            return Literal("datetime", tok.text, tok.pos)
        if tok.kind == "IDENT":
            word = tok.text.upper()
            if word in ("TRUE", "FALSE"):
                return Literal("boolean", word == "TRUE", tok.pos)
            if word == "NULL":
                return Literal("null", None, tok.pos)
            if word in DATE_LITERALS:
                return Literal("date_literal", (word, None), tok.pos)
            if word in DATE_LITERALS_N:
                self.expect("COLON")
                n = self.integer()
                return Literal("date_literal", (word, n), tok.pos)
        raise self.error(tok)
