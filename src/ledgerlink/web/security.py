"""Who is asking, and may they: the one dependency every protected route goes through.

Anonymous requests are refused (pages redirect to sign-in, the API answers 401). A state-changing request
signed in by cookie must carry the CSRF token (header ``X-CSRF-Token`` or form field ``csrf_token``); bearer
tokens are not ambient credentials, so they need none. Every state-changing route is admin-only unless it is
named in ``VIEWER_MAY_POST`` (read-only actions that use POST, like a mapping preview).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
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
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    c = console(request)
    try:
        value = c.signer.loads(raw, max_age=int(c.settings.session_hours * 3600), salt="session")
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


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


async def authenticate(request: Request) -> Principal:
    c = console(request)
    principal: Principal | None = None
    token = _bearer(request)
    if token is not None:
        principal = c.users.token_principal(token)
    else:
        session_id = session_id_from_cookie(request)
        principal = c.users.session_principal(session_id) if session_id else None
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
