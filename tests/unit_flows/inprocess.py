"""The vendors' sandboxes in-process: each sandbox's ASGI app behind an ``httpx.MockTransport``, so a client (and so a
flow's step) runs against it with no server, no port and no DBOS — the fast unit-test twin of the HTTP tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

from ledgerlink.sandbox.runner import sandbox_kinds


class InProcessSandbox:
    def __init__(self, system: str, data_dir: Path, *, base_url: str = "http://sandbox.test") -> None:
        kind = sandbox_kinds()[system]
        data_dir.mkdir(parents=True, exist_ok=True)
        self.config: Any = kind.config(data_path=data_dir / f"{system}.db")
        self.client = TestClient(kind.create_app(self.config), base_url=base_url)
        self.base_url = base_url
        self.api_base = base_url + kind.api_path
        self.credentials = kind.credentials(self.config)
        self.system = system

    def _forward(self, request: httpx.Request) -> httpx.Response:
        answer = self.client.request(
            request.method, str(request.url), headers=dict(request.headers), content=request.read()
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._forward)

    def describe(self) -> dict[str, Any]:
        """A connection to it, as `ledgerlink sandbox run` prints one (plus the transport to reach it)."""
        return {"system": self.system, "base_url": self.api_base, "credentials": dict(self.credentials)}

    def close(self) -> None:
        self.client.close()
