"""SOSL over REST: ``GET search?q=FIND {…} [IN … FIELDS] [RETURNING Obj[(fields [WHERE …] [ORDER BY …] [LIMIT n]
[OFFSET n])], …] [LIMIT n]`` → ``{"searchRecords": [...]}``, what jsforce's ``Connection.search()`` calls.

From "SOSL Syntax", "FIND {SearchQuery}" and "Example Text Searches" (SOQL and SOSL Reference,
https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_sosl_syntax.htm) and the
REST "Search" resource (https://developer.salesforce.com/docs/platform/api-rest/guide/resources-search.html):

- text is split into tokens at spaces, punctuation and changes between letters and digits; matching is
  case-insensitive, token by token; ``"a phrase"`` matches consecutive tokens; ``*`` (any run) and ``?`` (one
  character) are wildcards; words side by side are ANDed; ``AND``, ``OR``, ``AND NOT`` and parentheses combine them;
- ``IN ALL|NAME|EMAIL|PHONE|SIDEBAR FIELDS`` picks the fields searched (ALL by default);
- ``RETURNING`` names the objects and, in parentheses, the fields returned (Id alone without them) with an optional
  SOQL ``WHERE``, ``ORDER BY``, ``LIMIT`` and ``OFFSET``; without it, the Id of matches in every object;
- ``LIMIT`` caps the whole result, 2,000 at most.

Simplifications: no relevance ranking (records come object by object, in ``ORDER BY`` or id order), no stemming or
synonyms, and no ``WITH`` clauses, ``toLabel()`` or ``UPDATE TRACKING``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, bad_request
from .org import SalesforceOrg
from .rest_api import ApiRequest, ApiResponse, route
from .schema import TEXT_TYPES, ObjectDef

MAX_RESULTS = 2000
MAX_QUERY_CHARS = 10_000
NAME_FIELDS = {"name", "firstname", "lastname", "casenumber"}
_GROUPS = {"ALL", "NAME", "EMAIL", "PHONE", "SIDEBAR"}
_TOKEN = re.compile(r"[^\W\d_]+|\d+")
_CLAUSE = re.compile(r"\b(WHERE|ORDER\s+BY|LIMIT|OFFSET)\b", re.IGNORECASE)
_NO_ID = "000000000000000AAA"  # matches nothing: keeps the RETURNING clause checked when nothing was found


def malformed(message: str) -> ApiError:
    return bad_request("MALFORMED_SEARCH", message)


# -- the search expression -------------------------------------------------------------------------------------

Matcher = Callable[[list[list[str]]], bool]  # the tokens of each searched field of one record -> match?


def _word_patterns(text: str) -> list[re.Pattern[str]]:
    """A term's tokens as patterns: letters and digits as they are, ``*`` and ``?`` as wildcards."""
    patterns: list[re.Pattern[str]] = []
    for chunk in re.split(r"[^\w*?]+", text.lower()):
        chunk = chunk.replace("_", "")
        if not chunk:
            continue
        parts = [chunk] if re.search(r"[*?]", chunk) else _TOKEN.findall(chunk)
        for part in parts:
            regex = "".join(r"[^\W_]*" if c == "*" else r"[^\W_]" if c == "?" else re.escape(c) for c in part)
            patterns.append(re.compile(f"^{regex}$"))
    return patterns


def _term(text: str) -> Matcher:
    patterns = _word_patterns(text)
    if not patterns or len(re.sub(r"[\W_*?]", "", text)) < 2:
        raise malformed(f"search term must be longer than one character: {text!r}")

    def matches(fields: list[list[str]]) -> bool:
        n = len(patterns)
        for tokens in fields:
            for start in range(len(tokens) - n + 1):
                if all(p.match(tokens[start + i]) for i, p in enumerate(patterns)):
                    return True
        return False

    return matches


