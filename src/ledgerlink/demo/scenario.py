"""The reliability scenario (issue 6): the demo's data synced while every sandbox misbehaves, then checked.

Seed N Accounts (with Contacts) and M Opportunities → turn faults on in every sandbox (server errors, connections
dropped before *and after* the request was processed, latency) → run customer_sync, product_sync and
opportunity_to_invoice while a person edits Accounts and Contacts in Salesforce and a bookkeeper edits customers in
KashFlow (some of them the same records) → record payments in the books and run payment_sync and invoice_pdf for a
share of the invoices → re-run every trigger until a round finds nothing to do → lift the faults → reconcile →
count duplicates, losses, drift, open failed records and the faults actually injected.

``run_scenario(ScenarioOptions(...))`` returns a ``ScenarioReport``; the test in ``tests/scenario`` and
``benchmarks/reliability.py`` both drive it.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
from dbos import DBOS, WorkflowHandle
from sqlalchemy import select

from ledgerlink.bootstrap import engine_settings, open_runtime
from ledgerlink.connections.build import build_accounting, build_crm
from ledgerlink.demo.seed import seed
from ledgerlink.engine import runtime as engine
from ledgerlink.flows import customer_sync, invoice_pdf, payment_sync, product_sync, reconciliation
from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.model import Payment
from ledgerlink.sandbox.runner import SandboxSet, start_sandboxes
from ledgerlink.store.tables import AuditLog
from ledgerlink.systems.errors import TransientError
from ledgerlink.systems.kashflow.books import KashFlowBooks
from ledgerlink.systems.salesforce.client import SalesforceClient

T = TypeVar("T")
SYSTEMS = ("salesforce", "kashflow")
USER_TAG = "scenario-user"
# Counts in a sync flow's outcome that mean it wrote something: a round with none of these is quiet.
SYNC_WRITES = (
    "updated_books",
    "updated_salesforce",
    "created_books",
    "created_salesforce",
    "matched",
    "archived",
    "restored",
)


@dataclass
class ScenarioOptions:
    opportunities: int = 1000
    customers: int = 200
    error_rate: float = 0.05  # answered 503 before processing
    drop_rate: float = 0.01  # connection cut before processing
    drop_after_rate: float = 0.01  # connection cut after processing: only idempotent writes survive these
    dropped_writes: int = 1  # writes per sandbox surely cut after processing, however the random faults fall
    latency_ms: float = 20.0
    latency_jitter_ms: float = 20.0
    sf_edits: int = 0  # Accounts a person edits in Salesforce (0: a quarter of the customers)
    books_edits: int = 0  # customers the bookkeeper edits in KashFlow (0: a quarter of the customers)
    overlap: float = 0.3  # share of the bookkeeper's edits made to records the person also edits
    payment_share: float = 0.3  # invoices that get a payment in the books
    pdf_share: float = 0.2  # invoices whose PDF is attached to the opportunity
    max_rounds: int = 8  # trigger rounds after the first pass before giving up on "quiet"
    seed: int = 6
    data_dir: Path | None = None  # kept when given; else a temporary directory, removed afterwards
    progress: Callable[[str], None] | None = None


@dataclass
class ScenarioReport:
    seconds: float = 0.0
    seeded: dict[str, int] = field(default_factory=dict)
    faults: dict[str, Any] = field(default_factory=dict)  # the settings applied to every sandbox
    flows: dict[str, dict[str, int]] = field(default_factory=dict)  # per flow: outcome or count totals
    edits: dict[str, int] = field(default_factory=dict)
    rounds_to_quiet: int = 0
    quiet: bool = False
    duplicates: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    lost_examples: dict[str, list[str]] = field(default_factory=dict)
    reconciliation: dict[str, Any] = field(default_factory=dict)  # per entity: checked, drift, repaired, …
    drift: int = 0
    drift_examples: list[str] = field(default_factory=list)
    failed_open: int = 0
    failed_examples: list[str] = field(default_factory=list)
    injected: dict[str, dict[str, int]] = field(default_factory=dict)  # per sandbox: errors, drops, drops_after

    @property
    def injected_total(self) -> int:
        return sum(sum(counts.values()) for counts in self.injected.values())

    @property
    def clean(self) -> bool:
        """Consistent, nothing duplicated, nothing lost, nothing left failed, and faults really happened."""
        return (
            self.quiet
            and self.drift == 0
            and not any(self.duplicates.values())
            and not any(self.lost.values())
            and self.failed_open == 0
            and self.injected_total > 0
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "injected_total": self.injected_total, "clean": self.clean}


def _patient(action: Callable[[], T], attempts: int = 12) -> T:
    """A person's (or the checker's) call under injected faults: try again, as people do. Their writes are
    idempotent (updates by id, payments found by their note), so repeating one after a lost reply is safe."""
    for attempt in range(attempts):
        try:
            return action()
        except TransientError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _wait_all(handles: list[WorkflowHandle[Any]]) -> list[Any]:
    return [engine.wait_for(h) for h in handles]


def _statuses(outcomes: list[Any]) -> dict[str, int]:
    return dict(Counter(str(o.get("status")) for o in outcomes))


def _add(total: dict[str, int], counts: dict[str, int]) -> None:
    for key, value in counts.items():
        total[key] = total.get(key, 0) + int(value)


class Scenario:
    """One run: sandboxes, LedgerLink, the people editing both sides, and the checks."""

    def __init__(self, options: ScenarioOptions, data_dir: Path) -> None:
        self.options = options
        self.data_dir = data_dir
        self.rng = random.Random(options.seed)
        self.report = ScenarioReport()
        self.sandboxes: SandboxSet | None = None
        self.user: SalesforceClient | None = None  # the person in Salesforce
        self.bookkeeper: KashFlowBooks | None = None  # the person in KashFlow, through the connector
        self.pdf_opportunities: set[str] = set()
        self.edit_errors: list[str] = []

    def _say(self, message: str) -> None:
        if self.options.progress is not None:
            self.options.progress(message)

    # --- set-up ------------------------------------------------------------------------------------------------

    def _faults(self, on: bool) -> None:
        assert self.sandboxes is not None
        o = self.options
        for index, system in enumerate(SYSTEMS):
            settings: dict[str, Any] = {
                "error_rate": o.error_rate if on else 0.0,
                "drop_rate": o.drop_rate if on else 0.0,
                "drop_after_rate": o.drop_after_rate if on else 0.0,
                "drop_after_next_writes": o.dropped_writes if on else 0,
                "latency_ms": o.latency_ms if on else 0.0,
                "latency_jitter_ms": o.latency_jitter_ms if on else 0.0,
                "seed": o.seed * 100 + index,
            }
            url = f"{self.sandboxes[system].base_url}/__admin/faults"
            httpx.put(url, json=settings, timeout=10).raise_for_status()
            if on:
                self.report.faults = {k: v for k, v in settings.items() if k != "seed"}

    def _injected(self) -> dict[str, dict[str, int]]:
        assert self.sandboxes is not None
        out = {}
        for system in SYSTEMS:
            body = httpx.get(f"{self.sandboxes[system].base_url}/__admin/faults", timeout=10).json()
            out[system] = {k: int(v) for k, v in body["injected"].items()}
        return out

    def run(self) -> ScenarioReport:
        started = time.perf_counter()
        self.sandboxes = start_sandboxes(list(SYSTEMS), self.data_dir / "sandboxes")
        sf_spec = self.sandboxes["salesforce"].describe()
        books_spec = self.sandboxes["kashflow"].describe()
        try:
            seeder = build_crm(sf_spec, client_tag="demo-seed")
            try:
                self._say(f"seeding {self.options.customers} accounts, {self.options.opportunities} opportunities")
                summary = seed(
                    seeder,
                    accounts=self.options.customers,
                    opportunities=self.options.opportunities,
                    seed=self.options.seed,
                )
                self.report.seeded = dict(summary.__dict__)
            finally:
                seeder.close()
            self.user = build_crm(sf_spec, client_tag=USER_TAG)
            bookkeeper = build_accounting(books_spec)
            assert isinstance(bookkeeper, KashFlowBooks)
            self.bookkeeper = bookkeeper
            open_runtime(engine_settings(self.data_dir), sf_spec, books_spec)
            try:
                self._scenario()
            finally:
                engine.stop()
        finally:
            if self.user is not None:
                self.user.close()
            if self.bookkeeper is not None:
                self.bookkeeper.close()
            self.sandboxes.stop()
        self.report.seconds = round(time.perf_counter() - started, 1)
        return self.report

    # --- the scenario ------------------------------------------------------------------------------------------

    def _scenario(self) -> None:
        rt = engine.current()
        flows = rt.settings.flows
        flows.invoice_pdf = False  # the PDF run is started below for a share of the invoices, not chained to all
        flows.late_payment = False
        self._faults(on=True)
        totals = self.report.flows
        self._say("customer_sync, product_sync under faults")
        _add(totals.setdefault("customer_sync", {}), self._sync(customer_sync.poll))
        _add(totals.setdefault("product_sync", {}), self._sync(product_sync.poll))

        # People edit both sides while the invoices are made.
        editor = threading.Thread(target=self._edit_both_sides, name="scenario-editors", daemon=True)
        editor.start()
        self._say("opportunity_to_invoice under faults, people editing both sides")
        _add(totals.setdefault(o2i.FLOW, {}), _statuses(_wait_all(o2i.poll_won(lag_seconds=0))))
        editor.join()
        if self.edit_errors:
            raise RuntimeError(f"the scenario's own edits failed: {self.edit_errors[:3]}")

        self._say("payments recorded in the books; payment_sync and invoice_pdf")
        self._pay_some()
        _add(totals.setdefault(payment_sync.FLOW, {}), _statuses(_wait_all(payment_sync.poll())))
        _add(totals.setdefault(invoice_pdf.FLOW, {}), _statuses(_wait_all(self._attach_some())))

        # A second wave of edits while the triggers run again: the races live here (a page reads a record, a
        # person changes it, the page writes).
        editor = threading.Thread(target=self._edit_both_sides, name="scenario-editors-2", daemon=True)
        editor.start()
        for round_no in range(1, self.options.max_rounds + 1):
            activity = self._round(totals)
            if editor.is_alive() or round_no == 1:
                editor.join()
                if self.edit_errors:
                    raise RuntimeError(f"the scenario's own edits failed: {self.edit_errors[:3]}")
                activity += 1  # edits may have landed after the round read them: never quiet on this round
            self._say(f"round {round_no}: {activity} writes/runs")
            self.report.rounds_to_quiet = round_no
            if activity == 0:
                self.report.quiet = True
                break

        self.report.injected = self._injected()
        self._faults(on=False)
        self._say("faults lifted; reconciliation")
        handle = DBOS.start_workflow(reconciliation.reconcile)
        result = engine.wait_for(handle)
        entities = result.get("entities", {})
        self.report.reconciliation = {name: dict(entity) for name, entity in entities.items()}
        self.report.drift = sum(int(e["drift"]) for e in entities.values())
        self.report.drift_examples = self._repairs(handle.get_workflow_id())
        self._check()

    @staticmethod
    def _repairs(run_id: str) -> list[str]:
        """What the reconciliation run wrote or flagged, from the audit log: where drift was, and which fields."""
        with engine.current().ledger.session() as s:
            rows = s.scalars(
                select(AuditLog)
                .where(AuditLog.run_id == run_id, AuditLog.action != "reported")
                .order_by(AuditLog.pk)
                .limit(20)
            )
            return [f"{r.action} {r.system} {r.object} {r.record_id} (from {r.source_id}): {r.detail}" for r in rows]

    def _sync(self, poll: Callable[..., list[WorkflowHandle[Any]]]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in _wait_all(poll(lag_seconds=0)):
            _add(counts, dict(outcome.get("counts") or {}))
        return counts

    def _round(self, totals: dict[str, dict[str, int]]) -> int:
        """Every trigger once; how many writes and runs it caused (0: quiet)."""
        activity = 0
        for name, poll in ((customer_sync.FLOW, customer_sync.poll), (product_sync.FLOW, product_sync.poll)):
            counts = self._sync(poll)
            _add(totals.setdefault(name, {}), counts)
            activity += sum(counts.get(k, 0) for k in SYNC_WRITES)
        for name, outcomes in (
            (o2i.FLOW, _wait_all(o2i.poll_won(lag_seconds=0))),
            (payment_sync.FLOW, _wait_all(payment_sync.poll())),
        ):
            _add(totals.setdefault(name, {}), _statuses(outcomes))
            activity += len(outcomes)
        return activity

    # --- the people --------------------------------------------------------------------------------------------

    def _edit_both_sides(self) -> None:
        try:
            self._edits()
        except Exception as exc:  # reported by the main thread, which owns the run
            self.edit_errors.append(f"{type(exc).__name__}: {exc}")

    def _edits(self) -> None:
        user, books, rng, o = self.user, self.bookkeeper, self.rng, self.options
        assert user is not None and books is not None
        ledger = engine.current().ledger
        accounts = [
            {"Id": r["Id"], "Contacts": (r.get("Contacts") or {}).get("records") or []}
            for r in _patient(lambda: list(user.query("SELECT Id, (SELECT Id FROM Contacts) FROM Account ORDER BY Id")))
        ]
        linked = [
            (a, code)
            for a in accounts
            if (code := ledger.lookup("salesforce", "Account", a["Id"], "kashflow", "Customer"))
        ]
        sf_count = o.sf_edits or max(1, len(accounts) // 4)
        books_count = o.books_edits or max(1, len(linked) // 4)
        sf_picked = rng.sample(accounts, min(sf_count, len(accounts)))
        both = [(a, c) for a, c in linked if a in sf_picked]
        only_books = [(a, c) for a, c in linked if a not in sf_picked]
        n_both = min(len(both), round(books_count * o.overlap))
        books_picked = rng.sample(both, n_both) + rng.sample(only_books, min(len(only_books), books_count - n_both))
        stamp = dt.datetime.now(dt.UTC).strftime("%H%M%S")
        edits = Counter[str]()
        # Interleave the two people, a little apart, while the invoice runs go on.
        plan: list[tuple[str, Any]] = [("sf", a) for a in sf_picked] + [("books", p) for p in books_picked]
        rng.shuffle(plan)
        for side, item in plan:
            if side == "sf":
                account = item
                change = rng.choice(["phone", "website", "city", "contact"])
                if change == "contact" and account["Contacts"]:
                    contact = rng.choice(account["Contacts"])
                    phone = f"+44 7700 {rng.randint(100000, 999999)}"
                    _patient(functools.partial(user.update, "Contact", contact["Id"], {"Phone": phone}))
                    edits["salesforce_contacts"] += 1
                else:
                    fields = {
                        "phone": {"Phone": f"+44 113 {rng.randint(100, 999)} {rng.randint(1000, 9999)}"},
                        "website": {"Website": f"https://sf-{stamp}-{rng.randint(1, 9999)}.example"},
                        "city": {"BillingCity": rng.choice(["Leeds", "York", "Bath", "Derby", "Hull"])},
                    }.get(change) or {"Phone": f"+44 113 {rng.randint(100, 999)} {rng.randint(1000, 9999)}"}
                    _patient(functools.partial(user.update, "Account", account["Id"], fields))
                    edits["salesforce_accounts"] += 1
            else:
                account, code = item
                # The bookkeeper's own fields, and sometimes the very field the person edits (a real conflict).
                payload: dict[str, Any] = rng.choice(
                    [
                        {"TelephoneNumber": f"+44 20 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"},
                        {"Website": f"https://books-{stamp}-{rng.randint(1, 9999)}.example"},
                        {"PaymentTerms": rng.choice([14, 30, 45, 60])},
                    ]
                )
                _patient(functools.partial(books.client.update_customer, code, payload))
                edits["kashflow_customers"] += 1
                if account in sf_picked:
                    edits["same_record"] += 1
            time.sleep(0.005)
        _add(self.report.edits, dict(edits))

    def _invoices(self) -> dict[str, dict[str, Any]]:
        """KashFlow's invoices by the opportunity they were made from (the last one, should there be two)."""
        books = self.bookkeeper
        assert books is not None
        return {str(r.get("CustomerReference")): r for r in _patient(lambda: list(books.client.list("invoices")))}

    def _pay_some(self) -> None:
        """The bookkeeper records a payment (in full or in part) on a share of the invoices."""
        books = self.bookkeeper
        assert books is not None
        invoices = sorted(self._invoices().values(), key=lambda r: str(r["Number"]))
        paid = self.rng.sample(invoices, round(len(invoices) * self.options.payment_share))
        today = dt.date.today()
        for row in paid:
            gross = Decimal(str(row["GrossAmount"]))
            amount = gross if self.rng.random() < 0.6 else (gross / 2).quantize(Decimal("0.01"))
            payment = Payment(
                invoice_number=str(row["Number"]),
                amount=amount,
                paid_on=today,
                reference=f"scenario-{row['Number']}",
            )
            number = str(row["Number"])
            _patient(functools.partial(books.record_payment, number, payment))
        self.report.edits["payments_recorded"] = len(paid)

    def _attach_some(self) -> list[WorkflowHandle[invoice_pdf.Outcome]]:
        invoiced = sorted(self._invoices())
        share = self.rng.sample(invoiced, round(len(invoiced) * self.options.pdf_share))
        self.pdf_opportunities = set(share)
        return [invoice_pdf.enqueue(opportunity_id, "scenario") for opportunity_id in share]

    # --- the checks --------------------------------------------------------------------------------------------

    def _check(self) -> None:
        user, books = self.user, self.bookkeeper
        assert user is not None and books is not None
        ledger = engine.current().ledger
        report = self.report

        def q(soql: str) -> list[dict[str, Any]]:
            return list(user.query(soql))

        invoices = _patient(lambda: list(books.client.list("invoices")))
        customers = _patient(lambda: list(books.client.list("customers")))
        payments = _patient(lambda: list(books.client.list("invoices/bulk/payments")))
        won = q("SELECT Id, Accounting_Invoice_Number__c, Amount_Paid__c FROM Opportunity WHERE IsWon = true")
        accounts = q("SELECT Id, ExternalID__c FROM Account")
        contacts = q("SELECT Id, AccountId, FirstName, LastName, Email FROM Contact")
        payment_records = q("SELECT Id, External_Id__c, Opportunity__c FROM Payment__c")
        files = q("SELECT Id, FirstPublishLocationId FROM ContentVersion WHERE IsLatest = true")

        def over(counter: Counter[str]) -> list[str]:
            return sorted(k for k, n in counter.items() if n > 1)

        per_reference = Counter(str(r.get("CustomerReference")) for r in invoices)
        per_code = Counter(str(r["Code"]).upper() for r in customers)
        per_external = Counter(str(r["ExternalID__c"]) for r in accounts if r.get("ExternalID__c"))
        per_payment = Counter(str(r["External_Id__c"]) for r in payment_records)
        per_file = Counter(str(r["FirstPublishLocationId"]) for r in files)
        per_contact = Counter(
            f"{r['AccountId']}/{r.get('FirstName')}/{r.get('LastName')}/{r.get('Email')}" for r in contacts
        )
        duplicates = {
            "invoices_per_opportunity": over(per_reference),
            "customers_per_code": over(per_code),
            "accounts_per_code": over(per_external),
            "payment_records_per_payment": over(per_payment),
            "files_per_opportunity": over(per_file),
            "contacts_per_account": over(per_contact),
        }

        failed = ledger.failed_records(status="open")
        failed_ids = {f.source_id for f in failed}
        numbers = {str(r.get("CustomerReference")): str(r["Number"]) for r in invoices}
        account_ids = {str(r["Id"]) for r in accounts}
        customer_codes = {str(r["Code"]).upper() for r in customers}
        linked_codes: set[str] = set()
        unlinked_accounts = []
        for account_id in sorted(account_ids):
            code = ledger.lookup("salesforce", "Account", account_id, "kashflow", "Customer")
            if code is None or code.upper() not in customer_codes:
                unlinked_accounts.append(account_id)
            else:
                linked_codes.add(code.upper())
        synced_payments = {str(r["External_Id__c"]) for r in payment_records}
        payments = [item for bulk in payments for item in bulk.get("PaymentItems") or []]  # a bulk payment's items
        lost = {
            "won_without_invoice": [r["Id"] for r in won if r["Id"] not in numbers],
            "invoice_number_not_written_back": [
                r["Id"]
                for r in won
                if r["Id"] in numbers and str(r.get("Accounting_Invoice_Number__c") or "") != numbers[r["Id"]]
            ],
            "accounts_without_customer": unlinked_accounts,
            "customers_without_account": sorted(customer_codes - linked_codes),
            "payments_not_in_salesforce": sorted(
                f"kashflow:{r['Id']}" for r in payments if f"kashflow:{r['Id']}" not in synced_payments
            ),
            "files_missing": sorted(o for o in self.pdf_opportunities if o not in per_file),
            "amount_paid_wrong": self._paid_mismatches(won, invoices),
        }
        # A record sitting in the failed list with its message is accounted for, not lost.
        lost = {k: [i for i in v if i not in failed_ids] for k, v in lost.items()}
        report.duplicates = {k: len(v) for k, v in duplicates.items()}
        report.lost = {k: len(v) for k, v in lost.items()}
        report.lost_examples = {k: v[:5] for k, v in {**lost, **duplicates}.items() if v}
        report.failed_open = len(failed)
        report.failed_examples = [f"{f.flow} {f.source_id}: {f.errors[-1].get('error')}" for f in failed[:5]]

    @staticmethod
    def _paid_mismatches(won: list[dict[str, Any]], invoices: list[dict[str, Any]]) -> list[str]:
        """Opportunities whose Amount_Paid__c is not what the books say was paid on their invoice."""
        paid = {str(r.get("CustomerReference")): Decimal(str(r.get("TotalPaidAmount") or 0)) for r in invoices}
        out = []
        for r in won:
            books_paid = paid.get(r["Id"], Decimal(0))
            sf_paid = Decimal(str(r.get("Amount_Paid__c") or 0))
            if books_paid != sf_paid:
                out.append(str(r["Id"]))
        return out


def run_scenario(options: ScenarioOptions) -> ScenarioReport:
    """Run the whole scenario in this process (one LedgerLink runtime per process) and return its report."""
    data_dir = options.data_dir or Path(tempfile.mkdtemp(prefix="ledgerlink-scenario-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return Scenario(options, data_dir).run()
    finally:
        if options.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)
