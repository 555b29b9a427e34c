"""`ledgerlink recover EXECUTOR` on PostgreSQL: a worker killed for good, its pending work adopted by another process.

Worker A is SIGKILLed while its last invoice runs wait on a slow KashFlow; nothing of the flow is left on the
queue, so only `recover` can finish the job. The command must run the adopted workflows to completion before it
returns: every won opportunity then has exactly one invoice, its number written back, no failed records, and
none of A's workflows is still pending.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import psycopg
import pytest

from ledgerlink.sandbox.runner import SandboxSet
from ledgerlink.store.database import normalise_url
from tests.engine.conftest import make_cluster, wait_until
from tests.engine.test_chaos import _assert_exactly_once, _seed_won, _written_back

WON = int(os.environ.get("LEDGERLINK_RECOVER_OPPORTUNITIES", "40"))
INVOICE_RUNS = {"opportunity_to_invoice", "opportunity_to_invoice_batch"}  # the workflows' names
DEAD = "worker-a"


def _workflows(url: str) -> list[dict[str, str]]:
    """DBOS's workflow_status rows (schema ``dbos``), oldest first; none before a worker has created the table."""
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('dbos.workflow_status')").fetchone() == (None,):
            return []
        rows = conn.execute(
            "SELECT workflow_uuid, name, status, executor_id FROM dbos.workflow_status ORDER BY created_at"
        ).fetchall()
    return [{"id": r[0], "name": r[1], "status": r[2], "executor": r[3]} for r in rows]


def _summary(rows: list[dict[str, str]]) -> Counter[tuple[str, str, str]]:
    return Counter((r["name"], r["status"], r["executor"]) for r in rows)


def _last_wave_in_flight(url: str) -> bool:
    """Every invoice run is enqueued and dequeued, and some are still running on the doomed worker."""
    rows = _workflows(url)
    # The first polling trigger to finish handed every won deal on (fewer than a window of batch runs).
    handed_on = any(r["name"] == "poll_won_opportunities" and r["status"] == "SUCCESS" for r in rows)
    runs = [r for r in rows if r["name"] in INVOICE_RUNS]
    statuses = Counter(r["status"] for r in runs)
    running_on_dead = sum(1 for r in runs if r["status"] == "PENDING" and r["executor"] == DEAD)
    # Runs of one shard go one at a time (EngineSettings.record_shards), so the last wave may be a few runs.
    return handed_on and statuses["ENQUEUED"] == 0 and running_on_dead >= 1


@pytest.mark.postgres
def test_recover_finishes_the_pending_work_of_a_worker_killed_for_good(
    tmp_path: Path, accounting_sandboxes: SandboxSet, postgres_url: str
) -> None:
    won = _seed_won(accounting_sandboxes, WON)
    faults = f"{accounting_sandboxes['kashflow'].base_url}/__admin/faults"
    # Creating an invoice takes 1.5 s, so the worker is caught with runs halfway (customer made, invoice not yet).
    slow_creates = {"latency_ms": 1500, "paths": ["/v2/invoices"], "methods": ["POST"]}
    httpx.put(faults, json=slow_creates).raise_for_status()
    cluster = make_cluster(tmp_path, accounting_sandboxes, postgres_url)
    worker = cluster.start(DEAD)
    try:
        caught = wait_until(lambda: _last_wave_in_flight(postgres_url), timeout=180, interval=0.1)
        assert caught, f"{_summary(_workflows(postgres_url))}\n{cluster.logs()}"
        worker.kill()
    finally:
        cluster.stop_all()

    before = _workflows(postgres_url)
    orphans = {r["id"]: r["name"] for r in before if r["status"] == "PENDING" and r["executor"] == DEAD}
    assert sum(1 for name in orphans.values() if name in INVOICE_RUNS) >= 1, _summary(before)
    assert len(_written_back(accounting_sandboxes)) < len(won)  # work was left unfinished
    httpx.put(faults, json={"latency_ms": 0}).raise_for_status()

    recovered = subprocess.run(
        [
            sys.executable,
            "-m",
            "ledgerlink.cli",
            "recover",
            DEAD,
            "--data-dir",
            str(cluster.data_dir),
            "--connections",
            str(cluster.connections_file),
        ],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = recovered.stdout + recovered.stderr
    after = _workflows(postgres_url)
    assert recovered.returncode == 0, output
    match = re.search(rf"recovered (\d+) pending workflows of {DEAD}", output)
    assert match, output
    assert int(match.group(1)) == len(orphans), (output, orphans)

    # The command returned: each workflow it adopted must be finished, by the recovering process, not left queued.
    by_id = {r["id"]: r for r in after}
    unfinished = {i: (by_id[i]["status"], by_id[i]["executor"]) for i in orphans if by_id[i]["status"] != "SUCCESS"}
    # (Re-enqueued by DBOS for this process's queues to run, they are lost if it shuts down without waiting.)
    assert not unfinished, f"`recover` returned with adopted workflows unfinished: {unfinished}\n{output}"
    assert {by_id[i]["executor"] for i in orphans} == {f"recover-{DEAD}"}
    assert not [r for r in after if r["status"] == "PENDING" and r["executor"] == DEAD], _summary(after)
    assert not [r for r in after if r["name"] in INVOICE_RUNS and r["status"] != "SUCCESS"], _summary(after)
    _assert_exactly_once(accounting_sandboxes, won, normalise_url(postgres_url))
