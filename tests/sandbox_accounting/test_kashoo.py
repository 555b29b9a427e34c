"""Kashoo sandbox: tokens, cents arithmetic, idempotent creates, soft delete, paging and watermarks."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from ledgerlink.sandbox import kashoo
from ledgerlink.sandbox._server import RunningServer


def _named(ko: httpx.Client, path: str, name: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = ko.get(path).json()
    return next(r for r in rows if r["name"] == name)


def test_token_forms_and_expiry(
    ko_server: RunningServer, ko_config: kashoo.KashooSandboxConfig, ko_admin: httpx.Client
) -> None:
    base = ko_server.base_url
    creds = kashoo.credentials(ko_config)
    basic = base64.b64encode(f"{creds['email']}:{creds['password']}".encode()).decode()
    token = httpx.post(f"{base}/api/authTokens", headers={"Authorization": f"Basic {basic}"}).json()
    assert token["expiryDate"] > 0 and token["myUserId"] == ko_config.user_id
    for header in (
        f"TOKEN uuid:{token['authenticationCode']}",
        f'TOKEN json:{{"authenticationCode":"{token["authenticationCode"]}"}}',
    ):
        assert httpx.get(f"{base}/api/users/me/businesses", headers={"Authorization": header}).status_code == 200
    wrong = httpx.post(f"{base}/api/authTokens", data={"email": creds["email"], "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["errorCode"] == "INVALID_CREDENTIALS"
    anon = httpx.get(f"{base}/api/users/me/businesses")
    assert anon.status_code == 401 and anon.json()["errorCode"] == "UNAUTHORIZED"
    ko_admin.post("/__admin/advance-clock", json={"seconds": ko_config.token_ttl_seconds + 1})
    expired = httpx.get(
        f"{base}/api/users/me/businesses", headers={"Authorization": f"TOKEN uuid:{token['authenticationCode']}"}
    )
    assert expired.status_code == 401 and expired.json()["errorCode"] == "TOKEN_EXPIRED"


def test_seeded_business_accounts_and_taxes(ko: httpx.Client) -> None:
    names = {a["name"] for a in ko.get("/accounts").json()}
    assert {"Sales revenue", "Accounts receivable", "Bank", "Sales tax payable"} <= names
    assert _named(ko, "/taxes", "GST")["rate"] == 5
    other = httpx.get(str(ko.base_url).replace("/businesses/", "/businesses/9") + "contacts", headers=ko.headers)
    assert other.status_code == 404


def test_invoice_cents_arithmetic(ko: httpx.Client) -> None:
    contact = ko.post("/contacts", json={"name": "Maple Co", "email": "ap@maple.example", "terms": 15}).json()
    gst, hst = _named(ko, "/taxes", "GST")["id"], _named(ko, "/taxes", "HST (Ontario)")["id"]
    lines = [
        {"description": "Odd", "quantity": 3, "unitPrice": 3333, "taxes": [gst]},  # 9999, GST 499.95 -> 500
        {"description": "Half", "quantity": 1.5, "unitPrice": 99, "taxes": [hst]},  # 148.5 -> 149, HST 19.37 -> 19
        {
            "description": "Both",
            "quantity": 1,
            "unitPrice": 1010,
            "taxes": [gst, hst],
        },  # GST 50.5 -> 51, HST 131.3 -> 131
    ]
    created = ko.post("/records/invoices", json={"contact": contact["id"], "date": "2024-05-01", "lines": lines})
    assert created.status_code == 201, created.text
    inv = created.json()
    assert created.headers["Location"].endswith(f"/records/invoices/{inv['id']}")
    assert [li["amount"] for li in inv["lines"]] == [9999, 149, 1010]
    assert inv["subTotal"] == 11158
    assert inv["taxTotal"] == 500 + 19 + 51 + 131
    assert inv["amount"] == inv["totalDue"] == inv["balanceDue"] == 11158 + 701
    assert inv["dueDate"] == "2024-05-16"
    assert inv["contactName"] == "Maple Co"
    assert inv["readOnly"] is False
    dollars = ko.post("/records/invoices", json={"contact": contact["id"], "lines": [{"unitPrice": 19.99}]})
    assert dollars.status_code == 400 and dollars.json()["field"] == "lines[0].unitPrice"
    bad_date = ko.post("/records/invoices", json={"contact": contact["id"], "date": "01/05/2024", "lines": lines})
    assert bad_date.json()["field"] == "date"


def test_payments_reduce_balance_and_refuse_overpayment(ko: httpx.Client) -> None:
    contact = ko.post("/contacts", json={"name": "Payer"}).json()["id"]
    inv = ko.post("/records/invoices", json={"contact": contact, "lines": [{"unitPrice": 10000}]}).json()
    part = ko.post("/records/invoicePayments", json={"invoice": inv["id"], "amount": 4000, "date": "2024-05-02"})
    assert part.status_code == 201, part.text
    after = ko.get(f"/records/invoices/{inv['id']}").json()
    assert after["balanceDue"] == 6000 and after["readOnly"] is True and after["modified"] > inv["modified"]
    over = ko.post("/records/invoicePayments", json={"invoice": inv["id"], "amount": 6001})
    assert over.status_code == 400 and over.json()["field"] == "amount"
    locked = ko.put(f"/records/invoices/{inv['id']}", json={"lines": [{"unitPrice": 1}]})
    assert locked.json()["errorCode"] == "READ_ONLY"
    assert ko.delete(f"/records/invoicePayments/{part.json()['id']}").status_code == 204
    assert ko.get(f"/records/invoices/{inv['id']}").json()["balanceDue"] == 10000
    assert ko.get(f"/records/{inv['id']}").json()["type"] == "INVOICE"


def test_client_supplied_ids_are_ignored(ko: httpx.Client) -> None:
    """Kashoo's REST conventions: "IDs provided should be ignored" (api.kashoo.com): every POST is a new entity."""
    first = ko.post("/contacts", json={"id": 777000111, "name": "Once"})
    assert first.status_code == 201 and first.json()["id"] != 777000111
    again = ko.post("/contacts", json={"id": 777000111, "name": "Twice"})
    assert again.status_code == 201 and again.json()["id"] not in (777000111, first.json()["id"])
    assert sorted(c["name"] for c in ko.get("/contacts").json()) == ["Once", "Twice"]


