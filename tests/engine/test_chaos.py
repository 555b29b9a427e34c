"""Crash safety: workers killed with SIGKILL at random moments, restarted, and still exactly one invoice each."""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from ledgerlink.connections.build import build_accounting, build_crm
from ledgerlink.sandbox.runner import SandboxSet
from ledgerlink.store import Ledger
from tests.engine.conftest import Cluster, make_cluster, wait_until

WON = int(os.environ.get("LEDGERLINK_CHAOS_OPPORTUNITIES", "500"))


def _seed_won(sandboxes: SandboxSet, count: int) -> set[str]:
    from ledgerlink.demo.seed import seed

    user = build_crm(sandboxes["salesforce"].describe(), client_tag="test-user")
    try:
        seed(user, accounts=25, opportunities=count, won_share=1.0, seed=11)
        return {r["Id"] for r in user.query("SELECT Id FROM Opportunity WHERE IsWon = true")}
    finally:
        user.close()


def _written_back(sandboxes: SandboxSet) -> dict[str, str]:
    user = build_crm(sandboxes["salesforce"].describe(), client_tag="test-user")
    try:
        rows = user.query(
            "SELECT Id, Accounting_Invoice_Number__c FROM Opportunity WHERE Accounting_Invoice_Number__c != null"
        )
        return {r["Id"]: r["Accounting_Invoice_Number__c"] for r in rows}
    finally:
        user.close()


def _chaos(cluster: Cluster, executors: list[str], sandboxes: SandboxSet, won: set[str], kills: int) -> None:
    rng = random.Random(2024)
    for executor in executors:
        cluster.start(executor)
    for _ in range(kills):
        time.sleep(rng.uniform(1.0, 4.0))
        victim = rng.choice(executors)
        cluster.workers[victim].kill()
        time.sleep(rng.uniform(0.2, 1.0))
        cluster.start(victim)  # same executor id: it recovers its own pending work
    finished = wait_until(lambda: len(_written_back(sandboxes)) >= len(won), timeout=300, interval=1.0)
    assert finished, f"only {len(_written_back(sandboxes))}/{len(won)} written back\n{cluster.logs()}"


def _assert_exactly_once(sandboxes: SandboxSet, won: set[str], ledger_url: str) -> None:
    books = build_accounting(sandboxes["kashflow"].describe())
    try:
        invoices = list(books.client.list("invoices"))  # type: ignore[attr-defined]
    finally:
        books.close()
    per_opportunity = Counter(inv["CustomerReference"] for inv in invoices)
    assert set(per_opportunity) == won
    assert max(per_opportunity.values()) == 1, [k for k, v in per_opportunity.items() if v > 1]
    numbers = {inv["CustomerReference"]: str(inv["Number"]) for inv in invoices}
    assert _written_back(sandboxes) == numbers
    ledger = Ledger(ledger_url, run_migrations=False)
    try:
        assert ledger.failed_records(status="open") == []
    finally:
        ledger.dispose()


@pytest.mark.postgres
def test_two_postgres_workers_survive_three_sigkills(
    tmp_path: Path, accounting_sandboxes: SandboxSet, postgres_url: str
) -> None:
    won = _seed_won(accounting_sandboxes, WON)
    cluster = make_cluster(tmp_path, accounting_sandboxes, postgres_url)
    try:
        _chaos(cluster, ["worker-a", "worker-b"], accounting_sandboxes, won, kills=3)
    finally:
        cluster.stop_all()
    from ledgerlink.store.database import normalise_url

    _assert_exactly_once(accounting_sandboxes, won, normalise_url(postgres_url))


def test_one_sqlite_worker_survives_three_sigkills(tmp_path: Path, accounting_sandboxes: SandboxSet) -> None:
    won = _seed_won(accounting_sandboxes, WON)
    cluster = make_cluster(tmp_path, accounting_sandboxes, None)
    try:
        _chaos(cluster, ["solo"], accounting_sandboxes, won, kills=3)
    finally:
        cluster.stop_all()
    _assert_exactly_once(accounting_sandboxes, won, f"sqlite:///{tmp_path / 'ledgerlink.db'}")
