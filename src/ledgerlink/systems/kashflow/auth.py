"""KashFlow's session token as an ``httpx.Auth``: a two-step sign-in (user name and password, then the letters of the
memorable word at the positions KashFlow picks), sent as ``Authorization: KfToken <token>``; a 401 signs in again
once and repeats the same request. Sign-in requests go through the same client, so they are paced and counted."""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import Any

import httpx

from ledgerlink.systems.errors import AuthenticationError, TransientError
from ledgerlink.systems.http import retry_after_seconds

SYSTEM = "kashflow"


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _check(response: httpx.Response, step: str) -> dict[str, Any]:
    response.read()  # a sign-in's answer inside the auth flow is still a stream
    body = _body(response)
    status = response.status_code
    if status < 300:
        return body
    code = str(body.get("Error") or body.get("error") or "")
    message = str(body.get("Message") or body.get("message") or "")
    if status == 429 or status >= 500:
        raise TransientError(
            f"{step} sessiontoken: {message or status}",
            system=SYSTEM,
            status=status,
            code=code,
            retry_after=retry_after_seconds(response),
        )
    if status == 404:  # no KashFlow API at this URL: never to be read as "the record was not found"
        raise AuthenticationError(f"no sign-in at {response.url} (HTTP 404): is the base URL right?", system=SYSTEM)
    # A refused sign-in is always a 401 to callers, whatever the server said: a 4xx here is not "no such record".
    raise AuthenticationError(f"login refused: {code} {message}".strip(), system=SYSTEM, status=401, code=code)


class KashFlowAuth(httpx.Auth):
    requires_response_body = True  # the sign-in steps read their JSON

    def __init__(self, base_url: str, username: str, password: str, memorable_word: str) -> None:
        self.url = base_url.rstrip("/") + "/sessiontoken"
        self.username = username
        self._password = password
        self._memorable_word = memorable_word
        self._token: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # keep the secrets out of logs and tracebacks
        return f"KashFlowAuth(username={self.username!r})"

    def expire(self) -> None:
        with self._lock:
            self._token = None

    def _sign_in(self) -> Generator[httpx.Request, httpx.Response, str]:
        url = self.url
        first = yield httpx.Request("POST", url, json={"UserName": self.username, "Password": self._password})
        body = _check(first, "POST")
        letters = []
        for item in body.get("MemorableWordList", []):
            position = int(item["Position"])
            if not 1 <= position <= len(self._memorable_word):
                raise AuthenticationError(
                    f"KashFlow asked for memorable-word letter {position}, the stored word is shorter", system=SYSTEM
                )
            letters.append({"Position": position, "Value": self._memorable_word[position - 1]})
        second = yield httpx.Request(
            "PUT", url, json={"TemporaryToken": body.get("TemporaryToken"), "MemorableWordList": letters}
        )
        return str(_check(second, "PUT")["SessionToken"])

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        for attempt in range(2):
            with self._lock:  # one sign-in at a time; the others wait for its token
                if self._token is None:
                    self._token = yield from self._sign_in()
                token = self._token
            request.headers["Authorization"] = f"KfToken {token}"
            response = yield request
            if response.status_code != 401 or attempt == 1:
                return
            with self._lock:  # the session expired (idle timeout, restart): sign in again, once
                if self._token == token:
                    self._token = None
