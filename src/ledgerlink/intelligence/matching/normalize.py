"""A canonical ``Customer`` reduced to the normalised values the comparisons and blocking keys read."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ledgerlink.model import Customer

# Legal forms and filler words that say nothing about which company it is ("Acme Ltd" is "Acme Limited").
LEGAL_WORDS = frozenset(
    [
        "ltd",
        "limited",
        "plc",
        "llp",
        "llc",
        "lp",
        "inc",
        "incorporated",
        "co",
        "company",
        "corp",
        "corporation",
        "gmbh",
        "ag",
        "sa",
        "sarl",
        "sas",
        "bv",
        "nv",
        "pty",
        "pvt",
        "the",
        "and",
        "of",
    ]
)
# Mailbox providers: a shared domain says nothing, a company domain says a lot.
FREE_MAIL_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "outlook.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.co.uk",
        "icloud.com",
        "me.com",
        "aol.com",
        "btinternet.com",
        "sky.com",
        "protonmail.com",
        "gmx.com",
        "mail.com",
    ]
)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_LEADING_NUMBER = re.compile(r"^\s*(\d+[a-z]?)\b[\s,]*")
# The last word of a street line, abbreviated as people type it ("1 High St" is "1 High Street").
_STREET_TYPES = {
    "st": "street", "rd": "road", "ave": "avenue", "av": "avenue", "ln": "lane", "dr": "drive", "cl": "close",
    "cres": "crescent", "pl": "place", "sq": "square", "ct": "court", "gdns": "gardens", "tce": "terrace",
}  # fmt: skip


def fold(text: str | None) -> str:
    """Lower case, accents off, punctuation to spaces, single spaces."""
    if not text:
        return ""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(_NON_ALNUM.sub(" ", ascii_text.casefold().replace("&", " and ")).split())


def name_tokens(name: str | None) -> tuple[str, ...]:
    tokens = [t for t in fold(name).split() if t not in LEGAL_WORDS]
    return tuple(tokens) if tokens else tuple(fold(name).split())


def digits(text: str | None) -> str:
    return "".join(ch for ch in text or "" if ch.isdigit())


def normal_phone(phone: str | None) -> str:
    # The last nine digits survive country codes and trunk zeros (+44 20 7946 0000 vs 020 7946 0000).
    number = digits(phone)
    return number[-9:] if len(number) >= 6 else ""


def normal_postcode(postcode: str | None) -> str:
    return "".join(fold(postcode).split()).upper()


def normal_email(email: str | None) -> str:
    email = (email or "").strip().casefold()
    return email if "@" in email else ""


def website_domain(website: str | None) -> str:
    text = (website or "").strip().casefold()
    text = re.sub(r"^[a-z]+://", "", text).split("/")[0].split(":")[0]
    return text.removeprefix("www.")


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """What the matcher compares. Empty strings mean "not given", which counts as neither agreement nor not."""

    id: str
    name: str  # folded, legal words removed, tokens in their order
    name_sorted: str  # the same tokens sorted, so "Green Mitchell" meets "Mitchell Green"
    email: str
    email_domain: str  # a company's own domain only; free-mail domains are dropped
    phone: str
    postcode: str
    street_number: str
    street: str
    locality: str  # the second and later address lines
    city: str
    region: str
    vat: str
    web_domain: str


def _address_parts(customer: Customer) -> tuple[str, str, str, str, str, str]:
    address = customer.billing_address or customer.shipping_address
    if address is None:
        return "", "", "", "", "", ""
    first = fold(address.lines[0]) if address.lines else ""
    number = ""
    found = _LEADING_NUMBER.match(first)
    if found:
        number, first = found.group(1), first[found.end() :]
    words = first.split()
    if words and words[-1] in _STREET_TYPES:
        first = " ".join([*words[:-1], _STREET_TYPES[words[-1]]])
    locality = fold(" ".join(address.lines[1:]))
    return number, first, locality, fold(address.city), fold(address.region), normal_postcode(address.postcode)


def to_match_record(record_id: str, customer: Customer) -> MatchRecord:
    tokens = name_tokens(customer.name)
    emails = [customer.email, *(c.email for c in customer.contacts)]
    email = next((normal_email(e) for e in emails if normal_email(e)), "")
    phones = [customer.phone, *(c.phone for c in customer.contacts)]
    phone = next((normal_phone(p) for p in phones if normal_phone(p)), "")
    domain = email.rpartition("@")[2]
    number, street, locality, city, region, postcode = _address_parts(customer)
    return MatchRecord(
        id=record_id,
        name=" ".join(tokens),
        name_sorted=" ".join(sorted(tokens)),
        email=email,
        email_domain="" if domain in FREE_MAIL_DOMAINS else domain,
        phone=phone,
        postcode=postcode,
        street_number=number,
        street=street,
        locality=locality,
        city=city,
        region=region,
        vat=fold(customer.vat_number).replace(" ", "").upper(),
        web_domain=website_domain(customer.website),
    )
