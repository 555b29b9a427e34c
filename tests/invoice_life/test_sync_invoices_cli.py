"""`ledgerlink sync invoices --full` as a user runs it: the books' invoices land in Invoice__c, once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ledgerlink.connections.build import build_accounting, build_crm
from ledgerlink.sandbox.runner import start_sandboxes

SYNC = (sys.executable, "-m", "ledgerlink.cli", "sync", "invoices", "--full")


def _sync(data_dir: Path, connections: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERLINK_")}
    done = subprocess.run(
        [*SYNC, "--data-dir", str(data_dir), "--connections", str(connections)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_sync_invoices_full_imports_the_books_invoices(tmp_path: Path) -> None:
    sandboxes = start_sandboxes(["salesforce", "kashflow"], tmp_path / "sandboxes")
    try:
        connections = tmp_path / "connections.jsonl"
        connections.write_text("\n".join(json.dumps(sb.describe()) for sb in sandboxes.sandboxes.values()))
        books = build_accounting(sandboxes["kashflow"].describe())
        kashflow = books.client  # type: ignore[attr-defined]
        kashflow.create_customer({"Code": "CLI01", "Name": "Cli Ltd"})
        for rate in (10, 20, 30):
            kashflow.create_invoice(
                {"CustomerCode": "CLI01", "LineItems": [{"Description": "Work", "Quantity": 1, "Rate": rate}]}
            )
        books.close()

        first = _sync(tmp_path / "ll", connections)
        assert first == {"flow": "invoices", "runs": 1, "imported": 1}
        again = _sync(tmp_path / "ll", connections)
        assert again["imported"] == 1

        sf = build_crm(sandboxes["salesforce"].describe(), client_tag="test-user")
        try:
            rows = list(sf.query("SELECT Name, Total__c FROM Invoice__c ORDER BY Name"))
        finally:
            sf.close()
        assert [float(r["Total__c"]) for r in rows] == [12.0, 24.0, 36.0]
    finally:
        sandboxes.stop()
