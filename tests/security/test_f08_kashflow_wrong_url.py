"""Finding 8: the connection test does not report a wrong KashFlow base URL (404 at sign-in) as working."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.web.console_helpers import Served, api_token


@pytest.fixture(scope="module")
def nothing_here() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = b'{"Message": "not found"}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/not-kashflow"
    server.shutdown()


def test_a_404_at_sign_in_is_a_failed_test(served: Served, nothing_here: str) -> None:
    headers = {"Authorization": f"Bearer {api_token(served.url)}"}
    creds = {"username": "u", "password": "p4ssword!", "memorable_word": "word"}
    added = httpx.post(
        f"{served.url}/api/connections",
        json={"name": "kf-wrong-url", "system": "kashflow", "base_url": nothing_here, "secrets": creds},
        headers=headers,
    )
    assert added.status_code == 201, added.text
    result = httpx.post(f"{served.url}/api/connections/kf-wrong-url/test", headers=headers, timeout=30).json()
    assert result["ok"] is False and "404" in result["message"], result
