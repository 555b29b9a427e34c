"""Worker scaling: won Opportunities → KashFlow invoices (numbers written back) with one and with two
``ledgerlink worker`` processes on one PostgreSQL database, same workload, in one run.

    python benchmarks/worker_scaling.py [--opportunities 1000] [--latency-ms 20] [--workers 1 2]
        [--baseline-commit REF] [--compile-at-start] [--json PATH]

Each phase gets a fresh PostgreSQL database (created on ``LEDGERLINK_TEST_POSTGRES``, default
postgresql://postgres@127.0.0.1:5432/postgres, and dropped afterwards) and fresh sandboxes in processes of their
own (Salesforce and KashFlow, ``--latency-ms`` on every call), seeded alike by the demo seeder with every
Opportunity Closed Won (``seed(..., won_share=1.0)``). Then N workers start together (``ledgerlink worker
--poll-interval 1 --lag 0``, every enabled flow's trigger, as deployed) and the benchmark counts the invoices in
KashFlow every half second. The rate is invoices over the time from the first invoice to the last (the workers'
start-up is left out; it is shown apart). The single-worker phase is the baseline for the ratio.

Cost: CPU milliseconds per invoice of the LedgerLink worker processes alone (``/proc/<pid>/stat`` utime + stime,
their children's included), from the workers' start to the last invoice, start-up included (it is also shown
apart: the CPU spent before the first invoice). The sandboxes, PostgreSQL and this script are not counted.

``--baseline-commit REF`` runs each phase a second time, just before this tree's (so both see the same minutes of
this machine), in that commit's world: its whole tree (``git archive``) serves the sandboxes, seeds them, migrates
the database and runs the workers, each in a subprocess with that tree alone on ``PYTHONPATH`` (``_code.py``).
This tree's phases run from a copy of the working tree the same way. Both have bytecode compiled before the phase,
as a deployed install has (``--compile-at-start``: neither has, and every worker compiles LedgerLink at start).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from statistics import median
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _code import Code, baseline, this_tree
from _sandboxes import SandboxProcess, cpu_seconds, sandboxes

ADMIN_URL = os.environ.get("LEDGERLINK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def invoices(box: SandboxProcess, http: httpx.Client, token: list[str]) -> int:
    """Invoices in KashFlow now (one list call with perpage=1; the sandbox counts it, which does not matter here)."""
    if not token:
        token.append(box.kashflow_token(http))
    body = http.get("invoices", params={"perpage": 1}, headers={"Authorization": f"KfToken {token[0]}"}).json()
    return int(body["MetaData"]["TotalRecords"])


def _database() -> str:
    name = f"ledgerlink_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed_demo(
    code: Code, spec: dict[str, Any], *, accounts: int, opportunities: int, won_share: float, seed: int
) -> None:
    """The demo seeder of ``code``'s tree, in a subprocess."""
    script = str(Path(__file__).resolve().parent / "_seed_demo.py")
    numbers = ("--accounts", str(accounts), "--opportunities", str(opportunities), "--won-share", str(won_share))
    code.python(script, json.dumps(spec), *numbers, "--seed", str(seed))


