"""KashFlow customers: CRUD, codes, paging wrapper, search and the changed-since filter."""

from __future__ import annotations

import httpx


def _customer(name: str, **extra: object) -> dict[str, object]:
    return {"Name": name, "Email": f"{name.lower().replace(' ', '.')}@example.com", **extra}


def test_customer_crud_with_nested_fields(kf: httpx.Client) -> None:
    body = _customer(
        "Acme Widgets",
        Code="ACME01",
        Contacts=[{"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"}],
        Addresses=[{"Line1": "1 High St", "PostCode": "AB1 2CD", "CountryCode": "GB"}],
        Currency={"Code": "gbp"},
        PaymentTerms=14,
        CustomTextBoxes=[{"Name": "Region", "Value": "North"}],
        CustomCheckBoxes=[{"Name": "VIP", "Value": True}],
    )
    created = kf.post("/customers", json=body)
    assert created.status_code == 201, created.text
    got = kf.get("/customers/acme01").json()  # codes are matched ignoring case
    assert got["Code"] == "ACME01"
    assert got["Contacts"][0]["LastName"] == "Lovelace"
    assert got["Addresses"][0]["PostCode"] == "AB1 2CD"
    assert got["Currency"] == {"Code": "GBP"}
    assert got["OutstandingBalance"] == 0
    assert got["CustomCheckBoxes"] == [{"Name": "VIP", "Value": True}]
    assert got["IsArchived"] is False
    assert len(got["CreatedDate"]) == 19
    assert '"OutstandingBalance":0.0000' in kf.get("/customers/ACME01").text  # four decimals on the wire

    updated = kf.put("/customers/ACME01", json={"telephonenumber": "01234 567890", "IsArchived": True})
    assert updated.status_code == 200
    assert updated.json()["TelephoneNumber"] == "01234 567890"
    assert updated.json()["Name"] == "Acme Widgets"  # absent fields are kept
    assert kf.delete("/customers/ACME01").status_code == 204
    missing = kf.get("/customers/ACME01")
    assert missing.status_code == 404
    assert missing.json()["Error"] == "NotFound"


def test_duplicate_code_refused_unless_asked_to_make_one(kf: httpx.Client) -> None:
    assert kf.post("/customers", json=_customer("One", Code="DUP")).status_code == 201
    dup = kf.post("/customers", json=_customer("Two", Code="dup"))
    assert dup.status_code == 400
    assert dup.json()["Error"] == "DuplicateCustomerCode"
    made = kf.post("/customers", json=_customer("Two", Code="DUP", CreateCustomerCodeIfDuplicate=True))
    assert made.status_code == 201
    assert made.json()["Code"] not in ("DUP", "dup")
    auto = kf.post("/customers", json=_customer("Bright Sparks Ltd"))
    assert auto.json()["Code"] == "BRIGHT01"


def test_validation_errors_name_the_field(kf: httpx.Client) -> None:
    no_name = kf.post("/customers", json={"Email": "x@example.com"})
    assert no_name.status_code == 400
    assert no_name.json()["Field"] == "Name"
    bad_email = kf.post("/customers", json={"Name": "X", "Email": "not-an-email"})
    assert bad_email.json()["Field"] == "Email"


def test_paging_wrapper_and_sorting(kf: httpx.Client) -> None:
    for i in range(7):
        kf.post("/customers", json=_customer(f"Customer {i}", Code=f"C{i}"))
    first = kf.get("/customers", params={"page": 1, "perpage": 3, "sortby": "Code", "order": "Desc"}).json()
    assert [c["Code"] for c in first["Data"]] == ["C6", "C5", "C4"]
    meta = first["MetaData"]
    assert meta["TotalRecords"] == 7
    assert meta["PreviousPageUrl"] is None
    assert "page=3" in meta["LastPageUrl"]
    codes = []
    url: str | None = meta["FirstPageUrl"]
    while url:
        page = kf.get(url).json()
        codes += [c["Code"] for c in page["Data"]]
        url = page["MetaData"]["NextPageUrl"]
    assert codes == [f"C{i}" for i in range(6, -1, -1)]
    assert kf.get("/customers", params={"perpage": 0}).json()["Field"] == "perpage"


def test_search_and_changed_since(kf: httpx.Client, kf_admin: httpx.Client) -> None:
    kf.post("/customers", json=_customer("Old Timer", Code="OLD"))
    kf_admin.post("/__admin/advance-clock", json={"seconds": 120})
    watermark = kf_admin.get("/__admin/clock").json()["now"]
    kf.post("/customers", json=_customer("New Comer", Code="NEW"))
    changed = kf.get("/customers", params={"updatedsince": watermark}).json()["Data"]
    assert [c["Code"] for c in changed] == ["NEW"]
    kf_admin.post("/__admin/advance-clock", json={"seconds": 10})
    kf.put("/customers/OLD", json={"Note": "touched"})
    changed = kf.get("/customers", params={"updatedsince": watermark}).json()["Data"]
    assert sorted(c["Code"] for c in changed) == ["NEW", "OLD"]
    assert kf.get("/customers", params={"updatedsince": "yesterday"}).json()["Field"] == "updatedsince"
    found = kf.get("/customers/search", params={"email": "NEW.COMER@example.com"}).json()["Data"]
    assert [c["Code"] for c in found] == ["NEW"]
    assert [c["Code"] for c in kf.get("/customers/search", params={"name": "timer"}).json()["Data"]] == ["OLD"]
