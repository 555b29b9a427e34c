"""The flow builder end to end in headless Chromium: the seed's three custom-logic examples built from nothing in
the form, dry-run on sandbox records (nothing written), published, and their effects seen in the sandboxes; a
Slack-format message delivered to a local receiver; a self-triggering definition refused. Screenshots of each
step are kept in test-artifacts/browser-nocode/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledgerlink.flows.defined.store import Definitions
from tests.nocode.receivers import WebhookReceiver, webhook_receiver
from tests.nocode.world import BOOKS, CRM, World, running_world
from tests.web.browser import ARGS, CHROMIUM
from tests.web.console_helpers import ADMIN, Served, serve_console

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser-nocode"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Served, WebhookReceiver]]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)")
    data_dir = tmp_path_factory.mktemp("nocode-browser")
    os.environ["LEDGERLINK_OUTBOUND_ALLOW"] = "127.0.0.0/8"  # the Slack receiver listens on 127.0.0.1
    try:
        with (
            running_world(data_dir) as w,
            serve_console(data_dir / "console", ledger=w.ledger) as served,
            webhook_receiver() as slack,
        ):
            for system in (CRM, BOOKS):
                spec = w.spec(system)
                served.console.connections.add(system, system, spec["base_url"], spec["credentials"])
            yield w, served, slack
    finally:
        os.environ.pop("LEDGERLINK_OUTBOUND_ALLOW", None)


def _condition(page: Any, field: str, op: str, value: str) -> None:
    from playwright.sync_api import expect

    count = page.locator("#conditions .condition-row").count()
    page.click("#add-condition")
    expect(page.locator("#conditions .condition-row")).to_have_count(count + 1)
    _settled(page)
    row = page.locator("#conditions .condition-row").last
    row.locator("[aria-label='condition field']").fill(field)
    row.locator("[aria-label='condition operator']").select_option(op)
    row.locator("[aria-label='condition value']").fill(value)


def _settled(page: Any) -> None:
    """Wait until htmx has settled what it swapped in: a row's own hx- attributes work only from then on (a
    person can't choose within those milliseconds; a test can, and its change would go unheard)."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-added, .htmx-swapping')"
    )


def _action(page: Any, kind: str, only_if: tuple[str, str, str] | None = None, **fields: str) -> None:
    from playwright.sync_api import expect

    count = page.locator("#actions .action-row").count()
    page.click("#add-action")
    expect(page.locator("#actions .action-row")).to_have_count(count + 1)
    _settled(page)
    page.locator("#actions .action-row").last.locator("[aria-label='action type']").select_option(kind)
    row = page.locator("#actions .action-row").last
    for name in fields:  # the row is drawn again with the chosen action's fields
        expect(row.locator(f"[aria-label='{name}']")).to_be_visible()
    for name, value in fields.items():
        target = row.locator(f"[aria-label='{name}']")
        if name == "channel":
            target.select_option(value)
        else:
            target.fill(value)
    if only_if:
        row.locator("[aria-label='only if field']").fill(only_if[0])
        row.locator("[aria-label='only if operator']").select_option(only_if[1])
        row.locator("[aria-label='only if value']").fill(only_if[2])


def _new_flow(page: Any, base: str, name: str, obj: str, event: str, field: str = "") -> None:
    page.goto(base + "/flows/defined")
    page.click("#new-flow")
    page.fill("#flow-name", name)
    page.fill("#flow-description", f"{name}, built in the browser test")
    page.fill("#trigger-object", obj)
    page.select_option("#trigger-event", event)
    if field:
        page.fill("#trigger-field", field)