def test_soft_delete_and_modified_since(ko: httpx.Client) -> None:
    a = ko.post("/contacts", json={"name": "A"}).json()
    b = ko.post("/contacts", json={"name": "B"}).json()
    watermark = b["modified"]
    assert b["modified"] > a["modified"]
    removed = ko.put(f"/contacts/{a['id']}", json={"removed": True}).json()
    assert removed["removed"] is True
    assert [c["name"] for c in ko.get("/contacts").json()] == ["B"]
    assert ko.get(f"/contacts/{a['id']}").json()["removed"] is True
    changed = ko.get("/contacts", params={"modifiedSince": watermark}).json()
    assert [(c["name"], c["removed"]) for c in changed] == [("B", False), ("A", True)]  # inclusive, removals included
    assert ko.delete(f"/contacts/{b['id']}").status_code == 204
    assert ko.get("/contacts").json() == []
    assert len(ko.get("/contacts", params={"includeRemoved": "true"}).json()) == 2


def test_paging_until_empty_and_date_range(ko: httpx.Client) -> None:
    contact = ko.post("/contacts", json={"name": "Pager"}).json()["id"]
    for day in range(1, 8):
        ko.post(
            "/records/invoices", json={"contact": contact, "date": f"2024-06-0{day}", "lines": [{"unitPrice": day}]}
        )
    seen, offset = [], 0
    while True:
        page = ko.get(
            "/records/invoices",
            params={"startDate": "2024-06-02", "endDate": "2024-06-06", "limit": 2, "offset": offset},
        ).json()
        if not page:
            break
        seen += [r["date"] for r in page]
        offset += len(page)
    assert seen == [f"2024-06-0{d}" for d in range(2, 7)]


def test_pdf(ko: httpx.Client) -> None:
    contact = ko.post("/contacts", json={"name": "Printer"}).json()["id"]
    inv = ko.post(
        "/records/invoices", json={"contact": contact, "lines": [{"description": "Ink", "unitPrice": 2500}]}
    ).json()
    pdf = ko.get(f"/records/{inv['id']}/pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and pdf.content.rstrip().endswith(b"%%EOF")


def test_data_survives_a_restart(
    serve: Any, ko_config: kashoo.KashooSandboxConfig, ko_auth: Any, ko: httpx.Client
) -> None:
    created = ko.post("/contacts", json={"name": "Durable"}).json()
    again = serve(kashoo.create_app(ko_config))  # a second server on the same SQLite file
    headers = ko_auth(again.base_url, kashoo.credentials(ko_config))
    url = f"{again.base_url}/api/businesses/{ko_config.business_id}/contacts/{created['id']}"
    assert httpx.get(url, headers=headers).json()["name"] == "Durable"
    fresh = ko.post("/contacts", json={"name": "Next"}).json()
    assert fresh["id"] != created["id"]


def test_behaviour_switches_for_the_unverified_reads(ko: httpx.Client, ko_admin: httpx.Client) -> None:
    """``modifiedSince`` and ``records/{id}/pdf`` have no public Kashoo source: the sandbox can ignore or reject
    the one and lack the other, so the connector's fallbacks can be tested."""
    ko.post("/contacts", json={"name": "Old"})
    future = "4102444800000"  # 2100-01-01
    assert ko.get("/contacts", params={"modifiedSince": future}).json() == []
    assert ko_admin.put("/__admin/behaviour", json={"change_feed": "ignored"}).status_code == 200
    assert [c["name"] for c in ko.get("/contacts", params={"modifiedSince": future}).json()] == ["Old"]
    ko_admin.put("/__admin/behaviour", json={"change_feed": "rejected"})
    refused = ko.get("/contacts", params={"modifiedSince": future})
    assert refused.status_code == 400 and refused.json()["field"] == "modifiedSince"
    ko_admin.put("/__admin/behaviour", json={"pdf_route": "missing"})
    assert ko.get("/records/1/pdf").status_code == 404
    assert ko_admin.put("/__admin/behaviour", json={"pdf_route": "perhaps"}).status_code == 400
    ko_admin.put("/__admin/behaviour", json={"credit_notes": "missing"})
    assert ko.post("/records/creditNotes", json={"invoice": 1}).status_code == 404
    assert ko_admin.get("/__admin/behaviour").json()["credit_notes"] == "missing"
