"""Signed-in basics: sign-out, static assets, ``/metrics``, who-am-I and API tokens."""

from __future__ import annotations

from pathlib import Path

from fastapi import HTTPException, Request
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse

from ledgerlink.web import metrics, schemas
from ledgerlink.web.console import console
from ledgerlink.web.routes._common import api_router, page_router
from ledgerlink.web.security import SESSION_COOKIE, CurrentUser

pages = page_router()
api = api_router("session")

_STATIC = Path(__file__).resolve().parent.parent / "static"
_ASSETS = {"htmx.min.js": "text/javascript", "app.js": "text/javascript", "flow_mapper.js": "text/javascript"}


@pages.post("/signout", name="signout")
async def signout(request: Request, user: CurrentUser) -> RedirectResponse:
    if user.session_id:
        console(request).users.close_session(user.session_id)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@pages.get("/static/{name}", name="static")
async def static(name: str) -> FileResponse:
    if name not in _ASSETS:  # a fixed list: no path from the URL ever reaches the filesystem
        raise HTTPException(404, "no such asset")
    return FileResponse(_STATIC / name, media_type=_ASSETS[name], headers={"Cache-Control": "private, max-age=3600"})


@pages.get("/metrics", name="metrics")
async def prometheus(request: Request) -> PlainTextResponse:
    return PlainTextResponse(metrics.render(console(request).ledger), media_type="text/plain; version=0.0.4")


@api.get("/me", response_model=schemas.Me)
async def me(user: CurrentUser) -> schemas.Me:
    return schemas.Me(username=user.username, role=user.role, via=user.via)


@api.get("/tokens", response_model=list[schemas.TokenOut])
async def list_tokens(request: Request, user: CurrentUser) -> list[schemas.TokenOut]:
    return [
        schemas.TokenOut(
            id=t.pk,
            name=t.name,
            prefix=t.prefix,
            created_at=t.created_at,
            last_used_at=t.last_used_at,
            revoked=t.revoked_at is not None,
        )
        for t in console(request).users.tokens(user.user_pk)
    ]


@api.post("/tokens", response_model=schemas.TokenCreated, status_code=201)
async def create_token(request: Request, body: schemas.TokenIn, user: CurrentUser) -> schemas.TokenCreated:
    token_id, token = console(request).users.create_token(user.user_pk, body.name)
    return schemas.TokenCreated(id=token_id, name=body.name, token=token)


@api.delete(
    "/tokens/{token_id}",
    status_code=204,
    responses={404: {"model": schemas.ErrorOut}, 409: {"model": schemas.ErrorOut}},
)
async def revoke_token(request: Request, token_id: int, user: CurrentUser) -> None:
    if user.token_pk == token_id:
        raise HTTPException(409, "this request is authenticated by that token; revoke it with another")
    if not console(request).users.revoke_token(user.user_pk, token_id):
        raise HTTPException(404, "no such token")
