"""The shared rate limiter (exact window, 429 + Retry-After, admin) and fault injection passing through."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerlink.formats.pdf import render_pdf
from ledgerlink.sandbox import kashflow, kashoo
from ledgerlink.sandbox._faults import FaultConfig
from ledgerlink.sandbox._ratelimit import RateLimit, SlidingWindowLog
from ledgerlink.sandbox._server import RunningServer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_window_is_exact_at_the_boundary() -> None:
    clock = FakeClock()
    window = SlidingWindowLog(RateLimit(3, 10.0), clock)
    assert [window.acquire("k").allowed for _ in range(3)] == [True, True, True]
    refused = window.acquire("k")
    assert not refused.allowed and refused.retry_after == pytest.approx(10.0)
    clock.now = 1009.999
    assert not window.acquire("k").allowed
    clock.now = 1010.0  # exactly per_seconds after the burst: it has left the window
    assert [window.acquire("k").allowed for _ in range(4)] == [True, True, True, False]
    assert window.acquire("other").allowed  # keys are independent
    assert (window.allowed, window.limited) == (7, 3)


def test_window_never_admits_more_than_n_in_any_period() -> None:
    clock = FakeClock()
    window = SlidingWindowLog(RateLimit(5, 1.0), clock)
    admitted: list[float] = []
    for step in range(2000):
        clock.now = 1000.0 + step * 0.0137
        if window.acquire("k").allowed:
            admitted.append(clock.now)
    assert all(admitted[i + 5] - admitted[i] >= 1.0 - 1e-9 for i in range(len(admitted) - 5))
    # ...and it is not stingy: over ~27 s at most 5 per second, it admitted close to that.
    assert len(admitted) >= 5 * 27


@pytest.fixture
def start_kashoo(
    serve: Callable[[Any], RunningServer], tmp_path: Path, ko_auth: Callable[[str, dict[str, str]], dict[str, str]]
) -> Callable[..., tuple[RunningServer, dict[str, str]]]:
    def start(**kw: Any) -> tuple[RunningServer, dict[str, str]]:
        cfg = kashoo.KashooSandboxConfig(data_path=tmp_path / "k.sqlite3", **kw)
        server = serve(kashoo.create_app(cfg))
        return server, ko_auth(server.base_url, kashoo.credentials(cfg))

    return start


def test_burst_at_the_limit_passes_one_more_is_refused(start_kashoo: Callable[..., Any]) -> None:
    server, headers = start_kashoo(rate_limit=RateLimit(10, 2.0))
    with httpx.Client(base_url=f"{server.base_url}/api", headers=headers) as client:
        statuses = [client.get("/users/me/businesses").status_code for _ in range(10)]
        assert statuses == [200] * 10
        refused = client.get("/users/me/businesses")
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert float(refused.headers["X-RateLimit-Reset"]) <= 2.0
        assert refused.json()["errorCode"] == "TOO_MANY_REQUESTS"
        admin = httpx.get(f"{server.base_url}/__admin/ratelimit").json()
        assert (admin["requests"], admin["per_seconds"], admin["limited"]) == (10, 2.0, 1)
        # Changing the limit at run time; 500 per hour is expressible.
        changed = httpx.put(f"{server.base_url}/__admin/ratelimit", json={"requests": 500, "per_seconds": 3600})
        assert changed.json()["requests"] == 500
        assert client.get("/users/me/businesses").status_code == 200


def test_a_client_pacing_exactly_at_the_limit_never_sees_429(start_kashoo: Callable[..., Any]) -> None:
    """The documented client rule: send request k+N no sooner than P after the response to request k."""
    limit = RateLimit(4, 0.5)
    server, headers = start_kashoo(rate_limit=limit)
    answered: list[float] = []
    statuses = []
    with httpx.Client(base_url=f"{server.base_url}/api", headers=headers) as client:
        for k in range(20):
            if k >= limit.requests:
                wait = answered[k - limit.requests] + limit.per_seconds - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            statuses.append(client.get("/users/me/businesses").status_code)
            answered.append(time.monotonic())
    assert statuses == [200] * 20


def test_kashflow_limits_per_session_and_login_is_limited_by_address(
    serve: Callable[[Any], RunningServer], tmp_path: Path, kf_login: Callable[[str, dict[str, str]], str]
) -> None:
    cfg = kashflow.KashFlowSandboxConfig(data_path=tmp_path / "kf.sqlite3", rate_limit=RateLimit(3, 60))
    server = serve(kashflow.create_app(cfg))
    token = kf_login(server.base_url, kashflow.credentials(cfg))  # two requests from this address
    headers = {"Authorization": f"KfToken {token}"}
    assert [httpx.get(f"{server.base_url}/v2/vatrates", headers=headers).status_code for _ in range(4)] == [
        200,
        200,
        200,
        429,
    ]
    body = httpx.get(f"{server.base_url}/v2/vatrates", headers=headers).json()
    assert body["Error"] == "TooManyRequests"


def test_fault_injection_passes_through(start_kashoo: Callable[..., Any]) -> None:
    server, headers = start_kashoo(rate_limit=None, faults=FaultConfig(error_rate=1.0, paths=("/api/users",)))
    failed = httpx.get(f"{server.base_url}/api/users/me/businesses", headers=headers)
    assert failed.status_code == 503
    httpx.put(f"{server.base_url}/__admin/faults", json={"error_rate": 0.0})
    assert httpx.get(f"{server.base_url}/api/users/me/businesses", headers=headers).status_code == 200
    httpx.put(f"{server.base_url}/__admin/faults", json={"drop_rate": 1.0})
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{server.base_url}/api/users/me/businesses", headers=headers)


def test_pdf_writer_structure() -> None:
    pdf = render_pdf([f"line {i} (café)" for i in range(130)], title="Many lines")
    assert pdf.startswith(b"%PDF-1.4") and pdf.endswith(b"%%EOF\n")
    assert b"/Count 3" in pdf  # flowed onto three pages
    xref_at = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[xref_at:].startswith(b"xref")


def test_admin_endpoints_bypass_faults_and_query_keys_ignore_case(kf: httpx.Client, kf_admin: httpx.Client) -> None:
    kf_admin.put("/__admin/faults", json={"error_rate": 1.0})
    assert kf.get("/customers").status_code == 503
    assert kf_admin.get("/__admin/clock").status_code == 200
    kf_admin.put("/__admin/faults", json={"error_rate": 0.0})
    for i in range(3):
        kf.post("/customers", json={"Name": f"N{i}"})
    page = kf.get("/customers", params={"PerPage": 2, "PAGE": 2}).json()
    assert len(page["Data"]) == 1 and page["MetaData"]["TotalRecords"] == 3


def test_drop_after_next_writes_spares_reads_and_cuts_the_next_write_once(
    kf: httpx.Client, kf_admin: httpx.Client
) -> None:
    kf_admin.put("/__admin/faults", json={"drop_after_next_writes": 1})
    assert kf.get("/customers").status_code == 200  # a read is not a write: untouched
    with pytest.raises(httpx.RemoteProtocolError):
        kf.post("/customers", json={"Name": "Cut after saving"})
    assert kf.post("/customers", json={"Name": "Second"}).status_code in (200, 201)
    names = [c["Name"] for c in kf.get("/customers").json()["Data"]]
    assert "Cut after saving" in names  # processed although the reply was cut
    assert kf_admin.get("/__admin/faults").json()["injected"]["drops_after"] == 1
