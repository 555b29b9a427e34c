"""The seed's custom-logic examples run on records, through in-process fake ports (the real ones are exercised
against the sandboxes in test_engine.py and the browser test)."""

from __future__ import annotations

from typing import Any

from ledgerlink.alerts.channels import Message
from ledgerlink.flows.defined.run import run
from ledgerlink.flows.defined.templates_catalogue import template


class FakePorts:
    def __init__(self) -> None:
        self.invoices: dict[str, dict[str, Any]] = {}
        self.updates: list[tuple[str, str, str, dict[str, str]]] = []
        self.records: dict[str, str] = {}
        self.sent: list[tuple[str, str, Message]] = []

    def build_invoice(self, mapping: str, record: dict[str, Any]) -> dict[str, Any]:
        lines = record["OrderItems"]["records"]
        return {
            "customer_code": "C1",
            "issue_date": "2026-12-01",
            "due_date": "2026-12-31",
            "lines": [
                {
                    "description": li["Description"],
                    "quantity": str(li["Quantity"]),
                    "unit_price": str(li["UnitPrice"]),
                    "tax_rate": "20",
                }
                for li in lines
            ],
        }

    def lines_of(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        return list(record["OrderItems"]["records"])

    def existing_invoice(self, reference: str) -> str | None:
        return self.invoices.get(reference, {}).get("number")

    def create_invoice(self, record: dict[str, Any], draft: dict[str, Any]) -> dict[str, Any]:
        if draft["reference"] in self.invoices:
            return {"number": self.invoices[draft["reference"]]["number"], "created": False}
        number = f"INV-{len(self.invoices) + 1}"
        self.invoices[draft["reference"]] = {**draft, "number": number}
        return {"number": number, "created": True}

    def update_record(self, role: str, obj: str, record_id: str, values: dict[str, str]) -> None:
        self.updates.append((role, obj, record_id, values))

    def create_record(
        self, role: str, obj: str, key: str, values: dict[str, str], key_field: str | None = None
    ) -> dict[str, Any]:
        if key not in self.records:
            self.records[key] = f"500{len(self.records):015d}"
            return {"id": self.records[key], "created": True}
        return {"id": self.records[key], "created": False}

    def existing_record(self, role: str, obj: str, key: str) -> str | None:
        return self.records.get(key)

    def notify(self, channel: str, to: str, message: Message) -> str:
        self.sent.append((channel, to, message))
        return "sent"

    def webhook(self, url: str, payload: dict[str, Any]) -> str:
        return "sent"

    def check_destination(self, url: str) -> str | None:
        return None

    def wait(self, seconds: int) -> None:
        pass


def order(approved: bool, country: str, projects: list[str | None]) -> dict[str, Any]:
    items = [
        {"Id": f"802{i:015d}", "Description": f"Item {i}", "Quantity": 2, "UnitPrice": 50.0, "Project__c": project}
        for i, project in enumerate(projects)
    ]
    return {
        "Id": "801000000000001AAA",
        "Status": "Activated",
        "Approved__c": approved,
        "AccountId": "001000000000001AAA",
        "Account": {"Name": "Fjord AS", "BillingCountry": country},
        "OrderItems": {"records": items},
    }


def test_only_approved_orders_are_invoiced_and_the_number_goes_back() -> None:
    ports = FakePorts()
    skipped = run(template("approved_orders_invoice"), order(False, "United Kingdom", [None]), ports, dry_run=False)
    assert skipped.status == "skipped" and not ports.invoices
    done = run(template("approved_orders_invoice"), order(True, "United Kingdom", [None]), ports, dry_run=False)
    assert done.status == "done", done.error
    assert list(ports.invoices) == ["801000000000001AAA"]
    assert ports.updates == [("crm", "Order", "801000000000001AAA", {"Accounting_Invoice_Number__c": "INV-1"})]
    again = run(template("approved_orders_invoice"), order(True, "United Kingdom", [None]), ports, dry_run=False)
    assert again.status == "done" and len(ports.invoices) == 1  # idempotent: the same invoice


def test_international_orders_carry_a_five_percent_fee() -> None:
    ports = FakePorts()
    run(template("international_handling_fee"), order(True, "Norway", [None, None]), ports, dry_run=False)
    lines = ports.invoices["801000000000001AAA"]["lines"]
    assert [li["description"] for li in lines] == ["Item 0", "Item 1", "International handling fee (5%)"]
    assert lines[-1]["unit_price"] == "10.00"  # 5% of 2 × 2 × 50
    ports = FakePorts()
    run(template("international_handling_fee"), order(True, "United Kingdom", [None]), ports, dry_run=False)
    assert len(ports.invoices["801000000000001AAA"]["lines"]) == 1


def test_an_invoice_is_split_by_project_with_rules_per_part() -> None:
    ports = FakePorts()
    result = run(
        template("split_by_project"), order(True, "UK", ["Apollo", "Gemini", "Apollo", None]), ports, dry_run=False
    )
    assert result.status == "done", result.error
    refs = sorted(ports.invoices)
    assert refs == ["801000000000001AAA-Apollo", "801000000000001AAA-Gemini", "801000000000001AAA-none"]
    assert len(ports.invoices["801000000000001AAA-Apollo"]["lines"]) == 2


def test_a_dry_run_shows_each_step_and_writes_nothing() -> None:
    ports = FakePorts()
    result = run(template("approved_orders_invoice"), order(True, "UK", [None]), ports, dry_run=True)
    assert not ports.invoices and not ports.updates
    assert [(s.action, s.status) for s in result.steps] == [
        ("condition", "matched"),
        ("map_invoice", "done"),
        ("create_invoice", "would"),
        ("update_record", "would"),
    ]
    assert result.steps[2].output == {
        "invoices": [{"reference": "801000000000001AAA", "would": "create", "number": None}]
    }


def test_a_failing_step_names_itself() -> None:
    definition = template("international_handling_fee").model_copy(
        update={"steps": template("international_handling_fee").steps[1:]}
    )
    result = run(definition, order(True, "Norway", [None]), FakePorts(), dry_run=False)
    assert result.status == "failed"
    assert result.error == "steps[0].then[0] (add_line): no invoice to work on: put a map_invoice step first"
