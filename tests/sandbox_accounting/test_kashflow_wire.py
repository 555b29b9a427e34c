"""The KashFlow sandbox's JSON: ``dumps`` (one json.dumps per body) writes the very bytes the leaf-by-leaf encoder
wrote, amounts to four places included."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink.sandbox.kashflow.wire import _encode, dumps


def _leaf_by_leaf(value: Any) -> str:
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


BODIES: list[Any] = [
    {"Data": [{"Id": 1, "Code": "ACME01", "OutstandingBalance": Decimal("46"), "TotalPaidAmount": Decimal("0.00005")}]},
    {"Name": 'Quote " and \\ back', "Note": "café ☃ 😀", "When": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)},
    {"Amounts": [Decimal("-1.23456"), 1.5, 7, True, None, (Decimal("2"), "x")], "Empty": {}, "List": []},
    {"Literal": "\\u00001\\u0000", "Quoted": '"\\u00000\\u0000"', "Amount": Decimal("3")},  # looks like a placeholder
    {"Nul": "a\x000\x00b", "Amount": Decimal("1")},  # a NUL in a string: left to the leaf-by-leaf encoder
    {1: "int key", 2.5: "float key", "Amount": Decimal("9.99")},
    [{"Id": n, "Balance": Decimal(n) / 7} for n in range(50)],
]


@pytest.mark.parametrize("body", BODIES)
def test_dumps_writes_the_same_bytes(body: Any) -> None:
    assert dumps(body) == _leaf_by_leaf(body)


def test_amounts_are_numbers_to_four_places() -> None:
    assert dumps({"A": Decimal("46"), "B": [Decimal("0.12345")]}) == '{"A":46.0000,"B":[0.1235]}'
