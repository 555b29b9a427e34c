"""The overview: is it working? Flows, records synced, failures and API budget over time."""

from __future__ import annotations

import asyncio

from fastapi import Request
from fastapi.responses import HTMLResponse

from ledgerlink.web import schemas
from ledgerlink.web.background import console_triggers
from ledgerlink.web.charts import line_chart
from ledgerlink.web.console import console
from ledgerlink.web.routes._common import api_router, page_router
from ledgerlink.web.services import overview as svc

pages = page_router()
api = api_router("overview")


@pages.get("/", name="overview")
async def overview(request: Request) -> HTMLResponse:
    from ledgerlink.web.templating import render

    c = console(request)
    triggers = await asyncio.to_thread(console_triggers)
    synced = svc.per_hour(c.ledger, svc.WRITE_ACTIONS)
    failures = svc.per_hour(c.ledger, ("failed",))
    budget = svc.api_budget(c.ledger)
    return render(
        request,
        "overview.html",
        {
            "active": "/",
            "flows": svc.flows(c.ledger, triggers),
            "connections": c.connections.list(),
            "synced_chart": line_chart({"records written": synced}, title="Records synced per hour"),
            "failures_chart": line_chart({"failures": failures}, title="Failures per hour"),
            "budget_chart": line_chart(budget, title="API budget per connection"),
        },
    )


@api.get("/overview", response_model=schemas.OverviewOut)
async def api_overview(request: Request) -> schemas.OverviewOut:
    c = console(request)
    triggers = await asyncio.to_thread(console_triggers)

    def pts(points: list[svc.Point]) -> list[schemas.SeriesPoint]:
        return [schemas.SeriesPoint(at=t, value=v) for t, v in points]

    return schemas.OverviewOut(
        flows=[schemas.FlowSummary(**f.__dict__) for f in svc.flows(c.ledger, triggers)],
        synced_per_hour=pts(svc.per_hour(c.ledger, svc.WRITE_ACTIONS)),
        failures_per_hour=pts(svc.per_hour(c.ledger, ("failed",))),
        api_budget={k: pts(v) for k, v in svc.api_budget(c.ledger).items()},
    )
