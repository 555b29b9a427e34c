"""Connections: add, test, rotate credentials. Secrets are write-only: no page or response ever shows one again."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ledgerlink.connections.probe import probe
from ledgerlink.connections.store import ConnectionError_, ConnectionView, credential_fields, kinds, required_fields
from ledgerlink.outbound import OutboundRefused
from ledgerlink.web import schemas
from ledgerlink.web.console import Console, console
from ledgerlink.web.routes._common import api_router, page_router
from ledgerlink.web.templating import render

pages = page_router()
api = api_router("connections")
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": schemas.ErrorOut}}
BAD: dict[int | str, dict[str, object]] = {400: {"model": schemas.ErrorOut}}


VIEWER_FAILED = "the test failed (an admin can see why)"


VIEWER_FEED = {
    "rejected": "the service refused the change-feed parameter: full listings instead",
    "ignored": "the service ignored the change-feed parameter: full listings instead",
}


def _for_viewer(v: ConnectionView) -> ConnectionView:
    """A viewer's view: a failed test's reply and a rejection's wording may quote what some server answered."""
    if v.last_test_ok is False:
        v = replace(v, last_test_message=VIEWER_FAILED)
    if v.change_feed and v.change_feed.get("state") in VIEWER_FEED:
        v = replace(v, change_feed={**v.change_feed, "reason": VIEWER_FEED[v.change_feed["state"]]})
    return v


def _out(v: ConnectionView, admin: bool = True) -> schemas.ConnectionOut:
    return schemas.ConnectionOut(**(v if admin else _for_viewer(v)).__dict__)


def _is_admin(request: Request) -> bool:
    return bool(getattr(getattr(request.state, "principal", None), "is_admin", False))


async def _test(c: Console, name: str) -> tuple[bool, str]:
    try:
        spec = c.connections.spec(name)
        await asyncio.to_thread(c.settings.outbound_policy().check, spec["base_url"])
    except (ConnectionError_, OutboundRefused) as exc:
        c.connections.record_test(name, False, str(exc))
        return False, str(exc)
    result = await asyncio.to_thread(probe, spec)  # clients are synchronous
    c.connections.record_test(name, result.ok, result.message)
    if result.change_feed:
        c.connections.record_change_feed(name, result.change_feed)
    for metric, value in result.samples.items():
        c.connections.sample(name, metric, value)
    return result.ok, result.message


def _list_page(request: Request, status: int = 200, **extra: object) -> HTMLResponse:
    context = {
        "active": "/connections",
        "connections": [v if _is_admin(request) else _for_viewer(v) for v in console(request).connections.list()],
        "fields": {kind: credential_fields(kind) for kind in kinds()},  # every registered system, then SMTP
        "required": {kind: required_fields(kind) for kind in kinds()},
    }
    return render(request, "connections.html", {**context, **extra}, status_code=status)


@pages.get("/connections", name="connections_page")
async def connections_page(request: Request) -> HTMLResponse:
    return _list_page(request)


@pages.post("/connections", name="connection_add_page")
async def connection_add_page(request: Request) -> HTMLResponse:
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    system = values.get("system", "")
    secrets = {f: values.get(f"secret_{f}", "") for f in (credential_fields(system) if system in kinds() else [])}
    try:
        view, hook = console(request).connections.add(
            values.get("name", ""), system, values.get("base_url", ""), secrets
        )
    except ConnectionError_ as exc:
        return _list_page(request, flash=str(exc), flash_error=True, status=400)
    return _list_page(request, flash=f"Connection {view.name} added.", new_webhook_secret=hook, new_name=view.name)


@pages.post("/connections/{name}/test", name="connection_test_page")
async def connection_test_page(request: Request, name: str) -> HTMLResponse:
    c = console(request)
    if c.connections.get(name) is None:
        raise HTTPException(404, "no such connection")
    ok, message = await _test(c, name)
    return _list_page(request, flash=f"{name}: {'working' if ok else 'failing'}: {message}", flash_error=not ok)


@pages.post("/connections/{name}/credentials", name="connection_rotate_page")
async def connection_rotate_page(request: Request, name: str) -> HTMLResponse:
    c = console(request)
    view = c.connections.get(name)
    if view is None:
        raise HTTPException(404, "no such connection")
    form = await request.form()
    secrets = {f: str(form.get(f"secret_{f}") or "") for f in credential_fields(view.system)}
    try:
        c.connections.rotate(name, secrets)
    except ConnectionError_ as exc:
        return _list_page(request, flash=str(exc), flash_error=True, status=400)
    return _list_page(request, flash=f"Credentials of {name} replaced. Test the connection to check them.")


@pages.post("/connections/{name}/webhook-secret", name="connection_webhook_secret_page")
async def connection_webhook_secret_page(request: Request, name: str) -> HTMLResponse:
    try:
        secret = console(request).connections.new_webhook_secret(name)
    except KeyError:
        raise HTTPException(404, "no such connection") from None
    return _list_page(request, flash=f"New webhook secret for {name}.", new_webhook_secret=secret, new_name=name)


# --- API -----------------------------------------------------------------------------------------------------


@api.get("/connections", response_model=list[schemas.ConnectionOut])
async def api_connections(request: Request) -> list[schemas.ConnectionOut]:
    return [_out(v, _is_admin(request)) for v in console(request).connections.list()]


@api.post("/connections", response_model=schemas.ConnectionCreated, status_code=201, responses=BAD)
async def api_connection_add(request: Request, body: schemas.ConnectionIn) -> Response | schemas.ConnectionCreated:
    try:
        view, hook = console(request).connections.add(
            body.name, body.system, body.base_url, body.secrets, body.settings
        )
    except ConnectionError_ as exc:
        return JSONResponse({"detail": str(exc)}, 400)
    return schemas.ConnectionCreated(connection=_out(view), webhook_secret=hook)


@api.get("/connections/{name}", response_model=schemas.ConnectionOut, responses=NOT_FOUND)
async def api_connection(request: Request, name: str) -> schemas.ConnectionOut:
    view = console(request).connections.get(name)
    if view is None:
        raise HTTPException(404, "no such connection")
    return _out(view, _is_admin(request))


@api.post("/connections/{name}/test", response_model=schemas.TestOut, responses=NOT_FOUND)
async def api_connection_test(request: Request, name: str) -> schemas.TestOut:
    c = console(request)
    if c.connections.get(name) is None:
        raise HTTPException(404, "no such connection")
    ok, message = await _test(c, name)
    return schemas.TestOut(ok=ok, message=message)


@api.put("/connections/{name}/credentials", response_model=schemas.ConnectionOut, responses={**NOT_FOUND, **BAD})
async def api_connection_rotate(
    request: Request, name: str, body: schemas.CredentialsIn
) -> Response | schemas.ConnectionOut:
    try:
        return _out(console(request).connections.rotate(name, body.secrets))
    except KeyError:
        raise HTTPException(404, "no such connection") from None
    except ConnectionError_ as exc:
        return JSONResponse({"detail": str(exc)}, 400)


@api.post("/connections/{name}/webhook-secret", response_model=schemas.WebhookSecretOut, responses=NOT_FOUND)
async def api_connection_webhook_secret(request: Request, name: str) -> schemas.WebhookSecretOut:
    try:
        return schemas.WebhookSecretOut(webhook_secret=console(request).connections.new_webhook_secret(name))
    except KeyError:
        raise HTTPException(404, "no such connection") from None


@api.delete("/connections/{name}", status_code=204, responses=NOT_FOUND)
async def api_connection_delete(request: Request, name: str) -> None:
    if not console(request).connections.delete(name):
        raise HTTPException(404, "no such connection")
