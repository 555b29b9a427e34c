"""Run history: what DBOS's workflow tables gain an hour from one worker, and what the engine keeps of it.

    python benchmarks/run_history.py [--seconds 120] [--poll-interval 5] [--json PATH]

One ``ledgerlink worker`` (every enabled flow's trigger, ``--poll-interval`` as deployed, no CDC) runs on a fresh
PostgreSQL database against sandboxes with nothing to do, as a worker does most of the day. Over ``--seconds`` the
benchmark counts the runs, steps and inputs/outputs DBOS writes (its tables in schema ``dbos``) and their bytes, as
rates an hour: the rows' own bytes (``pg_column_size``, exact at any length of run; what the megabytes below are
made of) and, beside them, the tables' pages with their indexes (``pg_total_relation_size``, which grows in whole
8 kB pages, so a two-minute window of an idle worker can read 0).

The baseline is DBOS alone (it keeps every run: DBOS 3.4 has no retention): the history after 30 days of uptime is
the rate × 720 hours. LedgerLink's defaults (``[database] history_days`` 7, ``poll_history_hours`` 6) bound it at the
polling runs' rate × 6 hours plus the other runs' rate × 7 days. The bound is then checked, not only computed: the
worker's runs are aged by hand past the horizons (``completed_at`` moved back), and the engine's pruning pass
(``engine.history.prune``, as the worker's pruner calls it) forgets them, timed, with its CPU per thousand runs.

The same minutes give the idle worker's cost: its CPU (``/proc``, CPU-seconds a second) and the API calls both
sandboxes served (a minute). ``--baseline-commit REF`` first measures that commit's worker alike (its whole tree:
sandboxes, seeder, migrations, worker; no pruning pass), so "an idle slot starts no run" (``Flow.probe``) is
compared in one run with the tree before it.

    python benchmarks/run_history.py --seconds 120 --baseline-commit 75efee7
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _code import Code, baseline, this_tree
from _sandboxes import cpu_seconds, sandboxes

ADMIN_URL = os.environ.get("LEDGERLINK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLES = ("workflow_status", "workflow_input", "workflow_output", "operation_outputs")
BASELINE_HOURS = 30 * 24


def counts(url: str) -> dict[str, int]:
    """Rows of each of DBOS's history tables, polling runs apart, their rows' bytes, and the bytes of all DBOS's
    tables' pages."""
    with psycopg.connect(url) as conn:
        found = {table: _scalar(conn, f"SELECT COUNT(*) FROM dbos.{table}") for table in TABLES}
        found["row_bytes"] = sum(
            _scalar(conn, f"SELECT COALESCE(SUM(pg_column_size(t.*)), 0) FROM dbos.{table} t") for table in TABLES
        )
        found["polling_runs"] = _scalar(
            conn, "SELECT COUNT(*) FROM dbos.workflow_status WHERE workflow_uuid LIKE 'trigger:%'"
        )
        found["bytes"] = _scalar(
            conn,
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'dbos' AND c.relkind = 'r'",
        )
    return found


def _scalar(conn: psycopg.Connection[Any], sql: str) -> int:
    row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def measure(seconds: float, poll_interval: float, tmp: Path, code: Code, *, prune: bool = True) -> dict[str, Any]:
    name = f"ledgerlink_bench_{uuid.uuid4().hex[:10]}"
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    tmp.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = code.env({k: v for k, v in os.environ.items() if not k.startswith("LEDGERLINK_")})
    env["LEDGERLINK_DATABASE_URL"] = url
    worker: subprocess.Popen[bytes] | None = None
    try:
        with sandboxes(tmp / "sandboxes", tls=False, env=code.env()) as boxes:
            connections = boxes.write_connections(tmp / "connections.jsonl")
            command = [
                *(sys.executable, "-m", "ledgerlink.cli", "worker", "--data-dir", str(tmp)),
                *("--connections", str(connections), "--executor-id", "bench-history"),
                *("--poll-interval", str(poll_interval), "--no-cdc"),
            ]
            worker = subprocess.Popen(
                command, stdout=(tmp / "worker.log").open("wb"), stderr=subprocess.STDOUT, env=env
            )
            # From the first runs on: the start-up (migrations, the nightly schedule) is not the steady rate.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and _runs(url) == 0:
                if worker.poll() is not None:
                    raise SystemExit(f"the worker exited; see {tmp}/worker.log")
                time.sleep(0.5)
            start, started = counts(url), time.monotonic()
            cpu_before, calls_before = cpu_seconds(worker.pid), boxes.calls()
            time.sleep(seconds)
            end, elapsed = counts(url), time.monotonic() - started
            cpu, calls = cpu_seconds(worker.pid) - cpu_before, boxes.calls()
            worker.terminate()
            worker.wait(timeout=60)
            worker = None
            pruned = prune_aged(url, code.src) if prune else None
    finally:
        if worker is not None:
            worker.kill()
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    per_hour = {key: (end[key] - start[key]) * 3600 / elapsed for key in end}
    polling_share = per_hour["polling_runs"] / per_hour["workflow_status"] if per_hour["workflow_status"] else 0.0
    other_runs_per_hour = per_hour["workflow_status"] - per_hour["polling_runs"]
    bytes_per_run = per_hour["row_bytes"] / per_hour["workflow_status"] if per_hour["workflow_status"] else 0.0
    kept_runs = per_hour["polling_runs"] * 6 + other_runs_per_hour * 7 * 24
    return {
        "seconds": round(elapsed, 1),
        "poll_interval": poll_interval,
        "per_hour": {key: round(value) for key, value in per_hour.items()},
        "polling_share": round(polling_share, 3),
        "baseline_30_days": {
            "runs": round(per_hour["workflow_status"] * BASELINE_HOURS),
            "steps": round(per_hour["operation_outputs"] * BASELINE_HOURS),
            "megabytes": round(per_hour["row_bytes"] * BASELINE_HOURS / 1e6),
        },
        "ledgerlink_bound": {"runs": round(kept_runs), "megabytes": round(kept_runs * bytes_per_run / 1e6)},
        "prune": pruned,
        "worker_cpu_per_second": round(cpu / elapsed, 4),
        "api_calls_per_minute": {k: round((calls[k] - calls_before[k]) * 60 / elapsed, 1) for k in calls},
        "code": code.label,
        "commit": code.ref,
        "load_1min": round(os.getloadavg()[0], 2),
    }


