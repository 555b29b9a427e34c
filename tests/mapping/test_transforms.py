"""Unit tests of the named transforms, through the registry as mappings use them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink.mapping import TransformContext, TransformError
from ledgerlink.mapping.transforms import REGISTRY, build_transform
from ledgerlink.mapping.transforms.addresses import join_address, split_address
from ledgerlink.mapping.transforms.countries import country_to_iso, iso_to_country
from ledgerlink.mapping.transforms.names import join_name, split_name

CTX = TransformContext()


def run(entry: str | dict[str, Any], value: Any, ctx: TransformContext = CTX) -> Any:
    return build_transform(entry)[1](value, ctx)


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        ("2024-03-01", {"from": "iso", "to": "MM/DD/YYYY"}, "03/01/2024"),
        ("03/01/2024", {"from": "MM/DD/YYYY", "to": "iso"}, "2024-03-01"),
        ("01/03/2024", {"from": "DD/MM/YYYY", "to": "iso"}, "2024-03-01"),
        ("2012-06-28 12:00:00", {"from": "sql", "to": "iso"}, "2012-06-28"),
        ("2012-06-28 12:00:00+01:00", {"from": "sql", "to": "iso"}, "2012-06-28"),
        ("2022-07-28T12:49:16.000+0000", {"from": "salesforce", "to": "iso"}, "2022-07-28"),
        ("2024-03-01", {"from": "iso", "to": "sql"}, "2024-03-01 00:00:00"),
        ("2024-03-01", {"from": "iso", "to": "salesforce"}, "2024-03-01T00:00:00.000+0000"),
        ("2024-03-01", {"from": "iso", "to": "epoch_ms"}, 1709251200000),
        (1709251200000, {"from": "epoch_ms", "to": "iso"}, "2024-03-01"),
        ("2024-03-01", {"to": "date"}, dt.date(2024, 3, 1)),
        (dt.date(2024, 3, 1), {"to": "sql"}, "2024-03-01 00:00:00"),
        ("", {"to": "iso"}, None),
        (None, {"to": "iso"}, None),
    ],
)
def test_date(value: Any, args: dict[str, str], expected: Any) -> None:
    assert run({"date": args}, value) == expected


def test_datetime_round_trips_salesforce_and_kashflow() -> None:
    moment = run({"datetime": {"from": "salesforce"}}, "2022-07-28T12:49:16.123+0000")
    assert moment == dt.datetime(2022, 7, 28, 12, 49, 16, 123000, tzinfo=dt.UTC)
    assert run({"datetime": {"to": "salesforce"}}, moment) == "2022-07-28T12:49:16.123+0000"
    assert run({"datetime": {"from": "sql", "to": "salesforce"}}, "2012-06-28 13:00:00+01:00") == (
        "2012-06-28T12:00:00.000+0000"
    )
    assert run({"datetime": {"from": "sql", "to": "sql"}}, "2012-06-28 12:00:00") == "2012-06-28 12:00:00"
    assert run({"datetime": {"from": "epoch_ms", "to": "epoch_ms"}}, 1659012556000) == 1659012556000


def test_bad_date_names_the_value() -> None:
    with pytest.raises(TransformError, match="31/02/2024"):
        run({"date": {"from": "DD/MM/YYYY"}}, "31/02/2024")


def test_unknown_date_format_is_a_load_error() -> None:
    with pytest.raises(ValueError, match="unknown date format"):
        build_transform({"date": {"from": "yesterday"}})


def test_add_days_from_setting() -> None:
    ctx = TransformContext(payment_terms_days=14)
    assert run({"add_days": {"setting": "payment_terms_days"}}, "2024-02-20", ctx) == "2024-03-05"
    assert run({"add_days": 30}, dt.date(2024, 1, 31)) == dt.date(2024, 3, 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1,234.50", Decimal("1234.50")), (" 12 ", Decimal("12")), (46.1, Decimal("46.1")), (7, Decimal(7)),
     ("£1,000.00", Decimal("1000.00")), ("46.0000", Decimal("46.0000"))],
)  # fmt: skip
def test_decimal(value: Any, expected: Decimal) -> None:
    assert run("decimal", value) == expected


def test_decimal_with_comma_separator() -> None:
    assert run({"decimal": {"decimal_separator": ","}}, "1.234,56") == Decimal("1234.56")


def test_decimal_error_names_the_value() -> None:
    with pytest.raises(TransformError, match="'12abc'"):
        run("decimal", "12abc")
    with pytest.raises(TransformError, match="True"):
        run("decimal", True)


def test_money_round_half_up() -> None:
    assert run("money_round", Decimal("2.345")) == Decimal("2.35")
    assert run("money_round", Decimal("-2.345")) == Decimal("-2.35")
    assert run("money_round", "1.005") == Decimal("1.01")


def test_cents_exact() -> None:
    assert run("to_cents", Decimal("12.34")) == 1234
    assert run("from_cents", 1234) == Decimal("12.34")
    assert run("to_cents", (Decimal("1234"), "JPY")) == 1234
    assert run("from_cents", (1234, "KWD")) == Decimal("1.234")
    with pytest.raises(TransformError, match="fractions of a cent"):
        run("to_cents", Decimal("0.125"))
    assert run({"to_cents": {"round": True}}, Decimal("0.125")) == 13


def test_number_for_json() -> None:
    assert run("number", Decimal("20")) == 20
    assert run("number", "500.25") == 500.25


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        ("Ada Lovelace", "Ada", "Lovelace"),
        ("Ludwig van Beethoven", "Ludwig", "van Beethoven"),
        ("Jan van der Berg", "Jan", "van der Berg"),
        ("Mary Ann Evans", "Mary Ann", "Evans"),
        ("Cher", "", "Cher"),
        ("  José   Álvarez  ", "José", "Álvarez"),
        ("", "", ""),
        ("Zoë de la Cruz", "Zoë", "de la Cruz"),
    ],
)
def test_split_and_join_name(full: str, first: str, last: str) -> None:
    assert split_name(full) == (first, last)
    assert join_name(first, last) == " ".join(full.split())


def test_name_transforms() -> None:
    assert run({"split_name": "first"}, "Jan van der Berg") == "Jan"
    assert run({"split_name": "last"}, "Jan van der Berg") == "van der Berg"
    assert run({"split_name": "first"}, "Cher") is None
    assert run("join_name", ("Ada", None)) == "Ada"
    assert run("join_name", (None, " ")) is None


def test_split_address_wraps_long_lines() -> None:
    long_line = "The Old Granary, Unit 7 Riverside Business Park, Long Lane Industrial Estate"
    lines = split_address(f"{long_line}\nMarket Street", width=30)
    assert all(len(line) <= 30 for line in lines)
    assert " ".join(lines) == f"{long_line} Market Street"


def test_split_address_keeps_overflow_on_last_line() -> None:
    lines = split_address("a\nb\nc\nd\ne", max_lines=4)
    assert lines == ["a", "b", "c", "d, e"]


def test_join_address() -> None:
    assert join_address(["1 High St", "", "Flat 2"]) == "1 High St\nFlat 2"
    assert join_address({"lines": ["1 High St"], "city": "Leeds", "postcode": "LS1 1AA", "country": "GB"}, ", ") == (
        "1 High St, Leeds, LS1 1AA, GB"
    )
    assert run({"join_address": {"separator": ", ", "skip": 1}}, ["a", "b", "c"]) == "b, c"
    assert run({"join_address": {"separator": ", ", "skip": 1}}, ["a"]) is None


@pytest.mark.parametrize(
    ("name", "code"),
    [("United Kingdom", "GB"), ("UK", "GB"), ("england", "GB"), ("United States", "US"), ("USA", "US"),
     ("U.S.A.", "US"), ("Deutschland", "DE"), ("germany", "DE"), ("DEU", "DE"), ("Österreich", "AT"),
     ("Cote d'Ivoire", "CI"), ("Côte d’Ivoire", "CI"), ("the Netherlands", "NL"), ("fr", "FR")],
)  # fmt: skip
def test_country_to_iso(name: str, code: str) -> None:
    assert country_to_iso(name) == code


def test_iso_to_country_and_unknowns() -> None:
    assert iso_to_country("GB") == "United Kingdom"
    assert iso_to_country("us") == "United States"
    assert run("iso_to_country", "DE") == "Germany"
    with pytest.raises(TransformError, match="Narnia"):
        run("country_to_iso", "Narnia")
    assert run({"country_to_iso": {"unknown": "keep"}}, "Narnia") == "Narnia"
    assert run({"country_to_iso": {"unknown": "none"}}, "Narnia") is None


def test_picklist() -> None:
    table = {"map": {"Closed Won": "Paid", "Closed Lost": "Void"}}
    assert run({"picklist": table}, "Closed Won") == "Paid"
    assert run({"picklist": table}, "Open") == "Open"
    assert run({"picklist": {**table, "default": "Draft"}}, "Open") == "Draft"
    assert run({"picklist": {**table, "ignore_case": True}}, "closed won") == "Paid"
    with pytest.raises(TransformError, match="not in the picklist"):
        run({"picklist": {**table, "strict": True}}, "Open")


def test_lookup_through_context() -> None:
    calls: list[tuple[str, str, str, str]] = []

    def lookup(system: str, obj: str, rid: str, other: str) -> str | None:
        calls.append((system, obj, rid, other))
        return "006XYZ" if rid == "1001" else None

    spec = {"lookup": {"from_object": {"kashflow": "Invoice", "kashoo": "invoice"}, "to_system": "salesforce"}}
    ctx = TransformContext(lookup_xref=lookup, source_system="kashflow")
    assert run(spec, "1001", ctx) == "006XYZ"
    assert calls == [("kashflow", "Invoice", "1001", "salesforce")]
    with pytest.raises(TransformError, match="no salesforce record linked"):
        run(spec, "999", ctx)
    with pytest.raises(TransformError, match="lookup_xref"):
        run(spec, "1001")


def test_tax_rate_by_country_and_family() -> None:
    spec = {
        "tax_rate": {
            "by": ["country", "family"],
            "rules": [{"family": ["Books"], "rate": 0}, {"country": ["IE", "FR"], "rate": 0}],
            "default": 20,
        }
    }
    assert run(spec, ("United Kingdom", "Hardware")) == Decimal(20)
    assert run(spec, ("France", "Hardware")) == Decimal(0)
    assert run(spec, ("UK", "books")) == Decimal(0)
    assert run(spec, (None, None)) == Decimal(20)
    ctx = TransformContext(tax_rules=({"country": "DE", "rate": 19},), default_tax_rate=Decimal(5))
    from_context = {"tax_rate": {"rules": {"setting": "tax_rules"}}}
    assert run(from_context, "Deutschland", ctx) == Decimal(19)
    assert run(from_context, "Spain", ctx) == Decimal(5)
    with pytest.raises(ValueError, match="needs a 'rate'"):
        build_transform({"tax_rate": {"rules": [{"country": "GB"}]}})


def test_small_text_transforms() -> None:
    assert run("strip", "  x ") == "x"
    assert run("strip", "   ") is None
    assert run("upper", "gbp") == "GBP"
    assert run("lower", "A@B.COM") == "a@b.com"
    assert run({"truncate": 3}, "abcdef") == "abc"
    assert run({"prefix": "INV-"}, "42") == "INV-42"
    assert run({"prefix": "INV-"}, "INV-42") == "INV-42"
    assert run({"prefix": {"setting": "invoice_prefix"}}, 42, TransformContext(invoice_prefix="SF-")) == "SF-42"
    assert run({"default": 4000}, None) == 4000
    assert run({"default": {"setting": "default_nominal_code"}}, "") == 4000
    assert run("coalesce", ("", None, "b", "c")) == "b"
    assert run({"coalesce": ["fallback"]}, (None, " ")) == "fallback"
    assert run({"bool": {"negate": True}}, "false") is True
    assert run("int", "4000") == 4000
    with pytest.raises(TransformError):
        run("int", "40.5")


def test_every_transform_is_documented() -> None:
    assert all(info.doc for info in REGISTRY.values())
    expected = {"date", "datetime", "decimal", "money_round", "to_cents", "from_cents", "split_name", "join_name",
                "split_address", "join_address", "country_to_iso", "iso_to_country", "picklist", "lookup", "tax_rate",
                "default", "strip", "upper", "lower", "truncate", "prefix", "coalesce"}  # fmt: skip
    assert expected <= set(REGISTRY)
