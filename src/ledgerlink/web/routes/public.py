"""The only routes open to anyone: sign-in and the health check."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ledgerlink.web.console import console
from ledgerlink.web.security import SESSION_COOKIE, SIGNIN_CSRF_COOKIE
from ledgerlink.web.templating import render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str) -> str:
    # Only same-site paths: "//evil.example" or "https://…" would make sign-in an open redirect.
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def _signin_page(request: Request, next_path: str, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "signin.html",
        {"signin_csrf": token, "next": _safe_next(next_path), "error": error},
        status_code=status_code,
    )
    response.set_cookie(
        SIGNIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=console(request).settings.cookie_secure,
        max_age=3600,
    )
    return response


@router.get("/signin", name="signin_page")
async def signin_page(request: Request, next: str = "/") -> HTMLResponse:
    return _signin_page(request, next)


@router.post("/signin", name="signin")
async def signin(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    expected = request.cookies.get(SIGNIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _signin_page(request, next, "Your sign-in form expired; please try again.", status_code=403)
    c = console(request)
    user = c.users.verify(username, password)
    if user is None:
        return _signin_page(request, next, "Wrong username or password.", status_code=401)
    session_id = c.users.open_session(user.pk, c.settings.session_hours)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        c.signer.dumps(session_id, salt="session"),
        httponly=True,
        samesite="lax",
        secure=c.settings.cookie_secure,
        max_age=int(c.settings.session_hours * 3600),
    )
    response.delete_cookie(SIGNIN_CSRF_COOKIE)
    return response


@router.get("/healthz", name="healthz")
async def healthz(request: Request) -> JSONResponse:
    from sqlalchemy import text

    try:
        with console(request).ledger.session() as s:
            s.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "database unavailable"}, 503)
    return JSONResponse({"status": "ok"})
