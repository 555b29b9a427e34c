"""The review queue in the console: over HTTP (API, viewer refused, decided once) and in headless Chromium
(approve one pair with HTMX; the record is linked and synced, the decision audited)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledgerlink.intelligence import review
from tests.intelligence.test_golden_sync import _kf, _unsure_pair
from tests.sync.conftest import SyncEnv, _env
from tests.web.browser import ARGS, CHROMIUM
from tests.web.console_helpers import ADMIN, VIEWER, Served, serve_console, signed_in

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[SyncEnv, Served, str]]:
    for env in _env(tmp_path, "kashflow"):
        account = _unsure_pair(env)
        env.sync_customers()
        with serve_console(tmp_path / "console", ledger=env.ledger) as served:
            yield env, served, account


def test_the_review_api_decides_once_and_viewers_may_not(world: tuple[SyncEnv, Served, str]) -> None:
    env, served, account = world
    viewer, viewer_csrf = signed_in(served.url, VIEWER)
    with viewer:
        [pending] = viewer.get("/api/reviews").json()
        assert pending["source"] == ["salesforce", "Account", account]
        refused = viewer.post(
            f"/api/reviews/{pending['id']}", json={"decision": "reject"}, headers={"X-CSRF-Token": viewer_csrf}
        )
        assert refused.status_code == 403
    admin, csrf = signed_in(served.url, ADMIN)
    with admin:
        done = admin.post(f"/api/reviews/{pending['id']}", json={"decision": "reject"}, headers={"X-CSRF-Token": csrf})
        assert done.status_code == 200, done.text
        body = done.json()
        assert body["review"]["status"] == "rejected" and body["review"]["decided_by"] == ADMIN[0]
        assert body["replay_run"]  # the engine runs in this process: the Account is synced again at once
        again = admin.post(
            f"/api/reviews/{pending['id']}", json={"decision": "approve"}, headers={"X-CSRF-Token": csrf}
        )
        assert again.status_code == 409
    assert env.audits("review_rejected") == 1
    # The rejected Account gets its own customer once the replay has run.
    for _ in range(100):
        if env.books_id(account):
            break
        time.sleep(0.2)
    assert env.books_id(account) not in (None, "GAMMA1")
    assert httpx.get(served.url + "/api/reviews").status_code == 401


@pytest.mark.browser
def test_approve_a_pair_in_the_browser(world: tuple[SyncEnv, Served, str]) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    env, served, account = world
    [pending] = review.find(env.ledger)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        try:
            page.goto(served.url + "/reviews")
            page.fill("#username", ADMIN[0])
            page.fill("#password", ADMIN[1])
            page.click("button[type=submit]")
            page.goto(served.url + "/reviews")
            card = page.locator(f"#review-{pending.id}")
            expect(card).to_contain_text("Gamma Industries Ltd")
            expect(card).to_contain_text("Gamma Industries Limited")
            expect(card).to_contain_text("BS1 4DJ")
            page.screenshot(path=str(ARTIFACTS / "review-01-queue.png"), full_page=True)
            card.locator("button.approve").click()
            expect(page.locator(f"#review-{pending.id}")).to_contain_text("approved by ada")
            page.screenshot(path=str(ARTIFACTS / "review-02-approved.png"), full_page=True)
            page.goto(served.url + "/reviews")
            expect(page.locator("#no-reviews")).to_be_visible()
        finally:
            browser.close()
    assert not errors, errors
    assert env.books_id(account) == "GAMMA1"
    assert [e.detail["by"] for e in env.ledger.audit_trail() if e.action == "review_approved"] == ["ada"]
    assert len(list(_kf(env).client.list("customers"))) == 1
