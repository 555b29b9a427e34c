"""Sign-in, roles and CSRF, checked on every route the app has."""

from __future__ import annotations

import httpx
import pytest

from ledgerlink.web.security import VIEWER_MAY_POST
from tests.security.routes import PUBLIC, SIGNATURE_AUTH, endpoints, non_api_routes
from tests.web.console_helpers import ADMIN, VIEWER, Served, signed_in


def _refused_anonymously(response: httpx.Response) -> bool:
    if response.status_code == 401:
        return True
    return response.status_code == 303 and response.headers["location"].startswith("/signin")


def test_the_app_has_routes_to_check(served: Served) -> None:
    names = {e.name for e in endpoints(served.app)}
    assert {"overview", "failed_list", "failed_replay_page", "mapping_save_page", "api_replay", "metrics"} <= names
    assert non_api_routes(served.app) == []  # e.g. no unauthenticated StaticFiles mount


def test_every_route_refuses_an_anonymous_request(served: Served) -> None:
    with httpx.Client(base_url=served.url, follow_redirects=False) as anonymous:
        for endpoint in endpoints(served.app):
            if endpoint.name in PUBLIC:
                continue
            response = anonymous.request(endpoint.method, endpoint.path)
            assert _refused_anonymously(response), (endpoint, response.status_code, response.text[:200])
            assert "opportunity" not in response.text.lower()  # no page content leaks into the refusal


def test_a_bad_bearer_token_is_refused_everywhere(served: Served) -> None:
    headers = {"Authorization": "Bearer llk_not-a-real-token"}
    with httpx.Client(base_url=served.url, headers=headers, follow_redirects=False) as client:
        for endpoint in endpoints(served.app):
            if endpoint.name not in PUBLIC:
                assert _refused_anonymously(client.request(endpoint.method, endpoint.path)), endpoint


def test_public_routes_are_only_sign_in_and_health(served: Served) -> None:
    with httpx.Client(base_url=served.url) as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        assert "Sign in" in anonymous.get("/signin").text


def test_a_form_posted_without_its_csrf_token_is_refused(served: Served) -> None:
    client, csrf = signed_in(served.url, ADMIN)
    with client:
        for endpoint in endpoints(served.app):
            if endpoint.name in PUBLIC | SIGNATURE_AUTH or not endpoint.unsafe:
                continue
            without = client.request(endpoint.method, endpoint.path, data={"ids": "1", "yaml": "x"})
            assert without.status_code == 403 and "CSRF" in without.text, (endpoint, without.status_code)
            wrong = client.request(endpoint.method, endpoint.path, data={"csrf_token": "0" * 64, "ids": "1"})
            assert wrong.status_code == 403, endpoint
        # and the token that the page carries is accepted
        assert client.post("/alerts/check", data={"csrf_token": csrf}).status_code == 200


def test_sign_in_itself_needs_its_form_token(served: Served) -> None:
    with httpx.Client(base_url=served.url) as client:
        response = client.post("/signin", data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": "forged"})
        assert response.status_code == 403 and "ll_session" not in response.cookies


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(served: Served) -> None:
    with httpx.Client(base_url=served.url) as client:
        page = client.get("/signin")
        from tests.web.console_helpers import csrf_of

        for user, password in ((ADMIN[0], "nope-nope"), ("nobody", "nope-nope")):
            response = client.post(
                "/signin", data={"username": user, "password": password, "csrf_token": csrf_of(page.text)}
            )
            assert response.status_code == 401 and "Wrong username or password" in response.text
            page = response  # each form carries a fresh token


@pytest.mark.parametrize("via", ["session", "token"])
def test_a_viewer_cannot_change_anything(served: Served, via: str) -> None:
    if via == "session":
        client, csrf = signed_in(served.url, VIEWER)
        client.headers["X-CSRF-Token"] = csrf
    else:
        # Viewers can't create tokens (that is a change); an admin issues them (`ledgerlink user token`).
        viewer = next(u for u in served.console.users.all() if u.username == VIEWER[0])
        _id, token = served.console.users.create_token(viewer.pk, "viewer-test")
        client = httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"})
    with client:
        for endpoint in endpoints(served.app):
            if endpoint.name in PUBLIC or not endpoint.unsafe or endpoint.name in VIEWER_MAY_POST:
                continue
            response = client.request(endpoint.method, endpoint.path, json={}, follow_redirects=False)
            assert response.status_code in ((401, 403) if endpoint.name in SIGNATURE_AUTH else (403,)), (
                endpoint,
                response.status_code,
                response.text[:200],
            )
        assert client.get("/api/me").json()["role"] == "viewer"


def test_viewer_may_post_only_names_read_only_actions() -> None:
    assert {"signout", "mapping_preview_page", "api_mapping_preview"} == VIEWER_MAY_POST


def test_signing_out_ends_the_session(served: Served) -> None:
    client, csrf = signed_in(served.url, ADMIN)
    with client:
        cookie = client.cookies.get("ll_session")
        assert client.post("/signout", data={"csrf_token": csrf}).status_code == 303
        stale = httpx.get(served.url + "/api/me", cookies={"ll_session": cookie or ""})
        assert stale.status_code == 401
