"""Backfill throughput: Salesforce Accounts (one Contact each) → KashFlow customers, with simulated network latency
on every call to both systems, through LedgerLink against the sequential script a user would write, in one run.

    python benchmarks/backfill_throughput.py [--records 10000] [--latency-ms 20] [--baseline-records N]
                                             [--json PATH]

Each side gets a fresh copy of the same data: its own pair of sandboxes (Salesforce over TLS, KashFlow over TLS),
each sandbox in a process of its own so that neither LedgerLink nor the script shares a GIL with the emulators,
seeded with ``--records`` Accounts and Contacts (Bulk API 2.0), then ``latency_ms`` set on both
(``PUT /__admin/faults``: every API request waits that long before it is served).

- LedgerLink: ``customer_sync`` full backfill (watermark reset, then ``poll(lag_seconds=0)``: the same run as
  ``ledgerlink sync customer_sync --full``), durable as always: DBOS on SQLite plus the ledger. Timed from the
  start of the run to its result, including its second and third passes (Contacts changed, then the customers
  now in KashFlow, which it settles back against Salesforce). Engine start-up is not timed.
- Baseline: simple-salesforce (``query_all_iter`` of Accounts with their Contacts) and httpx to KashFlow, one
  record at a time: ``GET /customers/{code}``, ``POST /customers`` when missing. Its login is timed.

API calls are read from each sandbox's own counters: Salesforce ``/__admin/api-usage`` (OAuth free, as
Salesforce counts) and KashFlow ``/__admin/ratelimit`` ``allowed`` (every request it admitted, the two login
calls included). Both sides are checked afterwards: KashFlow must hold every customer. Target: LedgerLink at
least 5× the script's records per second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import requests
from simple_salesforce import Salesforce

sys.path.insert(0, str(Path(__file__).parent))
from _sandboxes import SandboxProcesses, sandboxes
from _seed import seed_accounts

TARGET_RATIO = 5.0


@dataclass
class Figures:
    method: str
    records: int
    seconds: float
    records_per_second: float
    salesforce_calls: int
    kashflow_calls: int
    calls_per_record: float
    customers_in_kashflow: int
    detail: dict[str, Any]


def kashflow_customers(box: Any) -> int:
    """How many customers KashFlow holds (read after the timed part; these calls are not counted)."""
    spec = box.spec
    with httpx.Client(base_url=spec["base_url"] + "/", verify=spec["ca_file"], trust_env=False, timeout=30) as http:
        token = _kashflow_login(http, spec["credentials"])
        body = http.get("customers", params={"perpage": 1}, headers={"Authorization": f"KfToken {token}"}).json()
        return int(body["MetaData"]["TotalRecords"])


def _kashflow_login(http: httpx.Client, creds: dict[str, str]) -> str:
    first = http.post("sessiontoken", json={"UserName": creds["username"], "Password": creds["password"]})
    first.raise_for_status()
    body = first.json()
    word = creds["memorable_word"]
    letters = [{"Position": p["Position"], "Value": word[int(p["Position"]) - 1]} for p in body["MemorableWordList"]]
    second = http.put("sessiontoken", json={"TemporaryToken": body["TemporaryToken"], "MemorableWordList": letters})
    second.raise_for_status()
    return str(second.json()["SessionToken"])


# --- the baseline: what a user would write ------------------------------------------------------------------


def _customer_payload(account: dict[str, Any]) -> dict[str, Any]:
    contacts = (account.get("Contacts") or {}).get("records") or []
    return {
        "Code": account["ExternalID__c"],
        "Name": account["Name"],
        "TelephoneNumber": account.get("Phone"),
        "Email": contacts[0].get("Email") if contacts else None,
        "Addresses": [
            {
                "Line1": account.get("BillingStreet"),
                "Line3": account.get("BillingCity"),
                "PostCode": account.get("BillingPostalCode"),
                "CountryName": account.get("BillingCountry"),
            }
        ],
        "Contacts": [
            {"FirstName": c.get("FirstName"), "LastName": c.get("LastName"), "Email": c.get("Email")} for c in contacts
        ],
    }


def run_script(sf_spec: dict[str, Any], kf_spec: dict[str, Any]) -> tuple[int, int]:
    """Sequential backfill, one record at a time. Returns (accounts read, customers created)."""
    creds = sf_spec["credentials"]
    session = requests.Session()
    session.verify = sf_spec["ca_file"]
    session.trust_env = False  # this machine sets REQUESTS_CA_BUNDLE; the sandbox has its own CA
    token = session.post(
        sf_spec["base_url"] + creds["login_path"],
        data={
            "grant_type": "password",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "username": creds["username"],
            "password": creds["password"],
        },
    ).json()
    sf = Salesforce(
        instance_url=token["instance_url"], session_id=token["access_token"], session=session, version="59.0"
    )
    soql = (
        "SELECT Id, Name, ExternalID__c, Phone, BillingStreet, BillingCity, BillingPostalCode, BillingCountry, "
        "(SELECT FirstName, LastName, Email FROM Contacts) FROM Account"
    )
    read = created = 0
    with httpx.Client(base_url=kf_spec["base_url"] + "/", verify=kf_spec["ca_file"], trust_env=False) as kf:
        headers = {"Authorization": f"KfToken {_kashflow_login(kf, kf_spec['credentials'])}"}
        for account in sf.query_all_iter(soql):
            read += 1
            code = account["ExternalID__c"]
            found = kf.get(f"customers/{code}", headers=headers)
            if found.status_code == 404:
                kf.post("customers", json=_customer_payload(account), headers=headers).raise_for_status()
                created += 1
            else:
                found.raise_for_status()
    return read, created


# --- LedgerLink ---------------------------------------------------------------------------------------------


def run_ledgerlink(boxes: SandboxProcesses, data_dir: Path) -> dict[str, Any]:
    from ledgerlink.bootstrap import engine_settings, open_runtime
    from ledgerlink.engine import runtime as engine
    from ledgerlink.flows import customer_sync

    settings = engine_settings(data_dir)
    runtime = open_runtime(settings, boxes["salesforce"].spec, boxes["kashflow"].spec)
    try:
        runtime.ledger.set_watermark(customer_sync.WATERMARK, "")  # what `ledgerlink sync --full` does
        before = boxes.calls()
        started = time.perf_counter()
        outcome = engine.wait_for(customer_sync.poll(lag_seconds=0)[0])
        seconds = time.perf_counter() - started
        after = boxes.calls()
    finally:
        engine.stop()
    return {"outcome": dict(outcome), "seconds": seconds, "calls": {k: after[k] - before[k] for k in after}}


# --- the comparison -----------------------------------------------------------------------------------------


def _phase(name: str, records: int, latency_ms: float, data_dir: Path) -> Figures:
    with sandboxes(data_dir / "sandboxes") as boxes:
        seed_seconds = seed_accounts(boxes["salesforce"].spec, records)
        boxes.set_latency(latency_ms)
        if name == "ledgerlink":
            result = run_ledgerlink(boxes, data_dir / "ledgerlink")
            seconds, calls = result["seconds"], result["calls"]
            detail = {"outcome": result["outcome"], "seed_seconds": round(seed_seconds, 1)}
        else:
            before = boxes.calls()
            started = time.perf_counter()
            read, created = run_script(boxes["salesforce"].spec, boxes["kashflow"].spec)
            seconds = time.perf_counter() - started
            after = boxes.calls()
            calls = {k: after[k] - before[k] for k in after}
            detail = {"read": read, "created": created, "seed_seconds": round(seed_seconds, 1)}
        boxes.set_latency(0)
        in_books = kashflow_customers(boxes["kashflow"])
    total = calls["salesforce"] + calls["kashflow"]
    return Figures(
        method=name,
        records=records,
        seconds=round(seconds, 2),
        records_per_second=round(records / seconds, 1),
        salesforce_calls=calls["salesforce"],
        kashflow_calls=calls["kashflow"],
        calls_per_record=round(total / records, 3),
        customers_in_kashflow=in_books,
        detail=detail,
    )


def report(figures: list[Figures], latency_ms: float) -> tuple[str, float]:
    lines = [
        f"Backfill of {figures[0].records:,} Accounts + Contacts → KashFlow customers, {latency_ms:g} ms latency per "
        f"call on both sandboxes ({os.cpu_count()} cores, Python {platform.python_version()})",
        "",
        f"{'method':<26}{'records':>9}{'seconds':>10}{'records/s':>11}{'SF calls':>10}{'KF calls':>10}"
        f"{'calls/rec':>11}{'in KF':>9}",
    ]
    for f in figures:
        lines.append(
            f"{f.method:<26}{f.records:>9,}{f.seconds:>10.1f}{f.records_per_second:>11,.1f}{f.salesforce_calls:>10,}"
            f"{f.kashflow_calls:>10,}{f.calls_per_record:>11.3f}{f.customers_in_kashflow:>9,}"
        )
    ledgerlink, script = figures
    ratio = ledgerlink.records_per_second / script.records_per_second
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    lines.append(f"\nLedgerLink / script throughput: {ratio:.1f}× (target ≥ {TARGET_RATIO:g}×): {verdict}")
    return "\n".join(lines), ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ledgerlink-backfill-") as tmp:
        figures = [_phase(name, args.records, args.latency_ms, Path(tmp) / name) for name in ("ledgerlink", "script")]
    text, ratio = report(figures, args.latency_ms)
    print(text)
    complete = all(f.customers_in_kashflow == args.records for f in figures)
    if not complete:
        print("INCOMPLETE: a side left customers out of KashFlow")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "benchmark": "backfill_throughput",
            "records": args.records,
            "latency_ms": args.latency_ms,
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "ratio": round(ratio, 2),
            "target_ratio": TARGET_RATIO,
            "results": [asdict(f) for f in figures],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
