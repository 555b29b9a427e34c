"""Golden-record matching: is this Salesforce Account a customer the books already have?

In order: the same customer code; else the same e-mail (any of the Account's contacts); else a fuzzy match of the
company name (rapidfuzz ``token_sort_ratio`` after dropping legal suffixes) at or above the threshold *and* the
same billing postcode. A name alone is never enough: "Acme Ltd" in Leeds and in Bristol are different companies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from ledgerlink.model import Customer

_SUFFIXES = re.compile(r"\b(ltd|limited|plc|llp|llc|inc|incorporated|co|company|corp|corporation|gmbh|sa|the)\b")


def normal_name(name: str) -> str:
    text = re.sub(r"[^a-z0-9 ]", " ", name.casefold().replace("&", " and "))
    return " ".join(_SUFFIXES.sub(" ", text).split())


def normal_postcode(postcode: str | None) -> str:
    return re.sub(r"\s", "", postcode or "").upper()


@dataclass(frozen=True)
class Candidate:
    id: str  # the books' customer id
    code: str
    name: str
    emails: frozenset[str]
    postcode: str

    @classmethod
    def of(cls, books_id: str, customer: Customer) -> Candidate:
        emails = {e.casefold() for e in [customer.email, *(c.email for c in customer.contacts)] if e}
        postcode = customer.billing_address.postcode if customer.billing_address else None
        return cls(books_id, customer.code, normal_name(customer.name), frozenset(emails), normal_postcode(postcode))


@dataclass(frozen=True)
class Match:
    id: str
    how: str  # code | email | name+postcode
    score: float = 100.0


def best_match(customer: Customer, candidates: Iterable[Candidate], threshold: float) -> Match | None:
    pool = list(candidates)
    code = customer.code.casefold()
    for c in pool:
        if c.code.casefold() == code:
            return Match(c.id, "code")
    mine = Candidate.of("", customer)
    if mine.emails:
        for c in pool:
            if c.emails & mine.emails:
                return Match(c.id, "email")
    if not mine.postcode:
        return None
    best: Match | None = None
    for c in pool:
        if c.postcode != mine.postcode:
            continue
        score = fuzz.token_sort_ratio(mine.name, c.name)
        if score >= threshold and (best is None or score > best.score):
            best = Match(c.id, "name+postcode", score)
    return best
