"""Run every benchmark, each in its own process, print one table and write the figures as JSON.

    python -m benchmarks [--only NAME ...] [--out benchmarks/results] [--quick | --large]

The default sizes keep a whole run to about a quarter of an hour on the 2-core machine of benchmarks/README.md,
while still measuring each figure issue 22 asks for: the backfill against the 8-thread script, CDC latency at 50
deals a second over 60 s beside the polling trigger, CPU per invoice before and after, the burst of 5,000 deals.
``--large`` runs the sizes the README's figures were made with (about two hours, most of it the 100,000-record
memory backfill and the bursts); ``--quick`` is a smoke run, not figures to quote. After the runs, each headline
figure is printed beside its baseline from the same run (``headline``), with the commit measured and the machine's
load: this machine is shared, so only figures from one run compare. ``--baseline-commit`` is the code the
CPU-per-invoice (and, with ``--large``, burst) benchmarks run as "before" (default: 2d38ac5, main when issue 22
was filed, run in its own world).
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
# The "before" of CPU per invoice and the burst: main when issue 22 was filed. Its whole tree runs in its own world
# (its sandboxes, seeder and workers: benchmarks/_code.py), so today's sandboxes need not serve its older reader.
BASELINE_COMMIT = "2d38ac5"

# name -> (script, default arguments, quick arguments, large arguments). The issue-22 figures come first, so a run
# cut short still has them.
BENCHMARKS: dict[str, tuple[str, list[str], list[str], list[str]]] = {
    "backfill_throughput": (
        "backfill_throughput.py",
        ["--records", "1000", "--sequential-records", "200"],
        ["--records", "300", "--sequential-records", "100"],
        ["--records", "2000", "--sequential-records", "300"],
    ),
    "event_latency": (
        "event_latency.py",
        ["--rate", "50", "--seconds", "60", "--polling-seconds", "30"],
        ["--rate", "20", "--seconds", "10"],
        ["--rate", "50", "--seconds", "60"],
    ),
    # 1,000 deals, two rounds: at 300 a worker's start-up (imports, launch, first polls) was 70% of its CPU, and one
    # phase of the same code varies by a fifth here, so the medians of A B, B A compare.
    "worker_scaling": (
        "worker_scaling.py",
        ["--opportunities", "1000", "--rounds", "2"],
        ["--opportunities", "100", "--workers", "1"],
        ["--opportunities", "500"],
    ),
    "burst": ("burst.py", ["--deals", "5000"], ["--deals", "300"], ["--deals", "5000"]),
    "mapping_throughput": (
        "mapping_throughput.py",
        ["--records", "20000", "--repeat", "2"],
        ["--records", "5000", "--repeat", "1"],
        [],
    ),
    "salesforce_backfill": (
        "salesforce_backfill.py",
        ["--records", "2000", "--baseline-sample", "200"],
        ["--records", "500", "--baseline-sample", "50"],
        [],
    ),
    "backfill_memory": ("backfill_memory.py", ["--records", "2000"], ["--records", "1000"], ["--records", "100000"]),
    "reliability": (
        "reliability.py",
        ["--opportunities", "100", "--customers", "30"],
        ["--opportunities", "50", "--customers", "20"],
        [],
    ),
    "mapping_suggestions": ("mapping_suggestions.py", [], [], []),
    "record_linkage": (
        "record_linkage.py",
        ["--synthetic", "5000"],
        ["--synthetic", "2000", "--skip-splink"],
        [],
    ),
    "anomalies": ("anomalies.py", ["--seeds", "5"], ["--seeds", "2"], []),
    "first_invoice": ("first_invoice.py", [], [], []),
    # Its baseline: the tree before an idle slot stopped starting runs (Flow.probe). 120 s: an idle worker's full
    # polls come once a minute now, and a 60 s window could fall between them (it measured 0 runs an hour).
    "run_history": (
        "run_history.py",
        ["--seconds", "120", "--baseline-commit", "75efee7"],
        ["--seconds", "20"],
        ["--seconds", "300", "--baseline-commit", "75efee7"],
    ),
}


# Run with ``--baseline-commit``: CPU per invoice always, the burst only with --large (its baseline run alone takes
# longer than the rest of a default run; the burst's own figure, all 5,000 invoiced once, needs no baseline).
WITH_BASELINE_COMMIT = {
    "default": ("worker_scaling",),
    "quick": ("worker_scaling",),
    "large": ("worker_scaling", "burst"),
}


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
        ours = [p for p in data["phases"] if p.get("code", "this tree") == "this tree"]
        cdc = next((p for p in reversed(ours) if p["trigger"] == "cdc"), None)
        polling = next((p for p in ours if p["trigger"] == "polling"), None)
        before = next((p for p in reversed(data["phases"]) if p.get("code") == "baseline"), None)
        if cdc:
            bases = [f"polling: p50 {polling['p50_s']} s, p99 {polling['p99_s']} s"] if polling else []
            if before:
                bases.append(f"CDC on {data['baseline_commit']}: p50 {before['p50_s']} s, p99 {before['p99_s']} s")
            base = "; ".join(bases)
            rows.append(
                (
                    f"event latency at {data['rate_per_second']:g}/s",
                    f"CDC: p50 {cdc['p50_s']} s, p99 {cdc['p99_s']} s",
                    base,
                    "p50 ≤ 0.25 s, p99 ≤ 0.5 s",
                )
            )
    elif name == "worker_scaling":
        medians = {(m["workers"], m["figure"]): m for m in data.get("medians", [])}
        for workers in sorted({p["workers"] for p in data["phases"]}):
            whole, busy = (
                medians.get((workers, "cpu_ms_per_invoice")),
                medians.get((workers, "busy_cpu_ms_per_invoice")),
            )
            if whole:  # with a baseline: the medians of the rounds (A B, B A, …), ratios beside
                ours, base = f"{whole['this_tree']:.2f} ms", f"{whole['baseline']:.2f} ms"
                ratios = f"{whole['this_tree'] / whole['baseline']:.2f}×"
                if busy:
                    ours += f", busy {busy['this_tree']:.2f} ms"
                    base += f", busy {busy['baseline']:.2f} ms"
                    ratios += f", busy {busy['this_tree'] / busy['baseline']:.2f}×"
                rows.append(
                    (
                        f"CPU ms per invoice, {workers} worker(s), {data['opportunities']:,} deals, "
                        f"median of {data.get('rounds', 1)}",
                        f"{ours} ({ratios})",
                        f"{base} ({data.get('baseline_commit')})",
                        "≤ ½ the baseline",
                    )
                )
                continue
            phase = next(p for p in data["phases"] if p["code"] == "this tree" and p["workers"] == workers)
            rows.append(
                (
                    f"CPU ms per invoice, {workers} worker(s)",
                    f"{phase['cpu_ms_per_invoice']} ms, busy {phase.get('busy_cpu_ms_per_invoice')} ms "
                    f"({phase['invoices_per_second']}/s)",
                    "",
                    "≤ ½ the baseline",
                )
            )
    elif name == "run_history":
        rate, kept, base = data["per_hour"], data["ledgerlink_bound"], data["baseline_30_days"]
        rows.append(
            (
                f"run history, one idle worker (poll {data['poll_interval']:g} s)",
                f"{rate['workflow_status']:,} runs/h, at most {kept['runs']:,} kept "
                f"(~{kept['megabytes']:,} MB of rows)",
                f"DBOS alone: {base['runs']:,} runs (~{base['megabytes']:,} MB of rows) after 30 days",
                "bounded",
            )
        )
        before = data.get("baseline")
        rows.append(
            (
                f"idle worker's CPU and API calls (poll {data['poll_interval']:g} s)",
                f"{data['worker_cpu_per_second']} CPU-s/s, {sum(data['api_calls_per_minute'].values()):g} calls/min",
                f"{before['worker_cpu_per_second']} CPU-s/s, {sum(before['api_calls_per_minute'].values()):g} "
                f"calls/min, {before['per_hour']['workflow_status']:,} runs/h ({before['commit']})"
                if before
                else "",
                "lower",
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
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="small settings, for a smoke run")
    sizes.add_argument("--large", action="store_true", help="the sizes of the README's figures (hours)")
    parser.add_argument("--baseline-commit", default=BASELINE_COMMIT, help="the 'before' code (CPU, burst)")
    args = parser.parse_args(argv)
    size = "quick" if args.quick else "large" if args.large else "default"
    commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    args.out.mkdir(parents=True, exist_ok=True)
    console = Console()
    summary: dict[str, dict[str, Any]] = {}
    for name in args.only or list(BENCHMARKS):
        script, default, quick, large = BENCHMARKS[name]
        out = args.out / f"{name}.json"
        out.unlink(missing_ok=True)  # a failed run must not show the figures of an earlier one
        console.rule(f"[bold]{name}")
        started = time.perf_counter()
        load = os.getloadavg()[0]
        command = [
            sys.executable,
            str(HERE / script),
            "--json",
            str(out),
            *{"default": default, "quick": quick, "large": large}[size],
        ]
        if name in WITH_BASELINE_COMMIT[size]:
            command += ["--baseline-commit", args.baseline_commit]
        code = subprocess.call(command)
        summary[name] = {
            "exit_code": code,
            "seconds": round(time.perf_counter() - started, 1),
            "json": str(out),
            "command": " ".join(command[1:]).replace(str(HERE) + "/", "benchmarks/"),
            "load_1min": [round(load, 1), round(os.getloadavg()[0], 1)],
        }
    table = Table("benchmark", "exit", "seconds", "load", "figures")
    for name, row in summary.items():
        loads = "→".join(str(x) for x in row["load_1min"])
        table.add_row(name, str(row["exit_code"]), str(row["seconds"]), loads, str(row["json"]))
    console.print(table)
    figures = Table("figure", "LedgerLink", "baseline (same run)", "target", title=f"commit {commit.stdout.strip()}")
    for name, row in summary.items():
        path = Path(str(row["json"]))
        if not path.exists():
            continue
        for line in headline(name, json.loads(path.read_text())):
            figures.add_row(*line)
            row.setdefault("headline", []).append(line)
    console.print(figures)
    total = sum(float(row["seconds"]) for row in summary.values())
    console.print(f"{size} sizes, {total / 60:.1f} minutes in all")
    console.print(f"load average now: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    return 0 if all(row["exit_code"] == 0 for row in summary.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
