"""User-defined flows in the engine: every published definition is registered as a flow (``defined.<name>``), and
one polling trigger reads, for each of them, the records of its trigger object changed since its watermark, then
starts a run per record and change (the run's id names the change, so a change runs once).

The published version is read when the trigger and each run start, so publishing and rolling back take effect
without a restart; ``register_published`` (called as the worker starts and on every trigger) brings the registry
in step with the ledger.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import time
import uuid
from typing import Any

from dbos import DBOS, WorkflowHandle

from ledgerlink.alerts.channels import smtp_from_env
from ledgerlink.engine.flows import CRM, Flow, register, registered_flows, unregister
from ledgerlink.engine.retry import durable_step, ledger_step
from ledgerlink.engine.runtime import REALTIME_PRIORITY, current, enqueue_record, shard_key, wait_for
from ledgerlink.flows import _ledger_steps as ledger_steps
from ledgerlink.flows.defined import reads
from ledgerlink.flows.defined.model import Definition, parse
from ledgerlink.flows.defined.ports import DepsPorts, StepPorts, crm_system
from ledgerlink.flows.defined.run import run
from ledgerlink.flows.defined.store import Definitions
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.store import Ledger
from ledgerlink.systems.salesforce.incremental import Position, soql_datetime

PREFIX = "defined."
TRIGGER = "defined_flows"
POLL_PAGE = 200


def flow_name(definition_name: str) -> str:
    return f"{PREFIX}{definition_name}"


def watermark(definition_name: str) -> str:
    return f"{flow_name(definition_name)}.changed"


# --- one record's run ------------------------------------------------------------------------------------------


@ledger_step
def published_text(deps: Deps, name: str) -> tuple[int, str] | None:
    version = Definitions(deps.ledger).published_version(name)
    return (version.version, version.yaml) if version else None


@durable_step
def read_record(deps: Deps, text: str, record_id: str) -> dict[str, Any] | None:
    return reads.read(deps.crm, parse(text), [record_id]).get(record_id)


@DBOS.workflow(name="defined_flow_run")
def defined_flow_run(name: str, record_id: str) -> dict[str, Any]:
    """Run the published version of definition ``name`` on one record: each action a durable step."""
    deps = current_deps()
    flow = flow_name(name)
    found = published_text(deps, name)
    if found is None:
        return {"record": record_id, "status": "skipped", "reason": "not published"}
    version, text = found
    definition = parse(text)
    obj = definition.trigger.object
    record = read_record(deps, text, record_id)
    source = (crm_system(), obj, record_id)
    if record is None:
        ledger_steps.fail(deps, flow, source, f"{obj} {record_id}: not found", "Id", [], {"Id": record_id})
        return {"record": record_id, "status": "failed", "error": "not found"}
    ports = DepsPorts(
        deps, flow, obj, run_id=DBOS.workflow_id or "", smtp=smtp_from_env(), lines_relation=reads.lines_relation(obj)
    )
    state = run(definition, record, StepPorts(ports), dry_run=False)
    if state.status == "failed":
        ledger_steps.fail(deps, flow, source, state.error or "failed", state.error_field, [], record)
    elif state.status == "done":
        ledger_steps.resolve_failure(deps, flow, record_id)
    return {
        "record": record_id,
        "version": version,
        "status": state.status,
        "error": state.error,
        "results": state.results,
        "steps": [f"{s.path} {s.action}: {s.status}" for s in state.steps],
    }


def enqueue(name: str, record_id: str, change: str, priority: int = REALTIME_PRIORITY) -> WorkflowHandle[Any]:
    flow = flow_name(name)
    return enqueue_record(
        defined_flow_run,
        name,
        record_id,
        workflow_id=f"{flow}:{record_id}:{change}",
        record_key=shard_key(flow, record_id),
        connection=CRM if not _writes_books(name) else "accounting",
        priority=priority,
    )


def _writes_books(name: str) -> bool:
    flow = registered_flows().get(flow_name(name))
    return bool(flow and flow.writes_to == "accounting")


def replay(name: str, record_id: str) -> WorkflowHandle[Any]:
    return enqueue(name, record_id, f"replay-{uuid.uuid4().hex[:12]}")


# --- the trigger -----------------------------------------------------------------------------------------------


def _seen_key(name: str) -> str:
    return f"seen@{name}"[:64]


def _due(deps: Deps, definition: Definition) -> bool:
    if definition.trigger.event != "schedule":
        return True
    last = deps.ledger.get_watermark(f"{flow_name(definition.name)}.scheduled")
    return last is None or time.time() - float(last) >= (definition.trigger.every_minutes or 1) * 60


@durable_step
def read_changes(deps: Deps, text: str, lag_seconds: float, published_at: str) -> dict[str, Any]:
    """The next page of the trigger object's records changed after the watermark, and which of them the trigger's
    event selects (created: not seen before; field_changed: the field's value differs from the one last seen).
    A definition's first read starts at its publication: a new flow acts on changes from then on, not on history."""
    definition = parse(text)
    trigger, name = definition.trigger, definition.name
    if not _due(deps, definition):
        return {"runs": [], "position": None}
    since = Position.decode(deps.ledger.get_watermark(watermark(name)) or f"{published_at}|")
    created = ["CreatedDate"] if trigger.event == "created" else []
    fields = sorted({"Id", "SystemModstamp", *created, *([trigger.field] if trigger.field else [])})
    page: list[dict[str, Any]] = []
    for chunk, _position in deps.crm.changed_since(trigger.object, fields, since, lag_seconds=lag_seconds):
        page = chunk[:POLL_PAGE]  # one page a step; the next trigger goes on from here
        break
    position = Position(soql_datetime(str(page[-1]["SystemModstamp"])), str(page[-1]["Id"])) if page else None
    system, seen = crm_system(), _seen_key(name)
    runs = []
    for record in page:
        rid, stamp = str(record["Id"]), str(record["SystemModstamp"])
        before = deps.ledger.get_version(system, seen, rid)
        value = str(record.get(trigger.field)) if trigger.field else ""
        digest = hashlib.sha256(value.encode()).hexdigest()
        if trigger.event == "created" and (
            before is not None or soql_datetime(str(record["CreatedDate"])) <= published_at
        ):
            continue  # seen before, or made before the flow was published (and changed since)
        if trigger.event == "field_changed" and before is not None and before.content_hash == digest:
            continue
        runs.append((rid, hashlib.sha256(stamp.encode()).hexdigest()[:16]))
    for record in page:  # remembered after choosing, so a record's first sighting counts as its creation
        value = str(record.get(trigger.field)) if trigger.field else ""
        deps.ledger.put_version(
            system,
            seen,
            str(record["Id"]),
            hashlib.sha256(value.encode()).hexdigest(),
            written_by_us=False,
            modified_at=str(record["SystemModstamp"]),
        )
    return {"runs": runs, "position": position.encode() if position else None}


@ledger_step
def published_texts(deps: Deps) -> list[tuple[str, str, str]]:
    """(name, YAML, publication time as a SOQL datetime) of each published definition. The engine's registry is
    brought in step here too, so a definition published since the worker started is listed and replayable."""
    register_published(deps.ledger)
    out = []
    for v in Definitions(deps.ledger).published():
        at = v.published_at or v.created_at
        at = at.astimezone(dt.UTC) if at.tzinfo else at.replace(tzinfo=dt.UTC)  # SQLite gives it back naive
        out.append((v.name, v.yaml, at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"))
    return out


@ledger_step
def mark_scheduled(deps: Deps, name: str) -> None:
    deps.ledger.set_watermark(f"{flow_name(name)}.scheduled", str(time.time()))


@DBOS.workflow(name="poll_defined_flows")
def poll_defined_flows(lag_seconds: float) -> dict[str, list[str]]:
    """Every published definition's trigger: returns the runs started, by their workflow ids."""
    deps = current_deps()
    started: dict[str, list[str]] = {}
    for name, text, published_at in published_texts(deps):
        found = read_changes(deps, text, lag_seconds, published_at)
        for record_id, change in found["runs"]:
            handle = enqueue(name, record_id, change)
            started.setdefault(handle.get_workflow_id(), []).append(record_id)
        if found["position"]:
            ledger_steps.save_watermark(deps, watermark(name), found["position"])
        if parse(text).trigger.event == "schedule" and found["runs"]:
            mark_scheduled(deps, name)
        # This definition's read succeeded (or, on a schedule, it is not due: its last read did): alive, changes or
        # none (stalled alerts watch each definition's watermark), whatever a later definition's read does.
        deps.ledger.trigger_checked(watermark(name))
    return started


def poll(*, lag_seconds: float | None = None) -> list[WorkflowHandle[Any]]:
    """Run the trigger now (``register_published`` first: a definition published since is included)."""
    register_published(current().ledger)
    lag = current().settings.poll_lag_seconds if lag_seconds is None else lag_seconds
    started = wait_for(DBOS.start_workflow(poll_defined_flows, lag))
    return [DBOS.retrieve_workflow(workflow_id) for workflow_id in started]


# --- the registry ----------------------------------------------------------------------------------------------


def _flow_of(definition: Definition) -> Flow:
    from ledgerlink.flows.defined.cycles import writes_of

    books = any(w.role == "accounting" for w in writes_of(definition))
    return Flow(
        name=flow_name(definition.name),
        description=definition.description or f"user-defined: {definition.trigger.object} {definition.trigger.event}",
        source=(definition.trigger.role, definition.trigger.object),
        watermark=watermark(definition.name),
        replay=functools.partial(replay, definition.name),
        poll=poll,
        writes_to="accounting" if books else CRM,
    )


def register_published(ledger: Ledger) -> list[str]:
    """Bring the engine's registry in step with the published definitions; returns their flow names."""
    published = {flow_name(v.name): _flow_of(v.definition) for v in Definitions(ledger).published()}
    for name in [n for n in registered_flows() if n.startswith(PREFIX) and n not in published]:
        unregister(name)
    for flow in published.values():
        register(flow, replace=True)
    return sorted(published)


def _on_worker_start() -> None:
    register_published(current().ledger)


def any_published(_lag_seconds: float) -> bool:
    """The trigger's probe: with no published definition it has nothing to read. (The engine's registry is brought
    in step, as the trigger does, so an unpublished definition leaves it at once.)"""
    return bool(register_published(current().ledger))


register(
    Flow(
        name=TRIGGER,
        description="User-defined flows (published in the console's flow builder): their polling trigger",
        source=(CRM, "*"),
        watermark="defined.*",
        replay=lambda _record_id: (_ for _ in ()).throw(ValueError("replay a user-defined flow by its own name")),
        poll=poll,
        trigger=poll_defined_flows,
        probe=any_published,
        on_worker_start=_on_worker_start,
    )
)
