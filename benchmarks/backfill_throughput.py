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
calls included). CPU per record is each side's own (this process) and, apart, its two sandbox processes'
(``/proc``): on this machine they share the cores, so each side's rate is bounded by the smaller of its CPU
ceiling (cores ÷ both CPU figures) and its books calls (8 in flight ÷ latency ÷ calls per record), printed with
the share of that bound reached. Both sides are checked afterwards: KashFlow must hold every customer. Targets
(issue 22): LedgerLink at least 2× the 8-thread script and 80% of 8 ÷ latency.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import requests
from simple_salesforce import Salesforce

sys.path.insert(0, str(Path(__file__).parent))
from _sandboxes import SandboxProcesses, sandboxes
from _seed import seed_accounts

TARGET_RATIO = 2.0  # against the 8-thread script
TARGET_OF_LIMIT = 0.8  # of concurrency ÷ latency


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


def _salesforce(sf_spec: dict[str, Any]) -> Salesforce:
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
    return Salesforce(
        instance_url=token["instance_url"], session_id=token["access_token"], session=session, version="59.0"
    )


SCRIPT_SOQL = (
    "SELECT Id, Name, ExternalID__c, Phone, BillingStreet, BillingCity, BillingPostalCode, BillingCountry, "
    "(SELECT FirstName, LastName, Email FROM Contacts) FROM Account"
)


def _backfill_one(kf: httpx.Client, headers: dict[str, str], account: dict[str, Any]) -> bool:
    """``GET /customers/{code}``, then ``POST /customers`` when missing. True when it created one."""
    found = kf.get(f"customers/{account['ExternalID__c']}", headers=headers)
    if found.status_code == 404:
        kf.post("customers", json=_customer_payload(account), headers=headers).raise_for_status()
        return True
    found.raise_for_status()
    return False


def run_script(sf_spec: dict[str, Any], kf_spec: dict[str, Any], threads: int = 1) -> tuple[int, int]:
    """The script's backfill: one record at a time (``threads`` 1), or the same per-record calls on a pool of
    ``threads`` (what a competent engineer writes in an afternoon: the reader feeds the pool as it pages, at most
    ``2 × threads`` records waiting). Returns (accounts read, customers created)."""
    sf = _salesforce(sf_spec)
    limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
    read = created = 0
    with httpx.Client(
        base_url=kf_spec["base_url"] + "/", verify=kf_spec["ca_file"], trust_env=False, limits=limits, timeout=60
    ) as kf:
        headers = {"Authorization": f"KfToken {_kashflow_login(kf, kf_spec['credentials'])}"}
        if threads == 1:
            for account in sf.query_all_iter(SCRIPT_SOQL):
                read += 1
                created += _backfill_one(kf, headers, account)
            return read, created
        waiting: set[Future[bool]] = set()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for account in sf.query_all_iter(SCRIPT_SOQL):
                read += 1
                if len(waiting) >= 2 * threads:
                    done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                    created += sum(f.result() for f in done)
                waiting.add(pool.submit(_backfill_one, kf, headers, account))
            created += sum(f.result() for f in waiting)
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

CONCURRENCY = 8  # books calls in flight at once, on both sides: the script's pool, LedgerLink's BooksCreates.WRITERS
SCRIPT_THREADED = f"script, {CONCURRENCY} threads"
SCRIPT_SEQUENTIAL = "script, sequential"


