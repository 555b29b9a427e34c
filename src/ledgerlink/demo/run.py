"""The demo: sandboxes on loopback, seeded data, every flow in the order a business meets them, and a summary
whose figures can be checked (nothing duplicated, nothing echoed back, nothing left to reconcile).

The phases: customers and products to the books → Closed Won deals to invoices (each chaining its PDF to the
deal) → a bookkeeper records payments → payments back to Salesforce → the books' clock moves on so some invoices
fall overdue (KashFlow) → late-payment Cases → reconciliation → every trigger again, which must write nothing.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from dbos import DBOS, WorkflowHandle
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ledgerlink.bootstrap import engine_settings, open_runtime
from ledgerlink.connections.build import build_crm
from ledgerlink.demo import invoice_life
from ledgerlink.demo.seed import seed
from ledgerlink.engine import runtime as engine
from ledgerlink.flows import (
    account_balances,
    customer_sync,
    invoice_changes,
    invoice_history,
    invoice_pdf,
    late_payment,
    payment_sync,
    payment_to_books,
    product_sync,
    reconciliation,
)
from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.model import Payment
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
        books_spec["options"] = {**books_spec.get("options", {}), "create_missing_taxes": True}
    seeder = build_crm(sf_spec, client_tag="demo-seed")
    seeded = None
    if _count(seeder, "SELECT COUNT() FROM Opportunity") == 0:
        with console.status("Seeding Salesforce with accounts, contacts, products and opportunities…"):
            seeded = seed(seeder, accounts=options.accounts, opportunities=options.opportunities)
    seeder.close()

    runtime = open_runtime(engine_settings(data_dir), sf_spec, books_spec)
    demo = _Demo(runtime, console)
    try:
        demo.phase("Customers → books", customer_sync.poll)
        demo.phase("Products → books", product_sync.poll)
        invoiced = demo.phase("Won deals → invoices", o2i.poll_won)
        demo.counting("Invoice PDFs → Files", lambda: demo.wait_for_pdfs(invoiced))
        paid = demo.bookkeeper_records_payments()
        demo.phase("Payments → Salesforce", payment_sync.poll)
        overdue_after = demo.books_clock_moves_on(sandboxes[options.accounting].base_url, options.accounting)
        demo.phase("Overdue invoices → Cases", late_payment.poll)
        report = demo.counting("Reconciliation", demo.reconcile)
        echoes = demo.counting("Echo pass", demo.echo_pass)
        summary = _summarise(runtime, demo, options, seeded, started)
        # Invoice life after the summary: the figures above (api_calls_per_invoice among them) stay those of the
        # invoicing flows alone; its own calls, echoes, duplicates and a second reconciliation go in its section.
        life = _invoice_life(demo, runtime, sf_spec)
        if life is not None:
            summary["invoice_life"] = life
            summary["flows"] = {title: dict(counts) for title, counts in demo.flows.items()}
            summary["failed"] = sum(c.get("failed", 0) for c in demo.flows.values())
            summary["open_failed_records"] = len(runtime.ledger.failed_records(status="open"))
            summary["seconds"] = round(time.perf_counter() - started, 2)
        summary.update(
            {
                "payments_recorded_in_books": paid,
                "books_clock_days_ahead": overdue_after,
                "reconciliation": report,
                "echoes": echoes,
            }
        )
    finally:
        engine.stop()
    _print_summary(console, summary)
    return summary


def _invoice_life(demo: _Demo, runtime: engine.Runtime, sf_spec: dict[str, Any]) -> dict[str, Any] | None:
    """Payments from Salesforce, deal changes, history, balances and their reconciliation (books that support it)."""
    if not invoice_life.supported(runtime):
        return None
    user = build_crm(sf_spec, client_tag="demo-user")
    try:
        life = invoice_life.InvoiceLifeDemo(runtime, user)
        before = dict(demo.books_calls)
        life.salesperson_records_payments()
        demo.phase("Salesforce payments → books", payment_to_books.poll)
        demo.phase("Deal changes → invoices", invoice_changes.poll)  # the number write-backs: nothing to do
        # The finance team pays back credit left on paid invoices (refund_policy; the default keeps it as credit).
        runtime.settings.flows.refund_policy = "refund"
        life.deals_change()
        life.note_changes(demo.phase("Deal changes → invoices", invoice_changes.poll))
        life.deals_won_again()
        life.note_changes(demo.phase("Deal changes → invoices", invoice_changes.poll))
        life.bookkeeper_makes_invoices()
        demo.phase("Books invoices → Invoice__c", invoice_history.poll)
        demo.phase("Balances → Accounts", account_balances.poll)
        life.inject_drift()
        drift = invoice_life.reconcile_balances()
        demo.phase("Balances → Accounts", account_balances.poll)
        drift_after = invoice_life.reconcile_balances()
        report = demo.counting("Reconciliation (invoice life)", demo.reconcile)
        echoes = demo.counting("Echo pass (invoice life)", lambda: demo.echo_pass(invoice_life.POLLS))
        summary = life.summary(demo.flows, drift, drift_after)
        calls = {title: demo.books_calls[title] - before.get(title, 0) for title in demo.books_calls}
        references = Counter(runtime.books.invoice_references())
        summary["duplicates"]["invoices"] = sum(n - 1 for n in references.values())
        summary.update(
            {
                "books_calls": sum(calls.values()),
                "books_calls_by_flow": {title: n for title, n in calls.items() if n},
                "reconciliation": report,
                "echoes": echoes,
            }
        )
        return summary
    finally:
        user.close()


class _Demo:
    def __init__(self, runtime: engine.Runtime, console: Console) -> None:
        self.runtime = runtime
        self.console = console
        self.flows: dict[str, Counter[str]] = {}
        self.books_calls: Counter[str] = Counter()  # books API calls the flows made, per phase (no seeding)

    def counting(self, title: str, action: Callable[[], Any]) -> Any:
        """Run a phase, adding the books calls it made to ``books_calls`` (the bookkeeper's and the summary's own
        reads are not counted: they stand for people and for the demo, not for LedgerLink)."""
        before = self.runtime.books.api_calls()
        try:
            return action()
        finally:
            self.books_calls[title] += self.runtime.books.api_calls() - before

    def phase(self, title: str, poll: Callable[..., list[WorkflowHandle[Any]]]) -> list[tuple[str, dict[str, Any]]]:
        """Run one flow's trigger now and wait for every record it handed on, with a progress bar. Returns each
        record's outcome beside the id of the run that made it."""
        return self.counting(title, lambda: self._phase(title, poll))

    def _phase(self, title: str, poll: Callable[..., list[WorkflowHandle[Any]]]) -> list[tuple[str, dict[str, Any]]]:
        results: list[tuple[str, dict[str, Any]]] = []
        columns = (TextColumn(f"[bold]{title:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=False) as progress:
            handles = poll(lag_seconds=0)
            task = progress.add_task(title, total=len(handles))
            for handle in handles:
                results.append((handle.get_workflow_id(), dict(engine.wait_for(handle))))
                progress.advance(task)
        counts = self.flows.setdefault(title, Counter())
        for _run_id, result in results:
            _tally(counts, result)
        return results

    def wait_for_pdfs(self, invoiced: list[tuple[str, dict[str, Any]]]) -> None:
        """Wait for the PDF runs the invoice runs chained (one per invoice run), tallying each file."""
        counts = self.flows.setdefault("Invoice PDFs → Files", Counter())
        if not self.runtime.settings.flows.invoice_pdf:
            return
        by_run: dict[str, list[str]] = {}
        for run_id, outcome in invoiced:
            if outcome.get("status") in ("invoiced", "already_invoiced"):
                by_run.setdefault(run_id, []).append(outcome["opportunity"])
        for run_id, opportunity_ids in by_run.items():
            handle: WorkflowHandle[Any] = DBOS.retrieve_workflow(invoice_pdf.chained_run_id(run_id, opportunity_ids))
            result = engine.wait_for(handle)
            for outcome in result if isinstance(result, list) else [result]:
                _tally(counts, dict(outcome))

    def bookkeeper_records_payments(self) -> int:
        """Half the invoices paid in full, a sixth in part: what a bookkeeper enters in the books."""
        books = self.runtime.books
        rng = random.Random(11)
        recorded = 0
        for invoice in books.unpaid_invoices():
            roll = rng.random()
            if roll < 0.5:
                amount = invoice.balance
            elif roll < 0.66:
                amount = (invoice.balance / 3).quantize(Decimal("0.01"))
            else:
                continue
            payment = Payment(
                invoice_number=invoice.number,
                amount=amount,
                paid_on=dt.date.today(),
                reference=f"BANK-{invoice.number}",
            )
            books.record_payment(invoice.number, payment)
            recorded += 1
        return recorded

    def books_clock_moves_on(self, books_url: str, system: str) -> int:
        """Forty-five days pass in the books (KashFlow reports overdue by its own clock; Kashoo has none)."""
        if system != "kashflow":
            return 0
        days = self.runtime.settings.flows.late_payment_days + 31
        httpx.post(f"{books_url}/__admin/advance-clock", json={"seconds": days * 86400}).raise_for_status()
        return days

    def reconcile(self) -> dict[str, Any]:
        with self.console.status("Reconciling both sides…"):
            report = reconciliation.run_now()
        return {
            name: {key: entity.get(key, 0) for key in ("checked", "drift", "repaired", "failed")}
            for name, entity in (report.get("entities") or {}).items()
        }

    def echo_pass(self, polls: Sequence[Callable[..., list[WorkflowHandle[Any]]]] = ()) -> int:
        """Every trigger again (the invoicing flows', or those given) with nothing changed by anyone: each write
        now would be an echo of our own."""
        before = self.runtime.ledger.count_audit()
        polls = polls or (customer_sync.poll, product_sync.poll, o2i.poll_won, payment_sync.poll, invoice_pdf.poll)
        for poll in polls:
            for handle in poll(lag_seconds=0):
                engine.wait_for(handle)
        writes = self.runtime.ledger.count_audit() - before
        return writes


def _tally(counts: Counter[str], result: dict[str, Any]) -> None:
    if "counts" in result:  # the sync flows settle pages and report what they did
        for key, value in (result.get("counts") or {}).items():
            counts[key] += int(value)
    else:
        counts[str(result.get("status"))] += 1


def _summarise(
    runtime: engine.Runtime, demo: _Demo, options: DemoOptions, seeded: Any, started: float
) -> dict[str, Any]:
    sf = runtime.crm
    books = runtime.books
    invoices = demo.flows.get("Won deals → invoices", Counter())
    won = _count(sf, "SELECT COUNT() FROM Opportunity WHERE IsWon = true AND Amount > 0")
    written_back = _count(
        sf, f"SELECT COUNT() FROM Opportunity WHERE IsWon = true AND {o2i.INVOICE_NUMBER_FIELD} != null"
    )
    per_reference = Counter(books.invoice_references())
    files = Counter(r["FirstPublishLocationId"] for r in sf.query("SELECT FirstPublishLocationId FROM ContentVersion"))
    payments = Counter(r["External_Id__c"] for r in sf.query("SELECT External_Id__c FROM Payment__c"))
    cases = Counter(r["Subject"] for r in sf.query("SELECT Subject FROM Case"))
    return {
        "accounting": options.accounting,
        "seeded": seeded.__dict__ if seeded else None,
        "won": won,
        "invoices_created": invoices.get("invoiced", 0),
        "invoices_already_there": invoices.get("already_invoiced", 0),
        "failed": sum(c.get("failed", 0) for c in demo.flows.values()),
        f"invoices_in_{options.accounting}": len(per_reference),
        "duplicate_invoices": sum(n - 1 for n in per_reference.values()),
        "written_back": written_back,
        "customers_linked": runtime.ledger.count_links("salesforce", "Account", books.name, books.customer_object),
        "files_attached": len(files),
        "payment_records": len(payments),
        "cases_opened": len(cases),
        "duplicates": {
            "invoices": sum(n - 1 for n in per_reference.values()),
            "files": sum(n - 1 for n in files.values()),
            "payment_records": sum(n - 1 for n in payments.values()),
            "cases": sum(n - 1 for n in cases.values()),
        },
        "flows": {title: dict(counts) for title, counts in demo.flows.items()},
        "open_failed_records": len(runtime.ledger.failed_records(status="open")),
        "api_calls": {"salesforce": sf.usage.calls_made, books.name: books.api_calls()},
        # Books calls made by the flows (every phase above, none of the demo's seeding, bookkeeping or counting),
        # per invoice in the books.
        "api_calls_per_invoice": round(sum(demo.books_calls.values()) / max(1, len(per_reference)), 2),
        "books_calls_by_flow": dict(demo.books_calls),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _print_summary(console: Console, summary: dict[str, Any]) -> None:
    flows = Table(title="LedgerLink demo: what each flow did", show_header=True)
    flows.add_column("flow")
    flows.add_column("outcome")
    for title, counts in summary["flows"].items():
        flows.add_row(title, ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing to do")
    console.print(flows)
    checks = Table(title="Checks", show_header=True)
    checks.add_column("measure")
    checks.add_column("value", justify="right")
    for key, value in summary.items():
        if key in ("seeded", "flows"):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        checks.add_row(key, str(value))
    console.print(checks)
