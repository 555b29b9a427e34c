"""As a new user would: connections added with `ledgerlink connection add` (secrets into the vault), then
`ledgerlink worker` invoices a won deal — against the Kashoo sandbox, over HTTP, in real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ledgerlink.connections.build import build_crm
from ledgerlink.sandbox.runner import start_sandboxes
from tests.engine.conftest import wait_until
from tests.web.scenario import _create_won_opportunity


def _ledgerlink(*args: str, env: dict[str, str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledgerlink.cli", *args, "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_connection_add_then_worker_invoices_a_won_deal_in_kashoo(tmp_path: Path) -> None:
    sandboxes = start_sandboxes(["salesforce", "kashoo"], tmp_path / "sandboxes")
    data_dir = tmp_path / "ledgerlink"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERLINK_")}
    worker: subprocess.Popen[bytes] | None = None
    try:
        sf, kashoo = sandboxes["salesforce"].describe(), sandboxes["kashoo"].describe()
        added = _ledgerlink(
            "connection",
            "add",
            "crm",
            "--system",
            "salesforce",
            "--base-url",
            sf["base_url"],
            env={**base_env, **{f"LEDGERLINK_SECRET_{k.upper()}": v for k, v in sf["credentials"].items()}},
            data_dir=data_dir,
        )
        assert added.returncode == 0, added.stderr
        # Kashoo signs in with an e-mail address: the form asks for exactly that.
        assert set(kashoo["credentials"]) == {"email", "password"}
        added = _ledgerlink(
            "connection",
            "add",
            "books",
            "--system",
            "kashoo",
            "--base-url",
            kashoo["base_url"],
            "--setting",
            'options={"create_missing_taxes": true}',  # the deal carries UK VAT, which this business lacks
            env={**base_env, **{f"LEDGERLINK_SECRET_{k.upper()}": v for k, v in kashoo["credentials"].items()}},
            data_dir=data_dir,
        )
        assert added.returncode == 0, added.stderr
        assert kashoo["credentials"]["password"] not in added.stdout + added.stderr

        user = build_crm(sf, client_tag="test-user")
        opportunity = _create_won_opportunity(user)
        log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "ledgerlink.cli", "worker", "--data-dir", str(data_dir), "--poll-interval", "1"],
            env=base_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def invoiced() -> str | None:
            row = next(
                iter(user.query(f"SELECT Accounting_Invoice_Number__c FROM Opportunity WHERE Id = '{opportunity}'"))
            )
            return row.get("Accounting_Invoice_Number__c")

        ok = wait_until(lambda: invoiced() is not None, timeout=90, interval=0.5)
        assert ok, (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
        number = invoiced()
        invoices = _kashoo_invoices(kashoo)
        assert [inv["number"] for inv in invoices if inv.get("poNumber") == opportunity] == [number]
        user.close()
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        sandboxes.stop()


def _kashoo_invoices(spec: dict[str, object]) -> list[dict[str, object]]:
    from ledgerlink.connections.build import build_accounting

    books = build_accounting(json.loads(json.dumps(spec)))
    try:
        return list(books.client.list("records/invoices"))  # type: ignore[attr-defined]
    finally:
        books.close()
