"""SOQL tokenizer: turns a query string into tokens carrying their row and column (for MALFORMED_QUERY)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ApiError


@dataclass(frozen=True)
class Token:
    kind: str  # IDENT, STRING, NUMBER, DATE, DATETIME, OP, COMMA, LPAREN, RPAREN, DOT, COLON, EOF
    text: str  # the source text (for STRING: the unescaped value)
    pos: int  # offset in the query
    row: int
    col: int

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "IDENT" and self.text.upper() in words


_TOKEN_RE = re.compile(
    r"""
    (?P<WS>\s+)
  | (?P<DATETIME>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<DATE>\d{4}-\d{2}-\d{2}(?![\d:T]))
  | (?P<NUMBER>[+-]?(?:\d+\.\d*|\.\d+|\d+)(?![A-Za-z_]))
  | (?P<IDENT>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<OP><=|>=|!=|<>|=|<|>)
  | (?P<COMMA>,)
  | (?P<LPAREN>\()
  | (?P<RPAREN>\))
  | (?P<DOT>\.)
  | (?P<COLON>:)
  | (?P<QUOTE>')
    """,
    re.VERBOSE,
)

_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
    "%": "\\%",
    "_": "\\_",
}


def position(query: str, pos: int) -> tuple[int, int]:
    """1-based (row, column) of an offset."""
    row = query.count("\n", 0, pos) + 1
    col = pos - (query.rfind("\n", 0, pos) + 1) + 1
    return row, col


def malformed(query: str, pos: int, detail: str) -> ApiError:
    """MALFORMED_QUERY with Salesforce's message: the offending line, a caret, and ERROR at Row:R:Column:C."""
    row, col = position(query, pos)
    line = query.split("\n")[row - 1] if query else ""
    caret = " " * (col - 1) + "^"
    return ApiError(400, "MALFORMED_QUERY", f"\n{line}\n{caret}\nERROR at Row:{row}:Column:{col}\n{detail}")


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(query):
        m = _TOKEN_RE.match(query, pos)
        if m is None:
            raise malformed(
                query,
                pos,
                f"line {position(query, pos)[0]}:{position(query, pos)[1] - 1} "
                f"no viable alternative at character '{query[pos]}'",
            )
        kind = m.lastgroup or ""
        if kind == "WS":
            pos = m.end()
            continue
        row, col = position(query, pos)
        if kind == "QUOTE":
            text, end = _read_string(query, pos)
            tokens.append(Token("STRING", text, pos, row, col))
            pos = end
            continue
        tokens.append(Token(kind, m.group(), pos, row, col))
        pos = m.end()
    row, col = position(query, len(query))
    tokens.append(Token("EOF", "", len(query), row, col))
    return tokens


def _read_string(query: str, start: int) -> tuple[str, int]:
    """Read a single-quoted literal with backslash escapes; \\% and \\_ stay escaped for LIKE."""
    out: list[str] = []
    i = start + 1
    while i < len(query):
        ch = query[i]
        if ch == "\\":
            if i + 1 >= len(query):
                break
            nxt = query[i + 1]
            if nxt == "u" and i + 5 < len(query):
                out.append(chr(int(query[i + 2 : i + 6], 16)))
                i += 6
                continue
            if nxt not in _ESCAPES:
                raise malformed(query, i, "Invalid string literal: illegal escape sequence")
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        if ch == "'":
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise malformed(query, start, "Unterminated string literal")
