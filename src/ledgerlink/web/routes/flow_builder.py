"""The flow builder: user-defined flows made in a form (or as YAML), seen as a diagram, dry-run on a live record,
published and rolled back; and the field mapper beside it."""

from __future__ import annotations

import secrets
from html import escape
from typing import Annotated, Any

from fastapi import Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ledgerlink.flows.defined.model import NAME, Definition, DefinitionError, parse
from ledgerlink.flows.defined.store import Definitions
from ledgerlink.flows.defined.templates_catalogue import template_names, template_text
from ledgerlink.logs import redact
from ledgerlink.web.console import console
from ledgerlink.web.routes._common import api_router, page_router
from ledgerlink.web.services import flow_builder as svc
from ledgerlink.web.services import flow_mapper
from ledgerlink.web.templating import render

pages = page_router()
api = api_router("flow definitions")
MAX_FORM_FIELDS = 600


def _store(request: Request) -> Definitions:
    return Definitions(console(request).ledger)


def _check_name(name: str) -> str:
    import re

    if not re.match(NAME, name):
        raise HTTPException(404, "no such flow definition")
    return name


def _key() -> str:
    return secrets.token_hex(4)


def _builder_context(definition: Definition | None, text: str) -> dict[str, Any]:
    form = svc.definition_to_form(definition) if definition else {"conditions": [], "match": "all", "actions": []}
    return {
        "active": "/flows/defined",
        "d": definition,
        "yaml_text": text,
        "form": form,
        "yaml_mode": form is None,
        "keys": [_key() for _ in range(100)],
        "ops": svc.OPS,
        "events": svc.EVENTS,
        "actions": list(svc.ACTION_FIELDS),
        "action_fields": svc.ACTION_FIELDS,
        "multiline": svc.MULTILINE,
        "channels": svc.CHANNELS,
        "nodes": svc.diagram(definition) if definition else [],
    }


