"""The overview's flow table answers "is it working?" for every flow switched on, run or not: when its trigger last
read its source successfully (a quiet source still reads), over real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ledgerlink.store import Ledger, database_url
from tests.web.console_helpers import api_token, serve_console, signed_in


def test_each_switched_on_flow_shows_when_its_source_was_last_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "ledgerlink.toml"
    settings.write_text("[flows.late_payment]\nenabled = false\n")
    monkeypatch.setenv("LEDGERLINK_SETTINGS", str(settings))
    ledger = Ledger(database_url(tmp_path / "console"))
    ledger.trigger_checked("salesforce.Account.customer_sync")  # customer_sync read its source: nothing new
    ledger.audit(flow="late_payment", system="salesforce", obj="Case", action="created", record_id="500A")
    ledger.audit(flow="late_payment_close", system="salesforce", obj="Case", action="closed", record_id="500A")
    with serve_console(tmp_path / "console", ledger=ledger) as served:
        token = api_token(served.url)
        with httpx.Client(base_url=served.url, timeout=30) as client:
            body = client.get("/api/overview", headers={"Authorization": f"Bearer {token}"}).json()
        rows = {row["flow"]: row for row in body["flows"]}
        assert rows["customer_sync"]["switched_on"] and rows["customer_sync"]["source_checked"]
        assert (
            rows["opportunity_to_invoice"]["switched_on"] and rows["opportunity_to_invoice"]["source_checked"] is None
        )
        assert rows["late_payment"]["switched_on"] is False  # it ran once, then the user switched it off
        assert rows["late_payment_close"]["switched_on"] is None  # an audit entry's name, not a flow with a trigger
        client, _csrf = signed_in(served.url)
        with client:
            page = client.get("/").text
        assert "Source last read" in page and "not yet" in page and "switched off" in page
