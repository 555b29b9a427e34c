"""Books API calls per flow, KashFlow beside Kashoo, on the same data: the demo's seeded Salesforce org (60
Accounts, 220 Opportunities, the same random seed) run through every flow against each system's sandbox.

    python benchmarks/calls_per_flow.py [--json PATH]

Counts are every request the connector sent to the books (sign-ins, 429 repeats and listings included) during each
flow's phase, none of the demo's own seeding, bookkeeping or counting (``ledgerlink demo --json`` gives the same
``books_calls_by_flow`` and ``api_calls_per_invoice``). The floor for a new invoice is one create, plus one per new
customer or product, plus its PDF: (invoices + customers + products + PDFs) / invoices, printed beside.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ledgerlink.demo.run import DemoOptions, run_demo

SYSTEMS = ("kashflow", "kashoo")


def measure(system: str) -> dict[str, Any]:
    summary = run_demo(DemoOptions(accounting=system, quiet=True))
    invoices = int(summary[f"invoices_in_{system}"])
    created = summary["flows"]
    customers = int(created.get("Customers → books", {}).get("created_books", 0))
    products = int(created.get("Products → books", {}).get("created_books", 0))
    return {
        "system": system,
        "invoices": invoices,
        "by_flow": summary["books_calls_by_flow"],
        "per_invoice": summary["api_calls_per_invoice"],
        "floor_per_invoice": round((2 * invoices + customers + products) / max(1, invoices), 2),
        "failed": summary["failed"],
        "duplicates": summary["duplicates"],
    }


def table(results: list[dict[str, Any]]) -> str:
    flows = list(dict.fromkeys(flow for r in results for flow in r["by_flow"]))
    head = f"| {'flow':<24} | " + " | ".join(f"{r['system']:>9}" for r in results) + " |"
    rule = f"|{'-' * 26}|" + "|".join("-" * 11 for _ in results) + "|"
    rows = [head, rule]
    for flow in flows:
        rows.append(f"| {flow:<24} | " + " | ".join(f"{r['by_flow'].get(flow, 0):>9}" for r in results) + " |")
    rows.append(f"| {'total':<24} | " + " | ".join(f"{sum(r['by_flow'].values()):>9}" for r in results) + " |")
    rows.append(f"| {'invoices':<24} | " + " | ".join(f"{r['invoices']:>9}" for r in results) + " |")
    rows.append(f"| {'calls per invoice':<24} | " + " | ".join(f"{r['per_invoice']:>9}" for r in results) + " |")
    rows.append(f"| {'floor per invoice':<24} | " + " | ".join(f"{r['floor_per_invoice']:>9}" for r in results) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = [measure(system) for system in SYSTEMS]
    print(table(results))
    for r in results:
        print(f"{r['system']}: failed {r['failed']}, duplicates {r['duplicates']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
