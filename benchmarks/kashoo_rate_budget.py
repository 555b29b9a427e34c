"""A Kashoo connection limited to 500 requests an hour, in compressed time: the sandbox enforces 500 requests per
36 s (the same ratio, a hundred times faster) and the connection's ``rate_limit`` says the same, so LedgerLink's
pacer, not the sandbox, keeps it under. Won deals become invoices (customers and products made on demand, PDFs
chained), and the run reports the 429s (the target: none) and how much of the budget it used.

    python benchmarks/kashoo_rate_budget.py [--deals 100 400] [--limit 500 --period 36] [--json PATH]

Figures (see benchmarks/README.md):
- ``used``: requests the sandbox admitted / (500 × the run's length in 36 s windows, at least one window). A run
  that needs fewer than 500 requests finishes inside its first window: its use is requests/500, bounded by how few
  calls the work needs (about 3 per invoice), not by the pacer.
  This divides by the long-run rate, so a run of one to two windows can show more than 100%: a sliding window
  lets a full allowance go at the start of each window.
- ``of most``: requests admitted / the most the limit admits in a run this long (the allowance times the number of
  36 s windows the run starts, ``most``): 100% is the ceiling, whatever the run's length.
- ``bound``: the share of the run during which the limit bound, i.e. every one of the pacer's 500 slots was taken
  (a request then has to wait). Read every 0.2 s from the pacer's rows in the ledger.
- ``paced``: over the paced part of the run (from the first to the last moment the limit bound), the mean number of
  requests admitted in each trailing 36 s window lying wholly inside it, over 500: how much of the allowance the
  pacer uses while the work wants more than the allowance. Blank when that part is shorter than one window.
Each size runs in a process of its own (DBOS is launched once a process).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

SAMPLE_SECONDS = 0.2

LIMIT, PERIOD = 500, 36.0


class Sampler:
    """Every ``SAMPLE_SECONDS``: the sandbox's count of admitted requests (``/__admin/ratelimit``, neither limited
    nor counted) and how many of the pacer's slots are taken now (its rows in the ledger: a slot is taken while its
    request is in flight or less than a window after its response)."""

    def __init__(self, admin_url: str, ledger_url: str, key_prefix: str) -> None:
        from sqlalchemy import create_engine, func, select

        from ledgerlink.store.tables import RateBucket

        self.admin_url = admin_url
        self.engine = create_engine(ledger_url)
        self.query = lambda now: select(func.count()).where(
            RateBucket.key.like(f"{key_prefix}%"), RateBucket.updated_at > now
        )
        self.samples: list[tuple[float, int, int]] = []  # (perf_counter, admitted so far, slots taken)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rate-sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.engine.dispose()

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                admitted = int(client.get(self.admin_url).json()["allowed"])
                with self.engine.connect() as conn:
                    taken = int(conn.execute(self.query(time.time())).scalar_one())
                self.samples.append((time.perf_counter(), admitted, taken))
                self._stop.wait(SAMPLE_SECONDS)


def _admitted_at(samples: list[tuple[float, int, int]], t: float) -> float:
    """Requests admitted by time ``t``, interpolated between samples."""
    before = [s for s in samples if s[0] <= t]
    after = [s for s in samples if s[0] > t]
    if not before:
        return 0.0  # the counters were reset just before the first sample
    if not after:
        return float(before[-1][1])
    (t0, a0, _), (t1, a1, _) = before[-1], after[0]
    return a0 + (a1 - a0) * (t - t0) / (t1 - t0)


def pacing_figures(samples: list[tuple[float, int, int]], limit: int, period: float) -> dict[str, Any]:
    """The share of the run during which the limit bound, and over the paced part (from the first to the last moment
    it bound) the mean use of every trailing window lying wholly inside it. (No peak window: at the samples'
    resolution it would be an estimate; the sandbox's 429 count is the exact proof of never exceeding the limit.)"""
    if len(samples) < 2:
        return {"bound_share": 0.0, "paced_seconds": 0.0, "paced_use": None}
    start, end = samples[0][0], samples[-1][0]
    bound = [t for t, _a, taken in samples if taken >= limit]  # every slot taken: the pacer holds the next request
    bound_seconds = sum(t1 - t0 for (t0, _, taken), (t1, _, _) in itertools.pairwise(samples) if taken >= limit)
    windows = [
        a - _admitted_at(samples, t - period) for t, a, _ in samples if bound and bound[0] + period <= t <= bound[-1]
    ]
    return {
        "bound_share": round(bound_seconds / max(1e-9, end - start), 3),
        "paced_seconds": round(bound[-1] - bound[0], 1) if bound else 0.0,
        "paced_use": round(sum(windows) / len(windows) / limit, 3) if windows else None,
    }


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
        runtime = open_runtime(engine_settings(data_dir), sf_spec, books_spec)
        try:
            demo = _Demo(runtime, Console(quiet=True))
            httpx.put(admin, json={"reset": True}).raise_for_status()
            with Sampler(admin, runtime.ledger.url, "kashoo:") as sampler:
                started = time.perf_counter()
                invoiced = demo.phase("Won deals → invoices", o2i.poll_won)
                demo.wait_for_pdfs(invoiced)
                seconds = time.perf_counter() - started
                time.sleep(2 * SAMPLE_SECONDS)  # a sample after the last request
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
        # The most a sliding-window limit admits in a run this long: a full allowance in each window it starts.
        "most": limit * math.ceil(seconds / period),
        "most_used": round(counters["allowed"] / (limit * math.ceil(seconds / period)), 3),
        **pacing_figures(sampler.samples, limit, period),
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
    print(
        "| won deals | invoices | seconds | requests | 429s | budget | used | calls/invoice"
        " | most | of most | bound | paced |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        made = r["invoices"].get("invoiced", 0)
        paced = "—" if r["paced_use"] is None else f"{r['paced_use']:.0%}"
        print(
            f"| {r['won_deals']:>9} | {made:>8} | {r['seconds']:>7} | {r['requests']:>8} | {r['429s']:>4} |"
            f" {r['budget']:>6} | {r['budget_used']:>4.0%} | {r['calls_per_invoice']:>13} |"
            f" {r['most']:>5} | {r['most_used']:>4.0%} | {r['bound_share']:>5.0%} | {paced:>5} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
