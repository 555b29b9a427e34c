"""OAuth 2.0 flows against ``/services/oauth2/token``. Each returns a fresh access token and instance URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from ledgerlink.connectors._http import send
from ledgerlink.connectors.errors import AuthenticationError, TransientError

SYSTEM = "salesforce"


@dataclass(frozen=True)
class Token:
    access_token: str
    instance_url: str


class OAuthFlow(Protocol):
    def fetch_token(self, client: httpx.Client) -> Token: ...


def _token_request(client: httpx.Client, data: dict[str, str]) -> Token:
    response = send(client, SYSTEM, "POST", "/services/oauth2/token", data=data)
    if response.status_code >= 500:
        raise TransientError(
            f"token endpoint answered {response.status_code}", system=SYSTEM, status=response.status_code
        )
    if response.status_code != 200:
        try:
            body = response.json()
            reason = f"{body.get('error')}: {body.get('error_description')}"
        except ValueError:
            reason = response.text[:200]
        # The reason never contains the secret itself: Salesforce only echoes the error code.
        raise AuthenticationError(f"OAuth token request refused ({reason})", system=SYSTEM, status=response.status_code)
    body = response.json()
    return Token(access_token=body["access_token"], instance_url=body["instance_url"])


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str

    def fetch_token(self, client: httpx.Client) -> Token:
        return _token_request(
            client,
            {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret},
        )

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"ClientCredentials(client_id={self.client_id!r}, client_secret='***')"
