"""SOQL lexer and parser unit tests (no server needed: the parser is pure)."""

from __future__ import annotations

import pytest

from ledgerlink.sandbox.salesforce.errors import ApiError
from ledgerlink.sandbox.salesforce.soql_ast import And, Comparison, FieldPath, Not, Or, SubQuery
from ledgerlink.sandbox.salesforce.soql_parser import parse


def test_full_query_shape() -> None:
    q = parse(
        "SELECT Id, Account.Name, (SELECT Quantity FROM OpportunityLineItems ORDER BY Quantity DESC LIMIT 2) "
        "FROM Opportunity WHERE (Amount > 100 OR Name LIKE 'Big%') AND NOT IsClosed = true "
        "ORDER BY CloseDate DESC NULLS LAST, Id LIMIT 10 OFFSET 5"
    )
    assert q.sobject == "Opportunity"
    assert q.select[1] == FieldPath(("Account", "Name"), 11)
    sub = q.select[2]
    assert isinstance(sub, SubQuery) and sub.query.sobject == "OpportunityLineItems" and sub.query.limit == 2
    assert isinstance(q.where, And)
    assert isinstance(q.where.items[0], Or) and isinstance(q.where.items[1], Not)
    assert [(o.path.text, o.descending, o.nulls_last) for o in q.order_by] == [
        ("CloseDate", True, True),
        ("Id", False, None),
    ]
    assert (q.limit, q.offset) == (10, 5)


def test_literals() -> None:
    q = parse(
        "SELECT Id FROM Account WHERE Name = 'O\\'Brien\\n' AND CreatedDate > 2024-01-01T00:00:00Z "
        "AND CloseDate = 2024-02-29 AND CreatedDate < 2024-01-01T10:00:00+02:00 AND Amount >= -1.5 "
        "AND IsDeleted = FALSE AND Phone = null AND CloseDate = LAST_N_DAYS:30 AND Id IN ('a', 'b')"
    )
    assert isinstance(q.where, And)
    values = [c.value for c in q.where.items if isinstance(c, Comparison)]
    kinds = [v.kind if not isinstance(v, tuple) else "list" for v in values]  # type: ignore[union-attr]
    assert kinds == ["string", "datetime", "date", "datetime", "number", "boolean", "null", "date_literal", "list"]
    assert values[0].value == "O'Brien\n"  # type: ignore[union-attr]
    assert values[7].value == ("LAST_N_DAYS", 30)  # type: ignore[union-attr]


def test_precedence_and_binds_tighter_than_or() -> None:
    q = parse("SELECT Id FROM Account WHERE Name = 'a' OR Name = 'b' AND Phone = null")
    assert isinstance(q.where, Or) and isinstance(q.where.items[1], And)


def test_not_in_and_semi_join() -> None:
    q = parse("SELECT Id FROM Account WHERE Id NOT IN (SELECT AccountId FROM Contact WHERE Email != null)")
    assert isinstance(q.where, Comparison) and q.where.op == "NOT IN"


def test_count_and_aggregates() -> None:
    q = parse("SELECT COUNT() FROM Account")
    assert q.select[0].func == "COUNT" and q.select[0].arg is None  # type: ignore[union-attr]
    q = parse("SELECT StageName, SUM(Amount) total FROM Opportunity GROUP BY StageName")
    assert q.select[1].alias == "total" and q.group_by[0].text == "StageName"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("soql", "row", "column", "token"),
    [
        ("SELECT Id FROM Account WHERE", 1, 29, "<EOF>"),
        ("SELECT Id, FROM Account", 1, 12, "FROM"),
        ("SELECT Id FROM Account WHERE Name = ", 1, 37, "<EOF>"),
        ("SELECT Id FROM Account\nWHERE Name == 'x'", 2, 13, "="),
        ("SELECT Id FROM Account LIMIT 'x'", 1, 30, "'x'"),
        ("SELECT Id FROM Account ORDER BY", 1, 32, "<EOF>"),
    ],
)
def test_malformed_query_points_at_the_offending_token(soql: str, row: int, column: int, token: str) -> None:
    with pytest.raises(ApiError) as err:
        parse(soql)
    assert err.value.code == "MALFORMED_QUERY" and err.value.status == 400
    assert f"ERROR at Row:{row}:Column:{column}" in err.value.message
    assert f"unexpected token: '{token}'" in err.value.message


def test_unterminated_string() -> None:
    with pytest.raises(ApiError) as err:
        parse("SELECT Id FROM Account WHERE Name = 'abc")
    assert err.value.code == "MALFORMED_QUERY" and "Row:1:Column:37" in err.value.message
