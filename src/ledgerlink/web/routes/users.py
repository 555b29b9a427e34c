"""User management for admins (the console's side of ``ledgerlink user disable|passwd|revoke-tokens``)."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from ledgerlink.web.console import console
from ledgerlink.web.routes._common import api_router, page_router
from ledgerlink.web.schemas import ErrorOut
from ledgerlink.web.security import CurrentUser
from ledgerlink.web.services.users import UserError
from ledgerlink.web.templating import render

pages = page_router()
api = api_router("users")
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut},
    404: {"model": ErrorOut, "description": "no such user"},
    409: {"model": ErrorOut, "description": "not on your own account (use /api/tokens for your own tokens)"},
}


class UserOut(BaseModel):
    username: str
    role: str
    disabled: bool


class PasswordIn(BaseModel):
    password: str = Field(min_length=1, max_length=1024)


class Done(BaseModel):
    detail: str


def _admin(user: CurrentUser) -> None:
    if not user.is_admin:  # reads are open to viewers elsewhere; the user list is not
        raise HTTPException(403, "this needs the admin role")


@api.get("/users", response_model=list[UserOut])
async def api_users(request: Request, user: CurrentUser) -> list[UserOut]:
    _admin(user)
    return [UserOut(username=u.username, role=u.role, disabled=bool(u.disabled)) for u in console(request).users.all()]


@api.post("/users/{username}/disable", response_model=Done, responses=ERRORS)
async def api_user_disable(request: Request, username: str, user: CurrentUser) -> Done:
    if username == user.username:
        raise HTTPException(409, "not on your own account: another admin must disable you")
    try:
        console(request).users.set_disabled(username, True)
    except UserError as exc:
        raise HTTPException(404, str(exc)) from None
    return Done(detail=f"{username} disabled: sessions ended, tokens no longer work")


@api.post("/users/{username}/enable", response_model=Done, responses=ERRORS)
async def api_user_enable(request: Request, username: str) -> Done:
    try:
        console(request).users.set_disabled(username, False)
    except UserError as exc:
        raise HTTPException(404, str(exc)) from None
    return Done(detail=f"{username} enabled")


@api.put("/users/{username}/password", response_model=Done, responses=ERRORS)
async def api_user_password(request: Request, username: str, body: PasswordIn) -> Done:
    try:
        await run_in_threadpool(console(request).users.set_password, username, body.password)  # argon2: off the loop
    except UserError as exc:
        raise HTTPException(400, str(exc)) from None
    return Done(detail=f"password of {username} changed; their sessions have ended")


@api.post("/users/{username}/revoke-tokens", response_model=Done, responses=ERRORS)
async def api_user_revoke_tokens(request: Request, username: str, user: CurrentUser) -> Done:
    if username == user.username:
        raise HTTPException(409, "not on your own account: revoke your own tokens one by one under /api/tokens")
    try:
        count = console(request).users.revoke_all_tokens(username)
    except UserError as exc:
        raise HTTPException(404, str(exc)) from None
    return Done(detail=f"revoked {count} token(s) of {username}")


# The same four actions on a console page, for admins who don't script the API.


def _users_page(request: Request, user: CurrentUser, flash: str | None = None, error: bool = False) -> HTMLResponse:
    _admin(user)
    users = [UserOut(username=u.username, role=u.role, disabled=bool(u.disabled)) for u in console(request).users.all()]
    context = {"active": "/users", "users": users, "flash": flash, "flash_error": error}
    return render(request, "users.html", context, status_code=400 if error else 200)


@pages.get("/users", name="users_page")
async def users_page(request: Request, user: CurrentUser) -> HTMLResponse:
    return _users_page(request, user)


@pages.post("/users/{username}/{action}", name="user_action_page")
async def user_action_page(request: Request, username: str, action: str, user: CurrentUser) -> HTMLResponse:
    try:
        if action == "disable":
            done = await api_user_disable(request, username, user)
        elif action == "enable":
            done = await api_user_enable(request, username)
        elif action == "revoke-tokens":
            done = await api_user_revoke_tokens(request, username, user)
        elif action == "password":
            password = (await request.form()).get("password")
            if not isinstance(password, str) or not password:
                raise HTTPException(400, "type the new password")
            done = await api_user_password(request, username, PasswordIn(password=password[:1024]))
        else:
            raise HTTPException(404, f"no action {action!r} on a user")
    except HTTPException as exc:
        if exc.status_code == 404 and action not in ("disable", "enable", "revoke-tokens", "password"):
            raise
        return _users_page(request, user, flash=str(exc.detail), error=True)
    return _users_page(request, user, flash=done.detail)
