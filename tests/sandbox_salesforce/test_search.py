"""SOSL through simple-salesforce's ``search()``: terms, phrases, wildcards, operators, search groups, RETURNING."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest


def _found(sf: Salesforce, sosl: str) -> list[tuple[str, dict[str, Any]]]:
    result = sf.search(sosl)
    return [
        (r["attributes"]["type"], {k: v for k, v in r.items() if k != "attributes"}) for r in result["searchRecords"]
    ]


@pytest.fixture
def tag(sf: Salesforce) -> str:
    """A word no other test's records carry, and records that hold it."""
    # Letters only: search tokens break where letters meet digits.
    word = "zq" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:8])
    acme = sf.Account.create({"Name": f"Acme {word} Ltd", "Phone": "0113 496 0000"})["id"]
    sf.Account.create({"Name": f"Globex {word}", "Description": "widgets and gadgets"})
    sf.Contact.create(
        {"FirstName": "Joe", "LastName": f"Smith-{word}", "Email": f"joe.{word}@example.com", "AccountId": acme}
    )
    sf.Contact.create({"FirstName": "Joe", "LastName": f"Smythe-{word}", "Title": word})
    return word


def test_terms_phrases_wildcards_and_operators(sf: Salesforce, tag: str) -> None:
    names = lambda sosl: sorted(f.get("Name") or f.get("LastName") for _, f in _found(sf, sosl))  # noqa: E731
    assert names(f"FIND {{{tag}}} RETURNING Account(Name)") == [f"Acme {tag} Ltd", f"Globex {tag}"]
    assert names(f'FIND {{"acme {tag}"}} RETURNING Account(Name)') == [f"Acme {tag} Ltd"]  # a phrase, any case
    assert names(f'FIND {{"{tag} acme"}} RETURNING Account(Name)') == []  # tokens in that order only
    assert names(f"FIND {{{tag[:5]}*}} RETURNING Account(Name)") == [f"Acme {tag} Ltd", f"Globex {tag}"]
    assert names(f"FIND {{{tag} AND widgets}} RETURNING Account(Name)") == [f"Globex {tag}"]
    assert names(f"FIND {{{tag} AND NOT widgets}} RETURNING Account(Name)") == [f"Acme {tag} Ltd"]
    assert names(f"FIND {{{tag} (acme OR gadgets)}} RETURNING Account(Name)") == [f"Acme {tag} Ltd", f"Globex {tag}"]


def test_search_groups_and_returning_clauses(sf: Salesforce, tag: str) -> None:
    in_names = _found(sf, f"FIND {{{tag}}} IN NAME FIELDS RETURNING Contact(LastName ORDER BY LastName DESC)")
    assert [f["LastName"] for _, f in in_names] == [f"Smythe-{tag}", f"Smith-{tag}"]
    by_email = _found(sf, f"FIND {{joe.{tag}@example.com}} IN EMAIL FIELDS RETURNING Contact(LastName, Email)")
    assert [(f["LastName"], f["Email"]) for _, f in by_email] == [(f"Smith-{tag}", f"joe.{tag}@example.com")]
    # ALL FIELDS also searches the Title, which holds the tag for one of the two.
    described = _found(sf, f"FIND {{{tag}}} IN ALL FIELDS RETURNING Contact(LastName WHERE FirstName = 'Joe' LIMIT 1)")
    assert len(described) == 1
    # Id alone without a field list; the whole result capped by LIMIT.
    ids_only = _found(sf, f"FIND {{{tag}}} RETURNING Account, Contact LIMIT 3")
    assert len(ids_only) == 3 and all(set(f) == {"Id"} for _, f in ids_only)
    assert [kind for kind, _ in ids_only] == ["Account", "Account", "Contact"]


@pytest.mark.parametrize(
    ("sosl", "code"),
    [
        ("FIND {a}", "MALFORMED_SEARCH"),
        ("SELECT Id FROM Account", "MALFORMED_SEARCH"),
        ("FIND {acme", "MALFORMED_SEARCH"),
        ('FIND {"acme} RETURNING Account', "MALFORMED_SEARCH"),
        ("FIND {acme} RETURNING NoSuchThing", "INVALID_TYPE"),
        ("FIND {acme} RETURNING Account(Nonsense__c)", "INVALID_FIELD"),
    ],
)
def test_bad_searches_are_refused(sf: Salesforce, sosl: str, code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.search(sosl)
    assert refused.value.content[0]["errorCode"] == code
