"""Field names and labels as canonical words: split ``BillingPostalCode`` / ``billing_address.zip`` into words,
then map the words people use for the same thing onto one ("zip", "postal code", "post code" → ``postcode``).

The lexicon is hand-written domain knowledge of CRM and accounting vocabulary, not fitted to any schema pair.
Phrases are replaced before single words, so "tax rate" stays a rate and "due date" does not become a date.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import TypeVar

from ledgerlink.intelligence.suggest.segment import Vocabulary

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[0-9])")
_NON_WORD = re.compile(r"[^a-z0-9]+")

# Phrases first (longest first), each to one canonical word.
PHRASES: dict[str, str] = {
    "e mail": "email",
    "email addr address": "email",
    "email addr": "email",
    "contact person": "person",
    "contact persons": "person",
    "main contact person": "person",
    "sales term": "terms",
    "sales terms": "terms",
    "tax detail": "taxtotal",
    "txn tax detail": "taxtotal",
    "nominal code": "account",
    "accounting category": "account",
    "ledger account": "account",
    "account code": "account",
    "account ref": "account",
    "email address": "email",
    "zip postal code": "postcode",
    "postal code": "postcode",
    "post code": "postcode",
    "zip code": "postcode",
    "phone number": "phone",
    "telephone number": "phone",
    # Wrapper leaves (``Fax.FreeFormNumber``): the leaf says nothing, the parent says which number.
    "free form number": "",
    "mobile number": "mobile",
    "fax number": "fax",
    "web address": "website",
    "web addr": "website",
    "web site": "website",
    "home page": "website",
    "address line 1": "street",
    "address line1": "street",
    "address 1": "street",
    "line 1": "street",
    "address line 2": "street2",
    "address 2": "street2",
    "line 2": "street2",
    "street 2": "street2",
    "address line 3": "street3",
    "address 3": "street3",
    "line 3": "street3",
    "address line 4": "street4",
    "line 4": "street4",
    "state province": "region",
    "country sub division code": "region",
    "country subdivision": "region",
    "first name": "firstname",
    "given name": "firstname",
    "last name": "lastname",
    "family name": "lastname",
    # A company's name is the record's name in an organisation-type object.
    "company name": "name",
    "organisation name": "name",
    "organization name": "name",
    "business name": "name",
    "display name": "name",
    "contact name": "name",
    "tax number": "taxid",
    "tax id": "taxid",
    "tax identifier": "taxid",
    "vat number": "taxid",
    "vat registration number": "taxid",
    "tax registration number": "taxid",
    "sales tax registration number": "taxid",
    "gst no": "taxid",
    "registered number": "companynumber",
    "company number": "companynumber",
    "business number": "companynumber",
    "tax rate": "taxrate",
    "vat rate": "taxrate",
    "vat level": "taxrate",
    "tax type": "taxrate",
    "tax code": "taxrate",
    "vat status": "taxrate",
    "sales tax rate": "taxrate",
    "tax amount": "taxtotal",
    "vat amount": "taxtotal",
    "total tax": "taxtotal",
    "sales tax value": "taxtotal",
    "exchange rate": "exchangerate",
    "currency rate": "exchangerate",
    "currency code": "currency",
    "currency iso code": "currency",
    "currency ref": "currency",
    "default currency": "currency",
    "unit price": "price",
    "unit amount": "price",
    "sales price": "price",
    "cost price": "cost",
    "purchase cost": "cost",
    "wholesale price": "cost",
    "amount due": "balancedue",
    "balance due": "balancedue",
    "due value": "balancedue",
    "outstanding amount": "balancedue",
    "amount paid": "paid",
    "total paid": "paid",
    "paid value": "paid",
    "total paid amount": "paid",
    "paid date": "paidon",
    "paid on": "paidon",
    "fully paid on date": "paidon",
    "last paid": "paidon",
    "due date": "duedate",
    "due on": "duedate",
    "issued date": "date",
    "txn date": "date",
    "dated on": "date",
    "invoice date": "date",
    "doc number": "number",
    "invoice number": "number",
    "net amount": "net",
    "net value": "net",
    "sub total": "net",
    "subtotal": "net",
    "total amount": "total",
    "total amt": "total",
    "total value": "total",
    "gross amount": "total",
    "line amount": "amount",
    "line items": "line",
    "invoice items": "line",
    "invoice lines": "line",
    "payment terms": "terms",
    "payment term": "terms",
    "credit days": "terms",
    "payment terms in days": "terms",
    "default payment terms in days": "terms",
    "created at": "created",
    "created on": "created",
    "create date": "created",
    "creation date": "created",
    "date created": "created",
    "last updated": "updated",
    "last modified": "updated",
    "updated on": "updated",
    "modified on": "updated",
    "date modified": "updated",
    "write date": "updated",
    "created by": "creator",
    "last modified by": "modifier",
    "modified by": "modifier",
    "updated by": "modifier",
    "business phone": "phone",
    "bus phone": "phone",
    "work phone": "phone",
    "office phone": "phone",
    "visibility state": "status",
    "vis state": "status",
    "created date": "created",
    "create time": "created",
    "created time": "created",
    "updated at": "updated",
    "last modified date": "updated",
    "last modified time": "updated",
    "last updated time": "updated",
    "last updated date": "updated",
    "updated date utc": "updated",
    "product code": "code",
    "item code": "code",
    "stock keeping unit": "sku",
    "quantity on hand": "stock",
    "qty on hand": "stock",
    "customer ref": "customer",
    "item ref": "code",
    # A customer's own number or code (an account's number in a CRM), not a ledger account ("account code").
    "account number": "code",
    "customer number": "code",
    "customer code": "code",
    "naics code": "industry",
    "sic code": "industry",
    "po number": "reference",
    "purchase order number": "reference",
    "customer reference": "reference",
    "product ref": "code",
    "accounts receivable": "balance",
    "contact ref": "customer",
    "sales details": "sales",
    "purchase details": "purchase",
    "main address": "billing",
    "bill addr": "billing",
    "ship addr": "shipping",
    "delivery address": "shipping",
    "delivery addresses": "shipping",
    "shipping address": "shipping",
    "billing address": "billing",
    # Round 7. Geocoder-style address parts (the Google convention many CRMs store): the first-level administrative
    # area is the state or region, the route the street, the subpremise the flat or unit (the second street line).
    "administrative area level 1": "region",
    "admin area level 1": "region",
    "street number": "streetnumber",
    # Tax identifiers by their national names; a list of tax ids is the tax number; a tax group, class or
    # category is what decides the rate, as a tax code does.
    "tax ids": "taxid",
    "tax registration": "taxid",
    "tax group": "taxrate",
    "tax class": "taxrate",
    "tax category": "taxrate",
    # Amounts before and after tax, and what remains to be paid.
    "total amount excluding tax": "net",
    "total excluding tax": "net",
    "amount excluding tax": "net",
    "total excl tax": "net",
    "total ex tax": "net",
    "amount before tax": "net",
    "total amount including tax": "total",
    "total including tax": "total",
    "amount including tax": "total",
    "remaining amount": "balancedue",
    "amount remaining": "balancedue",
    "balance due amount": "balancedue",
    "open amount": "balancedue",
    "paid at": "paidon",
    "last payment date": "paidon",
    "payment date": "paidon",
    # The buyer's own order number on an invoice is its reference; so is an external document number.
    "customer purchase order number": "reference",
    "customer purchase order reference": "reference",
    "purchase order reference": "reference",
    "purchase order": "reference",
    "external document number": "reference",
    "external reference": "reference",
    # A credit note is a document of its own, not a note ("pre_payment_credit_notes_amount").
    "credit notes": "creditnote",
    "credit note": "creditnote",
    # Numbered and ranked phones: the first or primary is the phone, the second or alternate the other one.
    "primary phone": "phone",
    "phone 1": "phone",
    "phone 2": "phone2",
    "alternate phone": "phone2",
    "alternative phone": "phone2",
    "secondary phone": "phone2",
    "other phone": "phone2",
    # A flag and its negation hold the same fact: "tax exempt" is "not taxable", "tax liable" is "taxable".
    "tax exempt": "taxable",
    "tax liable": "taxable",
    "tax percent": "taxrate",
    "tax percentage": "taxrate",
    "total taxes": "taxtotal",
    "taxes amount": "taxtotal",
    "discount rate": "discount percent",
    "discount percentage": "discount percent",
    # A timestamp's "date time" only says it is a timestamp.
    "last modified date time": "updated",
    "last updated date time": "updated",
    "created date time": "created",
    "modified date time": "updated",
    "updated date time": "updated",
    # A human-facing id shown to users is the record's code, not its key.
    "display id": "code",
}
WORDS: dict[str, str] = {
    "zip": "postcode",
    "postcode": "postcode",
    "postalcode": "postcode",
    "telephone": "phone",
    "tel": "phone",
    "cell": "mobile",
    "mail": "email",
    "url": "website",
    "uri": "website",
    "web": "website",
    "town": "city",
    "suburb": "city",
    "locality": "city",
    "state": "region",
    "county": "region",
    "province": "region",
    "address1": "street",
    "address2": "street2",
    "address3": "street3",
    "line1": "street",
    "line2": "street2",
    "line3": "street3",
    "outstanding": "balance",
    "term": "terms",
    "nominal": "account",
    "expense": "purchase",
    "contact": "customer",
    "organisation": "company",
    "organization": "company",
    "forename": "firstname",
    "surname": "lastname",
    "vat": "tax",
    "gst": "tax",
    "desc": "description",
    "note": "notes",
    "memo": "notes",
    "comments": "notes",
    "comment": "notes",
    "qty": "quantity",
    "rate": "price",
    "gross": "total",
    "archived": "status",
    "removed": "status",
    "active": "status",
    "inactive": "status",
    "ship": "shipping",
    "delivery": "shipping",
    "bill": "billing",
    "addr": "address",
    "addresses": "address",
    "phones": "phone",
    "persons": "person",
    "people": "person",
    "contacts": "person",
    "lines": "line",
    "items": "item",
    "is": "",
    "the": "",
    "of": "",
    "a": "",
    "id": "id",
    "as": "",
    "naics": "industry",
    "sic": "industry",
    "supplier": "vendor",
    # Common abbreviations in accounting and CRM field names (general vocabulary, not read off any schema here).
    "amt": "amount",
    "num": "number",
    "no": "number",
    "nbr": "number",
    "cust": "customer",
    "inv": "invoice",
    "org": "company",
    "acct": "account",
    "bal": "balance",
    "ccy": "currency",
    "curr": "currency",
    "cntry": "country",
    "ctry": "country",
    "pcode": "postcode",
    "mob": "mobile",
    "ph": "phone",
    "fname": "firstname",
    "lname": "lastname",
    "descr": "description",
    "disc": "discount",
    "pct": "percent",
    "dt": "date",
    "prod": "product",
    "ref": "reference",
    "income": "sales",
    "revenue": "sales",
    "tracked": "track",
    "inventory": "stock",
    "permalink": "website",
    # A language is named three ways: "language", its short "lang", and a "locale" (language and region).
    "lang": "language",
    "locale": "language",
    "modified": "updated",
    "on": "",
    "link": "website",
    # Round 7: flags that say a record is not in use are its status, as "active"/"archived" are.
    "blocked": "status",
    "disabled": "status",
    "enabled": "status",
    "route": "street",
    "subpremise": "street2",
    "abn": "taxid",
    "ein": "taxid",
    "tin": "taxid",
    "gstin": "taxid",
    "taxes": "tax",
    "locales": "language",
    "uid": "id",
    "guid": "id",
}
# Round 12: a qualified address's numbered line (``BillingAddress1``, ``DeliveryAddress2``, ``shipping_address_2``) is
# that address's street line: "billing address" alone must not swallow the "address" that "address 2" needs (it read
# ``DeliveryAddress2`` as "shipping 2", with no street).
_QUALIFIED_ADDRESSES = (
    ("billing", "billing"), ("bill", "billing"), ("main", "billing"), ("shipping", "shipping"), ("ship", "shipping"),
    ("delivery", "shipping"),
)  # fmt: skip
_NUMBERED_LINES = (("1", "street"), ("2", "street2"), ("3", "street3"), ("4", "street4"))
for _qualifier, _as in _QUALIFIED_ADDRESSES:
    for _noun in ("address", "addr"):
        for _n, _line in _NUMBERED_LINES:
            PHRASES.setdefault(f"{_qualifier} {_noun} {_n}", f"{_as} {_line}")
_ADDRESS_WORDS = frozenset(
    {"address", "street", "street2", "street3", "street4", "city", "region", "postcode", "country"}
)
_PHRASES = sorted(PHRASES.items(), key=lambda kv: -len(kv[0]))
_STORAGE = frozenset({"decimal", "money", "cents", "string"})
# The lexicon's own words are known words: never split ("wholesale" of "wholesale price", "gstin").
_LEXICON = frozenset(w for text in (*PHRASES, *WORDS, *PHRASES.values(), *WORDS.values()) for w in text.split())


# The known words that run-together names are split into (``segment``): the model's, set by ``using``.
_VOCABULARY: ContextVar[Vocabulary | None] = ContextVar("suggest_vocabulary", default=None)


@contextmanager
def using(vocabulary: Vocabulary | None) -> Iterator[None]:
    """Within the block, names are split with ``vocabulary``'s words (None: no splitting of run-together words)."""
    token = _VOCABULARY.set(vocabulary)
    try:
        yield
    finally:
        _VOCABULARY.reset(token)


