"""Run every benchmark, each in its own process, print one table and write the figures as JSON.

    python -m benchmarks [--only NAME ...] [--out benchmarks/results] [--quick]

Each benchmark is a script in this folder with a ``--json PATH`` option; ``--quick`` passes each one's smaller
settings (for a smoke run, not for figures worth quoting). After the runs, each headline figure is printed beside
its baseline from the same run (``headline``), with the commit measured and the machine's load: this machine is
shared, so only figures from one run compare. ``--baseline-commit`` is the code the CPU-per-invoice and burst
benchmarks run as "before" (default: main before issue 22).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).parent
BASELINE_COMMIT = "2d38ac5"  # main before issue 22's work: the "before" of CPU per invoice and the burst

# name -> (script, full arguments, quick arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "mapping_throughput": ("mapping_throughput.py", [], ["--records", "20000", "--repeat", "2"]),
    "salesforce_backfill": ("salesforce_backfill.py", [], ["--records", "2000", "--baseline-sample", "200"]),
    "event_latency": ("event_latency.py", ["--rate", "50", "--seconds", "60"], ["--rate", "20", "--seconds", "10"]),
    "backfill_throughput": ("backfill_throughput.py", [], ["--records", "500", "--sequential-records", "100"]),
    "backfill_memory": ("backfill_memory.py", [], ["--records", "5000"]),
    "worker_scaling": ("worker_scaling.py", [], ["--opportunities", "150"]),
    "burst": ("burst.py", [], ["--deals", "300"]),
    "reliability": ("reliability.py", [], ["--opportunities", "150", "--customers", "40"]),
    "mapping_suggestions": ("mapping_suggestions.py", [], []),
    "record_linkage": ("record_linkage.py", [], ["--synthetic", "10000"]),
    "anomalies": ("anomalies.py", [], ["--seeds", "5"]),
    "first_invoice": ("first_invoice.py", [], []),
}


WITH_BASELINE_COMMIT = ("worker_scaling", "burst")


def headline(name: str, data: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The figures issue 22 asks for, each beside its baseline from the same run: (figure, ours, baseline, target)."""
    rows: list[tuple[str, str, str, str]] = []
    if name == "backfill_throughput":
        by = {r["method"]: r for r in data["results"]}
        ours = by["LedgerLink"]["records_per_second"]
        threaded = next(r for m, r in by.items() if "threads" in m)
        rows.append(
            (
                f"backfill records/s ({data['records']:,}, {data['latency_ms']:g} ms)",
                f"{ours:,.1f} ({data['ratios']['vs_threaded']:.2f}×)",
                f"{threaded['method']}: {threaded['records_per_second']:,.1f}",
                "≥ 2×",
            )
        )
        rows.append(("backfill, share of concurrency ÷ latency", f"{data['ratios']['of_limit']:.0%}", "", "≥ 80%"))
    elif name == "event_latency":
        by = {p["trigger"]: p for p in data["phases"]}
        cdc, polling = by.get("cdc"), by.get("polling")
        if cdc:
            base = f"polling: p50 {polling['p50_s']} s, p99 {polling['p99_s']} s" if polling else ""
            rows.append(
                (
                    f"event latency at {data['rate_per_second']:g}/s",
                    f"CDC: p50 {cdc['p50_s']} s, p99 {cdc['p99_s']} s",
                    base,
                    "p50 ≤ 0.25 s, p99 ≤ 0.5 s",
                )
            )
    elif name == "worker_scaling":
        for phase in (p for p in data["phases"] if p["code"] == "this tree"):
            before = next(
                (p for p in data["phases"] if p["code"] == "baseline" and p["workers"] == phase["workers"]), None
            )
            base = (
                f"{before['cpu_ms_per_invoice']} ms, busy {before.get('busy_cpu_ms_per_invoice')} ms "
                f"({data.get('baseline_commit')})"
                if before
                else ""
            )
            rows.append(
                (
                    f"CPU ms per invoice, {phase['workers']} worker(s)",
                    f"{phase['cpu_ms_per_invoice']} ms, busy {phase.get('busy_cpu_ms_per_invoice')} ms "
                    f"({phase['invoices_per_second']}/s)",
                    base,
                    "≤ ½ the baseline",
                )
            )
    elif name == "burst":
        for run in data["runs"]:
            text = (
                f"{run['seconds_to_last_write_back']} s to the last write-back, {run['written_back']:,} written back, "
                f"lost {run['lost']}, duplicated {run['duplicated']}, peak RSS {run['peak_rss_mb']} MB"
            )
            if run["code"] == "this tree":
                before = next((r for r in data["runs"] if r["code"] == "baseline"), None)
                base = (
                    f"{before['seconds_to_last_write_back']} s, peak RSS {before['peak_rss_mb']} MB" if before else ""
                )
                rows.append((f"burst of {data['deals']:,} deals", text, base, "all once"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run just these")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where the JSON files go")
    parser.add_argument("--quick", action="store_true", help="small settings, for a smoke run")
    parser.add_argument("--baseline-commit", default=BASELINE_COMMIT, help="the 'before' code (CPU, burst)")
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    args.out.mkdir(parents=True, exist_ok=True)
    console = Console()
    summary: dict[str, dict[str, object]] = {}
    for name in args.only or list(BENCHMARKS):
        script, full, quick = BENCHMARKS[name]
        out = args.out / f"{name}.json"
        console.rule(f"[bold]{name}")
        started = time.perf_counter()
        command = [sys.executable, str(HERE / script), "--json", str(out), *(quick if args.quick else full)]
        if name in WITH_BASELINE_COMMIT:
            command += ["--baseline-commit", args.baseline_commit]
        code = subprocess.call(command)
        summary[name] = {"exit_code": code, "seconds": round(time.perf_counter() - started, 1), "json": str(out)}
    table = Table("benchmark", "exit", "seconds", "figures")
    for name, row in summary.items():
        table.add_row(name, str(row["exit_code"]), str(row["seconds"]), str(row["json"]))
    console.print(table)
    figures = Table("figure", "LedgerLink", "baseline (same run)", "target", title=f"commit {commit.stdout.strip()}")
    for name, row in summary.items():
        path = Path(str(row["json"]))
        if not path.exists():
            continue
        for line in headline(name, json.loads(path.read_text())):
            figures.add_row(*line)
            row.setdefault("headline", []).append(line)  # type: ignore[union-attr]
    console.print(figures)
    console.print(f"load average now: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    return 0 if all(row["exit_code"] == 0 for row in summary.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