def _runs(url: str) -> int:
    try:
        with psycopg.connect(url) as conn:
            return _scalar(conn, "SELECT COUNT(*) FROM dbos.workflow_status")
    except psycopg.errors.UndefinedTable:
        return 0


def prune_aged(url: str, src: Path) -> dict[str, Any]:
    """Age every finished run past both horizons, then one unbounded pruning pass with the default retention."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE dbos.workflow_status SET completed_at = completed_at - %s", (8 * 24 * 3600 * 1000,))
    before = counts(url)
    script = (
        "import json, sys, time\n"
        "from ledgerlink.engine import history\n"
        "client = history.open_client(sys.argv[1])\n"
        "cpu, wall = time.process_time(), time.perf_counter()\n"
        "result = history.prune(client, history.Retention(), budget_seconds=3600)\n"
        "print(json.dumps({'deleted': result.deleted, 'finished': result.finished,\n"
        "  'seconds': time.perf_counter() - wall, 'cpu_seconds': time.process_time() - cpu}))\n"
        "client.destroy()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, "-c", script, url], env=env, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    after = counts(url)
    deleted = max(1, result["deleted"])
    return {
        "runs_before": before["workflow_status"],
        "runs_after": after["workflow_status"],
        "steps_after": after["operation_outputs"],
        "deleted": result["deleted"],
        "seconds": round(result["seconds"], 2),
        "runs_per_second": round(result["deleted"] / result["seconds"]) if result["seconds"] else None,
        "cpu_ms_per_1000_runs": round(1000 * 1000 * result["cpu_seconds"] / deleted, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--baseline-commit", help="also measure this commit's idle worker, first (no pruning)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ledgerlink-history-") as tmp:
        before = None
        if args.baseline_commit:
            old = baseline(args.baseline_commit, Path(tmp) / "baseline")
            before = measure(args.seconds, args.poll_interval, Path(tmp) / "b", old, prune=False)
        result = measure(args.seconds, args.poll_interval, Path(tmp) / "a", this_tree(Path(tmp) / "this"))
        result["baseline"] = before
    rate, base, bound, prune = (
        result["per_hour"],
        result["baseline_30_days"],
        result["ledgerlink_bound"],
        result["prune"],
    )
    print(f"one idle worker, poll every {args.poll_interval:g} s, {result['seconds']} s measured:")
    print(
        f"  writes an hour: {rate['workflow_status']:,} runs ({result['polling_share']:.0%} polling), "
        f"{rate['operation_outputs']:,} steps, {rate['row_bytes'] / 1e6:.2f} MB of rows "
        f"({rate['bytes'] / 1e6:.1f} MB of pages and indexes, counted in whole pages)"
    )
    print(
        f"  DBOS alone (baseline), after 30 days: {base['runs']:,} runs, {base['steps']:,} steps, "
        f"{base['megabytes']:,} MB of rows"
    )
    print(f"  LedgerLink's default retention keeps at most: {bound['runs']:,} runs, ~{bound['megabytes']:,} MB of rows")
    print(
        f"  pruning, after aging all {prune['runs_before']:,} runs past the horizons: {prune['deleted']:,} "
        f"forgotten in {prune['seconds']} s ({prune['runs_per_second']}/s, "
        f"{prune['cpu_ms_per_1000_runs']} CPU ms per 1,000 in the pruner), "
        f"{prune['runs_after']} runs and {prune['steps_after']} steps left"
    )
    for side in filter(None, (before, result)):
        api = ", ".join(f"{system} {n:g}" for system, n in side["api_calls_per_minute"].items())
        print(
            f"  idle cost, {side['code']} ({side['commit']}): {side['per_hour']['workflow_status']:,} runs an hour, "
            f"worker {side['worker_cpu_per_second']:.4f} CPU-s/s, API calls a minute: {api} (load {side['load_1min']})"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
