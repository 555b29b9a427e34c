"""The golden-record review queue (approve or reject an unsure pair, side by side) and the intelligence's findings
(anomalies, schema drift), as pages (HTMX) and API."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from ledgerlink.flows import fix_rewrites
from ledgerlink.flows.sync import drift
from ledgerlink.intelligence import findings, flow_watch, review
from ledgerlink.logs import redact
from ledgerlink.systems.errors import ConnectorError
from ledgerlink.systems.registry import get_system
from ledgerlink.web import schemas
from ledgerlink.web.console import Console, console
from ledgerlink.web.routes._common import api_router, page_router
from ledgerlink.web.services import fixes, suggestions
from ledgerlink.web.services import mappings as mapping_svc
from ledgerlink.web.services.replay import ReplayUnavailable
from ledgerlink.web.templating import render

log = logging.getLogger("ledgerlink.web")
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # a table's id: bounded so a huge number is a 422, not a crash
REFUSED: dict[int | str, dict[str, Any]] = {
    404: {"model": schemas.ErrorOut, "description": "no such record"},
    409: {"model": schemas.ErrorOut, "description": "not possible in the record's state (e.g. already decided)"},
    502: {"model": schemas.ErrorOut, "description": "the source system refused the fix"},
}
pages = page_router()
api = api_router("intelligence")

# The rows of the side-by-side view: label -> how to read it off a canonical customer (as JSON).
SIDE_BY_SIDE: list[tuple[str, str]] = [
    ("Code", "code"),
    ("Name", "name"),
    ("E-mail", "email"),
    ("Phone", "phone"),
    ("Website", "website"),
    ("VAT number", "vat_number"),
    ("Street", "billing_address.lines"),
    ("City", "billing_address.city"),
    ("Postcode", "billing_address.postcode"),
    ("Country", "billing_address.country"),
]


def _value(record: dict[str, Any], path: str) -> str:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _rows(r: review.Review) -> list[tuple[str, str, str, bool]]:
    out = []
    for label, path in SIDE_BY_SIDE:
        a, b = _value(r.source_record, path), _value(r.target_record, path)
        out.append((label, a, b, bool(a and b and a.casefold() == b.casefold())))
    return out


class ReviewOut(BaseModel):
    id: int
    flow: str
    source: list[str]
    target: list[str]
    score: float
    status: str
    decided_by: str | None
    source_record: dict[str, Any]
    target_record: dict[str, Any]
    why: dict[str, Any]


class DecisionIn(BaseModel):
    decision: Literal["approve", "reject"]
    action: Literal["merge", "update", "skip"] | None = None  # with approve: what the link writes


class DecisionOut(BaseModel):
    review: ReviewOut
    replay_run: str | None
    replay_error: str | None


def _out(r: review.Review) -> ReviewOut:
    return ReviewOut(
        id=r.id,
        flow=r.flow,
        source=list(r.source),
        target=list(r.target),
        score=r.score,
        status=r.status,
        decided_by=r.decided_by,
        source_record=r.source_record,
        target_record=r.target_record,
        why=r.why,
    )


def _decide(
    c: Console, review_id: int, approve: bool, user: str, action: str | None = None
) -> tuple[review.Review, str | None, str | None]:
    """Decide, then run the source record's sync again so the decision takes effect now (linked and settled, or
    its own counterpart created) rather than at its next change."""
    try:
        decided = review.decide(c.ledger, review_id, approve=approve, user=user, action=action)
    except review.ReviewError as exc:
        raise HTTPException(409, str(exc)) from None
    try:
        return decided, c.replayer.replay(decided.flow, decided.source[2]), None
    except ReplayUnavailable as exc:
        return decided, None, str(exc)


# --- pages ---------------------------------------------------------------------------------------------------


@pages.get("/reviews", name="reviews_list")
async def reviews_list(request: Request, status: str = "pending") -> HTMLResponse:
    rows = review.find(
        console(request).ledger, status=status if status in ("pending", "approved", "rejected") else None
    )
    return render(
        request,
        "reviews.html",
        {"active": "/reviews", "reviews": [(r, _rows(r)) for r in rows], "status": status},
    )


@pages.post("/reviews/{review_id}/decide", name="review_decide_page")
async def review_decide_page(
    request: Request, review_id: RowId, decision: Annotated[Literal["approve", "merge", "reject"], Form()]
) -> HTMLResponse:
    principal = request.state.principal
    action = "merge" if decision == "merge" else None
    decided, run, error = _decide(console(request), review_id, decision != "reject", principal.username, action)
    return render(request, "_review_decided.html", {"r": decided, "run": run, "error": error})


@pages.get("/findings", name="findings_list")
async def findings_list(request: Request, kind: str = "") -> HTMLResponse:
    rows = findings.find(console(request).ledger, kind=kind or None)
    return render(request, "findings.html", {"active": "/findings", "rows": rows, "kind": kind})


@pages.post("/findings/check", name="findings_check_page")
async def findings_check_page(request: Request) -> HTMLResponse:
    """Run the anomaly scan and the schema-drift check now (they also run on their own)."""
    c = console(request)
    anomalies_found = len(flow_watch.scan(c.ledger))
    crm, books = c.connections.first_in_role("crm"), c.connections.first_in_role("accounting")
    if crm is None or books is None:
        note = "schema drift not checked: it needs a CRM and a books connection"
    else:
        from ledgerlink.connections.build import build_crm

        client = build_crm(c.connections.spec(crm), client_tag="ledgerlink-console")
        try:
            drifts = drift.check(c.ledger, client, str(c.connections.spec(books)["system"]))
            note = f"schema drift: {len(drifts)} found"
        except ConnectorError as exc:
            note = redact(f"schema drift not checked: {exc}")[:300]
        finally:
            client.close()
    rows = findings.find(c.ledger)
    flash = f"Checked: {anomalies_found} anomalies in the flows' volume and failure rate; {note}."
    return render(request, "findings.html", {"active": "/findings", "rows": rows, "kind": "", "flash": flash})


@pages.post("/findings/{finding_id}/dismiss", name="finding_dismiss_page")
async def finding_dismiss_page(request: Request, finding_id: RowId) -> HTMLResponse:
    c = console(request)
    if not findings.dismiss(c.ledger, finding_id, request.state.principal.username):
        raise HTTPException(404, "no such open finding")
    return HTMLResponse(f'<tr id="finding-{finding_id}"><td colspan="5" class="muted">Dismissed.</td></tr>')


@pages.get("/failed/{failed_id}/fix", name="failed_fix")
async def failed_fix(request: Request, failed_id: RowId) -> HTMLResponse:
    row = console(request).ledger.failed_record(failed_id)
    if row is None:
        raise HTTPException(404, "no such failed record")
    return render(request, "_fix.html", {"row": row, "fix": _suggest(console(request), row)})


@pages.post("/failed/{failed_id}/fix", name="failed_fix_apply")
async def failed_fix_apply(request: Request, failed_id: RowId) -> HTMLResponse:
    c = console(request)
    row = c.ledger.failed_record(failed_id)
    if row is None:
        raise HTTPException(404, "no such failed record")
    applied, run, error = _apply(c, row, request.state.principal.username)
    return render(request, "_fix.html", {"row": row, "fix": applied, "applied": True, "run": run, "error": error})


def _suggest(c: Console, row: Any) -> fixes.Fix | None:
    return fixes.suggest(row, _accounts(c, row), _products(c))


def _products(c: Console) -> fixes.Products | None:
    """Reads the books' products (code, name) through the first accounting connection, when the fix needs them."""
    conn = c.connections.first_in_role("accounting")
    if conn is None:
        return None

    def read() -> list[tuple[str, str]]:
        from ledgerlink.connections.build import build_accounting

        books = build_accounting(c.connections.spec(conn))
        out: list[tuple[str, str]] = []
        cursor: str | None = None
        try:
            while len(out) < fixes.MAX_PRODUCTS:
                page, cursor, more = books.products_all(cursor, 500, None)
                out.extend((p.code, p.name or "") for _, p in page if p.code)
                if not more or not page:
                    break
        except ConnectorError as exc:
            log.warning("fix suggestion: could not read the books' products: %s", redact(str(exc))[:200])
        finally:
            books.close()
        return out[: fixes.MAX_PRODUCTS]

    return read