def worker_env(code: Code, database: str, *, bytecode: bool) -> dict[str, str]:
    """A worker's environment: ``code``'s tree alone on PYTHONPATH, the phase's database, no other LEDGERLINK_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERLINK_")}
    env["LEDGERLINK_DATABASE_URL"] = f"{ADMIN_URL.rsplit('/', 1)[0]}/{database}"
    return code.env(env, bytecode=bytecode)


def phase(
    workers: int, opportunities: int, latency_ms: float, data_dir: Path, timeout: float, code: Code, bytecode: bool
) -> dict[str, Any]:
    name = _database()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with sandboxes(data_dir / "sandboxes", tls=False, env=code.env(bytecode=bytecode)) as boxes:
            accounts = max(10, opportunities // 10)
            spec = boxes["salesforce"].spec
            seed_demo(code, spec, accounts=accounts, opportunities=opportunities, won_share=1, seed=11)
            boxes.set_latency(latency_ms)
            connections = boxes.write_connections(data_dir / "connections.jsonl")
            env = worker_env(code, name, bytecode=bytecode)
            # Migrate once before the workers race to do it.
            subprocess.run(
                [sys.executable, "-c", "from ledgerlink.store import Ledger, database_url; Ledger(database_url())"],
                env=env,
                check=True,
            )
            kf = boxes["kashflow"]
            token: list[str] = []
            with httpx.Client(base_url=kf.spec["base_url"] + "/", trust_env=False, timeout=30) as http:
                started = time.perf_counter()
                for n in range(workers):
                    log = (data_dir / f"worker-{n}.log").open("wb")
                    command = [
                        *(sys.executable, "-m", "ledgerlink.cli", "worker", "--data-dir", str(data_dir)),
                        *("--connections", str(connections), "--executor-id", f"bench-{n}"),
                        *("--poll-interval", "1", "--lag", "0", "--no-cdc"),
                    ]
                    processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env))
                first_at: float | None = None
                count = 0
                startup_cpu = 0.0
                first_count = 0
                load = os.getloadavg()[0]
                deadline = started + timeout
                while time.perf_counter() < deadline:
                    count = invoices(kf, http, token)
                    now = time.perf_counter()
                    if count and first_at is None:
                        first_at = now
                        startup_cpu = sum(cpu_seconds(p.pid) for p in processes)
                        first_count = count
                    if count >= opportunities:
                        break
                    if any(p.poll() is not None for p in processes):
                        raise SystemExit(f"a worker exited early; see {data_dir}/worker-*.log")
                    time.sleep(0.5)
                done_at = time.perf_counter()
                cpu = sum(cpu_seconds(p.pid) for p in processes)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        _drop(name)
    busy = done_at - (first_at or started)
    return {
        "workers": workers,
        "opportunities": opportunities,
        "invoiced": count,
        "startup_seconds": round((first_at or done_at) - started, 1),
        "seconds": round(busy, 1),
        "invoices_per_second": round(count / busy, 1) if busy > 0 else None,
        "cpu_seconds": round(cpu, 2),
        "startup_cpu_seconds": round(startup_cpu, 2),
        "cpu_ms_per_invoice": round(1000 * cpu / count, 2) if count else None,
        # From the first invoice on: the work per invoice without the start-up (imports, migrations, first polls).
        "busy_cpu_ms_per_invoice": round(1000 * (cpu - startup_cpu) / (count - first_count), 2)
        if count > first_count
        else None,
        "code": code.label,
        "commit": code.ref,
        "load_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opportunities", type=int, default=1_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per phase before giving up")
    parser.add_argument("--baseline-commit", help="also run each phase with the workers on this commit's code")
    parser.add_argument(
        "--compile-at-start",
        action="store_true",
        help="no bytecode: every worker compiles LedgerLink from source at start (both sides; rounds 1-3 measured so)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="phases per worker count and code, alternating A B, B A, … (medians)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    bytecode = not args.compile_at_start
    with tempfile.TemporaryDirectory(prefix="ledgerlink-scaling-") as tmp:
        ours = this_tree(Path(tmp) / "this", bytecode=bytecode)
        codes = [ours]
        if args.baseline_commit:  # its whole tree: sandboxes, seeder, migrations, workers
            codes.insert(0, baseline(args.baseline_commit, Path(tmp) / "baseline", bytecode=bytecode))
        phases = []
        for n in args.workers:
            for r in range(args.rounds):
                # Baseline and this tree alternate, A B then B A, so both see the same minutes of this machine.
                for code in codes if r % 2 == 0 else codes[::-1]:
                    data_dir = Path(tmp) / f"{code.label.replace(' ', '-')}-{n}-{r}"
                    result = phase(n, args.opportunities, args.latency_ms, data_dir, args.timeout, code, bytecode)
                    phases.append({**result, "round": r + 1})
    print(
        f"{args.opportunities:,} won Opportunities → KashFlow invoices, {args.latency_ms:g} ms latency, PostgreSQL, "
        f"{os.cpu_count()} cores (Python {platform.python_version()}), bytecode "
        f"{'compiled at each start' if args.compile_at_start else 'precompiled'}\n"
    )
    print(
        f"{'round':>5}  {'code':<10}{'workers':>8}{'invoiced':>10}{'start-up s':>12}{'seconds':>10}{'invoices/s':>12}"
        f"{'vs 1 worker':>13}{'CPU ms/inv':>12}{'busy ms/inv':>13}{'start-up CPU s':>16}{'load':>12}"
    )
    for p in phases:
        base = median(q["invoices_per_second"] or 0.0 for q in phases if q["code"] == p["code"] and q["workers"] == 1)
        rate = p["invoices_per_second"] or 0.0
        ratio = rate / base if base else 0.0
        p["ratio"] = round(ratio, 2)
        load = "→".join(f"{x:.1f}" for x in p["load_1min"])
        print(
            f"{p['round']:>5}  {p['commit']:<10}{p['workers']:>8}{p['invoiced']:>10,}{p['startup_seconds']:>12}"
            f"{p['seconds']:>10}{rate:>12.1f}{ratio:>12.2f}×{p['cpu_ms_per_invoice'] or 0:>12.2f}"
            f"{p['busy_cpu_ms_per_invoice'] or 0:>13.2f}"
            f"{p['startup_cpu_seconds']:>16.2f}"
            f"{load:>12}"
        )
    summary = []
    if args.baseline_commit:
        for n in args.workers:
            for key in ("cpu_ms_per_invoice", "busy_cpu_ms_per_invoice", "startup_cpu_seconds"):
                before, after = (
                    [p[key] for p in phases if p["workers"] == n and p["code"] == c and p[key]]
                    for c in ("baseline", "this tree")
                )
                if not (before and after):
                    continue
                ratio = median(after) / median(before)
                summary.append({"workers": n, "figure": key, "baseline": median(before), "this_tree": median(after)})
                print(
                    f"{key}, {n} worker(s), median of {len(after)}: {median(after):.2f} against {median(before):.2f} "
                    f"on {args.baseline_commit}: {ratio:.2f}× (target ≤ 0.5×)"
                )
    complete = all(p["invoiced"] >= args.opportunities for p in phases)
    if not complete:
        print("INCOMPLETE: a phase timed out before every Opportunity was invoiced")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "benchmark": "worker_scaling",
            "opportunities": args.opportunities,
            "latency_ms": args.latency_ms,
            "cores": os.cpu_count(),
            "baseline_commit": args.baseline_commit,
            "rounds": args.rounds,
            "bytecode": bytecode,
            "phases": phases,
            "medians": summary,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
