"""Burst: 5,000 deals closed at once, as a data-loader import would (one Bulk API 2.0 update), with one
``ledgerlink worker`` running as deployed (Change Data Capture, polling as the safety net) on PostgreSQL.

    python benchmarks/burst.py [--deals 5000] [--latency-ms 0] [--baseline-commit REF] [--compile-at-start]
        [--json PATH]

A fresh PostgreSQL database (created on ``LEDGERLINK_TEST_POSTGRES``, dropped afterwards) and fresh sandboxes in
processes of their own, seeded by the demo seeder with every Opportunity open. The worker starts and settles (its
first polls find nothing to do); then every Opportunity turns Closed Won in one ``sf.write`` (Bulk API 2.0 above
its threshold). One deal closed first, alone, tells the worker is up (its write-back is awaited); then the burst.
Measured:

- time from the start of that update to the last invoice number written back in Salesforce (counted every
  second by ``SELECT COUNT() … WHERE Accounting_Invoice_Number__c != null``);
- none lost and none duplicated: every Opportunity has its number, and KashFlow holds exactly one invoice per
  Opportunity (its ``CustomerReference``, listed in full at the end);
- the worker's peak RSS (``VmHWM`` in ``/proc/<pid>/status``) and its CPU (``/proc/<pid>/stat``).

``--baseline-commit REF`` runs the same burst first in that commit's world (its whole tree serves and seeds the
sandboxes and runs the worker: see ``_code.py`` and worker_scaling), in the same run, beside this tree's; both
with bytecode compiled before the run (``--compile-at-start``: neither).
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
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _code import Code, baseline, this_tree
from _sandboxes import cpu_seconds, sandboxes
from worker_scaling import _database, _drop, seed_demo, worker_env

# Where the invoice flow writes the books' number back on the Opportunity: read from the tree measured (it was
# KashFlow_Invoice_Number__c at 2d38ac5).
NUMBER_FIELD = ("ledgerlink.flows.opportunity_to_invoice", "INVOICE_NUMBER_FIELD")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def written_back(sf: Any, field: str) -> int:
    soql = f"SELECT COUNT() FROM Opportunity WHERE {field} != null"
    return int(sf.request("GET", "query", params={"q": soql}, kind="query").json()["totalSize"])


def invoice_references(spec: dict[str, Any], token: str) -> Counter[str]:
    """Every invoice in KashFlow by its CustomerReference (the Opportunity id)."""
    refs: Counter[str] = Counter()
    with httpx.Client(base_url=spec["base_url"] + "/", trust_env=False, timeout=60) as http:
        page = 1
        while True:
            body = http.get(
                "invoices", params={"page": page, "perpage": 500}, headers={"Authorization": f"KfToken {token}"}
            ).json()
            rows = body.get("Data") or []
            refs.update(str(r.get("CustomerReference")) for r in rows)
            if not rows or not (body.get("MetaData") or {}).get("NextPageUrl"):
                return refs
            page += 1


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


def burst(deals: int, latency_ms: float, data_dir: Path, timeout: float, code: Code, bytecode: bool) -> dict[str, Any]:
    # The data loader's side (closing the deals, counting write-backs) is this benchmark's own client, the same for
    # both sides; the sandboxes, the seeder and the worker are ``code``'s.
    from ledgerlink.connections.build import build_crm

    field = code.constant(*NUMBER_FIELD)
    name = _database()
    worker: subprocess.Popen[bytes] | None = None
    try:
        with sandboxes(data_dir / "sandboxes", tls=False, env=code.env(bytecode=bytecode)) as boxes:
            accounts = max(10, deals // 10)
            seed_demo(code, boxes["salesforce"].spec, accounts=accounts, opportunities=deals + 1, won_share=0, seed=13)
            sf = build_crm(boxes["salesforce"].spec, client_tag="benchmark-burst")
            try:
                canary, *ids = [r["Id"] for r in sf.query("SELECT Id FROM Opportunity")]
                boxes.set_latency(latency_ms)
                connections = boxes.write_connections(data_dir / "connections.jsonl")
                env = worker_env(code, name, bytecode=bytecode)
                migrate = "from ledgerlink.store import Ledger, database_url; Ledger(database_url())"
                subprocess.run([sys.executable, "-c", migrate], env=env, check=True)
                log = (data_dir / "worker.log").open("wb")
                command = [
                    *(sys.executable, "-m", "ledgerlink.cli", "worker", "--data-dir", str(data_dir)),
                    *("--connections", str(connections), "--executor-id", "burst", "--poll-interval", "5"),
                ]
                worker = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
                # The worker is up (subscribed, its triggers running) once one deal closed alone is written back.
                sf.update_many("Opportunity", [{"Id": canary, "StageName": "Closed Won"}])
                ready_by = time.perf_counter() + timeout
                while written_back(sf, field) < 1:
                    if worker.poll() is not None or time.perf_counter() > ready_by:
                        raise SystemExit(f"the worker did not start; see {data_dir}/worker.log")
                    time.sleep(1.0)
                time.sleep(6)  # past the CDC trigger's catch-up margin (5 s): the burst meets a worker at rest
                cpu_before = cpu_seconds(worker.pid)
                load = os.getloadavg()[0]
                started = time.perf_counter()
                results = sf.write("Opportunity", "update", [{"Id": i, "StageName": "Closed Won"} for i in ids])
                closed_seconds = time.perf_counter() - started
                if not all(r.success for r in results):
                    raise SystemExit("closing the deals failed")
                done = 1  # the canary
                last_change = started
                while time.perf_counter() - started < timeout:
                    now_done = written_back(sf, field)
                    if now_done != done:
                        done, last_change = now_done, time.perf_counter()
                    if done >= len(ids) + 1 or worker.poll() is not None:
                        break
                    time.sleep(1.0)
                seconds = last_change - started
                cpu = cpu_seconds(worker.pid) - cpu_before
                rss = peak_rss_mb(worker.pid)
                boxes.set_latency(0)
                kf = boxes["kashflow"]
                with kf.client() as http:
                    http.base_url = httpx.URL(kf.spec["base_url"] + "/")
                    token = kf.kashflow_token(http)
                refs = invoice_references(kf.spec, token)
                final_done = written_back(sf, field) - 1  # less the canary
                _stop(worker)  # before its sandboxes go: a worker left running meets refused connections
            finally:
                sf.close()
    finally:
        if worker is not None:
            _stop(worker)
        _drop(name)
    refs[canary] -= 1  # the canary's own invoice
    wanted = set(ids)
    return {
        "code": code.label,
        "commit": code.ref,
        "deals": len(ids),
        "close_seconds": round(closed_seconds, 1),
        "written_back": final_done,
        "seconds_to_last_write_back": round(seconds, 1),
        "invoices_per_second": round(final_done / seconds, 1) if seconds > 0 else None,
        "invoices": sum(refs.values()),
        "lost": len(wanted - set(refs)),
        "duplicated": sum(n - 1 for ref, n in refs.items() if n > 1),
        "strangers": len({ref for ref, n in refs.items() if n} - wanted),
        "peak_rss_mb": round(rss, 1),
        "cpu_ms_per_invoice": round(1000 * cpu / final_done, 2) if final_done else None,
        "load_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=5_000)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--baseline-commit", help="also run the burst with the worker on this commit's code")
    parser.add_argument(
        "--compile-at-start", action="store_true", help="no bytecode: the worker compiles LedgerLink at start (both)"
    )
    parser.add_argument("--this-first", action="store_true", help="this tree's burst first, then the baseline's")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    bytecode = not args.compile_at_start
    with tempfile.TemporaryDirectory(prefix="ledgerlink-burst-") as tmp:
        codes = [this_tree(Path(tmp) / "this", bytecode=bytecode)]
        if args.baseline_commit:  # its whole tree: sandboxes, seeder, migrations, worker
            before = baseline(args.baseline_commit, Path(tmp) / "baseline", bytecode=bytecode)
            codes.insert(len(codes) if args.this_first else 0, before)
        runs = [
            burst(args.deals, args.latency_ms, Path(tmp) / f"run{i}", args.timeout, code, bytecode)
            for i, code in enumerate(codes)
        ]
    print(
        f"Burst: {args.deals:,} deals closed at once (Bulk API), one worker (CDC + polling), PostgreSQL, "
        f"{args.latency_ms:g} ms latency, {os.cpu_count()} cores (Python {platform.python_version()})\n"
    )
    print(
        f"{'code':<12}{'deals':>7}{'written back':>14}{'s to last':>11}{'inv/s':>8}{'invoices':>10}{'lost':>6}"
        f"{'dup':>5}{'peak RSS MB':>13}{'CPU ms/inv':>12}{'load':>12}"
    )
    for r in runs:
        load = "→".join(f"{x:.1f}" for x in r["load_1min"])
        print(
            f"{r['commit']:<12}{r['deals']:>7,}{r['written_back']:>14,}{r['seconds_to_last_write_back']:>11}"
            f"{r['invoices_per_second'] or 0:>8}{r['invoices']:>10,}{r['lost']:>6}{r['duplicated']:>5}"
            f"{r['peak_rss_mb']:>13}{r['cpu_ms_per_invoice'] or 0:>12}{load:>12}"
        )
    ok = all(r["lost"] == 0 and r["duplicated"] == 0 and r["written_back"] == r["deals"] for r in runs)
    print("all invoiced, none lost, none duplicated" if ok else "NOT all invoiced exactly once")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"benchmark": "burst", "deals": args.deals, "cores": os.cpu_count(), "runs": runs}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
