"""``POST /api/authTokens`` and the ``Authorization: TOKEN json:{…}`` / ``TOKEN uuid:…`` check."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response

from ledgerlink.sandbox.kashoo.state import KashooState, ks
from ledgerlink.sandbox.kashoo.wire import ApiError, KashooJSON

router = APIRouter(prefix="/api")


def basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


async def _login_fields(request: Request) -> dict[str, str]:
    fields: dict[str, str] = {k: v for k, v in request.query_params.items()}
    raw = await request.body()
    kind = request.headers.get("content-type", "")
    if raw and "json" in kind:
        try:
            data: Any = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "INVALID_JSON", "the body is not valid JSON") from exc
        if isinstance(data, dict):
            fields.update({str(k): str(v) for k, v in data.items()})
    elif raw:
        fields.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
    if basic := basic_credentials(request.headers.get("authorization", "")):
        fields["email"], fields["password"] = basic
    return fields


@router.post("/authTokens")
async def create_token(request: Request) -> KashooJSON:
    """Credentials as form fields ``email``/``password`` (or JSON, or HTTP Basic); optional ``duration`` in ms."""
    state = ks(request)
    fields = await _login_fields(request)
    cfg = state.config
    if fields.get("email", "").lower() != cfg.email.lower() or fields.get("password") != cfg.password:
        raise ApiError(401, "INVALID_CREDENTIALS", "the e-mail address or password is incorrect")
    ttl_ms = int(cfg.token_ttl_seconds * 1000)
    if fields.get("duration", "").isdigit():
        ttl_ms = min(ttl_ms, int(fields["duration"]))  # a client may ask for less, never more
    code = str(uuid.uuid4())
    expiry = state.now_ms() + ttl_ms
    with state.store.lock:
        state.tokens[code] = expiry
    return KashooJSON(
        {
            "authenticationCode": code,
            "expiryDate": expiry,
            "locale": "default",
            "myUserId": cfg.user_id,
            "restriction": None,
            "site": "app.kashoo.net",
        }
    )


def token_code(header: str) -> str | None:
    """The authentication code in a ``TOKEN json:{…}`` or ``TOKEN uuid:…`` header, if well formed."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.upper() != "TOKEN":
        return None
    value = value.strip()
    if value.startswith("json:"):
        try:
            data = json.loads(value[5:])
        except ValueError:
            return None
        code = data.get("authenticationCode") if isinstance(data, dict) else None
        return str(code) if code else None
    if value.startswith("uuid:"):
        return value[5:].strip() or None
    return None


@router.delete("/authTokens/{code}", status_code=204)
async def revoke_token(code: str, request: Request) -> Response:
    state = ks(request)
    with state.store.lock:
        state.tokens.pop(code, None)
    return Response(status_code=204)


def require_token(request: Request) -> str:
    """FastAPI dependency for every business call. The server's expiry is what counts, not the header's copy."""
    state: KashooState = ks(request)
    code = token_code(request.headers.get("authorization", ""))
    if code is None:
        raise ApiError(401, "UNAUTHORIZED", "send Authorization: TOKEN json:{…} or TOKEN uuid:<code>")
    with state.store.lock:
        expiry = state.tokens.get(code)
        if expiry is None:
            raise ApiError(401, "INVALID_TOKEN", "the authentication token is not recognised")
        if expiry <= state.now_ms():
            state.tokens.pop(code, None)
            raise ApiError(401, "TOKEN_EXPIRED", "the authentication token has expired; request a new one")
    return code