def _accounts(c: Console, row: Any) -> fixes.Accounts | None:
    """Reads the CRM's Accounts (Id, Name) through the record's connection, when the fix needs them."""
    conn = c.connections.first_of(row.source_system)
    if conn is None or get_system(row.source_system).role != "crm":
        return None

    def read() -> list[tuple[str, str]]:
        from ledgerlink.connections.build import build_crm

        client = build_crm(c.connections.spec(conn), client_tag="ledgerlink-console")
        try:
            rows = client.query(f"SELECT Id, Name FROM Account ORDER BY Name LIMIT {fixes.MAX_ACCOUNTS}")
            return [(str(r["Id"]), str(r.get("Name") or "")) for r in rows]
        except ConnectorError as exc:
            log.warning("fix suggestion: could not read Accounts: %s", redact(str(exc))[:200])
            return []
        finally:
            client.close()

    return read


def _apply(c: Console, row: Any, user: str) -> tuple[fixes.Fix, str | None, str | None]:
    """Write the corrected value to the source record (through its connection), audit it, replay the record. A
    product code is not written to the source: the audit entry carries the rewrite the replay applies."""
    fix = _suggest(c, row)
    if fix is None or not fix.safe or not fix.source_field:
        raise HTTPException(409, "this record has no fix that is safe to apply in one click")
    if fix.kind == "product_code" and fix.replaces:
        return _apply_rewrite(c, row, user, fix)
    conn = c.connections.first_of(row.source_system)
    if conn is None or get_system(row.source_system).role != "crm":
        raise HTTPException(409, f"no {row.source_system} connection to write the fix through")
    from ledgerlink.connections.build import build_crm

    client = build_crm(c.connections.spec(conn), client_tag="ledgerlink-console")
    try:
        client.update(row.source_object, row.source_id, {fix.source_field: fix.value})
    except ConnectorError as exc:
        raise HTTPException(502, redact(f"{row.source_system} refused the fix: {exc}")[:300]) from None
    finally:
        client.close()
    c.ledger.audit(
        flow=row.flow,
        system=row.source_system,
        obj=row.source_object,
        record_id=row.source_id,
        action="fix_applied",
        source_id=row.source_id,
        detail={"field": fix.source_field, "value": fix.value, "by": user[:64], "fix": fix.message},
    )
    try:
        return fix, c.replayer.replay(row.flow, row.source_id), None
    except ReplayUnavailable as exc:
        return fix, None, str(exc)


