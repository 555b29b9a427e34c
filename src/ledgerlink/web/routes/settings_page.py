"""The settings page: the same tree as the settings file (``ledgerlink.toml``) and `ledgerlink config show`, secrets
masked. An admin switches flows on and off and edits any key; the change is validated, written back to the same
file (comments kept) and audited. Running workers apply a change within a few seconds (engine/settings_watch);
the database and the connections when they restart."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import tomlkit
from fastapi import Request
from fastapi.responses import HTMLResponse

from ledgerlink.settings import (
    FLOW_MODELS,
    LedgerLinkSettings,
    SettingsError,
    as_dict,
    as_toml,
    settings_path,
    write_settings,
)
from ledgerlink.web.console import console
from ledgerlink.web.routes._common import api_router, page_router
from ledgerlink.web.templating import render

pages = page_router()
api = api_router("settings")
MAX_VALUE_CHARS = 4000  # a value typed into the form: a number, a word, a short list of tax rules
AUDIT_FLOW = "console"


def _file() -> Path:
    return settings_path()


def _load() -> LedgerLinkSettings:
    from ledgerlink.bootstrap import load_app_settings

    return load_app_settings(_file())


def _fields() -> dict[str, Any]:
    from ledgerlink.engine.runtime import settings_fields

    return settings_fields()


def _page(request: Request, status: int = 200, **extra: object) -> HTMLResponse:
    context: dict[str, Any] = {"active": "/settings", "file": _file(), "exists": _file().exists()}
    try:
        app = _load()
        data = as_dict(app)
        context.update(
            flows=[
                (name, section.enabled, str(section.schedule or "")) for name, section in app.flows.sections().items()
            ],
            defaults=data["defaults"],
            flow_values={name: data["flows"].get(name, {}) for name in app.flows.sections()},
            text=as_toml(app),
        )
    except SettingsError as exc:
        context.update(flows=[], defaults={}, flow_values={}, text="", problems=exc.lines())
    return render(request, "settings.html", {**context, **extra}, status_code=status)


def _parse_value(text: str) -> Any:
    """A value as it would be written in the file (``30``, ``"GBP"``, ``[{country = "IE", rate = 0}]``); a bare word
    is taken as text."""
    if len(text) > MAX_VALUE_CHARS:
        raise ValueError(f"a value is at most {MAX_VALUE_CHARS} characters")
    try:
        return tomlkit.parse(f"v = {text}")["v"]
    except Exception:
        return text.strip()


def _key(path: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in path.split("."))
    if len(parts) < 2 or parts[0] not in ("database", "connections", "defaults", "flows") or not all(parts):
        raise ValueError(f"{path!r} is not a settings key (e.g. defaults.payment_terms_days)")
    return parts


def _apply(request: Request, changes: dict[tuple[str, ...], Any]) -> LedgerLinkSettings:
    """Validate and write ``changes`` to the settings file, audit each, and refresh an engine running here."""
    from ledgerlink.engine import runtime as engine
    from ledgerlink.engine.flows import registered_flows

    before = as_dict(_load()) if _file().exists() else {}
    app = write_settings(_file(), changes, extra_fields=_fields(), extra_flows=list(registered_flows()))
    after = as_dict(app)
    principal = request.state.principal
    c = console(request)
    for loc in changes:
        c.ledger.audit(
            flow=AUDIT_FLOW,
            system="ledgerlink",
            obj="settings",
            action="updated",
            record_id=".".join(loc),
            detail={"key": ".".join(loc), "from": _at(before, loc), "to": _at(after, loc), "by": principal.username},
        )
    try:
        rt = engine.current()
    except RuntimeError:
        return app
    rt.settings.flows = engine.flow_settings_from(app)
    rt.settings.app = app
    return app


def _applies(loc: tuple[str, ...]) -> str:
    if loc and loc[0] in ("database", "connections"):
        return "workers apply it when they restart"
    return "running workers apply it within seconds"


def _at(data: dict[str, Any], loc: tuple[str, ...]) -> Any:
    node: Any = data
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


@pages.get("/settings", name="settings_page")
async def settings_page(request: Request) -> HTMLResponse:
    return await asyncio.to_thread(_page, request)


@pages.post("/settings/flows/{flow}", name="settings_flow_switch")
async def settings_flow_switch(request: Request, flow: str) -> HTMLResponse:
    form = await request.form()
    on = str(form.get("enabled", "")) == "on"
    try:
        await asyncio.to_thread(_apply, request, {("flows", flow, "enabled"): on})
    except SettingsError as exc:
        return _page(request, status=400, flash="; ".join(exc.lines()), flash_error=True)
    return _page(request, flash=f"{flow} switched {'on' if on else 'off'}; running workers apply it within seconds.")


@pages.post("/settings/value", name="settings_value")
async def settings_value(request: Request) -> HTMLResponse:
    form = await request.form()
    try:
        loc = _key(str(form.get("key", "")))
        value = None if form.get("remove") else _parse_value(str(form.get("value", "")))
        await asyncio.to_thread(_apply, request, {loc: value})
    except (ValueError, SettingsError) as exc:
        message = "; ".join(exc.lines()) if isinstance(exc, SettingsError) else str(exc)
        return _page(request, status=400, flash=message, flash_error=True)
    return _page(request, flash=f"{'.'.join(loc)} saved; {_applies(loc)}.")


@api.get("/settings", name="api_settings")
async def api_settings() -> dict[str, Any]:
    """Every setting in force (the file and the environment over it), secrets masked: `ledgerlink config show`."""
    app = await asyncio.to_thread(_load)
    return {"file": str(_file()), "flows": sorted(FLOW_MODELS), "settings": as_dict(app)}
