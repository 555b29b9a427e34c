"""From nothing to the first invoice, as a new user goes (issue 18): `ledgerlink init --yes` against the sandboxes
(connections into the vault and tested, `salesforce check`, flows proposed, settings file written), a won deal
in Salesforce, then `ledgerlink worker` until the invoice is in KashFlow. Every step is a fresh process, as typed.

    python benchmarks/first_invoice.py [--json PATH]

Phases: init (its process, start to exit), worker (start of its process to the invoice seen in the books).
Baseline from the same run: `ledgerlink --help` (what any command costs before it does anything on this machine:
interpreter, imports, plugin discovery). The Autonoly page claims 18 minutes for its set-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._sandboxes import SandboxProcesses, start

CLI = [sys.executable, "-m", "ledgerlink.cli"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LEDGERLINK_")}


def _won_deal(spec: dict[str, object]) -> str:
    from ledgerlink.connections.build import build_crm

    user = build_crm(spec, client_tag="benchmark-user")
    try:
        account = user.create("Account", {"Name": "First Ltd", "BillingCountry": "United Kingdom"})
        product = user.create("Product2", {"Name": "Widget", "ProductCode": "FI-1", "IsActive": True})
        book = next(iter(user.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")))["Id"]
        entry = user.create(
            "PricebookEntry", {"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 10, "IsActive": True}
        )
        opp = user.create(
            "Opportunity",
            {"Name": "First deal", "StageName": "Prospecting", "CloseDate": "2026-12-01", "AccountId": account},
        )
        user.create(
            "OpportunityLineItem", {"OpportunityId": opp, "PricebookEntryId": entry, "Quantity": 1, "UnitPrice": 10}
        )
        user.update("Opportunity", opp, {"StageName": "Closed Won"})
        return str(opp)
    finally:
        user.close()


def _invoiced(spec: dict[str, object], deal: str) -> bool:
    from ledgerlink.connections.build import build_accounting

    books = build_accounting(spec)
    try:
        return any(i.get("CustomerReference") == deal for i in books.client.list("invoices"))  # type: ignore[attr-defined]
    finally:
        books.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        boxes = SandboxProcesses({s: start(s, work / "sandboxes", tls=False) for s in ("salesforce", "kashflow")})
        try:
            t0 = time.monotonic()
            subprocess.run([*CLI, "--help"], capture_output=True, check=True, env=_env(), cwd=work)
            cli_start = time.monotonic() - t0

            connections = boxes.write_connections(work / "connections.jsonl")
            t0 = time.monotonic()
            init = subprocess.run(
                [*CLI, "init", "--yes", "--connections-file", str(connections), "--data-dir", str(work / "data")],
                capture_output=True, text=True, env=_env(), cwd=work,
            )  # fmt: skip
            init_seconds = time.monotonic() - t0
            if init.returncode != 0:
                raise SystemExit(f"init failed: {init.stderr}")
            deal = _won_deal(boxes["salesforce"].spec)

            t0 = time.monotonic()
            worker = subprocess.Popen(
                [*CLI, "worker", "--poll-interval", "1", "--lag", "0", "--executor-id", "bench"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(), cwd=work,
            )  # fmt: skip
            try:
                while not _invoiced(boxes["kashflow"].spec, deal):
                    if time.monotonic() - t0 > 300:
                        raise SystemExit("no invoice within 300 s")
                    time.sleep(0.2)
                worker_seconds = time.monotonic() - t0
            finally:
                worker.terminate()
                worker.wait(timeout=60)
        finally:
            boxes.stop()
    result = {
        "cli_start_seconds": round(cli_start, 2),
        "init_seconds": round(init_seconds, 2),
        "worker_to_invoice_seconds": round(worker_seconds, 2),
        "total_seconds": round(init_seconds + worker_seconds, 2),
        "autonoly_claim_seconds": 18 * 60,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
