"""The console shows the settings file's tree; an admin switches a flow on and edits a key there, in a real
browser (headless Chromium); the file is written back with its comments and the change is audited. A viewer sees
the page but cannot change it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgerlink.bootstrap import load_app_settings
from tests.web.browser import CHROMIUM
from tests.web.console_helpers import ADMIN, VIEWER, Served, serve_console, signed_in

ORIGINAL = (
    "# ours: keep this comment\n[flows.order_to_invoice]\nenabled = false\n\n[defaults]\npayment_terms_days = 30\n"
)


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Served, Path]]:
    settings_file = tmp_path / "ledgerlink.toml"
    settings_file.write_text(ORIGINAL)
    monkeypatch.setenv("LEDGERLINK_SETTINGS", str(settings_file))
    with serve_console(tmp_path / "console") as console:
        yield console, settings_file


def test_an_admin_switches_a_flow_on_and_edits_a_setting_in_the_browser(served: tuple[Served, Path]) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium at /usr/bin/chromium")
    console, settings_file = served
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{console.url}/signin")
            page.fill("input[name=username]", ADMIN[0])
            page.fill("input[name=password]", ADMIN[1])
            page.click("button[type=submit]")
            page.goto(f"{console.url}/settings")
            row = page.locator("#flows tr", has_text="order_to_invoice")
            assert "off" in row.inner_text()
            page.click("#switch-order_to_invoice")
            page.wait_for_selector("text=order_to_invoice switched on")
            assert "on" in page.locator("#flows tr", has_text="order_to_invoice").inner_text()

            page.fill("#edit input[name=key]", "defaults.tax_rules")
            page.fill("#edit input[name=value]", '[{country = "IE", rate = 0}]')
            page.click("#edit button[type=submit]:not([name])")
            page.wait_for_selector("text=defaults.tax_rules saved")

            page.fill("#edit input[name=key]", "defaults.payment_terms_days")
            page.fill("#edit input[name=value]", "999")
            page.click("#edit button[type=submit]:not([name])")
            page.wait_for_selector(".flash.error")
            assert "defaults.payment_terms_days" in page.locator(".flash.error").inner_text()
        finally:
            browser.close()

    text = settings_file.read_text()
    assert "# ours: keep this comment" in text and "payment_terms_days = 30" in text
    app = load_app_settings(settings_file)
    assert app.flows.order_to_invoice.enabled is True
    assert [rule.country for rule in app.defaults.tax_rules] == [["IE"]]
    entries = _settings_audit(console)
    assert ("flows.order_to_invoice.enabled", False, True, "ada") in entries
    assert any(key == "defaults.tax_rules" for key, *_ in entries)


def _settings_audit(console: Served) -> list[tuple[str, object, object, str]]:
    rows = [e for e in console.console.ledger.audit_trail() if e.object == "settings"]
    return [(r.record_id or "", r.detail["from"], r.detail["to"], r.detail["by"]) for r in rows]


def test_a_viewer_sees_the_settings_but_cannot_change_them(served: tuple[Served, Path]) -> None:
    console, settings_file = served
    client, csrf = signed_in(console.url, VIEWER)
    with client:
        page = client.get("/settings")
        assert page.status_code == 200 and "order_to_invoice" in page.text
        refused = client.post("/settings/flows/order_to_invoice", data={"enabled": "on", "csrf_token": csrf})
        assert refused.status_code == 403
        shown = client.get("/api/settings").json()
        assert shown["settings"]["flows"]["order_to_invoice"]["enabled"] is False
    assert settings_file.read_text() == ORIGINAL
