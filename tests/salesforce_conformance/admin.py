"""The sandbox's test-only admin endpoints, over TLS with the sandbox's own CA."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from ledgerlink.sandbox.runner import Sandbox


def admin(box: Sandbox, method: str, path: str, **kwargs: Any) -> Any:
    context = ssl.create_default_context(cafile=box.describe()["ca_file"])
    response = httpx.request(method, f"{box.base_url}/__admin/{path}", verify=context, trust_env=False, **kwargs)
    response.raise_for_status()
    return response.json()
