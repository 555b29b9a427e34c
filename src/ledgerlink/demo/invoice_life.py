"""The demo's invoice-life phases: a salesperson records payments in Salesforce, deals change and reopen after
they were invoiced, the bookkeeper makes invoices directly in the books, then history, balances and the balance
reconciliation (with a drift a person injects). Each phase's figures go into the summary beside a duplicate count of
each kind, which must be 0."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from dbos import WorkflowHandle

from ledgerlink.engine import runtime as engine
from ledgerlink.flows import (
    account_balances,
    balance_reconciliation,
    invoice_changes,
    invoice_history,
    payment_to_books,
    refunds,
)
from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.model import Invoice, InvoiceLine, Payment
from ledgerlink.systems.invoice_life import InvoiceLife
from ledgerlink.systems.refunds import RefundBooks
from ledgerlink.systems.salesforce.client import SalesforceClient

POLLS: tuple[Callable[..., list[WorkflowHandle[Any]]], ...] = (
    payment_to_books.poll,
    invoice_changes.poll,
    invoice_history.poll,
    account_balances.poll,
)


def supported(runtime: engine.Runtime) -> bool:
    return isinstance(runtime.books, InvoiceLife)


class InvoiceLifeDemo:
    def __init__(self, runtime: engine.Runtime, user: SalesforceClient) -> None:
        self.runtime = runtime
        self.user = user  # a person in Salesforce: writes not tagged as LedgerLink's
        self.rng = random.Random(19)
        self.sf_payments: dict[str, str] = {}  # Payment__c id → invoice number
        self.payments_before: dict[str, int] = {}
        self.changed_invoices: list[str] = []
        self.reopened: list[str] = []  # deals moved out of Closed Won
        self.rewon: list[str] = []  # of those, won again
        self.in_salesforce: Counter[str] = Counter()  # what the change runs wrote to Salesforce at once
        self.drift_injected = 0

    def _invoiced_deals(self) -> list[tuple[str, str]]:
        soql = (
            f"SELECT Id, {o2i.INVOICE_NUMBER_FIELD} FROM Opportunity WHERE IsWon = true AND "
            f"{o2i.INVOICE_NUMBER_FIELD} != null ORDER BY Id"
        )
        return [(r["Id"], str(r[o2i.INVOICE_NUMBER_FIELD])) for r in self.user.query(soql)]

    def salesperson_records_payments(self, count: int = 10) -> int:
        """Payments entered on deals in Salesforce (a Payment__c without a books id), on invoices still owing."""
        books = self.runtime.books
        made = 0
        for deal, number in self._invoiced_deals():
            if made == count:
                break
            invoice = books.get_invoice(number)
            if invoice is None or invoice.total_gross is None:
                continue
            owed = invoice.total_gross - (invoice.amount_paid or Decimal(0))
            if owed < Decimal("4.00"):
                continue
            self.payments_before[number] = len(books.payments(number))
            amount = (owed / 4).quantize(Decimal("0.01"))
            fields = {
                "Opportunity__c": deal,
                "Amount__c": float(amount),
                "Payment_Date__c": dt.date.today().isoformat(),
            }
            self.sf_payments[self.user.create("Payment__c", fields)] = number
            made += 1
        return made

    def deals_change(self, count: int = 6) -> dict[str, int]:
        """After invoicing: some deals grow, some shrink (paid ones among them), some are reopened."""
        deals = self._invoiced_deals()
        self.rng.shuffle(deals)
        done: Counter[str] = Counter()
        for k, (deal, number) in enumerate(deals[:count]):
            self.changed_invoices.append(number)
            if k % 3 == 2:
                self.user.update("Opportunity", deal, {"StageName": "Negotiation/Review"})
                self.reopened.append(deal)
                done["reopened"] += 1
                continue
            items = list(
                self.user.query(f"SELECT Id, UnitPrice FROM OpportunityLineItem WHERE OpportunityId = '{deal}'")
            )
            if not items:
                continue
            factor = Decimal("1.10") if k % 3 == 0 else Decimal("0.90")
            if factor < 1:
                self._customer_pays_in_full(number)  # lowered once paid: its credit is owed back (a refund)
            price = (Decimal(str(items[0]["UnitPrice"])) * factor).quantize(Decimal("0.01"))
            self.user.update("OpportunityLineItem", items[0]["Id"], {"UnitPrice": float(price)})
            done["amount_changed"] += 1
        return dict(done)

    def _customer_pays_in_full(self, number: str) -> None:
        """The customer pays what is left, recorded in the books by the bookkeeper."""
        books = self.runtime.books
        invoice = books.get_invoice(number)
        if invoice is None or invoice.total_gross is None:
            return
        owed = invoice.total_gross - (invoice.amount_paid or Decimal(0))
        if owed <= 0:
            return
        paid = Payment(invoice_number=number, amount=owed, paid_on=dt.date.today(), reference=f"demo:in-full:{number}")
        books.record_payment(number, paid)
        if number in self.payments_before:
            self.payments_before[number] += 1  # expected: not a payment from Salesforce made twice

    def deals_won_again(self) -> int:
        """The reopened deals are won again: each gets a new invoice (``rewon_policy``), once."""
        for deal in self.reopened:
            self.user.update("Opportunity", deal, {"StageName": "Closed Won"})
            self.rewon.append(deal)
        return len(self.rewon)

    def note_changes(self, outcomes: list[tuple[str, dict[str, Any]]]) -> None:
        """What each change run wrote to Salesforce in the same run (credit notes, invoices, voids)."""
        for _run, outcome in outcomes:
            self.in_salesforce.update(outcome.get("salesforce") or {})

    def bookkeeper_makes_invoices(self, count: int = 20) -> int:
        """Invoices made in the books by hand (no deal behind them): the history import must bring them too."""
        books = self.runtime.books
        codes = [
            r["ExternalID__c"] for r in self.user.query("SELECT ExternalID__c FROM Account WHERE ExternalID__c != null")
        ]
        made = 0
        for k in range(count):
            customer = books.find_customer(codes[k % len(codes)]) if codes else None
            if customer is None:
                continue
            today = dt.date.today()
            invoice = Invoice(
                customer_code=customer,
                issue_date=today - dt.timedelta(days=60 + k),
                due_date=today - dt.timedelta(days=30 + k),
                lines=[InvoiceLine(description="Support hours", quantity=Decimal(1 + k % 4), unit_price=Decimal(45))],
            )
            books.create_invoice(invoice, customer, look_first=False)
            made += 1
        return made

    def inject_drift(self) -> int:
        """A person overwrites one Account's balance: reconciliation must report it."""
        rows = list(self.user.query("SELECT Id FROM Account WHERE Accounting_Balance__c != null ORDER BY Id LIMIT 1"))
        for row in rows:
            self.user.update("Account", row["Id"], {"Accounting_Balance__c": 12345.67})
        self.drift_injected = len(rows)
        return self.drift_injected

    def summary(
        self, flows: dict[str, Counter[str]], drift: dict[str, Any], drift_after: dict[str, Any]
    ) -> dict[str, Any]:
        books, sf = self.runtime.books, self.runtime.crm
        life = books if isinstance(books, InvoiceLife) else None
        paid_twice = 0
        for number, before in self.payments_before.items():
            expected = before + sum(1 for n in self.sf_payments.values() if n == number)
            paid_twice += max(0, len(books.payments(number)) - expected)
        notes: Counter[str] = Counter()
        for number in dict.fromkeys(self.changed_invoices):
            for note in life.credit_notes(number) if life else []:
                notes[note.reference or f"#{note.number}"] += 1
        refunded: Counter[str] = Counter()  # in the books, by reference
        refunder = books if isinstance(books, RefundBooks) else None
        for number in dict.fromkeys(self.changed_invoices):
            for note in life.credit_notes(number) if life and refunder else []:
                for refund in refunder.refunds(note.number or "") if refunder and note.number else []:
                    refunded[refund.reference or f"#{refund.refs[0].id if refund.refs else ''}"] += 1
        refund_records = Counter(
            r["External_Id__c"] for r in sf.query("SELECT External_Id__c FROM Payment__c WHERE Type__c = 'Refund'")
        )
        ledger = self.runtime.ledger
        imported = Counter(r["External_Id__c"] for r in sf.query("SELECT External_Id__c FROM Invoice__c"))
        # A credit note as Salesforce lists it (negative), by its name: more than one record for one is a duplicate.
        negative = Counter(r["Name"] for r in sf.query("SELECT Name FROM Invoice__c WHERE Total__c < 0"))
        references = [str(r) for r in books.invoice_references()]
        reinvoiced = {deal: sum(1 for r in references if r.startswith(f"{deal}:rewon")) for deal in self.rewon}
        lines = Counter(r["External_Id__c"] for r in sf.query("SELECT External_Id__c FROM Invoice_Line__c"))
        changes = flows.get("Deal changes → invoices", Counter())
        balances = flows.get("Balances → Accounts", Counter())
        return {
            "payments_from_salesforce": len(self.sf_payments),
            "payments_recorded_from_salesforce": flows.get("Salesforce payments → books", Counter()).get("recorded", 0),
            "invoices_updated": changes.get("updated", 0),
            "credit_notes": sum(notes.values()),
            "invoices_credited": changes.get("credited", 0),
            "invoices_voided": changes.get("voided", 0),
            "invoices_reissued": changes.get("reissued", 0),
            "refund_policy": self.runtime.settings.flows.refund_policy,
            "refunds_recorded": ledger.count_audit(flow=refunds.FLOW, system=books.name, action="created"),
            "refunds_in_books": sum(refunded.values()),
            "refund_records_in_salesforce": len(refund_records),
            "credit_notes_to_salesforce_at_once": self.in_salesforce.get("credit_notes", 0),
            "invoice_records_written_at_once": self.in_salesforce.get("invoices", 0),
            "invoice_records_voided_at_once": self.in_salesforce.get("voided", 0),
            "deals_won_again": len(self.rewon),
            "deals_reinvoiced": changes.get("reinvoiced", 0),
            "invoice_records_imported": sum(1 for k in imported if ":creditnote:" not in k),
            "invoice_lines_imported": len(lines),
            "accounts_with_balance": len(
                list(
                    sf.query(
                        "SELECT Id FROM Account WHERE Accounting_Balance__c != null AND Accounting_Balance__c != 0"
                    )
                )
            ),
            "account_balance_writes": balances.get("updated", 0),
            "balance_drift_injected": self.drift_injected,
            "balance_drift_reported": drift.get("drifted", 0),
            "balance_drift_after_refresh": drift_after.get("drifted", 0),
            "duplicates": {
                "payments_to_books": paid_twice,
                "credit_notes": sum(n - 1 for n in notes.values()),
                "refunds": sum(n - 1 for n in refunded.values()),
                "refund_records": sum(n - 1 for n in refund_records.values()),
                "credit_notes_in_salesforce": sum(n - 1 for n in negative.values()),
                "reinvoiced_deals": sum(max(0, n - 1) for n in reinvoiced.values()),
                "imported_invoices": sum(n - 1 for n in imported.values()),
                "imported_lines": sum(n - 1 for n in lines.values()),
            },
        }


def reconcile_balances() -> dict[str, Any]:
    [handle] = balance_reconciliation.poll()
    return dict(engine.wait_for(handle))
