"""`ledgerlink intel`: the review queue decided from the command line (audited), findings listed, fixes
suggested, and an invoice file checked offline; bad input is one clear line and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ledgerlink.cli import app
from ledgerlink.intelligence import findings, review
from ledgerlink.store import Ledger, database_url

runner = CliRunner()


def test_review_findings_fixes_and_anomalies(tmp_path: Path) -> None:
    ledger = Ledger(database_url(tmp_path))
    review.queue(
        ledger,
        flow="customer_sync",
        source=("salesforce", "Account", "001A"),
        target=("kashflow", "customers", "ACME"),
        score=0.6,
        why={},
        source_record={"name": "Acme Ltd"},
        target_record={"name": "ACME Limited"},
    )
    findings.record(ledger, key="k", kind="anomaly", rule="volume_spike", subject="f", message="flow f: 400", detail={})
    ledger.fail_record(
        flow="customer_sync",
        source=("salesforce", "Account", "001B"),
        message="unknown country 'Frnace'",
        field="billing_address.country",
        input_data={"BillingCountry": "Frnace"},
    )
    listed = runner.invoke(app, ["intel", "reviews", "--data-dir", str(tmp_path)])
    assert listed.exit_code == 0 and "'Acme Ltd' ~ 'ACME Limited'" in listed.output
    done = runner.invoke(app, ["intel", "review", "1", "approve", "--by", "carol", "--data-dir", str(tmp_path)])
    assert done.exit_code == 0 and "approved by carol" in done.output
    assert ledger.lookup("salesforce", "Account", "001A", "kashflow") == "ACME"
    again = runner.invoke(app, ["intel", "review", "1", "reject", "--by", "carol", "--data-dir", str(tmp_path)])
    assert again.exit_code == 2 and "already approved" in again.output
    assert "volume_spike: flow f: 400" in runner.invoke(app, ["intel", "findings", "--data-dir", str(tmp_path)]).output
    fixed = runner.invoke(app, ["intel", "fixes", "--data-dir", str(tmp_path)])
    assert "the closest is France (FR" in fixed.output and "[safe" in fixed.output

    lines = [
        {
            "id": f"I{n}",
            "customer": "C",
            "issue_date": f"2026-11-{n:02d}",
            "lines": [{"quantity": 1, "unit_price": 100 + n}],
        }
        for n in range(1, 8)
    ]
    lines.append(
        {"id": "I9", "customer": "C", "issue_date": "2026-11-09", "lines": [{"quantity": 500, "unit_price": 100}]}
    )
    file = tmp_path / "invoices.jsonl"
    file.write_text("\n".join(json.dumps(x) for x in lines))
    out = runner.invoke(app, ["intel", "anomalies", str(file)])
    assert out.exit_code == 0 and "amount_outlier: invoice I9" in out.output
    file.write_text('{"id": 1}\n')
    bad = runner.invoke(app, ["intel", "anomalies", str(file)])
    assert bad.exit_code == 2 and "invoices.jsonl:1" in bad.output
    ledger.dispose()
