"""Definitions kept in the ledger: versions, publish, roll back, and the refusal of a self-triggering one."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerlink.flows.defined.model import DefinitionError
from ledgerlink.flows.defined.store import Definitions
from ledgerlink.flows.defined.templates_catalogue import template_text
from ledgerlink.store import Ledger

LOOP = """name: approved_orders_invoice
trigger: {object: Order, event: updated}
steps:
  - {action: map_invoice, mapping: order_to_canonical}
  - {action: create_invoice}
  - action: update_record
    set: {Accounting_Invoice_Number__c: "{{ invoice_number }}"}
"""


@pytest.fixture
def store(tmp_path: Path) -> Definitions:
    return Definitions(Ledger(f"sqlite:///{tmp_path / 'ledger.db'}"))


def test_versions_publish_and_roll_back(store: Definitions) -> None:
    first = store.save(template_text("approved_orders_invoice"), by="ada")
    second = store.save(template_text("approved_orders_invoice").replace("Approved, activated", "Approved"), by="ada")
    assert (first.version, second.version) == (1, 2)
    assert store.published() == []
    store.publish("approved_orders_invoice", 2)
    assert store.published_version("approved_orders_invoice").version == 2  # type: ignore[union-attr]
    store.publish("approved_orders_invoice", 1)  # roll back
    statuses = [(v.version, v.status) for v in store.versions("approved_orders_invoice")]
    assert statuses == [(1, "published"), (2, "retired")]
    assert store.get("approved_orders_invoice").version == 2  # type: ignore[union-attr]


def test_a_self_triggering_definition_is_refused_at_publish(store: Definitions) -> None:
    saved = store.save(LOOP)
    with pytest.raises(DefinitionError) as caught:
        store.publish(saved.name, saved.version)
    (problem,) = caught.value.problems
    assert "would trigger itself" in problem and "approved_orders_invoice → approved_orders_invoice" in problem
    assert store.published() == []


def test_an_invalid_definition_is_not_saved(store: Definitions) -> None:
    with pytest.raises(DefinitionError):
        store.save("name: x\n")
    assert store.names() == []


@pytest.mark.postgres
def test_on_postgresql(tmp_path: Path) -> None:
    import uuid

    import psycopg

    from tests.engine.conftest import POSTGRES_ADMIN_URL, postgres_available

    if not postgres_available():
        pytest.skip("no PostgreSQL reachable")
    name = f"ledgerlink_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    ledger = Ledger(f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}")
    try:
        store = Definitions(ledger)
        first = store.save(template_text("split_by_project"), by="ada")
        store.publish(first.name, first.version)
        assert [(v.name, v.version, v.status) for v in store.published()] == [("split_by_project", 1, "published")]
    finally:
        ledger.dispose()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
