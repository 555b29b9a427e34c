"""``POST /services/oauth2/token``: client credentials, JWT bearer, username-password and refresh token grants."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from .org import SalesforceOrg

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOCK_SKEW_SECONDS = 5


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.status = status
        self.body = {"error": error, "error_description": description}


def token_response(
    org: SalesforceOrg, form: dict[str, str], authorization: str | None, base_url: str
) -> dict[str, Any]:
    """The token endpoint's JSON for a form-encoded request; raises OAuthError."""
    grant = form.get("grant_type", "")
    cfg = org.config
    client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode()
        except (ValueError, UnicodeDecodeError) as exc:
            raise OAuthError("invalid_client", "invalid client credentials") from exc
        client_id, _, client_secret = decoded.partition(":")
    refresh_token: str | None = None
    if grant == "client_credentials":
        _check_client(org, client_id, client_secret)
        username = cfg.username
    elif grant == "password":
        _check_client(org, client_id, client_secret)
        if form.get("username") != cfg.username or form.get("password") != cfg.password:
            raise OAuthError("invalid_grant", "authentication failure")
        username = cfg.username
        refresh_token = org.tokens.issue("refresh", client_id, username).token
    elif grant == "refresh_token":
        info = org.tokens.validate(form.get("refresh_token", ""), kind="refresh")
        if info is None:
            raise OAuthError("invalid_grant", "expired access/refresh token")
        if client_id != info.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if client_secret and client_secret != cfg.client_secret:
            raise OAuthError("invalid_client", "invalid client credentials")
        username = info.username
    elif grant == JWT_GRANT:
        client_id = _check_jwt(org, form.get("assertion", ""), base_url)
        username = cfg.username
    else:
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    access = org.tokens.issue("access", client_id, username)
    identity = f"{base_url}/id/{cfg.org_id}/{cfg.user_id}"
    issued_at = str(access.issued_at)
    signature = base64.b64encode(
        hmac.new(cfg.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
    ).decode()
    body: dict[str, Any] = {
        "access_token": access.token,
        "instance_url": base_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": signature,
        "scope": "api refresh_token" if refresh_token else "api",
    }
    if refresh_token:
        body["refresh_token"] = refresh_token
    return body


def _check_client(org: SalesforceOrg, client_id: str, client_secret: str) -> None:
    if client_id != org.config.client_id:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if not hmac.compare_digest(client_secret.encode(), org.config.client_secret.encode()):
        raise OAuthError("invalid_client", "invalid client credentials")


def _public_key(pem: str) -> Any:
    data = pem.encode()
    if b"BEGIN CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return load_pem_public_key(data)


def _check_jwt(org: SalesforceOrg, assertion: str, base_url: str) -> str:
    """Verify an RS256 assertion as Salesforce does; returns the client id (iss)."""
    cfg = org.config
    if not cfg.jwt_certificate_pem:
        raise OAuthError("invalid_grant", "no certificate is configured for JWT bearer flow")
    if not assertion:
        raise OAuthError("invalid_grant", "invalid assertion")
    audiences = [*cfg.jwt_audiences, base_url]
    try:
        claims = jwt.decode(
            assertion,
            _public_key(cfg.jwt_certificate_pem),
            algorithms=["RS256"],
            audience=audiences,
            options={"require": ["exp", "iss", "sub", "aud"]},
            leeway=CLOCK_SKEW_SECONDS,
        )
    except jwt.ExpiredSignatureError as exc:
        raise OAuthError("invalid_grant", "expired authorization code") from exc
    except jwt.InvalidAudienceError as exc:
        raise OAuthError("invalid_grant", "audience is invalid") from exc
    except jwt.PyJWTError as exc:
        raise OAuthError("invalid_grant", "invalid assertion") from exc
    if claims["iss"] != cfg.client_id:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if claims["sub"] != cfg.username:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    limit = cfg.jwt_max_lifetime_seconds
    if float(claims["exp"]) > time.time() + limit + CLOCK_SKEW_SECONDS:
        raise OAuthError("invalid_grant", f"expiration time is too far in the future (at most {limit} seconds)")
    return str(claims["iss"])
