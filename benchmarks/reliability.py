"""Reliability (issue 6): the demo's data synced while every sandbox misbehaves, then checked for consistency.

    python benchmarks/reliability.py [--opportunities 1000] [--customers 200] [--error-rate 0.05]
        [--drop-rate 0.01] [--drop-after-rate 0.01] [--latency-ms 20] [--jitter-ms 20] [--json PATH]

LedgerLink runs in this process on the embedded default (SQLite) against the Salesforce and KashFlow sandboxes on
loopback, both injecting server errors, dropped connections (before and after the request was processed) and
latency. Customers and products sync both ways, won opportunities become invoices while a person edits Accounts and
Contacts in Salesforce and a bookkeeper edits customers in KashFlow, payments and PDFs come back; every trigger is
re-run until a round finds nothing to do; then the faults are lifted and reconciliation compares both sides.
Target: no drift, no duplicates, nothing lost, no failed record left open (``ledgerlink.demo.scenario``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ledgerlink.demo.scenario import ScenarioOptions, run_scenario


def _row(name: str, value: object) -> None:
    print(f"{name:<34}{value!s:>14}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opportunities", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--error-rate", type=float, default=0.05, help="share of requests answered 503")
    parser.add_argument("--drop-rate", type=float, default=0.01, help="connections cut before processing")
    parser.add_argument("--drop-after-rate", type=float, default=0.01, help="connections cut after processing")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--jitter-ms", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    report = run_scenario(
        ScenarioOptions(
            opportunities=args.opportunities,
            customers=args.customers,
            error_rate=args.error_rate,
            drop_rate=args.drop_rate,
            drop_after_rate=args.drop_after_rate,
            latency_ms=args.latency_ms,
            latency_jitter_ms=args.jitter_ms,
            seed=args.seed,
            progress=progress,
        )
    )
    figures = report.as_dict()
    print(f"{'measure':<34}{'value':>14}")
    _row("seconds", report.seconds)
    for key, value in report.seeded.items():
        _row(f"seeded {key}", value)
    for flow, counts in report.flows.items():
        shown = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()) if v)
        print(f"{flow:<34}  {shown}")
    for key, value in report.edits.items():
        _row(f"edits {key}", value)
    for system, counts in report.injected.items():
        for kind, value in counts.items():
            _row(f"injected {system} {kind}", value)
    _row("trigger rounds to quiet", f"{report.rounds_to_quiet} ({'quiet' if report.quiet else 'NOT quiet'})")
    for key, value in report.duplicates.items():
        _row(f"duplicate {key}", value)
    for key, value in report.lost.items():
        _row(f"lost {key}", value)
    for entity, found in report.reconciliation.items():
        _row(f"reconciliation {entity} checked", found["checked"])
        _row(f"reconciliation {entity} drift", found["drift"])
    _row("failed records open", report.failed_open)
    for line in [*report.drift_examples, *report.failed_examples]:
        print(f"  {line}")
    print(f"target (no drift, duplicates, losses or failed records): {'met' if report.clean else 'NOT met'}")
    result = {
        "benchmark": "reliability",
        "opportunities": args.opportunities,
        "customers": args.customers,
        "report": figures,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