async def _form_items(request: Request) -> list[tuple[str, str]]:
    form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
    return [(k, v) for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"]


def _definition_from(items: list[tuple[str, str]]) -> Definition:
    mode = dict(items).get("mode", "form")
    if mode == "yaml":
        return parse(dict(items).get("yaml", ""))
    return svc.build(items)


# --- pages ---------------------------------------------------------------------------------------------------


@pages.get("/flows/defined", name="flow_definitions")
async def flow_definitions(request: Request) -> HTMLResponse:
    store = _store(request)
    published = {v.name: v for v in store.published()}
    rows = [{"name": n, "published": published.get(n), "versions": len(store.versions(n))} for n in store.names()]
    return render(
        request,
        "flow_definitions.html",
        {"active": "/flows/defined", "rows": rows, "templates": template_names()},
    )


@pages.get("/flows/defined/new", name="flow_builder_new")
async def flow_builder_new(request: Request, template: str = "") -> HTMLResponse:
    if template:
        try:
            text = template_text(template)
        except KeyError:
            raise HTTPException(404, "no such template") from None
        return render(request, "flow_builder.html", {**_builder_context(parse(text), text), "from_template": template})
    return render(request, "flow_builder.html", _builder_context(None, ""))


@pages.get("/flows/defined/rows/{kind}", name="flow_builder_row")
async def flow_builder_row(request: Request, kind: str, key: str = "") -> HTMLResponse:
    if kind not in ("condition", "action", "empty"):
        raise HTTPException(404, "no such row")
    if kind == "empty":
        return HTMLResponse("")
    key = key if key.isalnum() and len(key) <= 12 else _key()
    values = {
        name[len(f"a{key}_") :]: value
        for name, value in request.query_params.items()
        if name.startswith(f"a{key}_") and len(value) <= svc.MAX_VALUE
    }
    context = _builder_context(None, "")
    return render(request, "_flow_row.html", {**context, "kind": kind, "key": key.lower(), "v": values})


@pages.post("/flows/defined/preview", name="flow_builder_preview")
async def flow_builder_preview(request: Request) -> HTMLResponse:
    try:
        definition = _definition_from(await _form_items(request))
    except DefinitionError as exc:
        return render(request, "_flow_preview.html", {"problems": exc.problems})
    problems = _cycle_problems(request, definition)
    return render(
        request,
        "_flow_preview.html",
        {"nodes": svc.diagram(definition), "yaml_text": definition.to_yaml(), "problems": problems, "d": definition},
    )


def _cycle_problems(request: Request, definition: Definition) -> list[str]:
    from ledgerlink.flows.defined.cycles import cycle_message, find_cycle

    others = [v.definition for v in _store(request).published() if v.name != definition.name]
    cycle = find_cycle(definition, others)
    return [f"will be refused at publish: {cycle_message(definition, cycle)}"] if cycle else []


@pages.post("/flows/defined/save", name="flow_builder_save")
async def flow_builder_save(request: Request) -> Response:
    items = await _form_items(request)
    try:
        definition = _definition_from(items)
        version = _store(request).save(definition.to_yaml(), by=_who(request))
    except DefinitionError as exc:
        plain, condition_rows, action_rows = svc.rows(items) if dict(items).get("mode") != "yaml" else ({}, [], [])
        context = _builder_context(None, dict(items).get("yaml", ""))
        context["yaml_mode"] = dict(items).get("mode") == "yaml"
        context["form"] = {
            "conditions": [r.values for r in condition_rows],
            "match": plain.get("when_match", "all"),
            "actions": [r.values for r in action_rows],
        }
        context["typed"] = plain
        context.update({"flash": "Not saved: " + "; ".join(exc.problems), "flash_error": True})
        return render(request, "flow_builder.html", context, status_code=422)
    return RedirectResponse(f"/flows/defined/{version.name}?saved={version.version}", status_code=303)


def _who(request: Request) -> str:
    principal = getattr(request.state, "principal", None)
    return str(getattr(principal, "username", "") or "")


@pages.get("/flows/defined/{name}", name="flow_builder_edit")
async def flow_builder_edit(
    request: Request, name: str, version: int | None = None, saved: int | None = None, published: int | None = None
) -> HTMLResponse:
    store = _store(request)
    found = store.get(_check_name(name), version)
    if found is None:
        raise HTTPException(404, "no such flow definition")
    principal = getattr(request.state, "principal", None)
    if principal is not None and principal.is_admin:
        context = _builder_context(found.definition, found.yaml)
    else:
        hidden = svc.masked(found.definition)
        context = _builder_context(hidden, hidden.to_yaml())
    flash = None
    if saved:
        flash = f"Saved as version {saved}. Dry-run it, then publish it."
    if published:
        flash = f"Version {published} is published: it runs from the next poll."
    context.update(
        {"version": found, "versions": store.versions(name), "flash": flash, "running": store.published_version(name)}
    )
    return render(request, "flow_builder.html", context)


@pages.post("/flows/defined/{name}/dry-run", name="flow_builder_dry_run")
async def flow_builder_dry_run(
    request: Request,
    name: str,
    record: Annotated[str, Form(max_length=18)],
    version: Annotated[int, Form(ge=1)],
) -> HTMLResponse:
    found = _store(request).get(_check_name(name), version)
    if found is None:
        raise HTTPException(404, "no such version")
    c = console(request)
    try:
        result = await run_in_threadpool(svc.dry_run, c, found.definition, record.strip())
    except (svc.NoConnection, ValueError) as exc:
        return render(request, "_flow_dry_run.html", {"error": str(exc)})
    except Exception as exc:  # a connection that fails: reported, redacted, never a crash of the page
        return render(request, "_flow_dry_run.html", {"error": redact(f"{type(exc).__name__}: {exc}")[:300]})
    return render(request, "_flow_dry_run.html", {"r": result, "record": record.strip()})


@pages.get("/flows/defined/{name}/recent", name="flow_builder_recent")
async def flow_builder_recent(request: Request, name: str, version: int) -> HTMLResponse:
    found = _store(request).get(_check_name(name), version)
    if found is None:
        raise HTTPException(404, "no such version")
    try:
        records = await run_in_threadpool(svc.recent_records, console(request), found.definition)
    except svc.NoConnection as exc:
        return HTMLResponse(f'<p class="flash error">{escape(str(exc))}</p>')
    except Exception as exc:  # reported, redacted, never a crash of the page
        return HTMLResponse(f'<p class="flash error">{escape(redact(f"{type(exc).__name__}: {exc}")[:300])}</p>')
    return render(request, "_flow_recent.html", {"records": records, "d": found.definition, "version": found})


@pages.post("/flows/defined/{name}/publish", name="flow_builder_publish")
async def flow_builder_publish(request: Request, name: str, version: Annotated[int, Form(ge=1)]) -> Response:
    store = _store(request)
    try:
        store.publish(_check_name(name), version)
    except DefinitionError as exc:
        found = store.get(name, version)
        if found is None:
            raise HTTPException(404, "no such version") from None
        context = _builder_context(found.definition, found.yaml)
        context.update(
            {
                "version": found,
                "versions": store.versions(name),
                "running": store.published_version(name),
                "flash": "Not published: " + "; ".join(exc.problems),
                "flash_error": True,
            }
        )
        return render(request, "flow_builder.html", context, status_code=409)
    return RedirectResponse(f"/flows/defined/{name}?published={version}", status_code=303)


@pages.get("/flows/mapper", name="flow_mapper")
async def flow_mapper_page(request: Request, source: str = "", target: str = "") -> HTMLResponse:
    return render(request, "flow_mapper.html", {"active": "/flows/defined", **flow_mapper.page(source, target)})


@pages.post("/flows/mapper/save", name="flow_mapper_save")
async def flow_mapper_save(request: Request) -> Response:
    from ledgerlink.web.services import mappings

    items = await _form_items(request)
    fields = dict(items)
    sources = [v for k, v in items if k == "from"]
    targets = [v for k, v in items if k == "to"]
    transforms = [v for k, v in items if k == "transform"]
    known = {name for name, _doc in flow_mapper.transforms()}
    if not sources or len(sources) != len(targets) or len(sources) > flow_mapper.MAX_FIELDS:
        raise HTTPException(400, "connect at least one source field to a target field")
    transforms += [""] * (len(sources) - len(transforms))
    if any(t and t not in known for t in transforms):
        raise HTTPException(400, "unknown transform")
    try:
        name = mappings.check_name(fields.get("name", "").strip())
    except mappings.MappingNameError as exc:
        raise HTTPException(400, str(exc)) from None
    text = flow_mapper.mapping_yaml(
        fields.get("source", ""), fields.get("target", ""), list(zip(sources, targets, transforms, strict=True))
    )
    c = console(request)
    _mapping, problems = mappings.load_text(name, text, c.settings.mappings_dir)
    if problems:
        raise HTTPException(400, "the mapping does not load: " + "; ".join(p.message for p in problems)[:500])
    mappings.save(c.settings.mappings_dir, name, text)
    return RedirectResponse(f"/mappings/{name}?saved=1", status_code=303)


# --- API -----------------------------------------------------------------------------------------------------


@api.get("/flow-definitions")
async def api_definitions(request: Request) -> list[dict[str, Any]]:
    store = _store(request)
    published = {v.name: v.version for v in store.published()}
    return [{"name": n, "published_version": published.get(n)} for n in store.names()]


@api.post("/flow-definitions", status_code=201)
async def api_definition_save(request: Request, body: dict[str, Any]) -> Response:
    from fastapi.responses import JSONResponse

    text = body.get("yaml")
    if not isinstance(text, str):
        return JSONResponse({"detail": 'send {"yaml": "…"}'}, 400)
    try:
        version = _store(request).save(text, by=_who(request))
    except DefinitionError as exc:
        return JSONResponse({"detail": "the definition is not valid; nothing was saved", "problems": exc.problems}, 400)
    return JSONResponse({"name": version.name, "version": version.version}, 201)


@api.post("/flow-definitions/{name}/publish")
async def api_definition_publish(request: Request, name: str, body: dict[str, Any]) -> Response:
    from fastapi.responses import JSONResponse

    version = body.get("version")
    if not isinstance(version, int):
        return JSONResponse({"detail": 'send {"version": N}'}, 400)
    try:
        published = _store(request).publish(_check_name(name), version)
    except DefinitionError as exc:
        return JSONResponse({"detail": "not published", "problems": exc.problems}, 409)
    return JSONResponse({"name": published.name, "version": published.version, "status": published.status})
