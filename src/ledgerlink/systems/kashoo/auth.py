"""Kashoo's token as an ``httpx.Auth``: ``POST /api/authTokens`` with the user's e-mail and password gives a token
JSON, sent back verbatim as ``Authorization: TOKEN json:{…}``; a 401 gets a new token and repeats the same request
once. The sign-in goes through the same client, so it is paced and counted."""

from __future__ import annotations

import json
import threading
from collections.abc import Generator
from typing import Any

import httpx

from ledgerlink.systems.errors import AuthenticationError, TransientError
from ledgerlink.systems.http import retry_after_seconds

SYSTEM = "kashoo"


def error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]  # some gateways answer errors as a one-element list
    return body if isinstance(body, dict) else {}


class KashooAuth(httpx.Auth):
    requires_response_body = True  # the sign-in reads its JSON

    def __init__(self, base_url: str, email: str, password: str, token: str | None = None) -> None:
        self.url = base_url.rstrip("/") + "/authTokens"
        self.email = email
        self._password = password
        self._token = token  # a token obtained elsewhere (shared by workers of one connection); renewed on 401
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"KashooAuth(email={self.email!r})"

    def _sign_in(self) -> Generator[httpx.Request, httpx.Response, str]:
        response = yield httpx.Request("POST", self.url, data={"email": self.email, "password": self._password})
        response.read()  # the answer inside the auth flow is still a stream
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(
                f"POST authTokens: HTTP {response.status_code}",
                system=SYSTEM,
                status=response.status_code,
                retry_after=retry_after_seconds(response),
            )
        if response.status_code == 404:  # no Kashoo API at this URL: never "the record was not found"
            raise AuthenticationError(f"no sign-in at {self.url} (HTTP 404): is the base URL right?", system=SYSTEM)
        if response.status_code != 200:
            code = error_body(response).get("errorCode", response.status_code)
            raise AuthenticationError(f"login refused: {code}", system=SYSTEM, status=401)
        # Sent back verbatim as the header's JSON; it names a token, never the password.
        return json.dumps(response.json(), separators=(",", ":"))

    def token(self, client: httpx.Client) -> str:
        """The current token JSON, signing in through ``client`` when there is none (to share with other workers)."""
        with self._lock:
            if self._token is None:
                flow = self._sign_in()
                request = next(flow)
                try:
                    flow.send(client.send(request, auth=None))
                except StopIteration as done:
                    self._token = str(done.value)
            assert self._token is not None
            return self._token

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        for attempt in range(2):
            with self._lock:  # one sign-in at a time; the others wait for its token
                if self._token is None:
                    self._token = yield from self._sign_in()
                token = self._token
            request.headers["Authorization"] = f"TOKEN json:{token}"
            response = yield request
            if response.status_code != 401 or attempt == 1:
                return
            with self._lock:
                if self._token == token:
                    self._token = None
