"""Finding 11, "no header timeout": a client that trickles its request headers (slowloris) is cut off, on the first
request of a connection and on a kept-alive one; a client that sends them in time is served. Over real TCP on
loopback, the console app behind uvicorn with the protocol `ledgerlink serve` uses."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from ledgerlink.web import ConsoleSettings, create_app
from ledgerlink.web.protocol import HeaderDeadlineProtocol

DEADLINE = 1.0


@pytest.fixture
def port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setenv("LEDGERLINK_HEADER_TIMEOUT_SECONDS", str(DEADLINE))
    url = f"sqlite:///{(tmp_path / 'ledgerlink.db').resolve()}"
    app = create_app(ConsoleSettings(data_dir=tmp_path, database_url=url))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free, http=HeaderDeadlineProtocol, timeout_keep_alive=30, log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(300):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started
    try:
        yield free
    finally:
        server.should_exit = True
        thread.join(10)


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """True when the server closes the connection before ``seconds`` pass (recv returns b"")."""
    sock.settimeout(seconds)
    try:
        while chunk := sock.recv(65536):
            del chunk
        return True
    except TimeoutError:
        return False


def test_trickled_headers_are_cut_off(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: console\r\n")  # and never the blank line
        started = time.monotonic()
        assert _closed_within(slow, DEADLINE + 5)
        assert time.monotonic() - started < DEADLINE + 5


def test_headers_in_time_are_served_and_the_next_request_gets_the_same_deadline(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: console\r\n\r\n")
        client.settimeout(10)
        answer = client.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:80]
        time.sleep(DEADLINE / 2)
        client.sendall(b"GET /healthz HTTP/1.1\r\n")  # a kept-alive connection starts trickling
        assert _closed_within(client, DEADLINE + 5)
