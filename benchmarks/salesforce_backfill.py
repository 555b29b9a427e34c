"""API calls and time to backfill Accounts into Salesforce through LedgerLink's connector, against one REST create
per record.

    python benchmarks/salesforce_backfill.py [--records 10000] [--baseline-sample 1000] [--no-collections]
                                             [--tls] [--json PATH]

Starts a fresh Salesforce sandbox on loopback and writes ``--records`` Accounts with ``SalesforceClient.write``,
which uses Bulk API 2.0 at this size (``bulk_threshold`` 2,000), then again with Bulk disabled (sObject Collections,
200 records a call). The baseline writes ``--baseline-sample`` records with one REST create each and extrapolates
its calls and time to ``--records`` (it says so in the output). API calls are read from the sandbox's own counter
(``/__admin/api-usage``), which counts the way Salesforce counts (token requests are free).
"""

from __future__ import annotations

import argparse
import json
import platform
import ssl
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from ledgerlink.sandbox.runner import Sandbox, start_sandbox
from ledgerlink.systems.salesforce.auth import from_spec
from ledgerlink.systems.salesforce.client import SalesforceClient, SalesforceSettings

TARGET_CALLS = 60


@dataclass
class Figures:
    method: str
    records: int  # records actually written in this run
    api_calls: int
    seconds: float
    calls_per_record: float
    records_per_second: float
    extrapolated_calls: int | None = None  # for the sampled baseline: calls for the full --records
    extrapolated_seconds: float | None = None


def accounts(prefix: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "Name": f"{prefix} Account {i:05d}",
            "ExternalID__c": f"{prefix}-{i:05d}",
            "BillingStreet": f"{i} High Street",
            "BillingCity": "Leeds",
            "BillingPostalCode": "LS1 4AP",
            "BillingCountry": "United Kingdom",
            "Phone": f"0113 496 {i % 10000:04d}",
        }
        for i in range(count)
    ]


def api_used(box: Sandbox) -> int:
    ca_file = box.describe().get("ca_file")
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
    return int(httpx.get(f"{box.base_url}/__admin/api-usage", verify=verify, trust_env=False).json()["used"])


def client_for(box: Sandbox, **settings: Any) -> SalesforceClient:
    spec = box.describe()
    verify: bool | str = spec.get("ca_file") or True
    return SalesforceClient(
        SalesforceSettings(login_url=spec["base_url"], auth=from_spec(spec), verify=verify, **settings)
    )


def measure(box: Sandbox, method: str, count: int, write: Callable[[list[dict[str, Any]]], int]) -> Figures:
    records = accounts(method.split()[0], count)
    before = api_used(box)
    started = time.perf_counter()
    written = write(records)
    seconds = time.perf_counter() - started
    calls = api_used(box) - before
    if written != count:
        raise SystemExit(f"{method}: only {written} of {count} records were written")
    return Figures(method, count, calls, round(seconds, 3), round(calls / count, 4), round(count / seconds, 1))


def run(records: int, baseline_sample: int, collections: bool, tls: bool) -> list[Figures]:
    with tempfile.TemporaryDirectory() as tmp:
        box = start_sandbox("salesforce", Path(tmp), tls=tls)
        try:
            figures: list[Figures] = []

            bulk = client_for(box)  # default bulk_threshold: 2,000
            figures.append(measure(box, "bulk (write, Bulk API 2.0)", records, lambda r: _write(bulk, r)))
            bulk.close()

            if collections:
                coll = client_for(box, bulk_threshold=sys.maxsize)
                figures.append(measure(box, "collections (write, 200/call)", records, lambda r: _write(coll, r)))
                coll.close()

            single = client_for(box)
            sample = min(baseline_sample, records)
            base = measure(box, "baseline (one REST create each)", sample, lambda r: _create_each(single, r))
            single.close()
            base.extrapolated_calls = round(base.calls_per_record * records)
            base.extrapolated_seconds = round(base.seconds * records / sample, 1)
            figures.append(base)
            return figures
        finally:
            box.server.server.force_exit = True
            box.stop()


def _write(client: SalesforceClient, records: list[dict[str, Any]]) -> int:
    results = client.write("Account", "insert", records)
    return sum(r.success for r in results)


def _create_each(client: SalesforceClient, records: list[dict[str, Any]]) -> int:
    return sum(1 for record in records if client.create("Account", record))


def report(figures: list[Figures], records: int) -> str:
    lines = [
        f"Backfill of {records:,} Accounts into a fresh Salesforce sandbox ({platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()})",
        "",
        f"{'method':<34}{'records':>9}{'API calls':>11}{'calls/rec':>11}{'seconds':>10}{'records/s':>11}",
    ]
    for f in figures:
        lines.append(
            f"{f.method:<34}{f.records:>9,}{f.api_calls:>11,}{f.calls_per_record:>11.4f}{f.seconds:>10.2f}"
            f"{f.records_per_second:>11,.0f}"
        )
    for f in figures:
        if f.extrapolated_calls is not None:
            lines.append(
                f"\nThe baseline wrote a sample of {f.records:,} records; for {records:,} it would take about "
                f"{f.extrapolated_calls:,} API calls and {f.extrapolated_seconds:,.0f} s (extrapolated)."
            )
    best = figures[0]
    verdict = "met" if best.api_calls <= TARGET_CALLS else "MISSED"
    lines.append(
        f"Connector, {best.method}: {best.api_calls} API calls for {records:,} records "
        f"(target at most {TARGET_CALLS}): {verdict}."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--baseline-sample", type=int, default=1_000, help="records the per-record baseline writes")
    parser.add_argument("--no-collections", action="store_true", help="skip the sObject Collections run")
    parser.add_argument("--tls", action="store_true", help="serve the sandbox over TLS (as in production)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    figures = run(args.records, args.baseline_sample, not args.no_collections, args.tls)
    print(report(figures, args.records))
    if args.json:
        payload = {
            "records": args.records,
            "target_calls": TARGET_CALLS,
            "python": platform.python_version(),
            "results": [asdict(f) for f in figures],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if figures[0].api_calls <= TARGET_CALLS else 1


if __name__ == "__main__":
    sys.exit(main())