def _lex(query: str) -> list[tuple[str, str]]:
    """(kind, text) tokens: ``(``, ``)``, ``op`` (AND, OR, NOT), ``phrase`` and ``word``; ``\\`` escapes."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(query):
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            out.append((ch, ch))
            i += 1
        elif ch == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise malformed("unbalanced quotation marks in the search query")
            out.append(("phrase", query[i + 1 : end]))
            i = end + 1
        else:
            word = []
            while i < len(query) and not query[i].isspace() and query[i] not in '()"':
                if query[i] == "\\" and i + 1 < len(query):
                    i += 1
                word.append(query[i])
                i += 1
            text = "".join(word)
            out.append(("op", text.upper()) if text.upper() in ("AND", "OR", "NOT") else ("word", text))
    return out


def _both(left: Matcher, right: Matcher, negate: bool) -> Matcher:
    if negate:
        return lambda fields: left(fields) and not right(fields)
    return lambda fields: left(fields) and right(fields)


class _Parser:
    """``or := and (OR and)*``; ``and := unary ((AND [NOT] | juxtaposition) unary)*``; ``unary := term | (or)``."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> Matcher:
        if not self.tokens:
            raise malformed("No search term found. The search term must be enclosed in braces.")
        matcher = self.or_()
        if self.peek() is not None:
            raise malformed(f"unexpected {self.peek()[1]!r} in the search query")  # type: ignore[index]
        return matcher

    def or_(self) -> Matcher:
        items = [self.and_()]
        while self.peek() == ("op", "OR"):
            self.pos += 1
            items.append(self.and_())
        return items[0] if len(items) == 1 else (lambda f: any(m(f) for m in items))

    def and_(self) -> Matcher:
        result = self.unary()
        while (token := self.peek()) is not None and token[0] != ")" and token != ("op", "OR"):
            negate = False
            if token == ("op", "AND"):
                self.pos += 1
                if self.peek() == ("op", "NOT"):
                    self.pos += 1
                    negate = True
            result = _both(result, self.unary(), negate)
        return result

    def unary(self) -> Matcher:
        token = self.peek()
        if token is None or token[0] == "op":
            raise malformed("a search term is missing next to an operator")
        self.pos += 1
        if token[0] == "(":
            inner = self.or_()
            if self.peek() != (")", ")"):
                raise malformed("unbalanced parentheses in the search query")
            self.pos += 1
            return inner
        if token[0] == ")":
            raise malformed("unbalanced parentheses in the search query")
        # A phrase, or a word with punctuation inside: its tokens must follow each other.
        return _term(token[1])


# -- the statement ---------------------------------------------------------------------------------------------


@dataclass
class Returning:
    sobject: str
    fields: str  # "" = Id only
    clauses: str  # WHERE / ORDER BY / LIMIT / OFFSET, as SOQL


@dataclass
class Search:
    matcher: Matcher
    group: str
    returning: list[Returning] | None
    limit: int


def _find_clause(text: str) -> tuple[str, str]:
    """The braced search query and what follows it; braces inside may be escaped with ``\\``."""
    m = re.match(r"\s*FIND\s*\{", text, re.IGNORECASE)
    if m is None:
        raise malformed("A SOSL search must start with FIND {search terms}")
    i, depth, out = m.end(), 1, []
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i : i + 2])
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return "".join(out), text[i + 1 :]
        out.append(ch)
        i += 1
    raise malformed("The search term must be enclosed in braces: missing '}'")


def _split_specs(text: str) -> tuple[list[str], str]:
    """``Obj(...), Obj2`` up to a trailing ``LIMIT``/``WITH``/``UPDATE`` clause, split at top-level commas."""
    specs, depth, current, i = [], 0, [], 0
    while i < len(text):
        ch = text[i]
        if ch == "'" and depth:
            end = i + 1
            while end < len(text) and text[end] != "'":
                end += 2 if text[end] == "\\" else 1
            current.append(text[i : end + 1])
            i = end + 1
            continue
        if depth == 0 and re.match(r"\s(LIMIT|WITH|UPDATE)\b", text[i:], re.IGNORECASE):
            break
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            specs.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
        i += 1
    if depth:
        raise malformed("unbalanced parentheses in RETURNING")
    specs.append("".join(current).strip())
    return [s for s in specs if s], text[i:]


def _returning(spec: str) -> Returning:
    m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)\s*(?:\((.*)\))?", spec, re.DOTALL)
    if m is None:
        raise malformed(f"malformed RETURNING object: {spec!r}")
    inner = (m.group(2) or "").strip()
    clause = _CLAUSE.search(inner)
    fields, clauses = (inner[: clause.start()], inner[clause.start() :]) if clause else (inner, "")
    return Returning(m.group(1), fields.strip().rstrip(","), clauses.strip())