def split_words(text: str) -> str:
    """``BillingPostalCode`` → ``billing postal code``; ``Addresses[].City`` → ``addresses city``; with a vocabulary
    (``using``), ``emailaddress`` → ``email address``."""
    return _split_words(text, _VOCABULARY.get())


# A number that ends a segment with more after it (``address1_line1``, ``address2_city``) is a slot, which of several
# of the same thing, not a line number: the first slot is the thing itself, a further one its own word ("slot2").
_SLOT = re.compile(r"(?<=[A-Za-z])(\d+)(?=[_.\[][A-Za-z])")


def _slot(match: re.Match[str]) -> str:
    return "" if match[1] == "1" else f" slot{match[1]} "


R = TypeVar("R")


def _per_vocabulary(read: Callable[[str, Vocabulary | None], R]) -> Callable[[str, Vocabulary | None], R]:
    """``read(text, vocabulary)`` made once: without a vocabulary in one process-wide cache, with one in that
    vocabulary's own (``Vocabulary.remembered``), so a pair's vocabulary takes what was read with it when it goes."""
    plain = lru_cache(maxsize=65536)(lambda text: read(text, None))

    def remembered(text: str, vocabulary: Vocabulary | None) -> R:
        if vocabulary is None:
            return plain(text)
        return vocabulary.remembered(read.__name__, text, lambda t: read(t, vocabulary))

    return remembered


