"""Seed Salesforce Accounts with one Contact each, fast: Bulk API 2.0 through ``SalesforceClient.write`` (sObject
Collections below its threshold). The data is a function of the count alone, so two sandboxes seeded with the
same count hold the same records (a fresh copy for each side of a comparison)."""

from __future__ import annotations

import time
from typing import Any

from ledgerlink.connections.build import build_crm

CODE_PREFIX = "BF"
CITIES = (("Leeds", "LS1 4AP"), ("Bristol", "BS1 5TR"), ("York", "YO1 7HH"), ("Bath", "BA1 1LZ"))


def code(i: int) -> str:
    return f"{CODE_PREFIX}{i:06d}"


def account(i: int) -> dict[str, Any]:
    city, postcode = CITIES[i % len(CITIES)]
    return {
        "Name": f"Backfill Trading {i:06d} Ltd",
        "ExternalID__c": code(i),
        "BillingStreet": f"{i % 500 + 1} High Street",
        "BillingCity": city,
        "BillingPostalCode": postcode,
        "BillingCountry": "United Kingdom",
        "Phone": f"0113 496 {i % 10000:04d}",
    }


def contact(i: int, account_id: str) -> dict[str, Any]:
    return {
        "AccountId": account_id,
        "FirstName": "Sam",
        "LastName": f"Owner{i:06d}",
        "Email": f"sam.owner{i:06d}@backfill.example",
    }


def seed_accounts(spec: dict[str, Any], count: int, *, chunk: int = 25_000) -> float:
    """``count`` Accounts, each with one Contact; returns the seconds it took. Written in chunks so the seeding
    itself does not hold 100,000 records in memory at once."""
    started = time.perf_counter()
    sf = build_crm(spec, client_tag="benchmark-seed")
    try:
        for start in range(0, count, chunk):
            indices = range(start, min(count, start + chunk))
            results = sf.write("Account", "insert", [account(i) for i in indices])
            ids = [r.id for r in results]
            if not all(r.success for r in results) or None in ids:
                raise RuntimeError(f"seeding Accounts failed: {next(r.errors for r in results if not r.success)}")
            contacts = [contact(i, str(ids[n])) for n, i in enumerate(indices)]
            failed = [r for r in sf.write("Contact", "insert", contacts) if not r.success]
            if failed:
                raise RuntimeError(f"seeding Contacts failed: {failed[0].errors}")
    finally:
        sf.close()
    return time.perf_counter() - started