def _save_and_dry_run(page: Any, name: str, record: str, shot: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#diagram")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / f"{shot}-built.png"), full_page=True)
    page.click("#save-flow")
    expect(page.locator(".flash")).to_contain_text("Saved as version 1")
    page.fill("#dry-run-record", record)
    page.click("#dry-run-button")
    expect(page.locator("#dry-run-status")).to_contain_text("Nothing was written")
    page.screenshot(path=str(ARTIFACTS / f"{shot}-dry-run.png"), full_page=True)


def _publish(page: Any, version: int = 1) -> None:
    from playwright.sync_api import expect

    page.locator(f"#version-{version} button.publish").click()
    expect(page.locator(".flash")).to_contain_text(f"Version {version} is published")


def test_build_dry_run_and_publish_the_seed_examples(world: tuple[World, Served, WebhookReceiver]) -> None:
    from playwright.sync_api import expect, sync_playwright

    w, served, slack = world
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    home = w.account("Harbourview Trading", "United Kingdom")
    abroad = w.account("Fjord Shipping", "Norway")
    entry = w.product("CONS-DAY", 500.0)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        try:
            page.goto(served.url + "/signin")
            page.fill("#username", ADMIN[0])
            page.fill("#password", ADMIN[1])
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_have_text("Overview")

            # 1. Only Approved Orders are invoiced.
            _new_flow(page, served.url, "approved_orders", "Order", "field_changed", "Approved__c")
            _condition(page, "Approved__c", "eq", "true")
            _condition(page, "Status", "eq", "Activated")
            _action(page, "map_invoice", mapping="order_to_canonical")
            _action(page, "create_invoice")
            _action(page, "update_record", set="Accounting_Invoice_Number__c: {{ invoice_number }}")
            expect(page.locator("#diagram")).to_contain_text("ONLY IF Approved__c = true AND Status = 'Activated'")
            probe = w.order(home, [(entry, 2, 500.0, None)], approved=True, activate=True)
            _save_and_dry_run(page, "approved_orders", probe, "01-approved")
            expect(page.locator("#dry-run-steps")).to_contain_text("create_invoice")
            expect(page.locator("#dry-run-steps")).to_contain_text("would")
            assert w.invoice("Order", probe) is None, "the dry run wrote an invoice"
            _publish(page)
            approved = w.order(home, [(entry, 2, 500.0, None)], approved=True)
            unapproved = w.order(home, [(entry, 1, 500.0, None)], approved=False)
            w.poll()
            invoice = w.invoice("Order", approved)
            assert invoice is not None and invoice["net"] == Decimal("1000")
            assert w.invoice("Order", unapproved) is None

            # 2. International orders carry a 5% handling-fee line.
            _new_flow(page, served.url, "international_fee", "Order", "field_changed", "Status")
            _condition(page, "Status", "eq", "Activated")
            _action(page, "map_invoice", mapping="order_to_canonical")
            _action(
                page,
                "add_line",
                ("Account.BillingCountry", "not_in", "United Kingdom, UK, GB"),
                description="International handling fee",
                percent="5",
            )
            _action(page, "create_invoice")
            expect(page.locator("#diagram")).to_contain_text("IF Account.BillingCountry not in")
            probe = w.order(abroad, [(entry, 2, 500.0, None)], approved=False, activate=True)
            _save_and_dry_run(page, "international_fee", probe, "02-fee")
            expect(page.locator("#dry-run-steps")).to_contain_text("International handling fee")
            expect(page.locator("#dry-run-steps")).to_contain_text('"unit_price": "50.00"')
            _publish(page)
            fee_order = w.order(abroad, [(entry, 2, 500.0, None)], approved=False)
            w.poll()
            fee = w.invoice("Order", fee_order)
            assert fee is not None and fee["lines"][-1] == ("International handling fee", Decimal("50.00"))

            # 3. An invoice is split by project, and accounting is told on Slack.
            _new_flow(page, served.url, "split_projects", "Order", "field_changed", "Status")
            _condition(page, "Status", "eq", "Activated")
            _action(page, "map_invoice", mapping="order_to_canonical")
            _action(page, "split_by", line_field="Project__c")
            _action(page, "create_invoice")
            _action(
                page,
                "notify",
                channel="slack",
                to=slack.url,
                title="Invoices {{ invoice_number }}",
                message="{{ Account.Name }}: order invoiced by project as {{ invoice_number }}",
            )
            lines = [(entry, 1, 500.0, "Apollo"), (entry, 2, 500.0, "Gemini"), (entry, 1, 500.0, "Apollo")]
            probe = w.order(home, lines, approved=False, activate=True)
            _save_and_dry_run(page, "split_projects", probe, "03-split")
            expect(page.locator("#dry-run-steps")).to_contain_text(f"{probe}-Apollo")
            page.click("#recent-button")  # the recent records, each a dry run away
            page.locator(f"#recent-records button:has-text('{probe}')").click()
            expect(page.locator("#dry-run-status")).to_contain_text(f"Dry run on Order {probe}")
            assert slack.received == [], "the dry run sent a notification"
            _publish(page)
            split = w.order(home, lines, approved=False)
            w.poll()
            apollo, gemini = w.invoice("Order", f"{split}-Apollo"), w.invoice("Order", f"{split}-Gemini")
            assert apollo is not None and apollo["net"] == Decimal("1000")
            assert gemini is not None and gemini["net"] == Decimal("1000")
            (message,) = [m for m in slack.received if split in str(m) or "Harbourview" in str(m)]
            blocks = message["json"]["blocks"]
            numbers = blocks[0]["text"]["text"].removeprefix("Invoices ")
            assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": f"Invoices {numbers}"}}
            assert set(numbers.split(", ")) == {apollo["number"], gemini["number"]}
            assert blocks[1]["text"] == {
                "type": "mrkdwn",
                "text": f"Harbourview Trading: order invoiced by project as {numbers}",
            }

            # 4. A definition whose action would trigger itself is refused, with the cycle named.
            _new_flow(page, served.url, "stamp_orders", "Order", "updated")
            _action(page, "update_record", set="Description: checked by LedgerLink")
            expect(page.locator("#problems")).to_contain_text("stamp_orders → stamp_orders")
            page.click("#save-flow")
            page.locator("#version-1 button.publish").click()
            expect(page.locator(".flash.error")).to_contain_text("would trigger itself")
            expect(page.locator(".flash.error")).to_contain_text("cycle: stamp_orders → stamp_orders")
            page.screenshot(path=str(ARTIFACTS / "04-refused.png"), full_page=True)
            published = [v.name for v in Definitions(w.ledger).published()]
            assert published == ["approved_orders", "international_fee", "split_projects"]
            # The refused publish answers 409 (its page says why); Chromium logs any 4xx page load as an error.
            assert [e for e in errors if "409 (Conflict)" not in e] == [], errors
        finally:
            browser.close()


def test_the_field_mapper_connects_fields_by_click_and_uses_suggestions(
    world: tuple[World, Served, WebhookReceiver],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    _w, served, _slack = world
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        try:
            page.goto(served.url + "/signin")
            page.fill("#username", ADMIN[0])
            page.fill("#password", ADMIN[1])
            page.click("button[type=submit]")
            page.goto(served.url + "/flows/mapper?source=salesforce/Account&target=canonical/Customer")
            page.click("#source-fields li[data-field='Name']")
            page.click("#target-fields li[data-field='name']")
            expect(page.locator("#connections tr[data-to='name']")).to_contain_text("Name")
            page.locator("[aria-label='transform for name']").select_option("strip")
            page.click("#use-suggestions")
            assert page.locator("#connections tr[data-to]").count() > 2
            page.fill("#mapper-name", "salesforce/account_from_browser")
            page.screenshot(path=str(ARTIFACTS / "05-mapper.png"), full_page=True)
            page.click("#mapper-save")
            expect(page.locator("h1")).to_have_text("Mapping salesforce/account_from_browser")
            expect(page.locator("#yaml")).to_contain_text("from: Name")
            assert errors == [], errors
        finally:
            browser.close()
