"""Run every benchmark, each in its own process, print one table and write the figures as JSON.

    python -m benchmarks [--only NAME ...] [--out benchmarks/results] [--quick]

Each benchmark is a script in this folder with a ``--json PATH`` option; ``--quick`` passes each one's smaller
settings (for a smoke run, not for figures worth quoting).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).parent

# name -> (script, full arguments, quick arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "mapping_throughput": ("mapping_throughput.py", [], ["--records", "20000", "--repeat", "2"]),
    "salesforce_backfill": ("salesforce_backfill.py", [], ["--records", "2000", "--baseline-sample", "200"]),
    "event_latency": ("event_latency.py", [], ["--rate", "20", "--seconds", "10"]),
    "backfill_throughput": ("backfill_throughput.py", [], ["--records", "500"]),
    "backfill_memory": ("backfill_memory.py", [], ["--records", "5000"]),
    "worker_scaling": ("worker_scaling.py", [], ["--opportunities", "150"]),
    "reliability": ("reliability.py", [], ["--opportunities", "150", "--customers", "40"]),
    "mapping_suggestions": ("mapping_suggestions.py", [], []),
    "record_linkage": ("record_linkage.py", [], ["--synthetic", "10000"]),
    "anomalies": ("anomalies.py", [], ["--seeds", "5"]),
    "first_invoice": ("first_invoice.py", [], []),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run just these")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where the JSON files go")
    parser.add_argument("--quick", action="store_true", help="small settings, for a smoke run")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    console = Console()
    summary: dict[str, dict[str, object]] = {}
    for name in args.only or list(BENCHMARKS):
        script, full, quick = BENCHMARKS[name]
        out = args.out / f"{name}.json"
        console.rule(f"[bold]{name}")
        started = time.perf_counter()
        command = [sys.executable, str(HERE / script), "--json", str(out), *(quick if args.quick else full)]
        code = subprocess.call(command)
        summary[name] = {"exit_code": code, "seconds": round(time.perf_counter() - started, 1), "json": str(out)}
    table = Table("benchmark", "exit", "seconds", "figures")
    for name, row in summary.items():
        table.add_row(name, str(row["exit_code"]), str(row["seconds"]), str(row["json"]))
    console.print(table)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    return 0 if all(row["exit_code"] == 0 for row in summary.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
