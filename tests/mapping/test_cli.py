"""The ``ledgerlink mapping`` sub-app, driven through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from ledgerlink.mapping.cli import mapping_app

runner = CliRunner()


def test_list() -> None:
    result = runner.invoke(mapping_app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    names = {row["name"] for row in json.loads(result.output)}
    assert {"salesforce/opportunity_to_canonical", "kashflow/invoice_from_canonical"} <= names
    table = runner.invoke(mapping_app, ["list"])
    assert table.exit_code == 0 and "template" in table.output


def test_check_ok_and_errors(tmp_path: Path) -> None:
    ok = runner.invoke(mapping_app, ["check", "salesforce/account_to_canonical"])
    assert ok.exit_code == 0 and "ok" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "source: {system: salesforce, object: Account}\ntarget: {system: canonical, object: Customer}\n"
        "direction: to_canonical\nfields:\n  code: {from: Idd}\n",
        encoding="utf-8",
    )
    result = runner.invoke(mapping_app, ["check", str(bad), "salesforce/opportunity_to_canonical"])
    assert result.exit_code == 1
    assert f"{bad}:5:16: error: source Idd: unknown field 'Idd' on salesforce Account" in result.output


def test_preview_json_string_and_file(tmp_path: Path, opportunity: dict[str, Any]) -> None:
    result = runner.invoke(
        mapping_app, ["preview", "salesforce/opportunity_to_canonical", "--record", json.dumps(opportunity)]
    )
    assert result.exit_code == 0, result.output
    assert "customer_code" in result.output and "ACME01" in result.output
    assert "from [Account.ExternalID__c," in result.output
    assert "lines[0].quantity" in result.output and "from Quantity | decimal" in result.output
    record_file = tmp_path / "opp.json"
    record_file.write_text(json.dumps(opportunity), encoding="utf-8")
    as_json = runner.invoke(
        mapping_app, ["preview", "salesforce/opportunity_to_canonical", "--record", f"@{record_file}", "--json"]
    )
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["customer_code"] == "ACME01"


def test_preview_reports_record_errors(opportunity: dict[str, Any]) -> None:
    opportunity["CloseDate"] = "not a date"
    result = runner.invoke(
        mapping_app, ["preview", "salesforce/opportunity_to_canonical", "--record", json.dumps(opportunity)]
    )
    assert result.exit_code == 1
    assert "issue_date" in result.output and "not a date" in result.output
