"""Anomaly detection (``ledgerlink.intelligence.anomalies``): false alarms on the demo's normal traffic and recall
on injected anomalies, beside a plain fixed-rule baseline from the same run.

Normal traffic is the demo seed's (``ledgerlink.demo.seed``): its products and list prices, 1-5 lines per deal,
quantities 1-10 (and 0.5), 60 accounts, about 60% of 220 deals a month won, over six months (so customers have a
history: the demo's single month gives two invoices a customer, too few to judge an amount by).
The invoices are generated offline from the same
distribution (no sandbox), for several seeds. Hourly volumes are Poisson around the demo's rate with a daily cycle;
failures at the demo's usual ~1%.

Injected (one at a time into a copy of the normal stream, at a random point after the first third):
- amount: an invoice at 30-300× its customer's usual total, one line at that price (the prices don't explain it);
- amount by quantity: the same total as a quantity of the product at its list price (only the history tells);
- unit price: a line whose product is sold at 10× (a slipped decimal point) or 0.1× its list price;
- duplicate: an invoice repeated with the same customer, amount and date;
- non-positive line: a line with a zero or negative quantity;
- volume spike / drop: an hour at 5× or 0× the usual count;
- failure-rate jump: a window where 30% fail.

Baseline: fixed rules a team might write by hand (an invoice over 50,000; a line at or below zero; the same
customer and amount on the same day; an hour with over twice or under half the average; failure rate over 10%).

Run: ``.venv/bin/python -m benchmarks anomalies`` (or ``python benchmarks/anomalies.py --seeds 20``).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ledgerlink.demo.seed import _PRODUCTS
from ledgerlink.intelligence.anomalies import (
    InvoiceSeen,
    Line,
    check_failure_rate,
    check_invoices,
    check_volume,
)

QUANTITIES = [1, 1, 1, 2, 3, 5, 10, 0.5]


def demo_invoices(
    seed: int, accounts: int = 60, opportunities: int = 220, won_share: float = 0.6, months: int = 6
) -> list[InvoiceSeen]:
    """``months`` of the demo's deals (220 a month), in date order: a customer's history builds up over time."""
    rng = random.Random(seed)
    out = []
    for i in range(opportunities * months):
        customer = f"CUST-{rng.randrange(accounts) + 1:05d}"
        day = f"2026-{1 + i // opportunities:02d}-{rng.randint(1, 28):02d}"
        lines = tuple(
            Line(_PRODUCTS[k][1], rng.choice(QUANTITIES), float(_PRODUCTS[k][3]))
            for k in rng.sample(range(len(_PRODUCTS)), rng.randint(1, 5))
        )
        if rng.random() < won_share:
            out.append(InvoiceSeen(f"INV-{i + 1:04d}", customer, day, lines))
    return out


def demo_hours(seed: int, hours: int = 24 * 14, rate: float = 40.0) -> list[int]:
    rng = random.Random(seed)
    counts = []
    for h in range(hours):
        mean = rate * (1 + 0.3 * math.sin(2 * math.pi * (h % 24) / 24))
        counts.append(_poisson(rng, mean))
    return counts


def _poisson(rng: random.Random, mean: float) -> int:
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


# --- injections: each returns the stream with one anomaly, and the id (or flow) that should be flagged --------


def inject_amount(rng: random.Random, invoices: list[InvoiceSeen]) -> tuple[list[InvoiceSeen], str, str]:
    counts: dict[str, int] = {}
    for inv in invoices:
        counts[inv.customer] = counts.get(inv.customer, 0) + 1
    regulars = [c for c, n in counts.items() if n >= 6]
    customer = rng.choice(regulars)
    at = [i for i, inv in enumerate(invoices) if inv.customer == customer][5]
    base = invoices[at]
    factor = rng.uniform(30, 300)
    usual = statistics.median(inv.total for inv in invoices[:at] if inv.customer == customer)
    line = Line("SRV-IMPL", 1, round(usual * factor, 2))
    bad = replace(base, id="INJ", lines=(line,))
    return [*invoices[:at], bad, *invoices[at:]], "INJ", "amount_outlier"


def inject_amount_by_quantity(rng: random.Random, invoices: list[InvoiceSeen]) -> tuple[list[InvoiceSeen], str, str]:
    """The same total, but at the product's list price: the quantity is what is 30-300× too big, so the prices
    explain the amount and only the customer's (pooled) history can tell."""
    stream, target, rule = inject_amount(rng, invoices)
    bad = next(inv for inv in stream if inv.id == target)
    price = float(next(p[3] for p in _PRODUCTS if p[1] == "SRV-IMPL"))
    line = Line("SRV-IMPL", max(1, round(bad.lines[0].unit_price / price)), price)
    return [replace(inv, lines=(line,)) if inv.id == target else inv for inv in stream], target, rule


