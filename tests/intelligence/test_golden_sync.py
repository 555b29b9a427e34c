"""Golden-record matching inside the customer sync, over HTTP against the Salesforce and KashFlow sandboxes:
unsure pairs wait in the review queue (nothing created meanwhile), a person's decision links or separates them,
and the duplicate policy decides what a link writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgerlink.flows import customer_sync
from ledgerlink.intelligence import review
from ledgerlink.systems.kashflow.books import KashFlowBooks
from tests.sync.conftest import SyncEnv, _env

LEEDS = [{"Line1": "2 Mill St", "Line3": "Leeds", "PostCode": "LS2 7EW", "CountryCode": "GB"}]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[SyncEnv]:
    yield from _env(tmp_path, "kashflow")


def _kf(env: SyncEnv) -> KashFlowBooks:
    books = env.runtime.books
    assert isinstance(books, KashFlowBooks)
    return books


def _unsure_pair(env: SyncEnv) -> str:
    """The same name in another town: about a one-in-four chance of being the same company, so with the review
    threshold at 0.2 a person decides."""
    env.runtime.settings.flows.match_review_threshold = 0.2
    _kf(env).client.create_customer({"Code": "GAMMA1", "Name": "Gamma Industries Limited", "Addresses": LEEDS})
    return env.make_account("Gamma Industries Ltd", postcode="BS1 4DJ", BillingCity="Bristol", BillingStreet="5 Quay")


def test_an_unsure_match_waits_for_review_then_approval_links_it(env: SyncEnv) -> None:
    account = _unsure_pair(env)
    outcome = env.sync_customers()
    assert outcome["counts"].get("in_review") == 2  # the Account, and (on the books pass) the customer it may be
    assert env.books_id(account) is None
    assert [c["Code"] for c in _kf(env).client.list("customers")] == ["GAMMA1"]  # nothing created meanwhile
    [pending] = review.find(env.ledger)
    assert pending.source == ("salesforce", "Account", account)
    assert pending.target == ("kashflow", "customers", "GAMMA1") or pending.target[2] == "GAMMA1"
    assert 0.2 <= pending.score < 0.9
    assert pending.source_record["name"] == "Gamma Industries Ltd"
    assert pending.target_record["name"] == "Gamma Industries Limited"

    env.user.update("Account", account, {"Phone": "0113 496 0000"})  # seen again while waiting: still one review
    env.sync_customers()
    assert len(review.find(env.ledger, status=None)) == 1
    assert env.books_id(account) is None

    decided = review.decide(env.ledger, pending.id, approve=True, user="alice")
    assert decided.status == "approved" and decided.decided_by == "alice"
    assert env.books_id(account) == "GAMMA1"
    assert customer_sync.replay(account).get_result()["status"] == "synced"
    assert len(list(_kf(env).client.list("customers"))) == 1
    trail = [e for e in env.ledger.audit_trail() if e.action == "review_approved"]
    assert trail and trail[0].detail["by"] == "alice"
    with pytest.raises(review.ReviewError):
        review.decide(env.ledger, pending.id, approve=False, user="bob")


def test_a_rejected_match_gets_its_own_customer(env: SyncEnv) -> None:
    account = _unsure_pair(env)
    env.sync_customers()
    [pending] = review.find(env.ledger)
    review.decide(env.ledger, pending.id, approve=False, user="alice")
    assert customer_sync.replay(account).get_result()["status"] == "synced"
    books_id = env.books_id(account)
    assert books_id not in (None, "GAMMA1")
    assert len(list(_kf(env).client.list("customers"))) == 2
    assert env.audits("review_rejected") == 1


@pytest.mark.parametrize("policy", ["skip", "update"])
def test_the_duplicate_policy_decides_what_a_link_writes(env: SyncEnv, policy: str) -> None:
    env.runtime.settings.flows.duplicate_policy_salesforce_to_books = policy
    kf = _kf(env).client
    kf.create_customer(
        {"Code": "DELTA1", "Name": "Delta Foods", "TelephoneNumber": "0161 000 0000", "Addresses": LEEDS}
    )
    account = env.make_account("Delta Foods Ltd", postcode="LS2 7EW", BillingStreet="2 Mill St", Phone="0161 999 9999")
    env.sync_customers()
    assert env.books_id(account) == "DELTA1"
    phone = env.books_customer("DELTA1").phone
    if policy == "skip":
        assert phone == "0161 000 0000"
        assert env.audits("duplicate_skipped") == 1
        assert env.account(account)["Phone"] == "0161 999 9999"
    else:
        assert phone == "0161 999 9999"
    assert len(list(kf.list("customers"))) == 1


def test_an_approval_may_choose_what_the_link_writes(env: SyncEnv) -> None:
    account = _unsure_pair(env)
    env.sync_customers()
    [pending] = review.find(env.ledger)
    with pytest.raises(review.ReviewError):
        review.decide(env.ledger, pending.id, approve=False, user="alice", action="update")
    review.decide(env.ledger, pending.id, approve=True, user="alice", action="update")
    assert customer_sync.replay(account).get_result()["status"] == "synced"
    moved = env.books_customer("GAMMA1")  # the Account's values won: it is the incoming record
    assert moved.name == "Gamma Industries Ltd"
    assert moved.billing_address is not None and moved.billing_address.postcode == "BS1 4DJ"


def test_a_new_books_customer_is_linked_to_the_account_it_matches(env: SyncEnv) -> None:
    _kf(env).client.create_customer({"Code": "EPS01", "Name": "Epsilon Ltd", "Addresses": LEEDS})
    account = env.make_account("Epsilon Limited", postcode="LS2 7EW", BillingStreet="2 Mill St")  # not synced yet
    assert customer_sync.replay("EPS01").get_result()["status"] == "synced"  # the books' side runs first
    assert env.books_id(account) == "EPS01"
    matched = [e for e in env.ledger.audit_trail() if e.action == "matched"]
    assert matched and matched[0].detail["how"] == "model"
    assert len(list(env.user.query("SELECT Id FROM Account WHERE Name LIKE 'Epsilon%'"))) == 1  # no second one
    assert len(list(_kf(env).client.list("customers"))) == 1
