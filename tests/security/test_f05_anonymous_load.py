"""Finding 5: anonymous requests are refused before their body is read or parsed, every body has a size cap,
and sign-in runs argon2 off the event loop, throttled per address and per user, with a lockout."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.web.console_helpers import ADMIN, Served, csrf_of, signed_in


def _signin(url: str, username: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=30) as client:
        page = client.get("/signin")
        return client.post(
            "/signin", data={"username": username, "password": password, "csrf_token": csrf_of(page.text)}
        )


def test_an_anonymous_body_is_refused_before_it_is_parsed(served: Served) -> None:
    # Not JSON at all: a 401, not a 422, shows the body was never parsed.
    response = httpx.post(
        f"{served.url}/api/failed/replay", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401


def test_an_anonymous_streamed_body_is_not_read(served: Served) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(100):  # 100 MB if it were all read
            sent += 1
            yield b" " * (1024 * 1024)

    started = time.monotonic()
    try:
        response = httpx.post(
            f"{served.url}/api/failed/replay", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 401
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        pass  # the server answered and closed without reading the rest: also a refusal
    assert sent < 100 or time.monotonic() - started < 30


def test_a_declared_oversize_body_is_a_413_even_signed_in(served: Served) -> None:
    client, csrf = signed_in(served.url)
    with client:
        limit = served.console.settings.max_body_bytes
        big = b'{"ids": [' + b"1," * (limit // 2) + b"1]}"
        response = client.post(
            "/api/failed/replay", content=big, headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"}
        )
        assert response.status_code == 413


def test_a_chunked_oversize_body_is_cut_off(served: Served) -> None:
    client, csrf = signed_in(served.url)
    limit = served.console.settings.max_body_bytes

    def chunks() -> Iterator[bytes]:
        yield b'{"ids": ['
        for _ in range(limit // 1024 + 10):
            yield b"1," * 512
        yield b"1]}"

    with client:
        response = client.post(
            "/api/failed/replay", content=chunks(), headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"}
        )
        assert response.status_code == 413


def test_a_deeply_nested_api_body_is_a_client_error(served: Served) -> None:
    client, csrf = signed_in(served.url)
    with client:
        response = client.post(
            "/api/failed/replay",
            content=b"[" * 100_000 + b"]" * 100_000,
            headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
        )
        assert 400 <= response.status_code < 500


def test_sign_in_runs_argon2_off_the_event_loop(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    users = served.console.users
    on_loop: list[bool] = []
    running, most = [0], [0]
    lock = threading.Lock()
    real_verify = users.verify

    def verify(username: str, password: str):  # type: ignore[no-untyped-def]
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            return real_verify(username, password)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(users, "verify", verify)

    def one(i: int) -> None:
        _signin(served.url, f"parallel-{i}", "wrong password 123")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for _ in range(5):  # the loop keeps answering while the password checks run
        assert httpx.get(f"{served.url}/healthz", timeout=10).status_code == 200
    for t in threads:
        t.join()
    assert on_loop and not any(on_loop)  # every password check ran in a worker thread
    assert 1 <= most[0] <= 2  # and only a couple at once, so a burst can't take every core and thread


def test_repeated_failures_lock_the_user_out_and_are_throttled(served: Served) -> None:
    served.console.users.add("locky", "a long password 123", role="viewer")
    statuses = [_signin(served.url, "locky", f"wrong {i}").status_code for i in range(12)]
    assert statuses[0] == 401 and 429 in statuses
    refused = _signin(served.url, "locky", "a long password 123")  # even the right password, while locked
    assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit()
    assert _signin(served.url, *ADMIN).status_code == 303  # another user is not affected
