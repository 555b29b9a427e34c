"""Engine commands: `worker`, `recover`, `sync`, `failed …`. Registered on the main CLI in ledgerlink/cli.py."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ledgerlink.store import Ledger, database_url

failed_app = typer.Typer(help="Records a flow could not process: inspect and replay them.", no_args_is_help=True)
console = Console(stderr=True)

DataDir = Annotated[Path, typer.Option(help="where the ledger, DBOS database and vault key live")]
ConnectionsFile = Annotated[
    Path | None, typer.Option(help="connection specs (JSON or JSON lines); default: the vault's connections")
]
Accounting = Annotated[str | None, typer.Option(help="the accounting system to use, when several are configured")]


def _start(
    data_dir: Path, connections: Path | None, accounting: str | None, executor_id: str | None = None
) -> dict[str, Any]:
    """Launch the engine; returns the CRM connection spec (for the change-event trigger)."""
    from ledgerlink import bootstrap

    ledger = Ledger(database_url(data_dir))
    specs = (
        bootstrap.read_connection_file(connections)
        if connections
        else bootstrap.vault_connection_specs(ledger, data_dir)
    )
    crm, books = bootstrap.pick(specs, accounting)
    settings = bootstrap.engine_settings(data_dir, executor_id=executor_id)
    bootstrap.open_runtime(settings, crm, books, ledger=ledger)
    return crm


def worker(
    data_dir: DataDir = Path(".ledgerlink"),
    connections: ConnectionsFile = None,
    accounting: Accounting = None,
    executor_id: Annotated[
        str | None, typer.Option(help="stable id; default $LEDGERLINK_EXECUTOR_ID or host name")
    ] = None,
    poll_interval: Annotated[float, typer.Option(help="seconds between polls of Salesforce")] = 5.0,
    lag: Annotated[float, typer.Option(help="read changes only up to now − lag seconds")] = 2.0,
    cdc: Annotated[
        bool, typer.Option(help="subscribe to Change Data Capture when the connection has a Pub/Sub address")
    ] = True,
) -> None:
    """Run an engine worker until SIGTERM or Ctrl-C: real-time by Change Data Capture, polling as the safety net."""
    from ledgerlink.bootstrap import default_executor_id
    from ledgerlink.engine import runtime as engine
    from ledgerlink.engine.worker import run_worker

    executor = executor_id or default_executor_id()
    salesforce = _start(data_dir, connections, accounting, executor)
    runtime = engine.current()
    runtime.settings.poll_lag_seconds = lag
    triggers = []
    if cdc and salesforce.get("pubsub"):
        from ledgerlink.flows.cdc_trigger import start_cdc_trigger, start_sync_cdc_triggers

        address = str(salesforce["pubsub"])
        triggers = [
            start_cdc_trigger(runtime, address, poll_lag_seconds=lag),
            *start_sync_cdc_triggers(runtime, address),
        ]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(f"[green]worker {executor} running[/] (poll every {poll_interval}s); Ctrl-C to stop")
    try:
        run_worker(runtime, poll_interval=poll_interval, stop=stop)
    except KeyboardInterrupt:
        pass
    finally:
        for trigger in triggers:
            trigger.stop()
        engine.stop()


def recover(
    executor: Annotated[str, typer.Argument(help="the executor id of the worker that died")],
    data_dir: DataDir = Path(".ledgerlink"),
    connections: ConnectionsFile = None,
    accounting: Accounting = None,
) -> None:
    """Resume, in this process, the pending work of a worker that will not come back."""
    from ledgerlink.engine import runtime as engine
    from ledgerlink.engine.worker import recover as recover_executor

    _start(data_dir, connections, accounting, executor_id=f"recover-{executor}")
    try:
        count = recover_executor(executor)
        console.print(f"recovered {count} pending workflows of {executor}")
    finally:
        engine.stop(wait_seconds=60)


def sync(
    flow: Annotated[str, typer.Argument(help="flow name, e.g. opportunity_to_invoice")],
    full: Annotated[bool, typer.Option("--full", help="from the beginning, not from the watermark")] = False,
    data_dir: DataDir = Path(".ledgerlink"),
    connections: ConnectionsFile = None,
    accounting: Accounting = None,
) -> None:
    """Run a flow's trigger now (with --full: every source record) and wait for the runs, page by page."""
    from collections import Counter

    from ledgerlink.engine import runtime as engine
    from ledgerlink.engine.flows import get_flow

    _start(data_dir, connections, accounting)  # loads the flows: only then can one be found by name
    try:
        entry = get_flow(flow)
    except KeyError as exc:
        engine.stop()
        raise typer.BadParameter(str(exc.args[0]), param_hint="FLOW") from exc
    rt = engine.current()
    if full:
        rt.ledger.set_watermark(entry.watermark, "")
    statuses: Counter[str] = Counter()
    columns = (TextColumn(f"[bold]{flow}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(flow, total=None)
            handles = entry.poll(lag_seconds=0)
            progress.update(task, total=len(handles))
            for handle in handles:
                statuses[str(engine.wait_for(handle).get("status"))] += 1
                progress.advance(task)
    finally:
        engine.stop()
    typer.echo(json.dumps({"flow": flow, "runs": sum(statuses.values()), **statuses}))


def _ledger(data_dir: Path) -> Ledger:
    return Ledger(database_url(data_dir))


@failed_app.command("list")
def failed_list(
    flow: Annotated[str | None, typer.Option(help="only this flow")] = None,
    status: Annotated[str, typer.Option(help="open, resolved or all")] = "open",
    as_json: Annotated[bool, typer.Option("--json")] = False,
    data_dir: DataDir = Path(".ledgerlink"),
) -> None:
    """Failed records, newest last."""
    rows = _ledger(data_dir).failed_records(flow=flow, status=None if status == "all" else status)
    if as_json:
        typer.echo(json.dumps([_row_json(r) for r in rows], default=str))
        return
    table = Table("id", "flow", "source", "status", "attempts", "last error")
    for r in rows:
        last = r.errors[-1]["error"] if r.errors else ""
        table.add_row(str(r.id), r.flow, f"{r.source_object} {r.source_id}", r.status, str(len(r.errors)), last[:100])
    Console().print(table)


@failed_app.command("show")
def failed_show(failed_id: int, data_dir: DataDir = Path(".ledgerlink")) -> None:
    """One failed record: its input and every attempt's error."""
    row = _ledger(data_dir).failed_record(failed_id)
    if row is None:
        raise typer.BadParameter(f"no failed record {failed_id}")
    typer.echo(json.dumps(_row_json(row), indent=2, default=str))


@failed_app.command("replay")
def failed_replay(
    failed_id: Annotated[int | None, typer.Argument(help="the failed record's id")] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="every open failed record (of --flow)")] = False,
    flow: Annotated[str | None, typer.Option(help="with --all: only this flow")] = None,
    data_dir: DataDir = Path(".ledgerlink"),
    connections: ConnectionsFile = None,
    accounting: Accounting = None,
) -> None:
    """Run failed records again with the current mapping and code; idempotent, so safe to repeat."""
    from ledgerlink.engine import runtime as engine
    from ledgerlink.engine.flows import get_flow

    ledger = _ledger(data_dir)
    if replay_all:
        rows = ledger.failed_records(flow=flow, status="open")
    elif failed_id is not None:
        one = ledger.failed_record(failed_id)
        rows = [one] if one else []
    else:
        raise typer.BadParameter("give a failed record id or --all")
    if not rows:
        typer.echo(json.dumps({"replayed": 0}))
        return
    _start(data_dir, connections, accounting)
    results = []
    try:
        for row in rows:
            outcome = engine.wait_for(get_flow(row.flow).replay(row.source_id))
            results.append({"id": row.id, "source_id": row.source_id, "status": outcome.get("status")})
    finally:
        engine.stop()
    typer.echo(json.dumps({"replayed": len(results), "results": results}))


def _row_json(row: object) -> dict[str, object]:
    return dict(vars(row))
