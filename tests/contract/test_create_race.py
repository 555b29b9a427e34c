"""Two worker processes make the same new customer at the same instant, against one sandbox: the books end with
exactly one, counted in the sandbox. Kashoo would keep two contacts with one code (the look before a create only
covers retries), so its workers claim the code in the ledger's database first; KashFlow refuses a duplicate code
itself, and the refused worker takes the first's customer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerlink.connections.build import build_accounting
from ledgerlink.sandbox.runner import Sandbox, sandbox_kinds, start_sandbox
from ledgerlink.store import Ledger, database_url
from ledgerlink.store.database import normalise_url

REPO = Path(__file__).resolve().parents[2]
CODE = "RACE-01"
POST_LATENCY_MS = 600  # both creates are in flight together: neither worker's look can see the other's record


def _race(sandbox: Sandbox, ledger_url: str | None, workers: int = 2) -> list[dict[str, Any]]:
    kind = sandbox_kinds()[sandbox.system]
    assert kind.books is not None
    faults = {
        "latency_ms": POST_LATENCY_MS,
        "methods": ["POST"],
        "paths": [kind.books.collection_path("customers", sandbox.config)],
    }
    httpx.put(f"{sandbox.base_url}/__admin/faults", json=faults).raise_for_status()
    config = {"spec": sandbox.describe(), "ledger_url": ledger_url, "code": CODE}
    # The worktree's sources first: the workers run the code under test, not an installed copy.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.contract.create_race_worker", json.dumps(config)],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        start = time.time() + 0.3
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(f"{start}\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert all(proc.returncode == 0 for proc in procs), outputs
    return [json.loads(out.strip().splitlines()[-1]) for out in outputs]


def _count(sandbox: Sandbox, code: str) -> int:
    """Customers with this code in the sandbox, read over HTTP by a connection of its own (archived ones too)."""
    books = build_accounting(sandbox.describe())
    try:
        customers, _ = books.customers_changed_since(None)
        return sum(1 for c in customers if c.code.strip().casefold() == code.casefold())
    finally:
        books.close()


def _ledger_url(tmp_path: Path, database: str, request: pytest.FixtureRequest) -> str:
    if database == "sqlite":
        url = database_url(tmp_path / "ledger")
    else:
        url = normalise_url(request.getfixturevalue("postgres_url"))
    Ledger(url)  # migrated: has ll_create_claim
    return url


@pytest.mark.parametrize("system", ["kashoo", "kashflow"])
@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_two_workers_racing_one_new_customer_make_one(
    tmp_path: Path, system: str, database: str, request: pytest.FixtureRequest
) -> None:
    sandbox = start_sandbox(system, tmp_path / "sandbox")
    try:
        results = _race(sandbox, _ledger_url(tmp_path, database, request))
        assert _count(sandbox, CODE) == 1
        assert results[0]["id"] == results[1]["id"]  # both runs link the deal's account to the same record
    finally:
        sandbox.stop()


def test_without_a_shared_ledger_kashoo_keeps_both_creates(tmp_path: Path) -> None:
    """The control: the same race with no claims (each worker on its own) makes two contacts, so the test above
    would catch the claims doing nothing."""
    sandbox = start_sandbox("kashoo", tmp_path / "sandbox")
    try:
        results = _race(sandbox, None)
        assert _count(sandbox, CODE) == 2
        assert results[0]["id"] != results[1]["id"]
    finally:
        sandbox.stop()


# --- the claim's states, on the ledger's database (no HTTP) ----------------------------------------------------


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_claims_hand_over_made_ids_and_take_over_dead_or_doubtful_creates(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    from sqlalchemy import update

    from ledgerlink.store.claims import CLAIM, PENDING_TTL, CreateClaims

    url = _ledger_url(tmp_path, database, request)
    first, second = CreateClaims(url, "kashoo:a@x"), CreateClaims(url, "kashoo:a@x")
    other_books = CreateClaims(url, "kashoo:b@x")

    won = first.claim("contact", "acme")
    assert won.won and not won.look_first
    assert other_books.claim("contact", "acme").won  # another account's books: a claim of its own
    first.made("contact", "acme", won, "41")
    lost = second.claim("contact", "acme")
    assert (lost.won, lost.target_id) == (False, "41")  # no create, no look: the id the winner made

    doubtful = first.claim("contact", "beta")
    first.failed("contact", "beta", doubtful, maybe_made=True)  # a timeout: the create may have happened
    again = second.claim("contact", "beta")
    assert again.won and again.look_first  # taken over, and it must look in the books first

    refused = first.claim("contact", "gamma")
    first.failed("contact", "gamma", refused, maybe_made=False)  # a 400: nothing was made
    fresh = second.claim("contact", "gamma")
    assert fresh.won and not fresh.look_first

    dead = first.claim("contact", "delta")  # its worker dies before any outcome
    with first.engine.begin() as conn:
        conn.execute(update(CLAIM).where(CLAIM.c.code == "delta").values(at=time.time() - PENDING_TTL - 1))
    rescued = second.claim("contact", "delta")
    assert rescued.won and rescued.look_first
    first.made("contact", "delta", dead, "99")  # the dead worker's late outcome no longer owns the claim
    second.made("contact", "delta", rescued, "42")
    assert CreateClaims(url, "kashoo:a@x").claim("contact", "delta").target_id == "42"
