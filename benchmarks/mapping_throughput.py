"""Throughput of the compiled mapping engine against hand-written Python, with JSONata for contrast.

    python benchmarks/mapping_throughput.py [--records N] [--repeat R] [--json PATH]

Generates realistic Salesforce Account dicts (as SOQL returns them, with a Contacts subquery), maps them with the
standard ``salesforce/account_to_canonical`` template, and with a hand-written function producing the same output
(checked equal), on one core. The expr-only variant evaluates the same fields through JSONata on a sample.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledgerlink.mapping import load_mapping, load_mapping_text
from ledgerlink.mapping.transforms.addresses import split_address
from ledgerlink.mapping.transforms.countries import country_to_iso
from ledgerlink.systems.registry import load_systems

FIRST = ["Ada", "Grace", "Jan", "Zoë", "José", "Mary Ann", "Li", "Olufemi", "Siobhán", "Ludwig"]
LAST = ["Lovelace", "Hopper", "van der Berg", "Álvarez", "Evans", "Wang", "Adeyemi", "O'Neill", "Beethoven"]
COMPANY = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Soylent", "Tyrell"]
SUFFIX = ["Ltd", "plc", "GmbH", "LLC", "Inc.", "BV", "SARL"]
STREETS = ["High Street", "Station Road", "Hauptstraße", "Main St", "Rue de la Paix", "Keizersgracht", "Church Lane"]
CITIES = ["London", "Leeds", "Berlin", "Boston", "Paris", "Amsterdam", "Dublin", "Glasgow"]
COUNTRIES = [
    "United Kingdom",
    "UK",
    "Germany",
    "Deutschland",
    "United States",
    "USA",
    "France",
    "Netherlands",
    "Ireland",
]


def make_accounts(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    accounts = []
    for index in range(count):
        contacts = [
            {
                "attributes": {"type": "Contact"},
                "FirstName": rng.choice(FIRST),
                "LastName": rng.choice(LAST),
                "Email": f"person{index}.{n}@example.com",
                "Phone": rng.choice([None, f"+44 20 7946 {rng.randrange(10000):04d}"]),
            }
            for n in range(rng.choice([0, 1, 1, 2]))
        ]
        has_shipping = rng.random() < 0.3
        accounts.append(
            {
                "attributes": {"type": "Account", "url": f"/services/data/v59.0/sobjects/Account/001{index:015d}"},
                "Id": f"001{index:015d}",
                "Name": f"{rng.choice(COMPANY)} {rng.choice(SUFFIX)} {index}",
                "ExternalID__c": rng.choice([f"CUST{index:06d}", f"CUST{index:06d}", ""]),
                "Phone": f"+44 20 7946 {rng.randrange(10000):04d}",
                "Website": rng.choice([None, f"https://{rng.choice(COMPANY).lower()}.example"]),
                "CurrencyIsoCode": rng.choice(["GBP", "EUR", "USD", None]),
                "BillingStreet": f"Unit {rng.randrange(1, 40)}\n{rng.randrange(1, 300)} {rng.choice(STREETS)}",
                "BillingCity": rng.choice(CITIES),
                "BillingState": rng.choice([None, "Greater London", "Bavaria"]),
                "BillingPostalCode": f"SW{rng.randrange(1, 20)} {rng.randrange(1, 9)}AA",
                "BillingCountry": rng.choice(COUNTRIES),
                "ShippingStreet": f"{rng.randrange(1, 300)} {rng.choice(STREETS)}" if has_shipping else None,
                "ShippingCity": rng.choice(CITIES) if has_shipping else None,
                "ShippingState": None,
                "ShippingPostalCode": "EC1A 1BB" if has_shipping else None,
                "ShippingCountry": rng.choice(COUNTRIES) if has_shipping else None,
                "LastModifiedDate": f"2024-0{rng.randrange(1, 10)}-1{rng.randrange(10)}T12:49:16.000+0000",
                "Contacts": {"totalSize": len(contacts), "done": True, "records": contacts} if contacts else None,
            }
        )
    return accounts


def _strip(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip() or None
    return value


def _address(record: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    address: dict[str, Any] = {}
    street = record.get(f"{prefix}Street")
    if street:
        lines = split_address(street)
        if lines:
            address["lines"] = lines
    for source, target in (("City", "city"), ("State", "region"), ("PostalCode", "postcode")):
        value = _strip(record.get(f"{prefix}{source}"))
        if value:
            address[target] = value
    country = record.get(f"{prefix}Country")
    if country:
        code = country_to_iso(country)
        if code is None:
            raise ValueError(f"unknown country {country!r}")
        address["country"] = code
    return address or None


def hand_written(record: dict[str, Any]) -> dict[str, Any]:
    """What a developer would write for the same Account → Customer mapping, using the same helpers."""
    out: dict[str, Any] = {}
    code = record.get("ExternalID__c") or ""
    out["code"] = code.strip() or str(record["Id"]).strip()
    out["name"] = record["Name"].strip()
    for source, target in (("Phone", "phone"), ("Website", "website")):
        value = _strip(record.get(source))
        if value:
            out[target] = value
    currency = record.get("CurrencyIsoCode")
    if currency:
        out["currency"] = currency.upper()
    billing = _address(record, "Billing")
    if billing:
        out["billing_address"] = billing
    shipping = _address(record, "Shipping")
    if shipping:
        out["shipping_address"] = shipping
    modified = record.get("LastModifiedDate")
    if modified:
        out["modified_at"] = dt.datetime.fromisoformat(modified)
    subquery = record.get("Contacts")
    if subquery and subquery.get("records"):
        contacts = []
        for contact in subquery["records"]:
            item = {}
            for source, target in (("FirstName", "first_name"), ("LastName", "last_name"), ("Email", "email")):
                value = _strip(contact.get(source))
                if value:
                    item[target] = value
            phone = _strip(contact.get("Phone"))
            if phone:
                item["phone"] = phone
            contacts.append(item)
        out["contacts"] = contacts
    return out


EXPR_VARIANT = """
source: {system: salesforce, object: Account}
target: {system: canonical, object: Customer}
direction: to_canonical
fields:
  code: {expr: "ExternalID__c ? $trim(ExternalID__c) : Id"}
  name: {expr: "$trim(Name)"}
  phone: {expr: "Phone ? $trim(Phone)"}
  website: {expr: "Website ? $trim(Website)"}
  currency: {expr: "CurrencyIsoCode ? $uppercase(CurrencyIsoCode)"}
  billing_address: {expr: "{'lines': $split(BillingStreet, '\\n'), 'city': BillingCity, 'region': BillingState,
    'postcode': BillingPostalCode, 'country': BillingCountry}"}
  shipping_address: {expr: "ShippingStreet ? {'lines': $split(ShippingStreet, '\\n'), 'city': ShippingCity,
    'postcode': ShippingPostalCode, 'country': ShippingCountry}"}
  modified_at: {expr: "LastModifiedDate"}
  contacts: {expr: "Contacts ? [Contacts.records.{'first_name': FirstName, 'last_name': LastName, 'email': Email}]"}
