"""The demo: sandboxes on loopback, seeded data, the opportunity → invoice flow, and a checkable summary."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ledgerlink.demo.seed import seed
from ledgerlink.engine import runtime as engine
from ledgerlink.engine.bootstrap import engine_settings, open_runtime
from ledgerlink.engine.connections import build_salesforce
from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.sandbox.runner import SandboxSet, SystemName, start_sandboxes


@dataclass
class DemoOptions:
    accounting: SystemName = "kashflow"
    keep_data: Path | None = None
    accounts: int = 60
    opportunities: int = 220
    quiet: bool = False


def _count(sf: Any, soql: str) -> int:
    return int(sf.request("GET", "query", params={"q": soql}, kind="query").json()["totalSize"])


def run_demo(options: DemoOptions, console: Console | None = None) -> dict[str, Any]:
    console = console or Console(stderr=True, quiet=options.quiet)
    data_dir = options.keep_data or Path(tempfile.mkdtemp(prefix="ledgerlink-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sandboxes = start_sandboxes(["salesforce", options.accounting], data_dir / "sandboxes")
    try:
        return _run(options, data_dir, sandboxes, console, started)
    finally:
        sandboxes.stop()
        if options.keep_data is None:
            shutil.rmtree(data_dir, ignore_errors=True)


def _run(
    options: DemoOptions, data_dir: Path, sandboxes: SandboxSet, console: Console, started: float
) -> dict[str, Any]:
    sf_spec = sandboxes["salesforce"].describe()
    books_spec = sandboxes[options.accounting].describe()
    if options.accounting == "kashoo":
        # The seeded deals carry UK VAT (20%), which a Canadian Kashoo business lacks: let the demo add it.
        books_spec["options"] = {"create_missing_taxes": True}
    seeder = build_salesforce(sf_spec, client_tag="demo-seed")
    seeded = None
    if _count(seeder, "SELECT COUNT() FROM Opportunity") == 0:
        with console.status("Seeding Salesforce with accounts, contacts, products and opportunities…"):
            seeded = seed(seeder, accounts=options.accounts, opportunities=options.opportunities)
    seeder.close()

    runtime = open_runtime(engine_settings(data_dir), sf_spec, books_spec)
    try:
        outcomes = _sync(runtime, console)
        summary = _summarise(runtime, outcomes, options, seeded, started)
    finally:
        engine.stop()
    _print_summary(console, summary)
    return summary


def _sync(runtime: engine.Runtime, console: Console) -> list[o2i.Outcome]:
    handles = o2i.poll_won()
    outcomes: list[o2i.Outcome] = []
    columns = (TextColumn("[bold]Won opportunities → invoices"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("sync", total=len(handles))
        for handle in handles:
            outcomes.append(engine.wait_for(handle))
            progress.advance(task)
    return outcomes


def _summarise(
    runtime: engine.Runtime, outcomes: list[o2i.Outcome], options: DemoOptions, seeded: Any, started: float
) -> dict[str, Any]:
    sf = runtime.salesforce
    books = runtime.accounting
    statuses = Counter(o["status"] for o in outcomes)
    won = _count(sf, "SELECT COUNT() FROM Opportunity WHERE IsWon = true AND Amount > 0")
    written_back = _count(
        sf, f"SELECT COUNT() FROM Opportunity WHERE IsWon = true AND {o2i.INVOICE_NUMBER_FIELD} != null"
    )
    references = books.invoice_references()
    per_reference = Counter(references)
    return {
        "accounting": options.accounting,
        "seeded": seeded.__dict__ if seeded else None,
        "won": won,
        "invoices_created": statuses.get("invoiced", 0),
        "invoices_already_there": statuses.get("already_invoiced", 0),
        "failed": statuses.get("failed", 0),
        "invoices_in_kashflow" if options.accounting == "kashflow" else "invoices_in_kashoo": len(per_reference),
        "invoices_in_accounting": len(per_reference),
        "duplicate_invoices": sum(n - 1 for n in per_reference.values()),
        "written_back": written_back,
        "customers_linked": runtime.ledger.count_links("salesforce", "Account", books.name, books.customer_object),
        "api_calls": {"salesforce": sf.usage.calls_made, books.name: books.api_calls()},
        "seconds": round(time.perf_counter() - started, 2),
    }


def _print_summary(console: Console, summary: dict[str, Any]) -> None:
    table = Table(title="LedgerLink demo: Closed Won → invoices", show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if key == "seeded":
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        table.add_row(key, str(value))
    console.print(table)
