"""A running worker applies an edit of the settings file (engine/settings_watch), in process: what it applies, what
it refuses, and what it leaves for a restart."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ledgerlink.engine import runtime as engine
from ledgerlink.engine.settings_watch import SettingsWatch
from ledgerlink.settings import write_settings
from ledgerlink.store import Ledger

START = """\
[defaults]
payment_terms_days = 30

[flows.invoice_pdf]
enabled = true
"""


def _runtime(tmp_path: Path, path: Path) -> engine.Runtime:
    app = engine.load_app_settings(path)
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    settings = engine.EngineSettings(
        data_dir=tmp_path,
        ledger_url=url,
        system_database_url=url,
        flows=engine.flow_settings_from(app),
        app=app,
        settings_file=path,
    )
    return engine.Runtime(settings=settings, ledger=Ledger(url), crm=None, books=None, crm_name="salesforce")  # type: ignore[arg-type]


@pytest.fixture
def watched(tmp_path: Path) -> tuple[SettingsWatch, list[int], Path]:
    path = tmp_path / "ledgerlink.toml"
    path.write_text(START)
    hooks: list[int] = []
    watch = SettingsWatch(_runtime(tmp_path, path), check_seconds=0, after_apply=lambda: hooks.append(1))
    return watch, hooks, path


def test_an_edit_applies_the_changed_keys_audits_them_and_reruns_the_start_hooks(
    watched: tuple[SettingsWatch, list[int], Path],
) -> None:
    watch, hooks, path = watched
    settings = watch.runtime.settings
    assert watch.check() is None  # nothing changed yet
    write_settings(path, {("flows", "invoice_pdf", "enabled"): False, ("defaults", "payment_terms_days"): 45})
    keys = watch.check()
    assert keys is not None and {"invoice_pdf", "payment_terms_days", "enabled_flows"} <= set(keys)
    assert not settings.flows.is_enabled("invoice_pdf") and settings.flows.payment_terms_days == 45
    assert hooks == [1]
    (entry,) = watch.runtime.ledger.audit_trail(record_id=str(path))
    assert entry.flow == "settings" and entry.action == "applied" and "payment_terms_days" in entry.detail["keys"]
    assert watch.check() is None  # the same version is not applied twice


def test_an_invalid_file_is_not_applied_and_the_log_names_line_and_key(
    watched: tuple[SettingsWatch, list[int], Path], caplog: pytest.LogCaptureFixture
) -> None:
    watch, hooks, path = watched
    path.write_text(START.replace("= 30", "= 9999"))  # above the 365 days the model allows
    with caplog.at_level(logging.WARNING, logger="ledgerlink.engine.settings_watch"):
        assert watch.check() is None
    assert watch.runtime.settings.flows.payment_terms_days == 30 and hooks == []
    assert "not applied" in caplog.text and "payment_terms_days" in caplog.text and ":2:" in caplog.text
    path.write_text(START.replace("= 30", "= 60"))  # mended: applied
    assert watch.check() == ["payment_terms_days"]


def test_a_database_change_waits_for_the_restart_and_says_so(
    watched: tuple[SettingsWatch, list[int], Path], caplog: pytest.LogCaptureFixture
) -> None:
    watch, _, path = watched
    before = watch.runtime.settings.ledger_url
    path.write_text(START + '\n[database]\nurl = "postgresql://postgres@127.0.0.1:5432/elsewhere"\n')
    with caplog.at_level(logging.WARNING, logger="ledgerlink.engine.settings_watch"):
        assert watch.check() == []  # no flow setting changed
    assert "database changed; a worker applies that when it restarts" in caplog.text
    assert watch.runtime.settings.ledger_url == before


def test_a_missing_file_keeps_the_settings(watched: tuple[SettingsWatch, list[int], Path]) -> None:
    watch, _, path = watched
    path.unlink()
    assert watch.check() is None and watch.runtime.settings.flows.payment_terms_days == 30
