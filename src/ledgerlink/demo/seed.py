"""Realistic Salesforce data for the demo: accounts with contacts, a product catalogue with standard prices,
and opportunities with 1–5 line items, about 60% of them Closed Won. Deterministic for a given seed."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledgerlink.systems.salesforce.client import SalesforceClient

_PREFIXES = ["North", "Blue", "Bright", "Silver", "Oak", "Harbour", "Summit", "Red", "Green", "Iron", "Clear", "Swift"]
_CORES = ["field", "stone", "water", "bridge", "gate", "wood", "point", "view", "brook", "ridge", "lane", "mill"]
_SUFFIXES = ["Ltd", "Ltd", "LLP", "& Co", "Trading Ltd", "Group plc", "Studios", "Consulting Ltd"]
_FIRST = [
    "Amelia",
    "Oliver",
    "Isla",
    "George",
    "Ava",
    "Noah",
    "Sophia",
    "Arthur",
    "Zoë",
    "Mohammed",
    "Siân",
    "Jürgen",
    "Priya",
    "Liam",
    "Chloé",
    "Kwame",
    "Aoife",
    "Tomasz",
    "Mei",
    "Rhys",
]
_LAST = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Davies",
    "O'Neill",
    "Patel",
    "Nowak",
    "Evans",
    "Thomas",
    "Roberts",
    "van der Berg",
    "Khan",
    "MacLeod",
    "Ó Briain",
    "Lewis",
    "Walker",
    "Wright",
]
_CITIES = [
    ("London", "EC1A 1BB"),
    ("Manchester", "M1 1AE"),
    ("Bristol", "BS1 4DJ"),
    ("Leeds", "LS1 4AP"),
    ("Glasgow", "G1 1XQ"),
    ("Cardiff", "CF10 1EP"),
    ("Belfast", "BT1 5GS"),
    ("York", "YO1 7HH"),
]
_STREETS = ["High Street", "Station Road", "Church Lane", "Victoria Road", "Mill Lane", "Park Avenue", "King Street"]
_PRODUCTS = [
    ("Consulting day", "SRV-CONS", "Services", "950.00"),
    ("Implementation package", "SRV-IMPL", "Services", "4500.00"),
    ("Training session", "SRV-TRN", "Services", "650.00"),
    ("Support plan (annual)", "SUB-SUP", "Subscriptions", "1200.00"),
    ("Licence — Standard seat", "LIC-STD", "Licences", "240.00"),
    ("Licence — Pro seat", "LIC-PRO", "Licences", "480.00"),
    ("Hardware kit", "HW-KIT", "Hardware", "329.99"),
    ("Barcode scanner", "HW-SCAN", "Hardware", "149.50"),
    ("Data migration", "SRV-MIG", "Services", "1750.00"),
    ("Custom report", "SRV-RPT", "Services", "375.00"),
    ("Cloud storage 1 TB", "SUB-STO", "Subscriptions", "99.99"),
    ("Onboarding workshop", "SRV-WS", "Services", "1100.00"),
]
OPEN_STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review"]


@dataclass
class SeedSummary:
    accounts: int
    contacts: int
    products: int
    opportunities: int
    won: int
    line_items: int


def _ids(results: list[dict[str, Any]], what: str) -> list[str]:
    failures = [r for r in results if not r.get("success")]
    if failures:
        raise RuntimeError(f"seeding {what} failed: {failures[0].get('errors')}")
    return [str(r["id"]) for r in results]


def seed(
    sf: SalesforceClient, *, accounts: int = 60, opportunities: int = 220, won_share: float = 0.6, seed: int = 7
) -> SeedSummary:
    rng = random.Random(seed)
    account_rows = []
    for i in range(accounts):
        name = f"{rng.choice(_PREFIXES)}{rng.choice(_CORES)} {rng.choice(_SUFFIXES)}"
        city, postcode = rng.choice(_CITIES)
        account_rows.append(
            {
                "Name": f"{name} #{i + 1}" if i >= len(_PREFIXES) * len(_CORES) else name,
                "ExternalID__c": f"CUST-{i + 1:05d}" if i % 4 else None,  # a quarter has no external id yet
                "BillingStreet": f"{rng.randint(1, 250)} {rng.choice(_STREETS)}",
                "BillingCity": city,
                "BillingPostalCode": postcode,
                "BillingCountry": "United Kingdom",
                "Phone": f"+44 20 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
                "Website": f"https://www.{name.split()[0].lower()}.example",
            }
        )
    for row in account_rows:
        if row["ExternalID__c"] is None:
            del row["ExternalID__c"]
    account_ids = _ids(sf.create_many("Account", account_rows), "accounts")

    contact_rows = []
    for account_id in account_ids:
        named: Counter[str] = Counter()
        for _ in range(rng.randint(1, 3)):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            email_local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
            named[email_local] += 1
            if named[email_local] > 1:  # two people of one name at one company: not the same person (nor e-mail)
                email_local += str(named[email_local])
            contact_rows.append(
                {
                    "AccountId": account_id,
                    "FirstName": first,
                    "LastName": last,
                    "Email": f"{email_local.encode('ascii', 'ignore').decode()}@example.com",
                    "Phone": f"+44 7{rng.randint(100, 999)} {rng.randint(100000, 999999)}",
                }
            )
    _ids(sf.create_many("Contact", contact_rows), "contacts")

    product_rows = [
        {"Name": name, "ProductCode": code, "Family": family, "IsActive": True, "ExternalID__c": code}
        for name, code, family, _price in _PRODUCTS
    ]
    product_ids = _ids(sf.create_many("Product2", product_rows), "products")
    standard = next(iter(sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")))["Id"]
    entry_rows = [
        {"Pricebook2Id": standard, "Product2Id": pid, "UnitPrice": float(price), "IsActive": True}
        for pid, (_n, _c, _f, price) in zip(product_ids, _PRODUCTS, strict=True)
    ]
    entry_ids = _ids(sf.create_many("PricebookEntry", entry_rows), "pricebook entries")
    prices = [Decimal(p[3]) for p in _PRODUCTS]

    today = dt.date.today()
    opp_rows = []
    for i in range(opportunities):
        opp_rows.append(
            {
                "Name": f"Deal {i + 1:04d}",
                "AccountId": rng.choice(account_ids),
                "StageName": rng.choice(OPEN_STAGES),
                "CloseDate": (today - dt.timedelta(days=rng.randint(0, 60))).isoformat(),
                "Pricebook2Id": standard,
            }
        )
    opp_ids = _ids(sf.create_many("Opportunity", opp_rows), "opportunities")

    line_rows = []
    for opp_id in opp_ids:
        for index in rng.sample(range(len(_PRODUCTS)), rng.randint(1, 5)):
            quantity = rng.choice([1, 1, 1, 2, 3, 5, 10, 0.5])
            line_rows.append(
                {
                    "OpportunityId": opp_id,
                    "PricebookEntryId": entry_ids[index],
                    "Quantity": quantity,
                    "UnitPrice": float(prices[index]),
                    "Description": _PRODUCTS[index][0],
                }
            )
    _ids(sf.create_many("OpportunityLineItem", line_rows), "line items")

    won_ids = [oid for oid in opp_ids if rng.random() < won_share]
    _ids(sf.update_many("Opportunity", [{"Id": oid, "StageName": "Closed Won"} for oid in won_ids]), "stage changes")
    return SeedSummary(
        accounts=len(account_ids),
        contacts=len(contact_rows),
        products=len(product_ids),
        opportunities=len(opp_ids),
        won=len(won_ids),
        line_items=len(line_rows),
    )
