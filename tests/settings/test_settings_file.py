"""The settings file: validated at start with errors naming the file, the line and the key; environment overrides;
edits written back with the user's comments kept; `config check` and `config show` (secrets masked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ledgerlink.bootstrap import load_app_settings
from ledgerlink.engine.runtime import flow_settings_from, settings_fields
from ledgerlink.settings import SettingsError, parse_schedule, write_settings

MALFORMED = """\
# my settings
[database]
data_dir = ".ledgerlink"

[defaults]
payment_terms_days = 30

[flows.order_to_invoice]
enabled = "sometimes"
"""


def test_a_malformed_settings_file_is_refused_naming_the_key_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ledgerlink.toml"
    path.write_text(MALFORMED)
    with pytest.raises(SettingsError) as err:
        load_app_settings(path)
    assert str(err.value).startswith(f"{path}:9: flows.order_to_invoice.enabled: ")
    assert "valid boolean" in str(err.value)

    # The same through the command line: exit 2, one line naming file, line and key.
    done = subprocess.run(
        [sys.executable, "-m", "ledgerlink.cli", "config", "check", "--settings", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"{path}:9: flows.order_to_invoice.enabled:" in done.stderr


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[defaults]\npayment_terms_days = 30\nvat_rate = 20\n", ":3: defaults.vat_rate: unknown key"),
        ("[flows.order_to_invoce]\nenabled = true\n", ":1: flows.order_to_invoce: no flow named 'order_to_invoce'"),
        ("[flows.reconciliation]\nschedule = 'whenever'\n", ":2: flows.reconciliation.schedule: schedule 'whenever'"),
        (
            "[defaults]\ntax_rules = [{country = 'IE'}]\n",
            ":2: defaults.tax_rules.0.rate: Field required",
        ),
        ("[defaults\npayment_terms_days = 30\n", ":1: not valid TOML"),
        ("[defaults]\npayment_terms_days = 400\n", ":2: defaults.payment_terms_days: Input should be less"),
    ],
)
def test_each_kind_of_mistake_names_its_line_and_key(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "ledgerlink.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as err:
        load_app_settings(path)
    assert f"{path}{where}" in str(err.value)


def test_environment_overrides_win_and_a_bad_one_is_named_by_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledgerlink.toml"
    path.write_text("[flows.order_to_invoice]\nenabled = false\n")
    monkeypatch.setenv("LEDGERLINK_FLOWS__ORDER_TO_INVOICE__ENABLED", "true")
    monkeypatch.setenv("LEDGERLINK_DEFAULTS__TAX_RULES", '[{"country": "IE", "rate": 0}]')
    app = load_app_settings(path)
    flows = flow_settings_from(app)
    assert flows.order_to_invoice is True and flows.is_enabled("order_to_invoice")
    assert flows.tax_rules == ({"country": ["IE"], "rate": "0"},)

    monkeypatch.setenv("LEDGERLINK_DEFAULTS__PAYMENT_TERMS_DAYS", "soon")
    with pytest.raises(SettingsError) as err:
        load_app_settings(path)
    assert "environment: LEDGERLINK_DEFAULTS__PAYMENT_TERMS_DAYS:" in str(err.value)


def test_an_edit_is_written_back_with_the_comments_kept_and_a_bad_edit_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ledgerlink.toml"
    original = "# ours: keep this\n[flows.late_payment]\nlate_payment_days = 14  # two weeks\n"
    path.write_text(original)
    fields = settings_fields()
    write_settings(path, {("flows", "late_payment", "late_payment_days"): 21}, extra_fields=fields)
    text = path.read_text()
    assert "# ours: keep this" in text and "late_payment_days = 21" in text
    assert flow_settings_from(load_app_settings(path)).late_payment_days == 21

    with pytest.raises(SettingsError):
        write_settings(path, {("flows", "late_payment", "late_payment_days"): -1}, extra_fields=fields)
    assert path.read_text() == text


def test_schedules_are_cron_or_interval_or_plain_words() -> None:
    assert parse_schedule("daily at 2 AM").cron == "0 2 * * *"
    assert parse_schedule("daily at 14:30").cron == "30 14 * * *"
    assert parse_schedule("every 30 seconds").interval_seconds == 30
    assert parse_schedule("every 5 minutes").interval_seconds == 300
    assert parse_schedule("15 3 * * 1").cron == "15 3 * * 1"
    with pytest.raises(ValueError, match="not understood"):
        parse_schedule("at teatime")
    with pytest.raises(ValueError, match="never comes round"):
        parse_schedule("0 0 31 2 *")  # a cron of valid fields whose date never comes: the flow would never run


def test_a_schedule_that_never_comes_round_is_refused_naming_the_flow(tmp_path: Path) -> None:
    path = tmp_path / "ledgerlink.toml"
    path.write_text('[flows.customer_sync]\nschedule = "0 0 30 2 *"\n')
    with pytest.raises(SettingsError) as refused:
        load_app_settings(path)
    assert "customer_sync" in str(refused.value) and "never comes round" in str(refused.value)


def test_config_show_masks_the_database_password(tmp_path: Path) -> None:
    path = tmp_path / "ledgerlink.toml"
    path.write_text(
        '[database]\nurl = "postgresql://ledgerlink:s3cret-pw@db.example:5432/ll"\n'
        '[connections]\ncrm = "salesforce"\n[flows.reconciliation]\nschedule = "daily at 3 AM"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "ledgerlink.cli", "config", "show", "--settings", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "s3cret-pw" not in done.stdout + done.stderr
    assert "postgresql://ledgerlink:***@db.example:5432/ll" in done.stdout
    assert 'crm = "salesforce"' in done.stdout
    assert 'schedule = "daily at 3 AM"' in done.stdout
