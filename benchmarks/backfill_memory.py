"""Peak memory of a large backfill: Salesforce Accounts (one Contact each) → KashFlow customers through
``customer_sync``, in LedgerLink's own process, sampled as the record count grows.

    python benchmarks/backfill_memory.py [--records 100000] [--marks 25000 50000] [--json PATH]

The sandboxes run in processes of their own (no injected latency), seeded with ``--records`` Accounts and Contacts
by Bulk API 2.0. LedgerLink runs as the real command, ``ledgerlink sync customer_sync --full`` (SQLite ledger and
DBOS, durability on), in a child process whose ``/proc/<pid>/status`` is read every 0.2 s: ``VmRSS`` now and
``VmHWM`` (the kernel's own peak). Progress is read from the ledger (Accounts linked to a customer, through a
read-only SQLite connection; WAL lets it read beside the writer). The table gives the peak RSS when the backfill
had linked each mark's worth of Accounts, then at the end of the Accounts pass, and the run's peak over its
Contacts and books passes. Baseline, in the same run: the RSS of the same command before it has linked anything
(``VmRSS`` at its first sample with the ledger migrated and empty), so the growth is what the records cost.
Target: peak ≤ 300 MB, flat as the count grows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _sandboxes import sandboxes
from _seed import seed_accounts

TARGET_MB = 300.0


def status_kb(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def linked(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute(
                "SELECT count(*) FROM ll_xref WHERE system_a = 'salesforce' AND object_a = 'Account'"
            ).fetchone()
            return int(row[0])
    except sqlite3.Error:
        return -1  # busy or not migrated yet: try again next sample


def run(records: int, marks: list[int], data_dir: Path) -> dict[str, Any]:
    with sandboxes(data_dir / "sandboxes", tls=False) as boxes:
        seed_seconds = seed_accounts(boxes["salesforce"].spec, records)
        connections = boxes.write_connections(data_dir / "connections.jsonl")
        ll_dir = data_dir / "ledgerlink"
        ll_dir.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERLINK_")}
        command = [
            *(sys.executable, "-m", "ledgerlink.cli", "sync", "customer_sync", "--full"),
            *("--connections", str(connections), "--data-dir", str(ll_dir)),
        ]
        started = time.perf_counter()
        log = (data_dir / "sync.log").open("wb")
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        samples: list[dict[str, Any]] = []
        at_mark: dict[int, float] = {}
        accounts_done_mb: float | None = None
        start_mb: float | None = None
        hwm_kb = 0
        last_count, steady = 0, 0
        while child.poll() is None:
            kb = status_kb(child.pid)
            if kb:
                hwm_kb = max(hwm_kb, kb.get("VmHWM", 0))
                count = linked(ll_dir / "ledgerlink.db")
                if start_mb is None and count == 0:
                    start_mb = kb.get("VmRSS", 0) / 1024  # imported, ledger migrated, nothing linked yet
                if count >= 0:
                    for mark in marks:
                        if count >= mark and mark not in at_mark:
                            at_mark[mark] = hwm_kb / 1024
                    # The Accounts pass is over once every Account is linked.
                    if count >= records and accounts_done_mb is None:
                        accounts_done_mb = hwm_kb / 1024
                    steady = steady + 1 if count == last_count else 0
                    last_count = count
                samples.append({"t": round(time.perf_counter() - started, 1), "linked": count, **kb})
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        log.close()
        if child.returncode != 0:
            tail = (data_dir / "sync.log").read_text(errors="replace")[-2000:]
            raise SystemExit(f"ledgerlink sync failed ({child.returncode}):\n{tail}")
        final = linked(ll_dir / "ledgerlink.db")
    series = [{"linked_accounts": mark, "peak_rss_mb": round(at_mark[mark], 1)} for mark in marks if mark in at_mark]
    if accounts_done_mb is not None:
        series.append({"linked_accounts": records, "peak_rss_mb": round(accounts_done_mb, 1)})
    return {
        "records": records,
        "linked": final,
        "seed_seconds": round(seed_seconds, 1),
        "sync_seconds": round(seconds, 1),
        "records_per_second": round(records / seconds, 1),
        "startup_rss_mb": round(start_mb or 0.0, 1),
        "peak_rss_mb": round(hwm_kb / 1024, 1),
        "series": series,
        "samples": samples[:: max(1, len(samples) // 200)],  # at most ~200 points in the JSON
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--marks", type=int, nargs="*", help="record counts to report peak RSS at (default 1/4, 1/2)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    marks = sorted(m for m in (args.marks or [args.records // 4, args.records // 2]) if 0 < m < args.records)
    with tempfile.TemporaryDirectory(prefix="ledgerlink-memory-") as tmp:
        result = run(args.records, marks, Path(tmp))
    print(
        f"Backfill of {args.records:,} Accounts + Contacts → KashFlow customers, `ledgerlink sync customer_sync "
        f"--full` ({os.cpu_count()} cores, Python {platform.python_version()}); seeding {result['seed_seconds']} s, "
        f"sync {result['sync_seconds']} s ({result['records_per_second']} records/s)\n"
    )
    print(f"{'point':<44}{'peak RSS MB':>12}")
    print(f"{'baseline: started, nothing linked yet':<44}{result['startup_rss_mb']:>12.1f}")
    for point in result["series"]:
        print(f"{'Accounts linked: ' + format(point['linked_accounts'], ','):<44}{point['peak_rss_mb']:>12.1f}")
    print(f"{'whole run (Accounts, Contacts, books passes)':<44}{result['peak_rss_mb']:>12.1f}")
    ok = result["peak_rss_mb"] <= TARGET_MB and result["linked"] == args.records
    print(
        f"\npeak {result['peak_rss_mb']:.0f} MB (target ≤ {TARGET_MB:.0f} MB): {'met' if ok else 'NOT met'}; "
        f"{result['linked']:,} of {args.records:,} Accounts linked"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"benchmark": "backfill_memory", "target_mb": TARGET_MB, "cores": os.cpu_count(), **result}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if result["linked"] == args.records else 1


if __name__ == "__main__":
    sys.exit(main())
