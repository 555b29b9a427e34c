"""Going live in steps, as a new user does, through the command line against the sandboxes over HTTP:
`ledgerlink init` with flags, `sync --limit N --dry-run` (writes nothing), `sync --limit N` (writes N), then
`ledgerlink worker` invoices a won deal; `salesforce check` names a field the org lacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledgerlink.connections.build import build_accounting, build_crm
from ledgerlink.sandbox.runner import SandboxSet, start_sandbox, start_sandboxes
from tests.flows.conftest import CLOSE_DATE


def _cli(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERLINK_")}
    return subprocess.run(
        [sys.executable, "-m", "ledgerlink.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


@pytest.fixture
def sandboxes(tmp_path: Path) -> Iterator[SandboxSet]:
    running = start_sandboxes(["salesforce", "kashflow"], tmp_path / "sandboxes")
    try:
        yield running
    finally:
        running.stop()


def _won_deals(sandboxes: SandboxSet, count: int) -> list[str]:
    user = build_crm(sandboxes["salesforce"].describe(), client_tag="test-user")
    try:
        account = user.create("Account", {"Name": "Go Live Ltd", "BillingCountry": "United Kingdom"})
        product = user.create("Product2", {"Name": "Widget", "ProductCode": "GL-1", "IsActive": True})
        book = next(iter(user.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")))["Id"]
        entry = user.create(
            "PricebookEntry", {"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 10, "IsActive": True}
        )
        deals = []
        for n in range(count):
            opp = user.create(
                "Opportunity",
                {
                    "Name": f"Deal {n}",
                    "StageName": "Prospecting",
                    "CloseDate": CLOSE_DATE.isoformat(),
                    "AccountId": account,
                },
            )
            user.create(
                "OpportunityLineItem", {"OpportunityId": opp, "PricebookEntryId": entry, "Quantity": 1, "UnitPrice": 10}
            )
            user.update("Opportunity", opp, {"StageName": "Closed Won"})
            deals.append(opp)
        return deals
    finally:
        user.close()


def _invoices(sandboxes: SandboxSet) -> list[dict[str, Any]]:
    books = build_accounting(sandboxes["kashflow"].describe())
    try:
        return list(books.client.list("invoices"))  # type: ignore[attr-defined]
    finally:
        books.close()


def _init(tmp_path: Path, sandboxes: SandboxSet, *extra: str) -> subprocess.CompletedProcess[str]:
    specs = tmp_path / "connections.jsonl"
    specs.write_text("\n".join(json.dumps(box.describe()) for box in sandboxes.sandboxes.values()))
    return _cli(
        "init", "--yes", "--connections-file", str(specs), "--settings", "ledgerlink.toml",
        "--data-dir", str(tmp_path / "data"), *extra, cwd=tmp_path,
    )  # fmt: skip


def test_init_with_flags_then_the_worker_invoices_a_won_deal(tmp_path: Path, sandboxes: SandboxSet) -> None:
    started = time.monotonic()
    done = _init(tmp_path, sandboxes)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["connections"] == {"crm": "salesforce", "accounting": "kashflow"}
    assert "opportunity_to_invoice" in summary["flows_on"] and "order_to_invoice" not in summary["flows_on"]
    assert "connection salesforce: ok" in done.stderr and "connection kashflow: ok" in done.stderr
    assert "All present: every custom object and field LedgerLink's flows use is in the org." in done.stdout
    settings = (tmp_path / "ledgerlink.toml").read_text()
    assert 'crm = "salesforce"' in settings and "password" not in settings.lower()
    assert _cli("config", "check", "--settings", "ledgerlink.toml", cwd=tmp_path).returncode == 0

    initialised = time.monotonic() - started
    (deal,) = _won_deals(sandboxes, 1)
    log = (tmp_path / "worker.log").open("w")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERLINK_")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "ledgerlink.cli", "worker", "--settings", "ledgerlink.toml", "--poll-interval", "1",
         "--lag", "0", "--executor-id", "w1"],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any(i["CustomerReference"] == deal for i in _invoices(sandboxes)):
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        assert any(i["CustomerReference"] == deal for i in _invoices(sandboxes)), (tmp_path / "worker.log").read_text()
        print(f"from nothing to the first invoice: {elapsed:.1f} s (init {initialised:.1f} s, then a won deal, worker)")
        print((tmp_path / "worker.log").read_text()[-3000:])
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def test_sync_dry_run_shows_canonical_and_payload_and_writes_nothing_then_limit_writes_just_n(
    tmp_path: Path, sandboxes: SandboxSet
) -> None:
    assert _init(tmp_path, sandboxes).returncode == 0
    deals = _won_deals(sandboxes, 3)

    dry = _cli(
        "sync", "opportunity_to_invoice", "--limit", "2", "--dry-run", "--settings", "ledgerlink.toml", cwd=tmp_path
    )
    assert dry.returncode == 0, dry.stderr
    rows = [json.loads(line) for line in dry.stdout.splitlines() if line.startswith("{")]
    assert [r["id"] for r in rows] == deals[:2]
    for row in rows:
        assert row["status"] == "would_invoice"
        assert row["canonical"]["reference"] == row["id"]
        assert row["canonical"]["lines"][0]["product_code"] == "GL-1"
        payload = row["target"]["payload"]
        assert row["target"]["system"] == "kashflow" and payload["CustomerReference"] == row["id"]
        assert payload["LineItems"][0]["Rate"] == 10
    assert _invoices(sandboxes) == []  # nothing written

    run = _cli("sync", "opportunity_to_invoice", "--limit", "2", "--settings", "ledgerlink.toml", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1])["invoiced"] == 2
    assert sorted(i["CustomerReference"] for i in _invoices(sandboxes)) == sorted(deals[:2])


def test_salesforce_check_names_the_one_required_field_an_org_lacks(tmp_path: Path) -> None:
    box = start_sandbox("salesforce", tmp_path / "org", not_deployed=("Opportunity.Invoice_Status__c",))
    try:
        specs = tmp_path / "connections.json"
        specs.write_text(json.dumps([box.describe()]))
        done = _cli("salesforce", "check", "--connections", str(specs), cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        assert "Opportunity.Invoice_Status__c" in done.stdout
        assert "sf project deploy start" in done.stdout
    finally:
        box.stop()
