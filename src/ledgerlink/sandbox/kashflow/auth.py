"""The two-step session token dance, idle expiry and account lock-out."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from ledgerlink.sandbox.kashflow.state import KashFlowState, kf
from ledgerlink.sandbox.kashflow.wire import ApiError, KfJSON, read_object

router = APIRouter(prefix="/v2")

INVALID_SESSION = ApiError(401, "InvalidSessionToken", "Session token provided is invalid.")


def _now(state: KashFlowState) -> float:
    return state.clock.now().timestamp()


def _check_lock(state: KashFlowState) -> None:
    auth = state.auth
    if auth.locked_until is not None:
        if _now(state) < auth.locked_until:
            raise ApiError(400, "AccountLocked", "This account is locked after too many failed logins. Try later.")
        auth.locked_until, auth.failures = None, 0


def _fail(state: KashFlowState, error: ApiError) -> ApiError:
    auth = state.auth
    auth.failures += 1
    if auth.failures >= state.config.max_login_failures:
        auth.locked_until = _now(state) + state.config.lockout_minutes * 60
        return ApiError(400, "AccountLocked", "This account is locked after too many failed logins. Try later.")
    return error


@router.post("/sessiontoken")
async def request_temporary_token(request: Request) -> KfJSON:
    state = kf(request)
    body = await read_object(request)
    with state.store.lock:
        _check_lock(state)
        cfg = state.config
        user, password = body.get("username"), body.get("password")
        if not isinstance(user, str) or user.lower() != cfg.username.lower() or password != cfg.password:
            raise _fail(state, ApiError(400, "InvalidCredentials", "The user name or password is incorrect."))
        rng = secrets.SystemRandom()
        positions = sorted(rng.sample(range(1, len(cfg.memorable_word) + 1), min(3, len(cfg.memorable_word))))
        token = str(uuid.uuid4())
        expires = _now(state) + cfg.temporary_token_minutes * 60
        state.auth.temporary[token] = {"positions": positions, "expires": expires}
    return KfJSON(
        {
            "TemporaryToken": token,
            "MemorableWordList": [{"Position": p, "Value": ""} for p in positions],
            "IsAdmin": True,
            "PackageName": "Business",
            "CompanyName": cfg.company_name,
        }
    )


def _letters(body: dict[str, Any]) -> dict[int, str]:
    items = body.get("memorablewordlist")
    if not isinstance(items, list):
        raise ApiError(400, "InvalidMemorableWord", "MemorableWordList is required.")
    letters: dict[int, str] = {}
    for item in items:
        if not isinstance(item, dict):
            raise ApiError(400, "InvalidMemorableWord", "MemorableWordList entries need Position and Value.")
        position, value = item.get("position"), item.get("value")
        if isinstance(position, str) and position.isdigit():
            position = int(position)
        if not isinstance(position, int) or isinstance(position, bool) or not isinstance(value, str):
            raise ApiError(400, "InvalidMemorableWord", "MemorableWordList entries need Position and Value.")
        letters[position] = value
    return letters


@router.put("/sessiontoken")
async def upgrade_token(request: Request) -> KfJSON:
    state = kf(request)
    body = await read_object(request)
    with state.store.lock:
        _check_lock(state)
        # A temporary token is single use: wrong letters burn it and the client starts again at step 1.
        pending = state.auth.temporary.pop(str(body.get("temporarytoken", "")), None)
        if pending is None or pending["expires"] < _now(state):
            raise ApiError(400, "InvalidTemporaryToken", "The temporary token is unknown, used or expired.")
        word = state.config.memorable_word
        letters = _letters(body)
        expected = {p: word[p - 1].lower() for p in pending["positions"]}
        if {p: v.lower() for p, v in letters.items()} != expected:
            raise _fail(
                state, ApiError(400, "InvalidMemorableWord", "The memorable word characters supplied are incorrect.")
            )
        state.auth.failures = 0
        token = str(uuid.uuid4()).upper()
        state.auth.sessions[token] = _now(state)
    return KfJSON(
        {
            "SessionToken": token,
            "CompanyName": state.config.company_name,
            "IsAdmin": True,
            "SubscriptionExpired": False,
            "UserName": state.config.username,
        }
    )


@router.delete("/sessiontoken/{token}", status_code=204)
async def revoke(token: str, request: Request) -> Response:
    state = kf(request)
    with state.store.lock:
        # Logging out twice is not an error: the token is gone either way.
        state.auth.sessions.pop(token.upper(), None)
    return Response(status_code=204)


def require_session(request: Request) -> str:
    """FastAPI dependency: a live ``Authorization: KfToken …`` session, refreshed on use."""
    state = kf(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "kftoken" or not token.strip():
        raise INVALID_SESSION
    token = token.strip().upper()
    with state.store.lock:
        last = state.auth.sessions.get(token)
        now = _now(state)
        if last is None or now - last > state.config.session_idle_minutes * 60:
            state.auth.sessions.pop(token, None)
            raise INVALID_SESSION
        state.auth.sessions[token] = now
    return token


def expire_sessions(state: KashFlowState) -> int:
    with state.store.lock:
        count = len(state.auth.sessions)
        state.auth.sessions.clear()
        state.auth.temporary.clear()
        return count
