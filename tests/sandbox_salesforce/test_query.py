"""SOQL over HTTP: filters, relationships, subqueries, ordering, paging, errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from ledgerlink.sandbox._server import TLSFiles

from .conftest import Sandbox, _start

TODAY = dt.datetime.now(dt.UTC).date()


def days_ago(n: int) -> str:
    return (TODAY - dt.timedelta(days=n)).isoformat()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory, tls_files: TLSFiles) -> Iterator[tuple[Sandbox, Salesforce, dict]]:
    box = _start(tmp_path_factory.mktemp("sf-query"), tls_files)
    sf = box.sf()
    acme = sf.Account.create({"Name": "Acme", "BillingCity": "Leeds", "Industry": "Retail"})["id"]
    globex = sf.Account.create({"Name": "Globex", "BillingCity": "York"})["id"]
    initech = sf.Account.create({"Name": "Initech"})["id"]  # no city: a null to sort and filter
    sf.Contact.create({"LastName": "Smith", "FirstName": "Ann", "AccountId": acme, "Email": "ann@acme.test"})
    sf.Contact.create({"LastName": "O'Hara", "AccountId": globex})
    opps = {
        "a1": sf.Opportunity.create(
            {
                "Name": "Acme renewal",
                "StageName": "Closed Won",
                "CloseDate": days_ago(0),
                "Amount": 500,
                "AccountId": acme,
            }
        )["id"],
        "a2": sf.Opportunity.create(
            {
                "Name": "Acme upsell",
                "StageName": "Prospecting",
                "CloseDate": days_ago(10),
                "Amount": 150,
                "AccountId": acme,
            }
        )["id"],
        "g1": sf.Opportunity.create(
            {"Name": "Globex_big", "StageName": "Closed Lost", "CloseDate": days_ago(100), "AccountId": globex}
        )["id"],
        "i1": sf.Opportunity.create(
            {
                "Name": "Initech 100%",
                "StageName": "Prospecting",
                "CloseDate": days_ago(1),
                "Amount": 50,
                "AccountId": initech,
            }
        )["id"],
    }
    yield box, sf, {"acme": acme, "globex": globex, "initech": initech, **opps}
    box.stop()


def names(result: dict[str, Any]) -> list[str]:
    return [r["Name"] for r in result["records"]]


def test_record_shape_and_relationship_fields(org: Any) -> None:
    _, sf, ids = org
    result = sf.query(f"SELECT Id, Name, Account.Name, Account.BillingCity FROM Opportunity WHERE Id = '{ids['a1']}'")
    assert result["totalSize"] == 1 and result["done"] is True
    record = result["records"][0]
    assert record["attributes"]["type"] == "Opportunity"
    assert record["Account"]["Name"] == "Acme" and record["Account"]["attributes"]["type"] == "Account"
    contact = sf.query("SELECT LastName, Account.Name FROM Contact WHERE Account.Name = null")
    assert contact["totalSize"] == 0


def test_queries_by_id_read_by_id_and_answer_as_a_full_scan_does(org: Any) -> None:
    """``WHERE Id = …`` / ``Id IN (…)`` reads only those records (and their children by the reference index); an
    OR with an impossible term forces the full scan: both must answer alike, 15-character ids and aliases too."""
    _, sf, ids = org
    acme, a1, a2 = ids["acme"], ids["a1"], ids["a2"]
    children = "(SELECT LastName FROM Contacts), (SELECT Name FROM Opportunities ORDER BY Name)"
    for where in (
        f"Id = '{acme}'",
        f"Id = '{acme[:15]}'",
        f"a.Id IN ('{acme}', '{ids['globex']}', '{a1}') AND a.Name != 'Globex'",
        f"Id = '{a2}'",  # an Opportunity id: no Account has it
    ):
        fast = sf.query(f"SELECT a.Name, {children} FROM Account a WHERE {where}")
        full = sf.query(f"SELECT a.Name, {children} FROM Account a WHERE ({where}) OR a.Name = 'no such name'")
        assert fast == full, where
    assert names(sf.query(f"SELECT Name FROM Account WHERE Id = '{acme}'")) == ["Acme"]
    assert names(sf.query(f"SELECT Name FROM Opportunity WHERE Id IN ('{a2}', '{a1}') ORDER BY Name")) == [
        "Acme renewal",
        "Acme upsell",
    ]


def test_child_subquery(org: Any) -> None:
    _, sf, _ = org
    result = sf.query(
        "SELECT Name, (SELECT Name, Amount FROM Opportunities ORDER BY Amount DESC) FROM Account ORDER BY Name"
    )
    by_name = {r["Name"]: r for r in result["records"]}
    acme = by_name["Acme"]["Opportunities"]
    assert acme["totalSize"] == 2 and [r["Amount"] for r in acme["records"]] == [500.0, 150.0]
    contacts = sf.query("SELECT Name, (SELECT LastName FROM Contacts) FROM Account WHERE Name = 'Initech'")
    assert contacts["records"][0]["Contacts"] is None


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Amount > 100", ["Acme renewal", "Acme upsell"]),
        ("Amount >= 150 AND Amount < 500", ["Acme upsell"]),
        ("Amount = null", ["Globex_big"]),
        ("Amount != null", ["Acme renewal", "Acme upsell", "Initech 100%"]),
        ("Name LIKE 'acme%'", ["Acme renewal", "Acme upsell"]),
        ("Name LIKE '%\\_big'", ["Globex_big"]),
        ("Name LIKE 'Initech 100\\%'", ["Initech 100%"]),
        ("Name LIKE 'Acme _x%'", []),
        ("Name LIKE 'Acme up_ell'", ["Acme upsell"]),
        ("StageName IN ('Closed Won', 'Closed Lost')", ["Acme renewal", "Globex_big"]),
        ("StageName NOT IN ('Prospecting')", ["Acme renewal", "Globex_big"]),
        ("NOT StageName = 'Prospecting'", ["Acme renewal", "Globex_big"]),
        ("(Amount < 100 OR Amount > 400) AND IsClosed = false", ["Initech 100%"]),
        ("IsWon = true", ["Acme renewal"]),
        ("name = 'ACME RENEWAL'", ["Acme renewal"]),
        ("CloseDate = TODAY", ["Acme renewal"]),
        ("CloseDate = YESTERDAY", ["Initech 100%"]),
        ("CloseDate = LAST_N_DAYS:30", ["Acme renewal", "Acme upsell", "Initech 100%"]),
        ("CloseDate < LAST_N_DAYS:30", ["Globex_big"]),
        ("CloseDate = NEXT_N_DAYS:5", ["Acme renewal"]),
        (f"CloseDate >= {days_ago(10)} AND CloseDate <= {days_ago(1)}", ["Acme upsell", "Initech 100%"]),
        ("CreatedDate > 2020-01-01T00:00:00Z", ["Acme renewal", "Acme upsell", "Globex_big", "Initech 100%"]),
        ("CreatedDate < 2020-01-01T00:00:00+05:00", []),
        ("CreatedDate = TODAY", ["Acme renewal", "Acme upsell", "Globex_big", "Initech 100%"]),
        ("Account.BillingCity = 'Leeds'", ["Acme renewal", "Acme upsell"]),
        ("AccountId IN (SELECT AccountId FROM Contact WHERE Email != null)", ["Acme renewal", "Acme upsell"]),
    ],
)
def test_where(org: Any, where: str, expected: list[str]) -> None:
    _, sf, _ = org
    if dt.datetime.now(dt.UTC).date() != TODAY and any(w in where for w in ("TODAY", "YESTERDAY", "_N_DAYS")):
        pytest.skip("the data was dated before midnight UTC and the query runs after it")
    assert names(sf.query(f"SELECT Name FROM Opportunity WHERE {where} ORDER BY Name")) == expected


def test_order_by_with_nulls_first_and_last(org: Any) -> None:
    _, sf, _ = org
    asc = sf.query("SELECT Name, BillingCity FROM Account ORDER BY BillingCity")
    assert names(asc) == ["Initech", "Acme", "Globex"]  # nulls first by default when ascending
    asc_last = sf.query("SELECT Name FROM Account ORDER BY BillingCity ASC NULLS LAST")
    assert names(asc_last) == ["Acme", "Globex", "Initech"]
    desc = sf.query("SELECT Name FROM Account ORDER BY BillingCity DESC")
    assert names(desc) == ["Globex", "Acme", "Initech"]  # nulls last by default when descending
    multi = sf.query("SELECT Name FROM Opportunity ORDER BY StageName DESC, Amount ASC NULLS LAST")
    assert names(multi) == ["Initech 100%", "Acme upsell", "Acme renewal", "Globex_big"]


def test_limit_offset_and_count(org: Any) -> None:
    _, sf, _ = org
    page = sf.query("SELECT Name FROM Opportunity ORDER BY Name LIMIT 2 OFFSET 1")
    assert names(page) == ["Acme upsell", "Globex_big"]
    count = sf.query("SELECT COUNT() FROM Opportunity WHERE Amount > 100")
    assert count == {"totalSize": 2, "done": True, "records": []}
    agg = sf.query("SELECT COUNT(Id), SUM(Amount) total FROM Opportunity")
    assert agg["records"][0]["expr0"] == 4 and agg["records"][0]["total"] == 700.0
    grouped = sf.query("SELECT StageName, COUNT(Id) n FROM Opportunity GROUP BY StageName")
    assert {r["StageName"]: r["n"] for r in grouped["records"]} == {"Closed Won": 1, "Prospecting": 2, "Closed Lost": 1}


def test_fields_all(org: Any) -> None:
    _, sf, ids = org
    record = sf.query(f"SELECT FIELDS(ALL) FROM Account WHERE Id = '{ids['acme']}' LIMIT 1")["records"][0]
    assert record["Industry"] == "Retail" and "SystemModstamp" in record


@pytest.mark.parametrize(
    ("soql", "code", "fragment"),
    [
        ("SELECT Nope FROM Account", "INVALID_FIELD", "No such column 'Nope' on entity 'Account'"),
        ("SELECT Id FROM Account WHERE Bogus__c = 1", "INVALID_FIELD", "No such column 'Bogus__c'"),
        ("SELECT Owner.Name FROM Account", "INVALID_FIELD", "Didn't understand relationship 'Owner'"),
        ("SELECT Id FROM Acount", "INVALID_TYPE", "sObject type 'Acount' is not supported"),
        ("SELECT Id FROM Account WHERE Name = 5", "INVALID_FIELD", "must be of type string"),
        ("SELECT Id FROM Opportunity WHERE CloseDate = '2024-01-01'", "INVALID_FIELD", "must be of type date"),
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY", "ERROR at Row:1:Column:29"),
        ("SELECT (SELECT Id FROM Nothing) FROM Account", "INVALID_TYPE", "Didn't understand relationship 'Nothing'"),
    ],
)
def test_query_errors(org: Any, soql: str, code: str, fragment: str) -> None:
    _, sf, _ = org
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query(soql)
    assert err.value.content[0]["errorCode"] == code
    assert fragment in err.value.content[0]["message"]


def test_incremental_read_pattern_from_the_reference(org: Any) -> None:
    """(SystemModstamp = :since AND Id > :last) OR SystemModstamp > :since, ordered by SystemModstamp, Id."""
    _, sf, _ = org
    everything = sf.query("SELECT Id, SystemModstamp FROM Opportunity ORDER BY SystemModstamp, Id")["records"]
    stamps = [r["SystemModstamp"] for r in everything]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # strictly increasing org-wide
    since, last = everything[1]["SystemModstamp"], everything[1]["Id"]
    since_literal = since.replace(".000+0000", "Z") if since.endswith(".000+0000") else since[:-5] + "Z"
    rest = sf.query(
        f"SELECT Id FROM Opportunity WHERE (SystemModstamp = {since_literal} AND Id > '{last}') "
        f"OR SystemModstamp > {since_literal} ORDER BY SystemModstamp, Id"
    )["records"]
    assert [r["Id"] for r in rest] == [r["Id"] for r in everything[2:]]


def test_query_all_pages_through_more_than_2000_records(fresh_sandbox: Sandbox) -> None:
    box = fresh_sandbox
    token = box.token()
    for batch in range(11):
        records = [
            {"attributes": {"type": "Account"}, "Name": f"Bulk {batch}-{n}", "Region__c": "bulk"} for n in range(200)
        ]
        response = box.rest("POST", "composite/sobjects", token=token, json={"allOrNone": True, "records": records})
        assert response.status_code == 200 and all(r["success"] for r in response.json())
    sf = box.sf(token)
    first = sf.query("SELECT Id, Name FROM Account WHERE Region__c = 'bulk'")
    assert first["totalSize"] == 2200 and first["done"] is False and len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-2000")
    everything = sf.query_all("SELECT Id, Name FROM Account WHERE Region__c = 'bulk'")
    assert everything["totalSize"] == 2200 and len(everything["records"]) == 2200
    assert len({r["Id"] for r in everything["records"]}) == 2200
    # queryAll includes deleted rows
    sf.Account.delete(everything["records"][0]["Id"])
    assert sf.query("SELECT COUNT() FROM Account WHERE Region__c = 'bulk'")["totalSize"] == 2199
    assert sf.query("SELECT COUNT() FROM Account WHERE Region__c = 'bulk'", include_deleted=True)["totalSize"] == 2200
    bad = box.rest("GET", "query/01g5g0000000999AAA-2000", token=token)
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