def _apply_rewrite(c: Console, row: Any, user: str, fix: fixes.Fix) -> tuple[fixes.Fix, str | None, str | None]:
    c.ledger.audit(
        flow=row.flow,
        system=row.source_system,
        obj=row.source_object,
        record_id=row.source_id,
        action=fix_rewrites.ACTION,
        source_id=row.source_id,
        detail={
            "field": fix.source_field,
            "value": fix.value,
            "by": user[:64],
            "fix": fix.message,
            "rewrite": fix_rewrites.product_code_rewrite(str(fix.replaces), str(fix.value)),
        },
    )
    try:
        return fix, c.replayer.replay(row.flow, row.source_id), None
    except ReplayUnavailable as exc:
        return fix, None, str(exc)


class FixOut(BaseModel):
    message: str
    safe: bool
    source_field: str | None
    value: Any
    confidence: float | None
    kind: str
    replaces: str | None


@api.get("/failed/{failed_id}/fix", response_model=FixOut | None, responses=REFUSED)
async def api_failed_fix(request: Request, failed_id: RowId) -> FixOut | None:
    row = console(request).ledger.failed_record(failed_id)
    if row is None:
        raise HTTPException(404, "no such failed record")
    fix = _suggest(console(request), row)
    return FixOut(**fix.__dict__) if fix else None


