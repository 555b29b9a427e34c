"""Schema drift: against the Salesforce sandbox over HTTP the mappings in use raise nothing; a field whose type
changed since the last snapshot is found, kept once and alerted; removed, renamed and newly required fields."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from ledgerlink.alerts import evaluate
from ledgerlink.flows.sync import drift as drift_check
from ledgerlink.intelligence import findings
from ledgerlink.intelligence.drift import FieldUse, compare
from ledgerlink.store.console_tables import AlertRule
from ledgerlink.store.intelligence_tables import SchemaSnapshot
from tests.sync.conftest import _env


def test_the_shipped_mappings_against_the_sandbox_then_a_type_change(tmp_path: Path) -> None:
    for env in _env(tmp_path, "kashflow"):
        assert drift_check.due(env.ledger)
        first = drift_check.check(env.ledger, env.runtime.crm, "kashflow")
        assert first == [], [d.message for d in first]  # no false alarm on an org as the metadata deploys it
        assert not drift_check.due(env.ledger)
        with env.ledger.session() as s:
            row = s.get(SchemaSnapshot, ("salesforce", "Account"))
            assert row is not None and row.fields["BillingCountry"]["type"] == "string"
            row.fields = {**row.fields, "BillingCountry": {"type": "picklist", "required": False}}
        again = drift_check.check(env.ledger, env.runtime.crm, "kashflow")
        assert {d.rule for d in again} == {"type_changed"}
        assert all(d.field == "BillingCountry" for d in again)
        assert any("salesforce/account_to_canonical" in d.message for d in again)
        kept = findings.find(env.ledger, kind="schema_drift")
        assert len(kept) == len(again)
        drift_check.check(env.ledger, env.runtime.crm, "kashflow")  # the same drift again: kept once
        assert len(findings.find(env.ledger, kind="schema_drift")) == len(kept)
        with env.ledger.session() as s:
            s.add(AlertRule(name="drift", kind="schema_drift", threshold=0, window_minutes=60))
        with env.ledger.session() as s:
            [firing] = evaluate(s)
        assert firing.kind == "schema_drift" and "BillingCountry" in firing.message


def test_removed_renamed_and_newly_required() -> None:
    uses = [
        FieldUse("salesforce/account_to_canonical", "vat_number", "salesforce", "Account", "VAT_Number__c", "source"),
        FieldUse("salesforce/account_from_canonical", "Name", "salesforce", "Account", "Name", "target"),
    ]
    before = {("salesforce", "Account"): {"VAT_Number__c": {"type": "string"}, "Name": {"type": "string"}}}
    now: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
        ("salesforce", "Account"): {
            "VATNumber__c": {"type": "string"},
            "Name": {"type": "string", "required": True},
            "Region__c": {"type": "picklist", "required": True},
        }
    }
    drifts = {d.rule: d for d in compare(uses, now, before)}
    assert drifts["field_removed"].detail == {"renamed_to": "VATNumber__c"}
    assert "perhaps its new name" in drifts["field_removed"].message
    assert drifts["became_required"].field == "Region__c"  # Name is required too, but the mapping sets it
    assert compare(uses, now, {}) == []  # no snapshot yet: nothing has changed as far as we know


def test_the_customer_poll_checks_beside_its_page_and_a_failing_check_holds_nothing_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    threads: list[threading.Thread] = []
    beside = drift_check.check_beside

    def counted(*args: Any) -> threading.Thread:
        threads.append(beside(*args))
        return threads[-1]

    monkeypatch.setattr(drift_check, "check_beside", counted)
    for env in _env(tmp_path, "kashflow"):
        env.make_account("Drift Check Ltd", code="DRIFT1")
        assert drift_check.due(env.ledger)
        first = env.sync_customers()
        assert first["status"] == "synced" and first["counts"]["created_books"] == 1
        assert len(threads) == 1 and not threads[0].is_alive()  # ran in its own thread, joined within the step
        assert threads[0] is not threading.current_thread() and not drift_check.due(env.ledger)

        def broken(*_args: Any) -> None:
            raise RuntimeError("describe exploded")

        env.ledger.set_watermark(drift_check.LAST_CHECK, "")  # due again
        monkeypatch.setattr(drift_check, "check", broken)
        env.make_account("Drift Check Two Ltd", code="DRIFT2")
        with caplog.at_level(logging.ERROR, logger="ledgerlink.intelligence"):
            second = env.sync_customers()
        assert second["status"] == "synced" and second["counts"]["created_books"] == 1
        assert "schema drift check failed" in caplog.text and "describe exploded" in caplog.text
