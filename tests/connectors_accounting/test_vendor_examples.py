"""The vendors' own example payloads (fixtures/, each naming its source) through the connectors and their mappings.

The books talk to an ``httpx.MockTransport`` that answers with the example, exactly as the vendor's page shows it, so
what is tested is our reading of the documented shape: key spellings, ``PaymentTerms`` as an object, the account's
own payment method ids, permalink documents.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerlink.model import Contact, Customer, Payment
from ledgerlink.systems.kashflow.books import KashFlowBooks, KashFlowOptions
from ledgerlink.systems.kashflow.client import KashFlowClient, KashFlowSettings
from ledgerlink.systems.kashoo.auth import KashooAuth

FIXTURES = Path(__file__).parent / "fixtures"


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    assert data.pop("_source")  # every fixture names where it comes from
    return data


def kashflow_books(routes: dict[tuple[str, str], Any], seen: list[httpx.Request] | None = None) -> KashFlowBooks:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        path = request.url.path.removeprefix("/v2/")
        if path == "sessiontoken" and request.method == "POST":
            return httpx.Response(200, json={"TemporaryToken": "t", "MemorableWordList": [{"Position": 1}]})
        if path == "sessiontoken":
            return httpx.Response(200, json={"SessionToken": "s"})
        body = routes.get((request.method, path))
        if body is None:
            return httpx.Response(404, json={"Error": "NotFound", "Message": path})
        if isinstance(body, bytes):
            return httpx.Response(200, content=body, headers={"Content-Type": "application/pdf"})
        return httpx.Response(200 if request.method == "GET" else 201, json=body)

    client = KashFlowClient(
        KashFlowSettings(
            base_url="https://api.kashflow.test/v2",
            username="u",
            password="p",
            memorable_word="word",
            transport=httpx.MockTransport(handle),
        )
    )
    options = KashFlowOptions(payment_methods={"Bank transfer": 409844}, default_payment_method="Bank transfer")
    return KashFlowBooks(client, options)


def test_kashflow_customer_example_reads_without_losing_terms_or_contacts() -> None:
    row = example("kashflow_customer_example.json")
    books = kashflow_books({("GET", "customers/PDRI91"): row})
    customer = books.read_customer("PDRI91", None)
    assert customer is not None
    assert customer.code == "PDRI91"
    assert customer.payment_terms_days == 50  # an object {"Days": 50, "Type": …}, not "is not a number"
    assert customer.billing_address is not None and customer.billing_address.postcode == "DN3 3UB"
    assert [c.email for c in customer.contacts] == ["test@testtrick.com"]


def test_kashflow_customer_read_tolerates_other_spellings() -> None:
    row = example("kashflow_customer_example.json")
    row.pop("VATNumber")
    row["VatNumber"] = "GB123456789"  # the spelling an older client uses
    row["PaymentTerms"] = 14  # a bare number of days
    row["Contacts"] = [{"FirstName": "Ada", "LastName": "Lovelace", "TelephoneNumber": "01234 567890"}]
    books = kashflow_books({("GET", "customers/PDRI91"): row})
    customer = books.read_customer("PDRI91", None)
    assert customer is not None
    assert customer.vat_number == "GB123456789"
    assert customer.payment_terms_days == 14
    assert [(c.first_name, c.last_name, c.phone) for c in customer.contacts] == [("Ada", "Lovelace", "01234 567890")]


def test_kashflow_customer_is_written_with_the_documented_keys() -> None:
    seen: list[httpx.Request] = []
    row = example("kashflow_customer_example.json")
    books = kashflow_books({("GET", "customers"): {"Data": [], "MetaData": {}}, ("POST", "customers"): row}, seen)
    made = books.create_customer(
        Customer(
            code="PDRI91",
            name="Example Ltd",
            vat_number="GB1",
            payment_terms_days=50,
            contacts=[Contact(first_name="Ada", last_name="Lovelace", phone="0123")],
        )
    )
    assert made == "PDRI91"
    body = json.loads(next(r for r in seen if r.method == "POST" and r.url.path.endswith("/customers")).content)
    assert body["VATNumber"] == "GB1" and body["PaymentTerms"] == {"Days": 50}
    assert body["Contacts"] == [{"Firstname": "Ada", "LastName": "Lovelace", "Telephone": "0123"}]


def test_kashflow_invoice_example_gives_totals_payments_and_the_permalink_pdf() -> None:
    row = example("kashflow_invoice_example.json")
    pdf = b"%PDF-1.4 example"
    books = kashflow_books(
        {("GET", "invoices/2"): row, ("GET", "documents/invoice/3a22b041-8d45-496a-946d-bd2252a0d28c"): pdf}
    )
    invoice = books.get_invoice("2")
    assert invoice is not None
    assert (invoice.total_net, invoice.total_tax, invoice.total_gross) == (
        Decimal(100),
        Decimal("17.5"),
        Decimal("117.5"),
    )
    assert invoice.lines[0].tax_rate == Decimal("17.5") and invoice.lines[0].product_code == "510"
    paid = books.payments("2")
    assert [(p.amount, p.method, p.paid_on) for p in paid] == [
        (Decimal("110.50"), "Bank transfer", dt.date(2012, 10, 9)),  # method 409844 named as the options name it
        (Decimal("7.00"), "Bank transfer", dt.date(2012, 10, 9)),
    ]
    assert books.invoice_pdf("2") == pdf  # the documented permalink document, not /invoices/2/pdf


def test_kashflow_payment_is_a_bulk_payment_with_the_accounts_own_ids() -> None:
    seen: list[httpx.Request] = []
    row = {**example("kashflow_invoice_example.json"), "PaymentLines": [], "TotalPaidAmount": 0, "Status": "Unpaid"}
    made = {"Number": 9, "PaymentItems": [{"Id": 77, "ObjectNumber": 2, "Amount": 10}]}
    bank = {"Data": [{"Id": 55166, "Name": "Current Account"}]}
    books = kashflow_books(
        {("GET", "invoices/2"): row, ("GET", "bankaccounts"): bank, ("POST", "invoices/bulk/payments"): made}, seen
    )
    payment = Payment(invoice_number="2", amount=Decimal(10), paid_on=dt.date(2026, 1, 5), reference="SF-1")
    assert books.record_payment("2", payment) == "77"
    body = json.loads(next(r for r in seen if r.url.path.endswith("/bulk/payments")).content)
    assert body["Method"] == 409844 and body["AccountId"] == 55166
    assert body["PaymentItems"] == [{"ObjectNumber": 2, "Amount": "10", "Note": "SF-1"}]
    assert set(body) >= {"Date", "Comment", "AccountId", "Method", "Reconciled", "PaymentItems"}


def test_kashoo_token_example_is_sent_back_as_documented() -> None:
    token = example("kashoo_auth_token_example.json")
    sent: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/authTokens"):
            return httpx.Response(200, json=token)
        sent.append(request.headers["Authorization"])
        return httpx.Response(200, json=[])

    client = httpx.Client(
        transport=httpx.MockTransport(handle), auth=KashooAuth("https://api.kashoo.test/api", "e@x.test", "pw")
    )
    client.get("https://api.kashoo.test/api/users/me/businesses")
    assert sent[0].startswith("TOKEN json:")
    assert json.loads(sent[0].removeprefix("TOKEN json:")) == token


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_fixture_names_its_source(name: str) -> None:
    assert "_source" in json.loads((FIXTURES / name).read_text(encoding="utf-8"))
