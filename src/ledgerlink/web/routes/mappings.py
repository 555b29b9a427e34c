"""The mapping editor: view and edit a mapping, validated inline, previewed live on a real source record."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledgerlink.logs import redact
from ledgerlink.web import schemas
from ledgerlink.web.console import Console, console
from ledgerlink.web.preview_worker import PreviewWorker
from ledgerlink.web.routes._common import api_router, page_router
from ledgerlink.web.services import mappings as svc
from ledgerlink.web.templating import render

pages = page_router()
api = api_router("mappings")
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": schemas.ErrorOut}}


def _name(system: str, name: str) -> str:
    try:
        return svc.check_name(f"{system}/{name}")
    except svc.MappingNameError as exc:
        raise HTTPException(404, str(exc)) from None


def _sample(
    c: Console, source: tuple[str | None, str | None], record_id: str | None
) -> tuple[dict[str, Any] | None, str | None, str | None, list[svc.Problem]]:
    """(record, its id, where it came from, problems): live from the source system, else a failed record's input.

    ``source`` is the (system, object) of the *saved* mapping, never of the text being previewed: a hand-written
    ``source:`` must not turn the preview into a way to read any object with the integration user's rights."""
    system, obj = source
    if not system or not obj:
        return None, record_id, None, []
    failed = [
        r
        for r in c.ledger.failed_records(status=None, limit=5000, newest_first=True)
        if r.source_object == obj and r.source_system == system
    ]
    if not record_id and failed:
        record_id = failed[0].source_id
    if not record_id:
        return None, None, None, [svc.Problem(f"no {obj} to preview on: give a record id")]
    problems: list[svc.Problem] = []
    conn = c.connections.first_of(system)
    if conn:
        try:
            record = svc.fetch_sample(c.connections.spec(conn), conn, obj, record_id)
            if record is not None:
                return record, record_id, f"{system} {obj} {record_id}, fetched live through connection {conn!r}", []
            problems.append(svc.Problem(f"{obj} {record_id} was not found in {system}"))
        except Exception as exc:  # report, don't crash the editor; the message is redacted of known secrets
            problems.append(
                svc.Problem(redact(f"could not fetch the sample from {system}: {type(exc).__name__}: {exc}")[:300])
            )
    stored = next((r for r in failed if r.source_id == record_id and r.input), None)
    if stored is not None:
        return stored.input, record_id, f"the input stored with failed record #{stored.id}", []
    return None, record_id, None, problems or [svc.Problem(f"no {system} connection to fetch a sample from")]


def worker_for(app: FastAPI) -> PreviewWorker:
    """The app's preview worker pool (made on first use)."""
    state = app.state
    if getattr(state, "preview_worker", None) is None:
        s = state.console.settings
        state.preview_worker = PreviewWorker(s.preview_seconds, s.preview_memory_mb, s.preview_output_bytes)
    worker: PreviewWorker = state.preview_worker
    return worker


def _worker(request: Request) -> PreviewWorker:
    return worker_for(request.app)


async def preview(request: Request, name: str, text: str, record_id: str | None) -> svc.Preview:
    c = console(request)
    user = request.state.principal
    saved = await run_in_threadpool(svc.read_text, c.settings.mappings_dir, name)
    if saved is None:
        return svc.Preview(problems=[svc.Problem("no such mapping")], record_id=record_id)
    source, posted = svc.source_of(saved[0]), svc.source_of(text)
    if posted == (None, None):  # the text does not parse: compile it (bounded) for its problems, on no record
        answer = await _worker(request).preview(name, text, {}, c.ledger.url, c.settings.mappings_dir)
        return svc.Preview(problems=[svc.Problem(**p) for p in answer.get("problems") or []], record_id=record_id)
    if posted != source:
        return svc.Preview(
            problems=[svc.Problem(f"this mapping reads {source[0]} {source[1]}; the preview can't change its source")],
            record_id=record_id,
        )
    record, record_id, where, sample_problems = await run_in_threadpool(_sample, c, source, record_id)
    if record is None:
        return svc.Preview(problems=sample_problems, record_id=record_id)
    if not user.is_admin:  # a viewer sees only the fields the saved mapping reads, as the flow would
        allowed = await run_in_threadpool(svc.fields_read, saved[0], name, c.settings.mappings_dir)
        record = svc.only_fields(record, allowed)
    answer = await _worker(request).preview(name, text, record, c.ledger.url, c.settings.mappings_dir)
    return svc.Preview(
        problems=[svc.Problem(**p) for p in answer.get("problems") or []],
        values=answer.get("values"),
        provenance=answer.get("provenance"),
        record_id=record_id,
        record_source=where,
    )


