"""Finding 7: past any cap, the newest failed records are the ones shown (API, CLI) and `replay --all` takes all."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from typer.testing import CliRunner

from ledgerlink.cli import app as cli_app
from ledgerlink.store import Ledger, database_url
from tests.web.console_helpers import Served, api_token


def _fill(ledger: Ledger, n: int, flow: str = "opportunity_to_invoice") -> None:
    from ledgerlink.store.tables import FailedRecord

    with ledger.session() as s:
        s.add_all(
            FailedRecord(
                flow=flow,
                source_system="salesforce",
                source_object="Opportunity",
                source_id=f"006F{i:011d}",
                status="open",
                errors=[{"at": "2026-12-06T00:00:00Z", "error": f"failure number {i}", "field": None}],
                input={},
            )
            for i in range(n)
        )


def test_the_api_lists_the_newest_failed_records_past_5000(served: Served) -> None:
    _fill(served.console.ledger, 5_100)
    token = api_token(served.url)
    rows = httpx.get(
        f"{served.url}/api/failed", params={"limit": 10}, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()
    assert [r["source_id"] for r in rows][:2] == ["006F00000005099", "006F00000005098"]
    found = httpx.get(
        f"{served.url}/api/failed", params={"q": "failure number 5099"}, headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert [r["source_id"] for r in found] == ["006F00000005099"]


def test_the_cli_lists_the_newest_and_escapes_stored_text(tmp_path: Path) -> None:
    ledger = Ledger(database_url(tmp_path))
    _fill(ledger, 1_050)
    from ledgerlink.store.tables import FailedRecord

    with ledger.session() as s:
        s.add(
            FailedRecord(
                flow="f",
                source_system="salesforce",
                source_object="Opportunity",
                source_id="006NASTY",
                status="open",
                errors=[{"at": "x", "error": "boom [/] \x1b[31mred\x1b]0;title\x07", "field": None}],
                input={},
            )
        )
    runner = CliRunner()
    listed = runner.invoke(cli_app, ["failed", "list", "--data-dir", str(tmp_path)], terminal_width=200)
    assert listed.exit_code == 0, listed.output
    assert "\x1b" not in listed.output and "006NASTY" in listed.output and "[/]" in listed.output
    as_json = runner.invoke(cli_app, ["failed", "list", "--json", "--data-dir", str(tmp_path)])
    ids = [r["source_id"] for r in json.loads(as_json.output)]
    assert len(ids) == 1000 and ids[-1] == "006NASTY" and "006F00000001049" in ids


def test_failed_show_with_a_huge_id_is_a_clean_error(tmp_path: Path) -> None:
    Ledger(database_url(tmp_path))
    result = CliRunner().invoke(cli_app, ["failed", "show", str(10**30), "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "no failed record" in result.output and "Traceback" not in result.output


def test_the_api_answers_a_huge_id_with_404(served: Served) -> None:
    token = api_token(served.url)
    response = httpx.get(f"{served.url}/api/failed/{10**30}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (404, 422) and "Traceback" not in response.text