"""


def seconds(function: Callable[[dict[str, Any]], Any], records: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    for record in records:
        function(record)
    return time.perf_counter() - started


def rates(functions: list[Callable[[dict[str, Any]], Any]], records: list[dict[str, Any]], repeat: int) -> list[float]:
    """Records/s of each function, best of ``repeat`` runs; runs are interleaved so load on a shared machine hits
    every variant alike."""
    best = [float("inf")] * len(functions)
    for _ in range(repeat):
        for index, function in enumerate(functions):
            best[index] = min(best[index], seconds(function, records))
    return [len(records) / b for b in best]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs per variant; the best is reported")
    parser.add_argument("--jsonata-records", type=int, default=2_000, help="sample size for the JSONata variant")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)

    load_systems()  # the templates live in each system's plugin since the plugin layout
    records = make_accounts(args.records)
    mapping = load_mapping("salesforce/account_to_canonical")
    sample = records[:1000]
    mismatches = sum(mapping.apply(r).values != hand_written(r) for r in sample)
    if mismatches:
        print(f"warning: hand-written output differs from the template on {mismatches} of {len(sample)} records")

    def compiled(record: dict[str, Any]) -> Any:
        return mapping.apply(record).values

    compiled_rate, hand_rate = rates([compiled, hand_written], records, args.repeat)
    expr_mapping = load_mapping_text(EXPR_VARIANT, "account_to_canonical (expr)")
    (jsonata_rate,) = rates([lambda r: expr_mapping.apply(r).values], records[: args.jsonata_records], 1)

    figures = {
        "template": "salesforce/account_to_canonical",
        "records": args.records,
        "compiled_records_per_second": round(compiled_rate),
        "hand_written_records_per_second": round(hand_rate),
        "compiled_vs_hand_written": round(compiled_rate / hand_rate, 3),
        "jsonata_expr_records_per_second": round(jsonata_rate),
        "jsonata_records": min(args.jsonata_records, args.records),
        "outputs_equal_on_sample": mismatches == 0,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(f"records:                {args.records:,} Salesforce Accounts (best of {args.repeat})")
    print(f"compiled template:      {compiled_rate:>12,.0f} records/s")
    print(f"hand-written Python:    {hand_rate:>12,.0f} records/s")
    print(f"ratio compiled/hand:    {compiled_rate / hand_rate:>12.2f}")
    print(f"JSONata expr variant:   {jsonata_rate:>12,.0f} records/s ({figures['jsonata_records']:,} records)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
