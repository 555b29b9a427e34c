"""A Kashoo connection limited to 500 requests an hour, in compressed time: the sandbox enforces 500 requests per
36 s (the same ratio, a hundred times faster) and the connection's ``rate_limit`` says the same, so LedgerLink's
pacer, not the sandbox, keeps it under. Won deals become invoices (customers and products made on demand, PDFs
chained), and the run reports the 429s (the target: none) and how much of the budget it used.

    python benchmarks/kashoo_rate_budget.py [--deals 100 400] [--limit 500 --period 36] [--json PATH]

Budget used = requests the sandbox admitted / (500 × the run's length in 36 s windows, at least one window). A run
that needs fewer than 500 requests finishes inside its first window: its use is requests/500, bounded by how few
calls the work needs (about 3 per invoice), not by the pacer. Only a run needing several windows shows how close the
pacer drives the connection to its limit. Each size runs in a process of its own (DBOS is launched once a process).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

LIMIT, PERIOD = 500, 36.0


def one_run(deals: int, limit: int = 500, period: float = 36.0) -> dict[str, Any]:
    from rich.console import Console

    from ledgerlink.bootstrap import engine_settings, open_runtime
    from ledgerlink.connections.build import build_crm
    from ledgerlink.demo.run import _Demo
    from ledgerlink.demo.seed import seed
    from ledgerlink.engine import runtime as engine
    from ledgerlink.flows import opportunity_to_invoice as o2i
    from ledgerlink.sandbox._ratelimit import RateLimit
    from ledgerlink.sandbox.runner import start_sandboxes

    data_dir = Path(tempfile.mkdtemp(prefix="ledgerlink-rate-budget-"))
    sandboxes = start_sandboxes(
        ["salesforce", "kashoo"], data_dir / "sandboxes", overrides={"kashoo": {"rate_limit": RateLimit(limit, period)}}
    )
    try:
        sf_spec = sandboxes["salesforce"].describe()
        seeder = build_crm(sf_spec, client_tag="bench-seed")
        seeded = seed(seeder, accounts=max(10, deals // 3), opportunities=deals, won_share=1.0)
        seeder.close()
        books_spec = {
            **sandboxes["kashoo"].describe(),
            "rate_limit": f"{limit} per {period:g} s",
            "options": {"create_missing_taxes": True},  # the seeded deals carry UK VAT
        }
        admin = f"{sandboxes['kashoo'].base_url}/__admin/ratelimit"
        httpx.put(admin, json={"reset": True}).raise_for_status()
        runtime = open_runtime(engine_settings(data_dir), sf_spec, books_spec)
        try:
            demo = _Demo(runtime, Console(quiet=True))
            started = time.perf_counter()
            invoiced = demo.phase("Won deals → invoices", o2i.poll_won)
            demo.wait_for_pdfs(invoiced)
            seconds = time.perf_counter() - started
            counters = httpx.get(admin).json()
            outcomes = {**demo.flows.get("Won deals → invoices", {})}
            pdfs = {**demo.flows.get("Invoice PDFs → Files", {})}
        finally:
            engine.stop()
    finally:
        sandboxes.stop()
    windows = max(1.0, seconds / period)
    return {
        "won_deals": seeded.won,
        "invoices": outcomes,
        "pdfs": pdfs,
        "seconds": round(seconds, 1),
        "requests": counters["allowed"],
        "429s": counters["limited"],
        "budget": round(limit * windows),
        "budget_used": round(counters["allowed"] / (limit * windows), 3),
        "calls_per_invoice": round(counters["allowed"] / max(1, seeded.won), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deals", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--limit", type=int, default=LIMIT)
    parser.add_argument("--period", type=float, default=PERIOD)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a run in this process
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.deals[0], args.limit, args.period)))
        return
    results = []
    for deals in args.deals:
        limits = ["--limit", str(args.limit), "--period", str(args.period)]
        done = subprocess.run(
            [sys.executable, __file__, "--one", "--deals", str(deals), *limits],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"Kashoo limited to {args.limit} requests per {args.period:g} s")
    print("| won deals | invoices | seconds | requests | 429s | budget | used | calls/invoice |")
    print("|----------:|---------:|--------:|---------:|-----:|-------:|-----:|--------------:|")
    for r in results:
        made = r["invoices"].get("invoiced", 0)
        print(
            f"| {r['won_deals']:>9} | {made:>8} | {r['seconds']:>7} | {r['requests']:>8} | {r['429s']:>4} |"
            f" {r['budget']:>6} | {r['budget_used']:>4.0%} | {r['calls_per_invoice']:>13} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