def inject_price(rng: random.Random, invoices: list[InvoiceSeen]) -> tuple[list[InvoiceSeen], str, str]:
    at = rng.randrange(len(invoices) // 3, len(invoices))
    base = invoices[at]
    first = base.lines[0]
    factor = rng.choice([10.0, 0.1])
    bad = replace(
        base, id="INJ", lines=(replace(first, unit_price=round(first.unit_price * factor, 2)), *base.lines[1:])
    )
    return [*invoices[:at], bad, *invoices[at:]], "INJ", "unit_price_outlier"


def inject_duplicate(rng: random.Random, invoices: list[InvoiceSeen]) -> tuple[list[InvoiceSeen], str, str]:
    at = rng.randrange(len(invoices) // 3, len(invoices))
    copy = replace(invoices[at - 5], id="INJ")
    return [*invoices[:at], copy, *invoices[at:]], "INJ", "near_duplicate"


def inject_non_positive(rng: random.Random, invoices: list[InvoiceSeen]) -> tuple[list[InvoiceSeen], str, str]:
    at = rng.randrange(len(invoices) // 3, len(invoices))
    base = invoices[at]
    bad_line = replace(base.lines[0], quantity=rng.choice([0, -1, -2]))
    bad = replace(base, id="INJ", lines=(*base.lines[1:], bad_line))
    return [*invoices[:at], bad, *invoices[at:]], "INJ", "non_positive_line"


INVOICE_INJECTIONS: dict[str, Callable[[random.Random, list[InvoiceSeen]], tuple[list[InvoiceSeen], str, str]]] = {
    "amount ×30-300": inject_amount,
    "amount ×30-300 by quantity": inject_amount_by_quantity,
    "unit price ×10 or ×0.1": inject_price,
    "duplicate invoice": inject_duplicate,
    "zero or negative line": inject_non_positive,
}


# --- the baseline ------------------------------------------------------------------------------------------


def baseline_invoices(invoices: list[InvoiceSeen]) -> set[str]:
    flagged, seen = set(), set()
    for inv in invoices:
        key = (inv.customer, inv.issue_date, inv.total)
        if inv.total > 50_000 or any(line.quantity <= 0 for line in inv.lines) or key in seen:
            flagged.add(inv.id)
        seen.add(key)
    return flagged


def baseline_volume(hours: list[int]) -> bool:
    *history, last = hours
    mean = statistics.mean(history)
    return last > 2 * mean or last < mean / 2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    recall: dict[str, dict[str, float]] = {}
    seeds = range(1, args.seeds + 1)

    # False alarms on normal traffic.
    normal_invoices = 0
    alarms = {"model": 0, "baseline": 0}
    alarm_examples: list[str] = []
    for seed in seeds:
        invoices = demo_invoices(seed)
        normal_invoices += len(invoices)
        found = check_invoices(invoices)
        alarms["model"] += len({a.subject for a in found})
        alarm_examples += [a.message for a in found][:2]
        alarms["baseline"] += len(baseline_invoices(invoices))
    normal_hours = 0
    hour_alarms = {"model": 0, "baseline": 0}
    for seed in seeds:
        hours = demo_hours(seed)
        for end in range(25, len(hours) + 1):
            window = hours[max(0, end - 24 * 7) : end]
            normal_hours += 1
            hour_alarms["model"] += check_volume("demo", window) is not None
            hour_alarms["baseline"] += baseline_volume(window)
    rate_windows, rate_alarms = 0, {"model": 0, "baseline": 0}
    for seed in seeds:
        rng = random.Random(seed)
        for _ in range(200):
            done = _poisson(rng, 200)
            failed = sum(rng.random() < 0.01 for _ in range(done))
            before_done = 200 * 24
            before_failed = sum(rng.random() < 0.01 for _ in range(before_done))
            rate_windows += 1
            rate_alarms["model"] += (
                check_failure_rate("demo", (failed, done - failed), (before_failed, before_done)) is not None
            )
            rate_alarms["baseline"] += failed / max(done, 1) > 0.1

    print(
        f"Normal demo traffic, {len(seeds)} seeds: {normal_invoices} invoices, {normal_hours} hours,"
        f" {rate_windows} windows"
    )
    print(f"  false alarms, invoices: model {alarms['model']}, baseline {alarms['baseline']}")
    print(f"  false alarms, hourly volume: model {hour_alarms['model']}, baseline {hour_alarms['baseline']}")
    print(f"  false alarms, failure rate: model {rate_alarms['model']}, baseline {rate_alarms['baseline']}")
    for message in alarm_examples[:3]:
        print(f"    e.g. {message}")

    print("Recall on injected anomalies (one per stream; caught = the injected record flagged by the right rule):")
    print(f"  {'anomaly':28} {'model':>8} {'baseline':>9}")
    for name, inject in INVOICE_INJECTIONS.items():
        caught = {"model": 0, "baseline": 0}
        for seed in seeds:
            rng = random.Random(1000 + seed)
            stream, target, rule = inject(rng, demo_invoices(seed))
            found = check_invoices(stream)
            caught["model"] += any(a.subject == target and a.rule == rule for a in found)
            caught["baseline"] += target in baseline_invoices(stream)
        n = len(seeds)
        recall[name] = {k: v / n for k, v in caught.items()}
        print(f"  {name:28} {caught['model'] / n:>8.0%} {caught['baseline'] / n:>9.0%}")
    for name, factor in (("volume spike ×5", 5.0), ("volume drop to 0", 0.0), ("volume ×1.5 (too small)", 1.5)):
        caught = {"model": 0, "baseline": 0}
        for seed in seeds:
            hours = demo_hours(seed)[: 24 * 7]
            hours[-1] = round(statistics.median(hours) * factor)
            caught["model"] += check_volume("demo", hours) is not None
            caught["baseline"] += baseline_volume(hours)
        recall[name] = {k: v / len(seeds) for k, v in caught.items()}
        print(f"  {name:28} {caught['model'] / len(seeds):>8.0%} {caught['baseline'] / len(seeds):>9.0%}")
    caught = {"model": 0, "baseline": 0}
    for seed in seeds:
        rng = random.Random(2000 + seed)
        done = 200
        failed = sum(rng.random() < 0.3 for _ in range(done))
        before = (sum(rng.random() < 0.01 for _ in range(4800)), 4800)
        caught["model"] += check_failure_rate("demo", (failed, done - failed), before) is not None
        caught["baseline"] += failed / done > 0.1
    print(
        f"  {'failure rate 1% → 30%':28} {caught['model'] / len(seeds):>8.0%} {caught['baseline'] / len(seeds):>9.0%}"
    )
    recall["failure rate 1% → 30%"] = {k: v / len(seeds) for k, v in caught.items()}
    if args.json:
        figures = {
            "seeds": len(seeds),
            "normal": {"invoices": normal_invoices, "hours": normal_hours, "failure_windows": rate_windows},
            "false_alarms": {"invoices": alarms, "hourly_volume": hour_alarms, "failure_rate": rate_alarms},
            "recall": recall,
        }
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