def _preview_out(p: svc.Preview) -> schemas.PreviewOut:
    return schemas.PreviewOut(
        valid=p.valid,
        record_id=p.record_id,
        record_source=p.record_source,
        values=p.values,
        provenance=p.provenance,
        problems=[
            schemas.MappingProblem(line=x.line, column=x.column, field=x.field, message=x.message) for x in p.problems
        ],
    )


# --- pages ---------------------------------------------------------------------------------------------------


@pages.get("/mappings", name="mappings_list")
async def mappings_list(request: Request) -> HTMLResponse:
    files = svc.list_files(console(request).settings.mappings_dir)
    return render(request, "mappings_list.html", {"active": "/mappings", "files": files})


@pages.get("/mappings/{system}/{name}", name="mapping_editor")
async def mapping_editor(
    request: Request, system: str, name: str, record: str = "", failed: str = "", saved: str = ""
) -> HTMLResponse:
    full = _name(system, name)
    found = svc.read_text(console(request).settings.mappings_dir, full)
    if found is None:
        raise HTTPException(404, "no such mapping")
    text, overridden = found
    _worker(request).warm()  # previews follow: have the worker processes ready
    return render(
        request,
        "mapping_editor.html",
        {
            "active": "/mappings",
            "name": full,
            "text": text,
            "overridden": overridden,
            "record": record,
            "failed": failed,
            "flash": "Saved. Runs from now on use this mapping." if saved else None,
        },
    )


@pages.post("/mappings/{system}/{name}/preview", name="mapping_preview_page")
async def mapping_preview_page(
    request: Request,
    system: str,
    name: str,
    yaml: Annotated[str, Form(max_length=200_000)],
    record: Annotated[str, Form(max_length=64)] = "",
) -> HTMLResponse:
    result = await preview(request, _name(system, name), yaml, record or None)
    return render(request, "_mapping_preview.html", {"p": result})


@pages.post("/mappings/{system}/{name}", name="mapping_save_page")
async def mapping_save_page(
    request: Request,
    system: str,
    name: str,
    yaml: Annotated[str, Form(max_length=200_000)],
    record: Annotated[str, Form(max_length=64)] = "",
    failed: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    c = console(request)
    full = _name(system, name)
    _mapping, problems = svc.load_text(full, yaml, c.settings.mappings_dir)
    if problems:
        return render(
            request,
            "mapping_editor.html",
            {
                "active": "/mappings",
                "name": full,
                "text": yaml,
                "overridden": True,
                "record": record,
                "failed": failed,
                "flash": "Not saved: the mapping has errors (see the preview).",
                "flash_error": True,
                "p": svc.Preview(problems=problems),
            },
            status_code=422,
        )
    svc.save(c.settings.mappings_dir, full, yaml)
    query = (
        f"?saved=1&record={record}&failed={failed}"
        if record.isalnum() and (failed.isdigit() or not failed)
        else "?saved=1"
    )
    return RedirectResponse(f"/mappings/{full}{query}", status_code=303)


# --- API -----------------------------------------------------------------------------------------------------


@api.get("/mappings", response_model=list[schemas.MappingOut])
async def api_mappings(request: Request) -> list[schemas.MappingOut]:
    return [
        schemas.MappingOut(name=f.name, system=f.system, overridden=f.overridden)
        for f in svc.list_files(console(request).settings.mappings_dir)
    ]


@api.get("/mappings/{system}/{name}", response_model=schemas.MappingText, responses=NOT_FOUND)
async def api_mapping(request: Request, system: str, name: str) -> schemas.MappingText:
    full = _name(system, name)
    found = svc.read_text(console(request).settings.mappings_dir, full)
    if found is None:
        raise HTTPException(404, "no such mapping")
    return schemas.MappingText(name=full, yaml=found[0], overridden=found[1])


@api.post(
    "/mappings/{system}/{name}/preview",
    name="api_mapping_preview",
    response_model=schemas.PreviewOut,
    responses=NOT_FOUND,
)
async def api_mapping_preview(request: Request, system: str, name: str, body: schemas.PreviewIn) -> schemas.PreviewOut:
    return _preview_out(await preview(request, _name(system, name), body.yaml, body.record_id))


@api.put(
    "/mappings/{system}/{name}",
    response_model=schemas.MappingText,
    responses=NOT_FOUND,
)
async def api_mapping_save(
    request: Request, system: str, name: str, body: schemas.MappingIn
) -> Response | schemas.MappingText:
    c = console(request)
    full = _name(system, name)
    _mapping, problems = svc.load_text(full, body.yaml, c.settings.mappings_dir)
    if problems:
        from fastapi.responses import JSONResponse

        refused = schemas.ErrorOut(
            detail="the mapping does not load; nothing was saved",
            problems=_preview_out(svc.Preview(problems=problems)).problems,
        )
        return JSONResponse(refused.model_dump(mode="json"), status_code=400)
    svc.save(c.settings.mappings_dir, full, body.yaml)
    return schemas.MappingText(name=full, yaml=body.yaml, overridden=True)
