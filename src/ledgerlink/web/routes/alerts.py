"""Alerts: rules on failure rate, dead letters, API budget and stalled triggers, and the events they fired."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from ledgerlink.alerts import KINDS, check_and_send
from ledgerlink.store.console_tables import AlertEvent, AlertRule
from ledgerlink.web import schemas
from ledgerlink.web.background import console_triggers
from ledgerlink.web.console import Console, console
from ledgerlink.web.routes._common import api_router, page_router
from ledgerlink.web.templating import render

pages = page_router()
api = api_router("alerts")


def _host_only(url: str | None) -> str | None:
    """A webhook URL as a viewer may see it: the host, not the path or query (they often carry a token)."""
    if not url:
        return url
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}/…"


def _rule_out(r: AlertRule, admin: bool = True) -> schemas.AlertRuleOut:
    return schemas.AlertRuleOut.model_validate(
        {
            "id": r.pk,
            "name": r.name,
            "kind": r.kind,
            "threshold": r.threshold,
            "window_minutes": r.window_minutes,
            "subject": r.subject,
            "webhook_url": r.webhook_url if admin else _host_only(r.webhook_url),
            "email_to": r.email_to,
            "cooldown_minutes": r.cooldown_minutes,
            "enabled": bool(r.enabled),
            "last_fired_at": r.last_fired_at,
        }
    )


def _event_out(e: AlertEvent) -> schemas.AlertEventOut:
    return schemas.AlertEventOut(
        id=e.pk, rule_id=e.rule_pk, at=e.at, message=e.message, value=e.value, deliveries=e.deliveries
    )


def _rules(c: Console, admin: bool) -> list[schemas.AlertRuleOut]:
    with c.ledger.session() as s:
        return [_rule_out(r, admin) for r in s.scalars(select(AlertRule).order_by(AlertRule.pk))]


def _is_admin(request: Request) -> bool:
    return bool(getattr(getattr(request.state, "principal", None), "is_admin", False))


def _events(c: Console, limit: int = 100) -> list[schemas.AlertEventOut]:
    with c.ledger.session() as s:
        return [_event_out(e) for e in s.scalars(select(AlertEvent).order_by(AlertEvent.pk.desc()).limit(limit))]


def _add(c: Console, rule: schemas.AlertRuleIn) -> schemas.AlertRuleOut:
    with c.ledger.session() as s:
        row = AlertRule(**rule.model_dump(), enabled=1)
        s.add(row)
        s.flush()
        return _rule_out(row)


def _delete(c: Console, rule_id: int) -> bool:
    with c.ledger.session() as s:
        row = s.get(AlertRule, rule_id)
        if row is None:
            return False
        s.delete(row)
        return True


async def _check(c: Console) -> list[schemas.AlertEventOut]:
    triggers = await asyncio.to_thread(console_triggers)
    events = await asyncio.to_thread(
        check_and_send, c.ledger, c.connections.smtp_settings, None, c.settings.outbound_policy(), triggers
    )
    return [_event_out(e) for e in events]


def _page(request: Request, status: int = 200, **extra: object) -> HTMLResponse:
    c = console(request)
    context = {"active": "/alerts", "rules": _rules(c, _is_admin(request)), "events": _events(c), "kinds": KINDS}
    return render(request, "alerts.html", {**context, **extra}, status_code=status)


@pages.get("/alerts", name="alerts_page")
async def alerts_page(request: Request) -> HTMLResponse:
    return _page(request)


@pages.post("/alerts/rules", name="alert_add_page")
async def alert_add_page(request: Request) -> Response:
    form = await request.form()
    raw = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token" and v != ""}
    try:
        _add(console(request), schemas.AlertRuleIn.model_validate(raw))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return _page(request, status=400, flash=f"Rule not added: {problems}", flash_error=True)
    return RedirectResponse("/alerts", status_code=303)


@pages.post("/alerts/rules/{rule_id}/delete", name="alert_delete_page")
async def alert_delete_page(request: Request, rule_id: int) -> Response:
    if not _delete(console(request), rule_id):
        raise HTTPException(404, "no such rule")
    return RedirectResponse("/alerts", status_code=303)


@pages.post("/alerts/check", name="alert_check_page")
async def alert_check_page(request: Request) -> HTMLResponse:
    events = await _check(console(request))
    return _page(request, flash=f"Checked the rules: {len(events)} alert(s) sent.")


@api.get("/alerts/rules", response_model=list[schemas.AlertRuleOut])
async def api_rules(request: Request) -> list[schemas.AlertRuleOut]:
    return _rules(console(request), _is_admin(request))


@api.post("/alerts/rules", response_model=schemas.AlertRuleOut, status_code=201)
async def api_rule_add(request: Request, body: schemas.AlertRuleIn) -> schemas.AlertRuleOut:
    return _add(console(request), body)


@api.delete("/alerts/rules/{rule_id}", status_code=204, responses={404: {"model": schemas.ErrorOut}})
async def api_rule_delete(request: Request, rule_id: int) -> None:
    if not _delete(console(request), rule_id):
        raise HTTPException(404, "no such rule")


@api.get("/alerts/events", response_model=list[schemas.AlertEventOut])
async def api_events(request: Request) -> list[schemas.AlertEventOut]:
    return _events(console(request))


@api.post("/alerts/check", response_model=list[schemas.AlertEventOut])
async def api_check(request: Request) -> list[schemas.AlertEventOut]:
    return await _check(console(request))
