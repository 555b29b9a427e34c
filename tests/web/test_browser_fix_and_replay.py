"""The console end to end in headless Chromium: sign in, see the failure, fix the mapping with its live preview,
replay the record and watch it succeed. Screenshots of each step are kept in test-artifacts/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.browser import ARGS, CHROMIUM
from tests.web.console_helpers import ADMIN, Served, serve_console
from tests.web.scenario import BROKEN_LINE, GOOD_LINE, Scenario, broken_mapping_failure

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Scenario, Served]]:
    data_dir = tmp_path_factory.mktemp("browser")
    with (
        broken_mapping_failure(data_dir) as scenario,
        serve_console(data_dir / "console", ledger=scenario.ledger) as served,
    ):
        served.console.connections.add(
            "salesforce", "salesforce", scenario.salesforce_spec["base_url"], scenario.salesforce_spec["credentials"]
        )
        yield scenario, served


@pytest.fixture(autouse=True)
def _scenario_mappings(world: tuple[Scenario, Served], monkeypatch: pytest.MonkeyPatch) -> None:
    # The suite's conftest clears LEDGERLINK_MAPPINGS_DIR per test; flows and console must read the scenario's.
    monkeypatch.setenv("LEDGERLINK_MAPPINGS_DIR", str(world[0].mappings_dir))


def test_fix_a_broken_mapping_and_replay(world: tuple[Scenario, Served]) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)")
    from playwright.sync_api import expect, sync_playwright

    scenario, served = world
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        try:
            page.goto(served.url + "/")
            expect(page).to_have_url(served.url + "/signin?next=/")
            page.fill("#username", ADMIN[0])
            page.fill("#password", ADMIN[1])
            page.screenshot(path=str(ARTIFACTS / "01-signin.png"))
            page.click("button[type=submit]")

            expect(page.locator("h1")).to_have_text("Overview")
            expect(page.locator("#flows")).to_contain_text("opportunity_to_invoice")
            expect(page.locator("#flows")).to_contain_text("1 failed")
            page.screenshot(path=str(ARTIFACTS / "02-overview.png"), full_page=True)

            page.click("text=1 failed")
            expect(page.locator("#failed-table")).to_contain_text(scenario.opportunity_id)
            page.screenshot(path=str(ARTIFACTS / "03-failed-records.png"), full_page=True)

            page.click(f"a.record-link:has-text('{scenario.opportunity_id}')")
            expect(page.locator("#attempts")).to_contain_text("issue_date")
            expect(page.locator("#attempts")).to_contain_text("required value is missing")
            page.screenshot(path=str(ARTIFACTS / "04-failed-record.png"), full_page=True)

            page.click("#fix-mapping")
            # The preview runs on the real opportunity fetched from the Salesforce sandbox and shows the problem.
            expect(page.locator("#preview-problems")).to_contain_text("issue_date", timeout=60000)
            expect(page.locator("#preview-result")).to_contain_text("fetched live")
            page.screenshot(path=str(ARTIFACTS / "05-editor-broken.png"), full_page=True)

            text = page.input_value("#yaml")
            assert BROKEN_LINE in text
            page.fill("#yaml", text.replace(BROKEN_LINE, GOOD_LINE))
            expect(page.locator("#preview-ok")).to_be_visible()
            expect(page.locator("#preview-values")).to_contain_text('"issue_date": "2025-03-14"')
            page.screenshot(path=str(ARTIFACTS / "06-editor-fixed-preview.png"), full_page=True)

            page.click("#save")
            expect(page.locator(".flash")).to_contain_text("Saved")
            assert GOOD_LINE in (scenario.mappings_dir / "salesforce" / "opportunity_to_canonical.yaml").read_text()

            page.click("#back-to-failed")
            page.click("#replay")
            expect(page.locator("#replay-status")).to_contain_text("Replay succeeded", timeout=60_000)
            expect(page.locator("#invoice-number")).not_to_be_empty()
            page.screenshot(path=str(ARTIFACTS / "07-replayed.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert not errors, errors  # no script errors (a CSP violation would show here)
    row = scenario.ledger.failed_record(scenario.failed_id)
    assert row is not None and row.status == "resolved"
    assert scenario.ledger.lookup("salesforce", "Opportunity", scenario.opportunity_id, "kashflow")