@api.post("/failed/{failed_id}/fix", responses=REFUSED)
async def api_failed_fix_apply(request: Request, failed_id: RowId) -> dict[str, Any]:
    c = console(request)
    row = c.ledger.failed_record(failed_id)
    if row is None:
        raise HTTPException(404, "no such failed record")
    fix, run, error = _apply(c, row, request.state.principal.username)
    return {"fix": FixOut(**fix.__dict__).model_dump(), "replay_run": run, "replay_error": error}


@pages.get("/mappings/{system}/{name}/suggestions", name="mapping_suggestions")
async def mapping_suggestions(request: Request, system: str, name: str) -> HTMLResponse:
    c = console(request)
    full = _mapping_name(system, name)
    found = mapping_svc.read_text(c.settings.mappings_dir, full)
    if found is None:
        raise HTTPException(404, "no such mapping")
    return render(request, "_suggestions.html", {"name": full, "offers": suggestions.offers(found[0])})


@pages.post("/mappings/{system}/{name}/suggestions/accept", name="mapping_suggestions_accept")
async def mapping_suggestions_accept(
    request: Request,
    system: str,
    name: str,
    yaml: Annotated[str, Form(max_length=200_000)],
    pick: Annotated[str, Form(max_length=300)],
    all_picks: Annotated[list[str] | None, Form(max_length=300)] = None,
) -> HTMLResponse:
    """Add the chosen rules to the YAML in the editor (not saved: the user previews, then saves)."""
    c = console(request)
    full = _mapping_name(system, name)
    picks = (all_picks or [])[:500] if pick == "*" else [pick]
    try:
        text, flash, error = (
            suggestions.add_rules(yaml, picks),
            f"Added {len(picks)} suggested rule(s): preview, then save.",
            False,
        )
    except ValueError as exc:
        text, flash, error = yaml, f"Not added: {exc}", True
    _mapping, problems = mapping_svc.load_text(full, text, c.settings.mappings_dir)
    preview = mapping_svc.Preview(problems=problems) if problems else None
    context = {"active": "/mappings", "name": full, "text": text, "overridden": True, "record": "", "failed": ""}
    return render(
        request,
        "mapping_editor.html",
        {
            **context,
            "flash": flash,
            "flash_error": error,
            "p": preview,
        },
    )


def _mapping_name(system: str, name: str) -> str:
    try:
        return mapping_svc.check_name(f"{system}/{name}")
    except mapping_svc.MappingNameError as exc:
        raise HTTPException(404, str(exc)) from None


class OfferOut(BaseModel):
    source: str
    target: str
    confidence: float


@api.get("/mappings/{system}/{name}/suggestions", response_model=list[OfferOut], responses=REFUSED)
async def api_mapping_suggestions(request: Request, system: str, name: str) -> list[OfferOut]:
    found = mapping_svc.read_text(console(request).settings.mappings_dir, _mapping_name(system, name))
    if found is None:
        raise HTTPException(404, "no such mapping")
    return [
        OfferOut(source=o.source, target=o.target, confidence=round(o.confidence, 3))
        for o in suggestions.offers(found[0])
    ]


# --- API -----------------------------------------------------------------------------------------------------


@api.get("/reviews", response_model=list[ReviewOut], responses=REFUSED)
async def api_reviews(request: Request, status: str | None = "pending") -> list[ReviewOut]:
    return [_out(r) for r in review.find(console(request).ledger, status=status)]


@api.post("/reviews/{review_id}", response_model=DecisionOut, responses=REFUSED)
async def api_review_decide(request: Request, review_id: RowId, body: DecisionIn) -> DecisionOut:
    principal = request.state.principal
    approve = body.decision == "approve"
    decided, run, error = _decide(console(request), review_id, approve, principal.username, body.action)
    return DecisionOut(review=_out(decided), replay_run=run, replay_error=error)


@api.get("/findings", responses=REFUSED)
async def api_findings(request: Request, kind: str | None = None) -> list[dict[str, Any]]:
    return [f.as_json() for f in findings.find(console(request).ledger, kind=kind)]