def parse_search(text: str) -> Search:
    if len(text) > MAX_QUERY_CHARS:
        raise malformed(f"The search is longer than {MAX_QUERY_CHARS} characters")
    query, rest = _find_clause(text)
    matcher = _Parser(_lex(query)).parse()
    group = "ALL"
    m = re.match(r"\s*IN\s+(\w+)\s+FIELDS\b", rest, re.IGNORECASE)
    if m:
        group = m.group(1).upper()
        if group not in _GROUPS:
            raise malformed(f"unknown search group {m.group(1)} FIELDS")
        rest = rest[m.end() :]
    returning = None
    m = re.match(r"\s*RETURNING\s", rest, re.IGNORECASE)
    if m:
        specs, rest = _split_specs(rest[m.end() :])
        if not specs:
            raise malformed("RETURNING names no object")
        returning = [_returning(s) for s in specs]
    limit = MAX_RESULTS
    m = re.match(r"\s*LIMIT\s+(\d+)\s*", rest, re.IGNORECASE)
    if m:
        limit = min(int(m.group(1)), MAX_RESULTS)
        rest = rest[m.end() :]
    if rest.strip():
        raise malformed(f"unexpected or unsupported clause: {rest.strip()[:40]!r}")
    return Search(matcher, group, returning, limit)


# -- running it ------------------------------------------------------------------------------------------------


def _searched_fields(obj: ObjectDef, group: str) -> list[str]:
    def wanted(name: str, type_: str) -> bool:
        if group == "NAME":
            return name.lower() in NAME_FIELDS
        if group == "EMAIL":
            return type_ == "email"
        if group == "PHONE":
            return type_ == "phone"
        return type_ in TEXT_TYPES

    return [f.name for f in obj.fields.values() if wanted(f.name, f.type)]


def _matching_ids(org: SalesforceOrg, obj: ObjectDef, search: Search) -> list[str]:
    names = _searched_fields(obj, search.group)
    if not names:
        return []
    found = []
    for record in org.records.load_all(obj):
        tokens = [_TOKEN.findall(str(record[n]).lower()) for n in names if record.get(n) not in (None, "")]
        if tokens and search.matcher(tokens):
            found.append(record["Id"])
    return found


def run_search(org: SalesforceOrg, soql_version: str, search: Search) -> list[dict[str, Any]]:
    specs = search.returning
    if specs is None:
        specs = [Returning(o.name, "", "") for o in sorted(org.schema.objects.values(), key=lambda o: o.name)]
    out: list[dict[str, Any]] = []
    for spec in specs:
        obj = org.schema.get(spec.sobject)
        if obj is None:
            raise bad_request("INVALID_TYPE", f"sObject type '{spec.sobject}' is not supported.")
        matched = _matching_ids(org, obj, search)
        fields = [f.strip() for f in spec.fields.split(",") if f.strip()] or ["Id"]
        if not any(f.lower() == "id" for f in fields):
            fields.append("Id")  # to know the records; dropped again below
        where, tail = _where_and_tail(spec.clauses)
        id_list = ", ".join(f"'{i}'" for i in matched) or f"'{_NO_ID}'"
        condition = f"Id IN ({id_list})" + (f" AND ({where})" if where else "")
        soql = f"SELECT {', '.join(fields)} FROM {obj.name} WHERE {condition} {tail}".strip()
        records = org.queries.run(soql, api_version=soql_version).records
        keep_id = any(f.lower() == "id" for f in spec.fields.split(",")) or not spec.fields.strip()
        for record in records:
            if not keep_id:
                record.pop("Id", None)
            out.append(record)
    return out[: search.limit]


def _where_and_tail(clauses: str) -> tuple[str, str]:
    """(WHERE condition, ORDER BY/LIMIT/OFFSET text) of a RETURNING object's clauses."""
    m = re.match(r"\s*WHERE\s+", clauses, re.IGNORECASE)
    if not m:
        return "", clauses
    body = clauses[m.end() :]
    # The condition ends at the first ORDER BY / LIMIT / OFFSET outside a quoted literal.
    i, quoted = 0, False
    while i < len(body):
        if body[i] == "\\" and quoted:
            i += 2
            continue
        if body[i] == "'":
            quoted = not quoted
        elif not quoted and re.match(r"\s(ORDER\s+BY|LIMIT|OFFSET)\b", body[i:], re.IGNORECASE):
            return body[:i].strip(), body[i:].strip()
        i += 1
    return body.strip(), ""


@route(r"search", "GET")
def search(org: SalesforceOrg, req: ApiRequest, _: list[str]) -> ApiResponse:
    text = req.query.get("q")
    if not text:
        raise malformed("No search term found. The search term must be enclosed in braces.")
    return ApiResponse(200, {"searchRecords": run_search(org, req.ctx.api_version, parse_search(text))})
