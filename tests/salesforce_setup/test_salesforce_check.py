"""`ledgerlink salesforce check` against Salesforce sandboxes over HTTP: full, lacking a field, differing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from ledgerlink.cli import app
from ledgerlink.sandbox.runner import Sandbox
from ledgerlink.systems.salesforce import SalesforceClient
from ledgerlink.systems.salesforce.org_check import check_org, load_requirements

from .conftest import connections_file

StartOrg = Callable[..., Sandbox]
PAID_DATE = "force-app/main/default/objects/Opportunity/fields/Paid_Date__c.field-meta.xml"


def _check(box: Sandbox, tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["salesforce", "check", "--connections", str(connections_file(box, tmp_path)), *args]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_an_org_with_everything_passes(start_org: StartOrg, tmp_path: Path) -> None:
    code, output = _check(start_org(), tmp_path)
    assert code == 0, output
    assert "All present" in output and "sf project deploy" not in output
    code, output = _check(start_org(), tmp_path, "--json")
    report = json.loads(output)
    assert code == 0 and report["ok"] is True
    assert report["failures"] == [] and report["not_yet_deployed"] == [] and report["deploy_command"] is None
    assert report["checked"] == len(load_requirements().components)


def test_a_missing_field_is_named_with_the_command_that_deploys_it(
    start_org: StartOrg, tmp_path: Path, metadata_root: Path
) -> None:
    box = start_org(not_deployed=("Opportunity.Paid_Date__c",))
    code, output = _check(box, tmp_path, "--target-org", "acme-prod")
    assert code == 1, output
    assert "Missing (1)" in output, output
    missing_lines = [line.split() for line in output.splitlines() if line.endswith("missing (Date)")]
    assert missing_lines == [["Opportunity.Paid_Date__c", "field", "missing", "(Date)"]], output
    assert f"run in {metadata_root}:" in output
    assert f"--source-dir {PAID_DATE} " in output and "--target-org acme-prod" in output
    assert "sf org assign permset --name LedgerLink_Integration --target-org acme-prod" in output

    code, output = _check(box, tmp_path, "--json")
    report = json.loads(output)
    assert code == 1 and report["ok"] is False
    assert [(f["name"], f["problem"]) for f in report["failures"]] == [("Opportunity.Paid_Date__c", "missing")]
    assert report["deploy_command"].startswith(f"sf project deploy start --source-dir {PAID_DATE} --source-dir ")
    assert (metadata_root / PAID_DATE).is_file()


def test_a_missing_object_is_one_entry_with_its_fields(start_org: StartOrg, tmp_path: Path) -> None:
    box = start_org(not_deployed=("Payment__c",))
    code, output = _check(box, tmp_path, "--json")
    report = json.loads(output)
    assert code == 1
    assert [f["name"] for f in report["failures"]] == ["Payment__c"]
    assert "External_Id__c" in report["failures"][0]["detail"]
    # The object's folder brings its fields: one path, not six.
    assert (
        "--source-dir force-app/main/default/objects/Payment__c --source-dir force-app/main/default/perm"
        in (report["deploy_command"])
    )


def test_invoice_history_objects_are_required_now_their_flows_use_them(start_org: StartOrg, tmp_path: Path) -> None:
    box = start_org(not_deployed=("Payment__c.Invoice__c", "Invoice_Line__c", "Invoice__c", "Account.Aging_Over_90__c"))
    code, output = _check(box, tmp_path)
    assert code != 0, output
    assert "Invoice__c" in output and "Account.Aging_Over_90__c" in output


def test_a_field_of_another_type_is_flagged_and_left_out_of_the_deploy(start_org: StartOrg, tmp_path: Path) -> None:
    """An org's own Paid_Date__c as text, and an ExternalID__c that is not an external id: fixed by hand."""
    box = start_org(
        extra_fields={
            "Opportunity": {"Paid_Date__c": {"type": "string", "length": 20}},
            "Product2": {"ExternalID__c": {"type": "string", "length": 255}},
        }
    )
    code, output = _check(box, tmp_path, "--json")
    report = json.loads(output)
    assert code == 1
    details = {f["name"]: (f["problem"], f["detail"]) for f in report["failures"]}
    assert details == {
        "Opportunity.Paid_Date__c": ("mismatch", "is string in the org; LedgerLink needs Date (date)"),
        "Product2.ExternalID__c": ("mismatch", "is not an External ID in the org; LedgerLink upserts on it"),
    }
    assert report["deploy_command"] is None  # redeploying would change a field that holds data


def test_check_org_uses_a_handful_of_api_calls(start_org: StartOrg) -> None:
    box = start_org()
    requirements = load_requirements()
    client = SalesforceClient.from_spec(box.describe())
    try:
        report = check_org(client, requirements)
        objects = {c.object for c in requirements.components}
        assert report.ok and client.usage.calls_made == 1 + len(objects)  # global describe + one per object
    finally:
        client.close()


def test_the_installed_command_exits_non_zero_when_a_field_is_missing(start_org: StartOrg, tmp_path: Path) -> None:
    """The real console script, in its own process."""
    box = start_org(not_deployed=("Order.Accounting_Invoice_Number__c",))
    command = [sys.executable, "-m", "ledgerlink.cli", "salesforce", "check"]
    result = subprocess.run(
        [*command, "--connections", str(connections_file(box, tmp_path))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Order.Accounting_Invoice_Number__c" in result.stdout
    assert box.describe()["credentials"]["client_secret"] not in result.stdout + result.stderr


def test_without_connections_it_reads_the_vault(start_org: StartOrg, tmp_path: Path) -> None:
    """As `ledgerlink worker` does: the connection added with `ledgerlink connection add`, secrets from the vault."""
    box = start_org(tls=False, not_deployed=("Account.Region__c",))
    data_dir = tmp_path / "data"
    creds = box.describe()["credentials"]
    env = {"LEDGERLINK_SECRET_CLIENT_ID": creds["client_id"], "LEDGERLINK_SECRET_CLIENT_SECRET": creds["client_secret"]}
    runner = CliRunner()
    added = runner.invoke(
        app,
        ["connection", "add", "org", "--system", "salesforce", "--base-url", box.base_url, "--data-dir", str(data_dir)],
        env=env,
    )
    assert added.exit_code == 0, added.output
    result = runner.invoke(app, ["salesforce", "check", "--data-dir", str(data_dir), "--json"])
    assert result.exit_code == 1, result.output
    assert [f["name"] for f in json.loads(result.output)["failures"]] == ["Account.Region__c"]


def test_what_stops_the_check_is_said_plainly_and_exits_2(start_org: StartOrg, tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["salesforce", "check", "--connections", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "nope.json" in missing.output
    box = start_org()
    spec = box.describe()
    wrong_secret = "not-the-secret-" + "x" * 20
    spec["credentials"] = {**spec["credentials"], "client_secret": wrong_secret}
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps([spec]))
    refused = runner.invoke(app, ["salesforce", "check", "--connections", str(path)])
    assert refused.exit_code == 2, refused.output
    assert "salesforce check: salesforce:" in refused.output and wrong_secret not in refused.output
    no_salesforce = tmp_path / "books.json"
    no_salesforce.write_text(json.dumps([{"system": "kashflow", "base_url": "http://x", "credentials": {}}]))
    none = runner.invoke(app, ["salesforce", "check", "--connections", str(no_salesforce)])
    assert none.exit_code == 2 and "expected one Salesforce connection, found 0" in none.output
