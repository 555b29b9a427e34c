"""User management on the console page (issue 16: "the same for admins in the console"): over HTTP, and one click
in headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.web.browser import ARGS, CHROMIUM
from tests.web.console_helpers import ADMIN, VIEWER, Served, csrf_of, serve_console, signed_in


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serve_console(tmp_path / "console") as console:
        yield console


def _can_sign_in(url: str, who: tuple[str, str]) -> bool:
    with httpx.Client(base_url=url, timeout=30) as client:
        form = {"username": who[0], "password": who[1], "csrf_token": csrf_of(client.get("/signin").text)}
        return client.post("/signin", data=form, follow_redirects=False).status_code == 303


def test_an_admin_disables_re_enables_and_re_passwords_a_user(served: Served) -> None:
    viewer, _ = signed_in(served.url, VIEWER)
    admin, csrf = signed_in(served.url, ADMIN)
    with viewer, admin:
        assert viewer.get("/users").status_code == 403  # the user list is for admins only
        page = admin.get("/users")
        assert page.status_code == 200 and 'data-user="vic"' in page.text
        assert 'action="/users/ada/disable"' not in page.text  # not on your own account
        done = admin.post("/users/vic/disable", data={"csrf_token": csrf})
        assert done.status_code == 200 and "vic disabled" in done.text
        assert viewer.get("/").status_code in (302, 303, 401)  # the session ended with it
        assert not _can_sign_in(served.url, VIEWER)
        admin.post("/users/vic/enable", data={"csrf_token": csrf})
        assert _can_sign_in(served.url, VIEWER)
        weak = admin.post("/users/vic/password", data={"csrf_token": csrf, "password": "short"})
        assert weak.status_code == 400 and "password" in weak.text.lower()
        assert "short" not in weak.text.replace("too short", "")  # the typed value is never echoed
        new = ("vic", "a much longer pass phrase 7")
        changed = admin.post("/users/vic/password", data={"csrf_token": csrf, "password": new[1]})
        assert changed.status_code == 200 and "password of vic changed" in changed.text
        assert _can_sign_in(served.url, new) and not _can_sign_in(served.url, VIEWER)
        unknown = admin.post("/users/nobody/disable", data={"csrf_token": csrf})
        assert unknown.status_code == 400 and "nobody" in unknown.text
        assert admin.post("/users/vic/explode", data={"csrf_token": csrf}).status_code == 404


@pytest.mark.browser
def test_disable_a_user_with_one_click(served: Served) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # the "Disable vic?" confirmation
        try:
            page.goto(served.url + "/signin")
            page.fill("#username", ADMIN[0])
            page.fill("#password", ADMIN[1])
            page.click("button[type=submit]")
            page.click("nav a[href='/users'], header a[href='/users']")
            row = page.locator("tr[data-user='vic']")
            expect(row).to_contain_text("active")
            row.get_by_role("button", name="Disable").click()
            expect(page.locator("tr[data-user='vic']")).to_contain_text("disabled")
            expect(page.locator(".flash")).to_contain_text("vic disabled")
        finally:
            browser.close()
    assert not _can_sign_in(served.url, VIEWER)