@_per_vocabulary
def _split_words(text: str, vocabulary: Vocabulary | None) -> str:
    text = _SLOT.sub(_slot, text)
    spaced = _CAMEL.sub(" ", text.replace("__c", " custom"))
    words = _NON_WORD.sub(" ", spaced.casefold()).split()
    if vocabulary is not None:
        words = [piece for word in words for piece in ((word,) if word in _LEXICON else vocabulary.split(word))]
    return " ".join(words)


def canonical_words(text: str) -> tuple[str, ...]:
    return _canonical_words(text, _VOCABULARY.get())


@_per_vocabulary
def _canonical_words(text: str, vocabulary: Vocabulary | None) -> tuple[str, ...]:
    # "state or province", "name and address": the conjunction only joins two words for one thing.
    phrase = f" {' '.join(w for w in _split_words(text, vocabulary).split() if w not in ('or', 'and'))} "
    for source, target in _PHRASES:
        phrase = phrase.replace(f" {source} ", f" {target} ")
    # A "1" the phrases left (``emailaddress1``: email 1) numbers the first of several: the thing itself, as phone 1 is
    # the phone; a 2 or 3 stays, a thing of its own.
    words = [WORDS.get(word, word) for word in phrase.split() if word != "1"]
    if len(words) > 1:
        # Words that say how a value is stored, not what it is (``amount_in_decimal``, ``price_money``).
        stored = {k for k, w in enumerate(words) if w in _STORAGE}
        kept = [w for k, w in enumerate(words) if k not in stored and not (w == "in" and k + 1 in stored)]
        words = kept or words
    # An address without a qualifier is the main one, which is where the bills go ("Addresses" beside
    # "DeliveryAddresses"; "address" beside "shippingAddress"; "postcode" beside "shipping_address.zip").
    if "shipping" not in words and "billing" not in words:
        at = next((i for i, word in enumerate(words) if word in _ADDRESS_WORDS), None)
        if at is not None:
            words.insert(at, "billing")
    if "purchase" in words:  # a purchase price is a cost ("PurchaseDetails.UnitPrice", "PurchaseCost")
        words = ["cost" if word == "price" else word for word in words]
    return tuple(word for word in words if word)
