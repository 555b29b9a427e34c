"""The conflict rules on their own: owner, then source priority, then last writer; one-sided changes travel."""

from __future__ import annotations

import datetime as dt

from ledgerlink.flows.sync.conflicts import Side, combined_owners, merge
from ledgerlink.mapping import load_mapping

FIELDS = frozenset({"name", "phone", "payment_terms_days", "notes"})
EARLY = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
LATE = EARLY + dt.timedelta(minutes=5)


def _sides(
    sf: dict[str, object], books: dict[str, object], sf_at: dt.datetime, books_at: dt.datetime
) -> tuple[Side, Side]:
    return Side("salesforce", sf, FIELDS, sf_at), Side("kashflow", books, FIELDS, books_at)


def test_a_change_on_one_side_travels_whoever_owns_the_field() -> None:
    base = {"name": "Acme", "phone": "1", "payment_terms_days": 30}
    sf, books = _sides({**base, "name": "Acme Ltd"}, {**base, "payment_terms_days": 14}, EARLY, LATE)
    result = merge(base, sf, books, {"name": "salesforce", "payment_terms_days": "kashflow"})
    assert result.to_books == {"name": "Acme Ltd"}
    assert result.to_salesforce == {"payment_terms_days": 14}
    assert not result.conflicts


def test_both_changed_the_owner_wins_even_when_it_wrote_first() -> None:
    base = {"name": "Acme", "payment_terms_days": 30}
    sf, books = _sides(
        {"name": "Acme SF", "payment_terms_days": 60}, {"name": "Acme KF", "payment_terms_days": 14}, EARLY, LATE
    )
    result = merge(base, sf, books, {"name": "salesforce", "payment_terms_days": "kashflow"})
    assert result.merged == {"name": "Acme SF", "payment_terms_days": 14}
    assert {(c.field, c.winner, c.rule) for c in result.conflicts} == {
        ("name", "salesforce", "owner"),
        ("payment_terms_days", "kashflow", "owner"),
    }


def test_no_owner_then_priority_then_last_writer() -> None:
    base = {"notes": "a"}
    sf, books = _sides({"notes": "sf"}, {"notes": "books"}, EARLY, LATE)
    assert merge(base, sf, books, {}, ["salesforce"]).conflicts[0].winner == "salesforce"
    last = merge(base, sf, books, {})
    assert (last.conflicts[0].winner, last.conflicts[0].rule) == ("kashflow", "last_writer")
    assert last.to_salesforce == {"notes": "books"}


def test_templates_give_names_to_salesforce_and_terms_to_the_books() -> None:
    owners = combined_owners(
        load_mapping("salesforce/account_to_canonical").owners,
        load_mapping("kashflow/customer_to_canonical").owners,
        "kashflow",
    )
    assert owners["name"] == "salesforce"
    assert owners["contacts"] == "salesforce"
    assert owners["payment_terms_days"] == "kashflow"
