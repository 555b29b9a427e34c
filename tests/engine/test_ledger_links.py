"""The ledger's cross references written a batch at a time (``Ledger.link_all``), on SQLite and on PostgreSQL: the
same links again are fine, a different one is refused naming both, and a batch costs a few statements, not one per
pair (psycopg does not count an executemany's rows, so on PostgreSQL the check after the insert always runs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from ledgerlink.store import Ledger
from ledgerlink.store.database import normalise_url


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    if request.param == "postgresql":
        url = normalise_url(request.getfixturevalue("postgres_url"))
    store = Ledger(url)
    try:
        yield store
    finally:
        store.dispose()


def _statements(ledger: Ledger) -> list[str]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(ledger.engine, "before_cursor_execute", count)
    return seen


PAIRS = [(("salesforce", "Opportunity", f"006{i:03}"), ("kashflow", "Invoice", str(1000 + i))) for i in range(120)]


def test_a_batch_of_links_is_a_few_statements_and_the_same_batch_again_is_fine(ledger: Ledger) -> None:
    statements = _statements(ledger)
    ledger.link_all(PAIRS)
    ledger.link_all(PAIRS)  # a retried step writes its links again
    assert len(statements) <= 8, statements  # 120 pairs twice: inserts and one look per kind of pair, not 240
    found = ledger.lookup_many("salesforce", "Opportunity", [a[2] for a, _ in PAIRS], "kashflow", "Invoice")
    assert found == {a[2]: b[2] for a, b in PAIRS}


def test_a_record_linked_elsewhere_is_refused_naming_both(ledger: Ledger) -> None:
    ledger.link_all(PAIRS[:3])
    other = [PAIRS[0], (PAIRS[1][0], ("kashflow", "Invoice", "9999"))]
    with pytest.raises(ValueError, match="Opportunity 006001 is already linked to kashflow Invoice 1001, not 9999"):
        ledger.link_all(other)


def test_of_two_workers_advancing_a_watermark_to_one_value_one_moves_it(ledger: Ledger) -> None:
    """How workers claim a polling slot (engine.worker.Probes): only forward, and one winner per value."""
    other = Ledger(ledger.url)  # a second worker's ledger on the same database
    try:
        assert ledger.advance_watermark("worker.slot.f", "000000000000002")
        assert not other.advance_watermark("worker.slot.f", "000000000000002")  # the same slot: taken
        assert not other.advance_watermark("worker.slot.f", "000000000000001")  # never backwards
        assert other.advance_watermark("worker.slot.f", "000000000000003")
        assert ledger.get_watermark("worker.slot.f") == "000000000000003"
    finally:
        other.dispose()
