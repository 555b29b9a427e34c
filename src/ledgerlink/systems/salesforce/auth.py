"""OAuth 2.0 flows against ``/services/oauth2/token``: client credentials, JWT bearer and refresh token.

Each flow's ``fetch_token`` returns a fresh access token; the client calls it again whenever Salesforce answers
INVALID_SESSION_ID, so every flow renews itself the same way. Secrets (client secret, private key, refresh and
access tokens) are kept out of ``repr`` and out of every error message.

``from_spec`` picks the flow from a connection's ``credentials``: ``refresh_token`` (+ ``client_id``, optional
``client_secret``), or ``private_key``/``private_key_file`` + ``username`` (+ ``client_id``), or ``client_id`` +
``client_secret``. A value written ``"env:NAME"`` is read from the environment variable NAME, and a connection
without credentials reads ``LEDGERLINK_SALESFORCE_<KEY>`` variables (e.g. ``LEDGERLINK_SALESFORCE_CLIENT_ID``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt

from ledgerlink.systems.errors import AuthenticationError, TransientError
from ledgerlink.systems.http import send

SYSTEM = "salesforce"
TOKEN_PATH = "/services/oauth2/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 170  # Salesforce refuses assertions expiring more than 3 minutes ahead
ENV_PREFIX = "LEDGERLINK_SALESFORCE_"
CREDENTIAL_KEYS = ("client_id", "client_secret", "private_key", "private_key_file", "username", "refresh_token")


@dataclass(frozen=True)
class Token:
    access_token: str = field(repr=False)
    instance_url: str


class OAuthFlow(Protocol):
    def fetch_token(self, client: httpx.Client) -> Token: ...


def _token_request(client: httpx.Client, data: dict[str, str]) -> dict[str, Any]:
    response = send(client, SYSTEM, "POST", TOKEN_PATH, data=data)
    if response.status_code >= 500:
        raise TransientError(
            f"token endpoint answered {response.status_code}", system=SYSTEM, status=response.status_code
        )
    if response.status_code != 200:
        try:
            body = response.json()
            reason = f"{body.get('error')}: {body.get('error_description')}"
        except (ValueError, AttributeError):
            reason = f"HTTP {response.status_code}"
        # Salesforce only echoes an error code and description, never the secret, so the reason is safe to show.
        raise AuthenticationError(
            f"OAuth token request refused ({reason})", system=SYSTEM, status=response.status_code, code="invalid_grant"
        )
    body = response.json()
    if not isinstance(body, dict) or "access_token" not in body or "instance_url" not in body:
        raise AuthenticationError("OAuth token response lacks access_token or instance_url", system=SYSTEM)
    return body


def _token(body: dict[str, Any]) -> Token:
    return Token(access_token=str(body["access_token"]), instance_url=str(body["instance_url"]))


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str = field(repr=False)

    def fetch_token(self, client: httpx.Client) -> Token:
        return _token(
            _token_request(
                client,
                {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret},
            )
        )

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"ClientCredentials(client_id={self.client_id!r}, client_secret='***')"


@dataclass(frozen=True)
class JwtBearer:
    """RS256 assertion signed with the connected app's private key; ``audience`` defaults to the login URL."""

    client_id: str
    username: str
    private_key: str = field(repr=False)  # PEM
    audience: str | None = None

    def assertion(self, audience: str, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims = {"iss": self.client_id, "sub": self.username, "aud": audience, "exp": issued + JWT_LIFETIME_SECONDS}
        try:
            return jwt.encode(claims, self.private_key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            # The library's message may quote key material; say only what is wrong.
            raise AuthenticationError(
                f"the private key for {self.username!r} can't sign an RS256 assertion ({type(exc).__name__})",
                system=SYSTEM,
                code="invalid_private_key",
            ) from None

    def fetch_token(self, client: httpx.Client) -> Token:
        audience = self.audience or str(client.base_url).rstrip("/")
        return _token(_token_request(client, {"grant_type": JWT_GRANT, "assertion": self.assertion(audience)}))

    def __repr__(self) -> str:
        return f"JwtBearer(client_id={self.client_id!r}, username={self.username!r}, private_key='***')"


class RefreshToken:
    """The refresh-token grant; a refresh token rotated by Salesforce replaces the old one."""

    def __init__(self, client_id: str, refresh_token: str, client_secret: str | None = None) -> None:
        self.client_id = client_id
        self._refresh_token = refresh_token
        self._client_secret = client_secret
        self._lock = threading.Lock()

    def fetch_token(self, client: httpx.Client) -> Token:
        with self._lock:
            data = {"grant_type": "refresh_token", "refresh_token": self._refresh_token, "client_id": self.client_id}
            if self._client_secret:
                data["client_secret"] = self._client_secret
            body = _token_request(client, data)
            if body.get("refresh_token"):
                self._refresh_token = str(body["refresh_token"])
            return _token(body)

    def __repr__(self) -> str:
        return f"RefreshToken(client_id={self.client_id!r}, refresh_token='***')"


def resolve_credentials(
    credentials: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Credentials with ``env:NAME`` values read from the environment, or all from LEDGERLINK_SALESFORCE_* ."""
    env = os.environ if environ is None else environ
    if not credentials:
        found = {key: env[ENV_PREFIX + key.upper()] for key in CREDENTIAL_KEYS if env.get(ENV_PREFIX + key.upper())}
        if not found:
            raise ValueError(
                "no Salesforce credentials: give the connection 'credentials' or set "
                f"{ENV_PREFIX}CLIENT_ID and {ENV_PREFIX}CLIENT_SECRET (or _PRIVATE_KEY/_USERNAME, or _REFRESH_TOKEN)"
            )
        return found
    resolved: dict[str, str] = {}
    for key, value in credentials.items():
        text = "" if value is None else str(value)
        if text.startswith("env:"):
            name = text[4:]
            if name not in env:
                raise ValueError(f"Salesforce credential {key!r} names environment variable {name}, which is not set")
            text = env[name]
        resolved[key] = text
    return resolved


def from_spec(spec: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> OAuthFlow:
    """The OAuth flow a connection describes (see the module docstring for the keys)."""
    creds = resolve_credentials(spec.get("credentials"), environ)
    client_id = creds.get("client_id", "")
    if not client_id:
        raise ValueError("Salesforce credentials need a client_id (the connected app's consumer key)")
    if creds.get("refresh_token"):
        return RefreshToken(client_id, creds["refresh_token"], creds.get("client_secret") or None)
    key = creds.get("private_key") or ""
    if not key and creds.get("private_key_file"):
        key = Path(creds["private_key_file"]).expanduser().read_text()
    if key:
        if not creds.get("username"):
            raise ValueError("Salesforce JWT bearer credentials need a username (the JWT 'sub')")
        audience = creds.get("audience") or spec.get("audience")
        return JwtBearer(client_id, creds["username"], key, str(audience) if audience else None)
    if creds.get("client_secret"):
        return ClientCredentials(client_id, creds["client_secret"])
    raise ValueError(
        "Salesforce credentials must hold client_secret (client credentials), private_key and username "
        "(JWT bearer) or refresh_token"
    )


class SalesforceAuth(httpx.Auth):
    """The session as an ``httpx.Auth``: a Bearer token from the configured OAuth flow (fetched through the login
    client), renewed once when a call is refused with 401 (INVALID_SESSION_ID), whichever flow it is."""

    def __init__(self, flow: OAuthFlow, login: httpx.Client) -> None:
        self.flow = flow
        self.login = login
        self._token: Token | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SalesforceAuth({self.flow!r})"

    def token(self) -> Token:
        """The current token, fetched when there is none."""
        with self._lock:
            if self._token is None:
                self._token = self.flow.fetch_token(self.login)
            return self._token

    def expire(self, stale: Token) -> None:
        with self._lock:
            if self._token is stale:
                self._token = None

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        for attempt in range(2):
            token = self.token()
            request.headers["Authorization"] = f"Bearer {token.access_token}"
            response = yield request
            if response.status_code != 401 or attempt == 1:
                return
            self.expire(token)
