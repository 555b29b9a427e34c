"""Who is asking, and may they: the one dependency every protected route goes through.

Anonymous requests are refused (pages redirect to sign-in, the API answers 401). A state-changing request
signed in by cookie must carry the CSRF token (header ``X-CSRF-Token`` or form field ``csrf_token``); bearer
tokens are not ambient credentials, so they need none. Every state-changing route is admin-only unless it is
named in ``VIEWER_MAY_POST`` (read-only actions that use POST, like a mapping preview).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from itsdangerous import BadSignature

from ledgerlink.web.console import console
from ledgerlink.web.services.users import Principal

SESSION_COOKIE = "ll_session"
SIGNIN_CSRF_COOKIE = "ll_signin_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
VIEWER_MAY_POST = frozenset({"signout", "mapping_preview_page", "api_mapping_preview"})


class NotSignedIn(Exception):
    """Raised by ``authenticate``; the app turns it into a redirect (pages) or a 401 (API)."""


def csrf_token_for(csrf_key: bytes, session_id: str) -> str:
    # Derived from the session, so there is nothing extra to store and it dies with the session.
    return hmac.new(csrf_key, f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


def session_id_from_cookie(request: Request) -> str | None:
    """The session id from a cookie signed less than the idle timeout ago (the cookie is re-signed as it is used,
    so an active session lives on while an abandoned one dies; the absolute limit is kept in the database)."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    c = console(request)
    idle = min(c.settings.session_hours * 3600, c.settings.session_idle_minutes * 60)
    try:
        value, signed_at = c.signer.loads(raw, max_age=int(idle), salt="session", return_timestamp=True)
    except BadSignature:
        return None
    request.state.session_signed_at = signed_at
    return value if isinstance(value, str) else None


def cookie_secure(request: Request) -> bool:
    """Secure cookies when configured, and always when the request came over https (directly or, with the proxy's
    forwarded headers trusted, through a TLS proxy)."""
    return console(request).settings.cookie_secure or request.url.scheme == "https"


REFRESH_AFTER_SECONDS = 60


def set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    c = console(request)
    response.set_cookie(
        SESSION_COOKIE,
        c.signer.dumps(session_id, salt="session"),
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
        max_age=int(c.settings.session_hours * 3600),
    )


def refresh_session_cookie(request: Request, response: Response) -> None:
    """Re-sign the session cookie of an active session (at most once a minute): the idle timeout counts from the
    last request, not from sign-in."""
    principal = getattr(request.state, "principal", None)
    signed_at = getattr(request.state, "session_signed_at", None)
    if (
        principal is None
        or principal.via != "session"
        or signed_at is None
        or SESSION_COOKIE in str(response.headers.get("set-cookie", ""))
    ):
        return
    if (dt.datetime.now(dt.UTC) - signed_at).total_seconds() > REFRESH_AFTER_SECONDS:
        set_session_cookie(request, response, principal.session_id or "")


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _csrf_ok(request: Request, expected: str) -> bool:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        field_value = form.get(CSRF_FIELD)
        sent = field_value if isinstance(field_value, str) else None
    return sent is not None and hmac.compare_digest(sent, expected)


def lookup_principal(request: Request) -> Principal | None:
    """Who the caller is from the bearer token or session cookie alone (blocking: a database look-up); never reads
    the body."""
    c = console(request)
    token = _bearer(request)
    if token is not None:
        return c.users.token_principal(token)
    session_id = session_id_from_cookie(request)
    return c.users.session_principal(session_id) if session_id else None


async def authenticate(request: Request) -> Principal:
    c = console(request)
    # The guard middleware has looked the caller up already, before the body was read.
    principal: Principal | None = getattr(request.state, "guard_principal", None)
    if principal is None:
        principal = await run_in_threadpool(lookup_principal, request)
    if principal is None:
        raise NotSignedIn()
    request.state.principal = principal
    if request.method not in SAFE_METHODS:
        if principal.via == "session" and not await _csrf_ok(
            request, csrf_token_for(c.csrf_key, principal.session_id or "")
        ):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
        route = request.scope.get("route")
        if getattr(route, "name", None) not in VIEWER_MAY_POST and not principal.is_admin:
            raise HTTPException(403, "this needs the admin role")
    return principal


CurrentUser = Annotated[Principal, Depends(authenticate)]
