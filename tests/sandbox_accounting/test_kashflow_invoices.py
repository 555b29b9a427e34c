"""KashFlow invoices: totals to the penny, VAT validation, numbering, status, payments and the PDF."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest


@pytest.fixture
def customer(kf: httpx.Client) -> str:
    assert kf.post("/customers", json={"Name": "Acme", "Code": "ACME", "PaymentTerms": 30}).status_code == 201
    return "ACME"


def _invoice(kf: httpx.Client, customer: str, lines: list[dict[str, object]], **extra: object) -> httpx.Response:
    return kf.post("/invoices", json={"CustomerCode": customer, "LineItems": lines, **extra})


def _exact(response: httpx.Response) -> dict[str, object]:
    result: dict[str, object] = json.loads(response.text, parse_float=Decimal)
    return result


def test_totals_to_the_penny_across_vat_rates(kf: httpx.Client, customer: str) -> None:
    lines = [
        {"Description": "Odd", "Quantity": 3, "Rate": "33.3333", "VATLevel": 20},  # 99.9999 -> 100.00, VAT 20.00
        {"Description": "Half", "Quantity": "1.5", "Rate": 0.99, "VATLevel": 5},  # 1.485 -> 1.49, VAT 0.0745 -> 0.07
        {"Description": "Zero", "Quantity": 7, "Rate": "0.125", "VATLevel": 0},  # 0.875 -> 0.88
        {"Description": "Up", "Quantity": 1, "Rate": "0.125", "VATLevel": 20},  # 0.125 -> 0.13, VAT 0.026 -> 0.03
    ]
    created = _invoice(kf, customer, lines, IssuedDate="2024-03-01 00:00:00")
    assert created.status_code == 201, created.text
    inv = _exact(created)
    assert inv["NetAmount"] == Decimal("102.50")
    assert inv["VATAmount"] == Decimal("20.10")
    assert inv["GrossAmount"] == Decimal("122.60")
    assert [li["VATAmount"] for li in inv["LineItems"]] == [Decimal(v) for v in ("20", "0.07", "0", "0.03")]  # type: ignore[attr-defined]
    assert '"GrossAmount":122.6000' in created.text
    assert inv["DueDate"] == "2024-03-31 00:00:00"  # IssuedDate + the customer's 30 days
    assert inv["LineItems"][0]["NominalCode"] == 4000  # type: ignore[index]


def test_bad_vat_level_and_bad_date_name_the_field(kf: httpx.Client, customer: str) -> None:
    bad = _invoice(kf, customer, [{"Rate": 1, "VATLevel": 20}, {"Rate": 1, "VATLevel": 17.5}])
    assert bad.status_code == 400
    assert bad.json()["Field"] == "LineItems[2].VATLevel"
    assert "17.5" in bad.json()["Message"]
    bad_date = _invoice(kf, customer, [{"Rate": 1}], IssuedDate="31/02/2024")
    assert bad_date.json()["Field"] == "IssuedDate"
    no_customer = _invoice(kf, "NOPE", [{"Rate": 1}])
    assert no_customer.json()["Field"] == "CustomerCode"
    offset = _invoice(kf, customer, [{"Rate": 1}], IssuedDate="2024-06-01T09:00:00+01:00")
    assert offset.json()["IssuedDate"] == "2024-06-01 08:00:00"


def test_numbering_honours_free_numbers(kf: httpx.Client, customer: str) -> None:
    assert kf.get("/nextavailableinvoicenumber").json() == 1
    assert _invoice(kf, customer, [{"Rate": 1}], Number=100).json()["Number"] == 100
    assert kf.get("/nextavailableinvoicenumber").json() == 101
    assert _invoice(kf, customer, [{"Rate": 1}], Number=100).json()["Number"] == 101  # taken: next free
    listed = kf.get("/invoices", params={"customercode": "acme"}).json()
    assert [i["Number"] for i in listed["Data"]] == [100, 101]
    assert listed["Data"][0]["LineItems"] is None  # list rows are summaries
    assert kf.delete("/invoices/101").status_code == 204
    assert kf.get("/invoices/101").status_code == 404


METHOD, BANK = 409844, 55166  # the sandbox account's own method and bank account ids


def _pay(kf: httpx.Client, *items: tuple[int, object], **bulk: object) -> httpx.Response:
    """A BulkPayment (KashFlow's documented payment body) paying each (invoice number, amount)."""
    body = {"Method": METHOD, "AccountId": BANK, "Date": "2024-01-02 10:00:00", "Comment": "bank", **bulk}
    body["PaymentItems"] = [{"ObjectNumber": n, "Amount": a} for n, a in items]
    return kf.post("/invoices/bulk/payments", json=body)


def test_payments_drive_the_status(kf: httpx.Client, kf_admin: httpx.Client, customer: str) -> None:
    inv = _invoice(kf, customer, [{"Rate": 100, "VATLevel": 20}]).json()
    number = inv["Number"]
    assert inv["Status"] == "Unpaid"
    assert kf.get("/bankaccounts").json()["Data"][0]["Id"] == BANK
    first = _pay(kf, (number, 20))
    assert first.status_code == 201, first.text
    assert first.json()["PaymentItems"][0]["ObjectNumber"] == number
    assert kf.get(f"/invoices/{number}").json()["Status"] == "PartPaid"
    over = _pay(kf, (number, "100.01"))
    assert over.status_code == 400
    assert over.json()["Field"] == "PaymentItems[1].Amount"
    missing = kf.post(
        "/invoices/bulk/payments", json={"Method": METHOD, "PaymentItems": [{"ObjectNumber": number, "Amount": 1}]}
    )
    assert missing.json()["Field"] == "AccountId"
    wrong_method = _pay(kf, (number, 1), Method=1)  # methods are the account's own ids, not 1-6
    assert wrong_method.json()["Field"] == "Method"
    second = _pay(kf, (number, 100)).json()
    paid = _exact(kf.get(f"/invoices/{number}"))
    assert paid["Status"] == "Paid"
    assert paid["TotalPaidAmount"] == Decimal(120)
    assert paid["PaidDate"] == "2024-01-02 10:00:00"
    assert len(paid["PaymentLines"]) == 2  # type: ignore[arg-type]
    assert kf.get("/customers/ACME").json()["OutstandingBalance"] == 0
    txs = kf.get(f"/bankaccounts/{BANK}/transactions").json()["Data"]
    assert [t["ResourceNumber"] for t in txs] == [str(number), str(number)]
    assert kf.delete(f"/invoices/{number}").json()["Error"] == "InvoiceHasPayments"
    assert kf.get(f"/invoices/{number}/payments").status_code == 404  # no such route in any KashFlow source

    assert kf.delete(f"/invoices/bulk/payments/{second['Number']}").status_code == 204
    assert kf.get(f"/invoices/{number}").json()["Status"] == "PartPaid"
    assert kf.get("/customers/ACME").json()["OutstandingBalance"] == 100
    kf_admin.post("/__admin/advance-clock", json={"seconds": 31 * 86400})
    # The session idled out over a month; a fresh one sees the invoice overdue.
    assert kf.get(f"/invoices/{number}").status_code == 401


def test_overdue_is_derived_from_the_due_date(kf: httpx.Client, customer: str) -> None:
    late = _invoice(kf, customer, [{"Rate": 10}], IssuedDate="2020-01-01", DueDate="2020-01-31").json()
    assert late["Status"] == "Overdue"
    assert late["OverdueDays"] > 0
    draft = _invoice(kf, customer, [{"Rate": 10}], Status="Draft").json()
    assert draft["Status"] == "Draft"
    refused = _pay(kf, (draft["Number"], 1))
    assert refused.json()["Error"] == "InvoiceIsDraft"
    statuses = kf.get("/invoices", params={"status": "Overdue"}).json()["Data"]
    assert [i["Number"] for i in statuses] == [late["Number"]]


def test_bulk_payments_all_or_nothing(kf: httpx.Client, customer: str) -> None:
    a = _invoice(kf, customer, [{"Rate": 10, "VATLevel": 0}]).json()["Number"]
    b = _invoice(kf, customer, [{"Rate": 10, "VATLevel": 0}]).json()["Number"]
    bad = _pay(kf, (a, 10), (b, 11))
    assert bad.status_code == 400
    assert bad.json()["Field"] == "PaymentItems[2].Amount"
    assert kf.get(f"/invoices/{a}").json()["TotalPaidAmount"] == 0  # rolled back
    ok = _pay(kf, (a, 10), (b, 5))
    assert ok.status_code == 201
    bulk = ok.json()
    assert [(i["ObjectNumber"], i["Amount"]) for i in bulk["PaymentItems"]] == [(a, 10), (b, 5)]
    listed = kf.get("/invoices/bulk/payments").json()["Data"]
    assert [x["Number"] for x in listed] == [bulk["Number"]]
    assert kf.get(f"/invoices/bulk/payments/{bulk['Number']}").json()["Method"] == METHOD


def test_update_replaces_lines_and_guards_paid_amount(kf: httpx.Client, customer: str) -> None:
    number = _invoice(kf, customer, [{"Rate": 50, "VATLevel": 0}]).json()["Number"]
    assert _pay(kf, (number, 40)).status_code == 201
    too_small = kf.put(f"/invoices/{number}", json={"LineItems": [{"Rate": 30, "VATLevel": 0}]})
    assert too_small.json()["Field"] == "GrossAmount"
    updated = kf.put(
        f"/invoices/{number}", json={"lineitems": [{"rate": 45, "vatlevel": 0}], "customerreference": "PO9"}
    )
    assert updated.json()["GrossAmount"] == 45
    assert kf.get("/invoices", params={"customerreference": "po9"}).json()["MetaData"]["TotalRecords"] == 1


def test_pdf_and_permalink(kf: httpx.Client, customer: str) -> None:
    inv = _invoice(kf, customer, [{"Description": "Widgets (large)", "Quantity": 2, "Rate": 9.99}]).json()
    pdf = kf.get(f"/invoices/{inv['Number']}/pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-1.4")
    assert pdf.content.rstrip().endswith(b"%%EOF")
    assert b"Widgets \\(large\\)" in pdf.content
    assert "/v2/documents/invoice/" in inv["Permalink"]  # as KashFlow's invoice example shows it
    public = httpx.get(inv["Permalink"])  # no session header
    assert public.status_code == 200
    assert public.content.startswith(b"%PDF-")


def test_behaviour_switches_for_the_unverified_routes(kf: httpx.Client, kf_admin: httpx.Client, customer: str) -> None:
    number = _invoice(kf, customer, [{"Rate": 10}]).json()["Number"]
    assert kf_admin.put("/__admin/behaviour", json={"pdf_route": "missing"}).status_code == 200
    assert kf.get(f"/invoices/{number}/pdf").status_code == 404
    kf_admin.put("/__admin/behaviour", json={"change_feed": "rejected"})
    refused = kf.get("/customers", params={"updatedsince": "2020-01-01"})
    assert refused.status_code == 400 and refused.json()["Field"] == "UpdatedSince"
    kf_admin.put("/__admin/behaviour", json={"change_feed": "ignored"})
    assert kf.get("/customers", params={"updatedsince": "2999-01-01"}).json()["MetaData"]["TotalRecords"] == 1
    assert kf_admin.put("/__admin/behaviour", json={"change_feed": "maybe"}).status_code == 400
    assert kf.get(f"/internal/invoices/{number}/credits").status_code == 200
    assert kf_admin.put("/__admin/behaviour", json={"credit_notes": "missing"}).status_code == 200
    assert kf.get(f"/internal/invoices/{number}/credits").status_code == 404
    assert kf_admin.put("/__admin/behaviour", json={"credit_notes": False}).status_code == 400  # a choice, not a flag
