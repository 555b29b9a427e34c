"""The proof: two worker processes share one Kashoo limit of 20 requests per second through the ledger's
database, for 10 seconds, and draw no 429. How much of the limit they use is printed, not asserted: on a loaded
machine it is a timing figure (benchmarks/kashoo_rate_budget.py measures it beside its ceiling)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ledgerlink.sandbox._ratelimit import RateLimit
from ledgerlink.sandbox.runner import start_sandbox
from ledgerlink.store import Ledger, database_url
from ledgerlink.store.database import normalise_url
from ledgerlink.systems.kashoo.client import KashooClient, KashooSettings

REPO = Path(__file__).resolve().parents[2]
LIMIT, PER, SECONDS, WORKERS = 20, 1.0, 10.0, 2


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_two_processes_share_the_limit_without_a_single_429(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    sandbox = start_sandbox("kashoo", tmp_path / "sandbox", rate_limit=RateLimit(LIMIT, PER))
    # The limiter's slots live in the ledger's database: SQLite by default, PostgreSQL when scaled out.
    url = (
        database_url(tmp_path / "ledger")
        if database == "sqlite"
        else normalise_url(request.getfixturevalue("postgres_url"))
    )
    ledger = Ledger(url)  # migrated: has ll_rate_bucket
    try:
        spec = sandbox.describe()
        login = KashooClient(KashooSettings(spec["base_url"], **spec["credentials"]))
        token, business_id = login.token(), login.business_id()
        login.close()
        admin = f"{sandbox.base_url}/__admin/ratelimit"
        httpx.put(admin, json={"reset": True}).raise_for_status()
        config = {
            **spec["credentials"],
            "base_url": spec["base_url"],
            "token": token,
            "business_id": business_id,
            "db_url": ledger.url,
            "key": "kashoo:proof",
            "limit": f"{LIMIT} per {PER} s",
            "seconds": SECONDS,
        }
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.contract.rate_worker", json.dumps(config)],
                cwd=REPO,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(WORKERS)
        ]
        for worker in workers:  # both interpreters up and connected before the clock starts
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        start_at = time.time() + 0.5
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(f"{start_at}\n")
            worker.stdin.flush()
        results = []
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        counters = httpx.get(admin).json()
    finally:
        ledger.dispose()
        sandbox.stop()

    allowed_max = LIMIT * math.ceil(SECONDS / PER)
    used = counters["allowed"] / allowed_max
    print(
        f"\nrate-limit proof: limit {LIMIT}/{PER:g}s, {WORKERS} processes, {SECONDS:g}s: "
        f"per worker {[r['requests'] for r in results]}, server admitted {counters['allowed']}, "
        f"429s {counters['limited']}, allowed at most {allowed_max}, used {used:.1%}, by key {counters['by_key']}"
    )
    assert counters["limited"] == 0
    assert all(r["calls"] == r["requests"] for r in results)  # no request repeated after a 429 either
    assert all(r["requests"] > 0 for r in results)  # both processes were served: the limit is shared, not taken
    assert counters["allowed"] <= allowed_max
    assert len(counters["by_key"]) == 1  # one client as the server sees it: the limit was really shared
