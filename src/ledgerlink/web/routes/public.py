"""The only routes open to anyone: sign-in and the health check."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

import anyio
from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ledgerlink.web.console import console
from ledgerlink.web.security import SIGNIN_CSRF_COOKIE, cookie_secure, set_session_cookie
from ledgerlink.web.templating import render
from ledgerlink.web.throttle import SigninThrottle

router = APIRouter(include_in_schema=False)
ARGON2_AT_ONCE = 2  # password checks running at once: argon2 is CPU- and memory-hard, and cores are few


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
        secure=cookie_secure(request),
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
    throttle = signin_throttle(request)
    ip = request.client.host if request.client else "?"
    wait = throttle.check(ip, username)
    if wait is not None:
        response = _signin_page(request, next, "Too many sign-in attempts; please wait and try again.", 429)
        response.headers["Retry-After"] = str(max(1, int(wait) + 1))
        return response
    async with _argon2_slots(request):  # off the event loop, and only a few at once
        user = await run_in_threadpool(c.users.verify, username, password)
    if user is None:
        throttle.failed(ip, username)
        return _signin_page(request, next, "Wrong username or password.", status_code=401)
    throttle.succeeded(username)
    session_id = await run_in_threadpool(c.users.open_session, user.pk, c.settings.session_hours)
    done = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(request, done, session_id)
    done.delete_cookie(SIGNIN_CSRF_COOKIE)
    return done


def _argon2_slots(request: Request) -> anyio.Semaphore:
    state = request.app.state
    if getattr(state, "argon2_slots", None) is None:  # made on first use, inside the server's event loop
        state.argon2_slots = anyio.Semaphore(ARGON2_AT_ONCE)
    slots: anyio.Semaphore = state.argon2_slots
    return slots


def signin_throttle(request: Request) -> SigninThrottle:
    """One throttle per app, built from its settings on first use."""
    state = request.app.state
    if getattr(state, "signin_throttle", None) is None:
        s = console(request).settings
        state.signin_throttle = SigninThrottle(
            s.signin_per_ip_per_minute,
            s.signin_per_user_per_minute,
            s.signin_lockout_failures,
            s.signin_lockout_minutes * 60,
        )
    throttle: SigninThrottle = state.signin_throttle
    return throttle


@router.get("/healthz", name="healthz")
async def healthz(request: Request) -> JSONResponse:
    from sqlalchemy import text

    try:
        with console(request).ledger.session() as s:
            s.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "database unavailable"}, 503)
    return JSONResponse({"status": "ok"})