def _cpu_seconds() -> float:
    """This process's CPU (user + system): the side being measured runs here; the sandboxes do not."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _phase(name: str, records: int, latency_ms: float, data_dir: Path) -> Figures:
    with sandboxes(data_dir / "sandboxes") as boxes:
        seed_seconds = seed_accounts(boxes["salesforce"].spec, records)
        boxes.set_latency(latency_ms)
        load = os.getloadavg()[0]
        cpu_before, sandbox_cpu_before = _cpu_seconds(), boxes.cpu_seconds()
        if name == "LedgerLink":
            result = run_ledgerlink(boxes, data_dir / "ledgerlink")
            seconds, calls = result["seconds"], result["calls"]
            detail = {"outcome": result["outcome"], "seed_seconds": round(seed_seconds, 1)}
        else:
            threads = CONCURRENCY if name == SCRIPT_THREADED else 1
            before = boxes.calls()
            started = time.perf_counter()
            read, created = run_script(boxes["salesforce"].spec, boxes["kashflow"].spec, threads)
            seconds = time.perf_counter() - started
            after = boxes.calls()
            calls = {k: after[k] - before[k] for k in after}
            detail = {"read": read, "created": created, "seed_seconds": round(seed_seconds, 1)}
        detail["cpu_ms_per_record"] = round(1000 * (_cpu_seconds() - cpu_before) / records, 2)  # this process only
        # What serving this side's calls cost the two emulators: on this machine they share the cores with the side
        # measured, so it bounds both sides' rate (``ceiling``: every core busy with this side and its sandboxes).
        detail["sandbox_cpu_ms_per_record"] = round(1000 * (boxes.cpu_seconds() - sandbox_cpu_before) / records, 2)
        detail["load_1min"] = [round(load, 2), round(os.getloadavg()[0], 2)]  # before, after: this machine is shared
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


def cpu_ceiling(f: Figures) -> float:
    """Records a second this machine could reach for this side if its CPU were the only limit: every core busy
    with the side's own work and its sandboxes' (PostgreSQL and the OS not counted)."""
    per_record_ms = f.detail["cpu_ms_per_record"] + f.detail["sandbox_cpu_ms_per_record"]
    return (os.cpu_count() or 1) * 1000 / per_record_ms if per_record_ms else float("inf")


def latency_bound(f: Figures, latency_ms: float) -> float:
    """Records a second the books calls allow: CONCURRENCY calls in flight, each one latency long, this side's
    books calls per record."""
    calls = f.kashflow_calls / f.records
    return CONCURRENCY * 1000 / (latency_ms * calls) if latency_ms and calls else float("inf")


def report(figures: list[Figures], latency_ms: float) -> tuple[str, dict[str, float]]:
    lines = [
        f"Backfill of Accounts + Contacts → KashFlow customers, {latency_ms:g} ms latency per call on both sandboxes, "
        f"{CONCURRENCY} books calls at once on both sides ({os.cpu_count()} cores, Python {platform.python_version()})",
        "",
        f"{'method':<22}{'records':>9}{'seconds':>10}{'records/s':>11}{'SF calls':>10}{'KF calls':>10}"
        f"{'calls/rec':>11}{'in KF':>9}{'CPU ms/rec':>12}{'sandboxes':>11}{'CPU cap/s':>11}{'load':>12}",
    ]
    for f in figures:
        load = "→".join(f"{x:.1f}" for x in f.detail["load_1min"])
        lines.append(
            f"{f.method:<22}{f.records:>9,}{f.seconds:>10.1f}{f.records_per_second:>11,.1f}{f.salesforce_calls:>10,}"
            f"{f.kashflow_calls:>10,}{f.calls_per_record:>11.3f}{f.customers_in_kashflow:>9,}"
            f"{f.detail['cpu_ms_per_record']:>12.2f}{f.detail['sandbox_cpu_ms_per_record']:>11.2f}"
            f"{cpu_ceiling(f):>11,.0f}{load:>12}"
        )
    by = {f.method: f for f in figures}
    ours = by["LedgerLink"].records_per_second
    limit = CONCURRENCY / (latency_ms / 1000) if latency_ms else float("inf")
    ratios = {"vs_threaded": ours / by[SCRIPT_THREADED].records_per_second, "of_limit": ours / limit}
    lines.append(
        f"\nLedgerLink / {SCRIPT_THREADED}: {ratios['vs_threaded']:.2f}× (target ≥ {TARGET_RATIO:g}×): "
        f"{'met' if ratios['vs_threaded'] >= TARGET_RATIO else 'NOT met'}"
    )
    if SCRIPT_SEQUENTIAL in by:
        ratios["vs_sequential"] = ours / by[SCRIPT_SEQUENTIAL].records_per_second
        lines.append(f"LedgerLink / {SCRIPT_SEQUENTIAL}: {ratios['vs_sequential']:.1f}×")
    lines.append(
        f"LedgerLink / the limit {CONCURRENCY} ÷ {latency_ms:g} ms = {limit:,.0f} creates/s: {ratios['of_limit']:.0%} "
        f"(target ≥ {TARGET_OF_LIMIT:.0%}): {'met' if ratios['of_limit'] >= TARGET_OF_LIMIT else 'NOT met'}"
    )
    for f in (by["LedgerLink"], by[SCRIPT_THREADED]):
        cpu, calls = cpu_ceiling(f), latency_bound(f, latency_ms)
        lines.append(
            f"{f.method}: bound here {min(cpu, calls):,.0f}/s ({'CPU' if cpu < calls else 'books calls'}: CPU ceiling "
            f"{cpu:,.0f}/s on {os.cpu_count()} cores shared with its sandboxes, books calls {calls:,.0f}/s); "
            f"reached {f.records_per_second / min(cpu, calls):.0%}"
        )
    return "\n".join(lines), ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument(
        "--sequential-records", type=int, default=1_000, help="records for the sequential script (0: skip it)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    phases = [("LedgerLink", args.records), (SCRIPT_THREADED, args.records)]
    if args.sequential_records:
        phases.append((SCRIPT_SEQUENTIAL, min(args.sequential_records, args.records)))
    with tempfile.TemporaryDirectory(prefix="ledgerlink-backfill-") as tmp:
        figures = [_phase(name, n, args.latency_ms, Path(tmp) / f"phase{i}") for i, (name, n) in enumerate(phases)]
    text, ratios = report(figures, args.latency_ms)
    print(text)
    complete = all(f.customers_in_kashflow == f.records for f in figures)
    if not complete:
        print("INCOMPLETE: a side left customers out of KashFlow")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "benchmark": "backfill_throughput",
            "records": args.records,
            "latency_ms": args.latency_ms,
            "concurrency": CONCURRENCY,
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "ratios": {k: round(v, 3) for k, v in ratios.items()},
            "target_ratio": TARGET_RATIO,
            "target_of_limit": TARGET_OF_LIMIT,
            "results": [asdict(f) for f in figures],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
