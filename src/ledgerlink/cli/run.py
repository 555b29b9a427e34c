"""Engine commands: `worker`, `recover`, `sync`, `failed …`. Registered on the main CLI in ledgerlink/cli.py."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ledgerlink.store import FailedRecordRow, Ledger, database_url

if TYPE_CHECKING:
    from ledgerlink.alerts import SmtpSettings
    from ledgerlink.alerts.rules import Watched
    from ledgerlink.engine.flows import Flow
    from ledgerlink.settings import LedgerLinkSettings

failed_app = typer.Typer(help="Records a flow could not process: inspect and replay them.", no_args_is_help=True)
console = Console(stderr=True)

DataDir = Annotated[Path, typer.Option(help="where the ledger, DBOS database and vault key live")]
StartDataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="where the ledger, DBOS database and vault key live; default: the settings file's"),
]
ConnectionsFile = Annotated[
    Path | None, typer.Option(help="connection specs (JSON or JSON lines); default: the vault's connections")
]
Accounting = Annotated[str | None, typer.Option(help="the accounting system to use, when several are configured")]
SettingsFile = Annotated[
    Path | None,
    typer.Option("--settings", help="the settings file; default $LEDGERLINK_SETTINGS or ./ledgerlink.toml"),
]


def _settings(settings_file: Path | None) -> LedgerLinkSettings:
    """The settings file in force, or exit 2 with one line per problem (file, line, key)."""
    from ledgerlink.bootstrap import load_app_settings
    from ledgerlink.settings import SettingsError

    try:
        return load_app_settings(settings_file)
    except SettingsError as exc:
        for line in exc.lines():
            console.print(line, markup=False, highlight=False)
        raise typer.Exit(2) from None


def _specs(app: LedgerLinkSettings, data_dir: Path, connections: Path | None) -> list[dict[str, Any]]:
    from ledgerlink import bootstrap

    if connections:
        return bootstrap.read_connection_file(connections)
    ledger = Ledger(bootstrap.app_database_url(app, data_dir))
    return bootstrap.named_connection_specs(ledger, data_dir, app)


def _start(
    data_dir: Path | None,
    connections: Path | None,
    accounting: str | None,
    executor_id: str | None = None,
    settings_file: Path | None = None,
) -> dict[str, Any]:
    """Launch the engine with the settings file's flows settings; returns the CRM connection spec (for CDC)."""
    from ledgerlink import bootstrap
    from ledgerlink.settings import settings_path

    app = _settings(settings_file)
    directory = bootstrap.app_data_dir(app, data_dir)
    ledger = Ledger(bootstrap.app_database_url(app, directory))
    specs = (
        bootstrap.read_connection_file(connections)
        if connections
        else bootstrap.named_connection_specs(ledger, directory, app)
    )
    crm, books = bootstrap.pick(specs, accounting)
    settings = bootstrap.engine_settings(
        directory,
        executor_id=executor_id,
        ledger_url=ledger.url,
        app=app,
        settings_file=settings_path(settings_file),
    )
    bootstrap.open_runtime(settings, crm, books, ledger=ledger)
    return crm


def worker(
    data_dir: StartDataDir = None,
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
    alert_interval: Annotated[float, typer.Option(help="seconds between checks of the alert rules")] = 60.0,
    settings_file: SettingsFile = None,
) -> None:
    """Run an engine worker until SIGTERM or Ctrl-C: the flows switched on in the settings file, real-time by Change
    Data Capture with polling as the safety net, the nightly reconciliation and the alert rules."""
    from ledgerlink.bootstrap import default_executor_id
    from ledgerlink.engine import history
    from ledgerlink.engine import runtime as engine
    from ledgerlink.engine.flows import watched_triggers
    from ledgerlink.engine.worker import run_worker, settle_heap, start_alert_loop

    executor = executor_id or default_executor_id()
    salesforce = _start(data_dir, connections, accounting, executor, settings_file)
    runtime = engine.current()
    runtime.settings.poll_lag_seconds = lag
    triggers = []
    if cdc and salesforce.get("pubsub"):
        from ledgerlink.flows import opportunity_to_invoice as o2i
        from ledgerlink.flows.cdc_trigger import start_cdc_trigger, start_sync_cdc_triggers

        address = str(salesforce["pubsub"])
        if runtime.settings.flows.is_enabled(o2i.FLOW):
            triggers.append(start_cdc_trigger(runtime, address, poll_lag_seconds=lag))
        triggers.extend(start_sync_cdc_triggers(runtime, address))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    smtp = _smtp(runtime.ledger, runtime.settings.data_dir)

    def watched() -> dict[str, Watched]:
        from ledgerlink.flows.cdc_trigger import watched_with

        return watched_with(watched_triggers(runtime.settings.flows), triggers)

    start_alert_loop(runtime.ledger, smtp, stop, alert_interval, triggers=watched)
    history.start_for(runtime, stop)  # forget finished runs past [database] history_days
    settle_heap()
    console.print(f"[green]worker {executor} running[/] (poll every {poll_interval}s); Ctrl-C to stop")
    try:
        run_worker(runtime, poll_interval=poll_interval, stop=stop)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for trigger in triggers:
            trigger.stop()
        engine.stop()


def _smtp(ledger: Ledger, data_dir: Path) -> Callable[[], SmtpSettings | None]:
    """Alert e-mail settings from the vault's SMTP connection; none without a vault key (alerts still post)."""

    def read() -> SmtpSettings | None:
        from ledgerlink.connections.store import Connections
        from ledgerlink.vault.keys import load_keyring
        from ledgerlink.vault.vault import Vault

        try:
            keyring = load_keyring(data_dir, create=False)
        except Exception:  # no vault here (connections from a file): no e-mail, webhooks still go
            return None
        return Connections(ledger, Vault(keyring)).smtp_settings()

    return read


def recover(
    executor: Annotated[str, typer.Argument(help="the executor id of the worker that died")],
    data_dir: StartDataDir = None,
    connections: ConnectionsFile = None,
    accounting: Accounting = None,
    settings_file: SettingsFile = None,
) -> None:
    """Resume, in this process, the pending work of a worker that will not come back."""
    from ledgerlink.engine import runtime as engine
    from ledgerlink.engine.worker import recover as recover_executor

    _start(data_dir, connections, accounting, executor_id=f"recover-{executor}", settings_file=settings_file)
    try:
        count = recover_executor(executor)
        console.print(f"recovered {count} pending workflows of {executor}")
    finally:
        engine.stop(wait_seconds=60)


def sync(
    flow: Annotated[str, typer.Argument(help="flow name, e.g. opportunity_to_invoice")],
    full: Annotated[bool, typer.Option("--full", help="from the beginning, not from the watermark")] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, max=10_000, help="only the next N records the flow would take")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="with --limit: show the canonical record and the target payload; write nothing"),
    ] = False,
    data_dir: StartDataDir = None,
    connections: ConnectionsFile = None,
    accounting: Accounting = None,
    settings_file: SettingsFile = None,
) -> None:
    """Run a flow's trigger now (with --full: every source record) and wait for the runs, page by page. Going live
    in steps: `--limit 10 --dry-run` shows what 10 records would become; `--limit 10` writes just those 10."""
    from collections import Counter

    from ledgerlink.engine import runtime as engine
    from ledgerlink.engine.flows import get_flow

    if dry_run and limit is None:
        raise typer.BadParameter("--dry-run needs --limit N (how many records to try)")
    app = _settings(settings_file)
    try:
        entry = get_flow(flow)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="FLOW") from None
    if limit is not None and (entry.pending is None or entry.preview is None):
        raise typer.BadParameter(f"flow {flow} has no trial run (--limit); run it whole")
    if dry_run:
        _dry_run(app, entry, limit or 0, data_dir, connections, accounting)
        return
    _start(data_dir, connections, accounting, settings_file=settings_file)
    rt = engine.current()
    if full and limit is None:
        rt.ledger.set_watermark(entry.watermark, "")
    statuses: Counter[str] = Counter()
    columns = (TextColumn(f"[bold]{flow}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(flow, total=None)
            if limit is not None:
                from ledgerlink.flows.deps import current_deps

                assert entry.pending is not None
                handles = [entry.replay(record_id) for record_id in entry.pending(current_deps(flow), limit)]
            else:
                handles = entry.poll(lag_seconds=0)
            progress.update(task, total=len(handles))
            for handle in handles:
                statuses[str(engine.wait_for(handle).get("status"))] += 1
                progress.advance(task)
    finally:
        engine.stop()
    typer.echo(json.dumps({"flow": flow, "runs": sum(statuses.values()), **statuses}))


def _dry_run(
    app: LedgerLinkSettings,
    entry: Flow,
    limit: int,
    data_dir: Path | None,
    connections: Path | None,
    accounting: str | None,
) -> None:
    """What the flow would write for its next ``limit`` records, as JSON lines; no workflow runs, nothing is written
    to either system (the connections only read)."""
    from ledgerlink import bootstrap
    from ledgerlink.connections.build import build_accounting, build_crm
    from ledgerlink.engine import runtime as engine
    from ledgerlink.flows.deps import Deps

    assert entry.pending is not None and entry.preview is not None
    directory = bootstrap.app_data_dir(app, data_dir)
    ledger = Ledger(bootstrap.app_database_url(app, directory))
    crm_spec, books_spec = bootstrap.pick(_specs(app, directory, connections), accounting)
    crm, books = build_crm(crm_spec), build_accounting(books_spec, ledger_url=ledger.url)
    flows = engine.flow_settings_from(app)
    overrides = engine.EngineSettings(directory, ledger.url, "", flows=flows, app=app).for_flow(entry.name)
    deps = Deps(ledger=ledger, crm=crm, books=books, settings=overrides)
    try:
        ids = entry.pending(deps, limit)
        for row in entry.preview(deps, ids):
            typer.echo(json.dumps(row, default=str))
    finally:
        crm.close()
        books.close()
        ledger.dispose()
    console.print(f"dry run of {entry.name}: {len(ids)} records shown, nothing written")


def _ledger(data_dir: Path) -> Ledger:
    return Ledger(database_url(data_dir))


MAX_ID = 2**63 - 1  # the largest id a database row can have; bigger ones are refused, not sent to the database


def _terminal_safe(text: object, width: int = 100) -> Text:
    """Stored text as plain text for the terminal: control characters (escape sequences) shown, not obeyed, and
    never read as rich markup (``[/]`` used to crash the table)."""
    clean = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text))
    return Text(clean[:width])


@failed_app.command("list")
def failed_list(
    flow: Annotated[str | None, typer.Option(help="only this flow")] = None,
    status: Annotated[str, typer.Option(help="open, resolved or all")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="show the newest LIMIT records")] = 1000,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    data_dir: DataDir = Path(".ledgerlink"),
) -> None:
    """Failed records, newest last (the newest LIMIT of them: older ones are left out, never newer ones)."""
    newest = _ledger(data_dir).failed_records(
        flow=flow, status=None if status == "all" else status, limit=limit, newest_first=True
    )
    rows = list(reversed(newest))
    if as_json:
        typer.echo(json.dumps([_row_json(r) for r in rows], default=str))
        return
    table = Table("id", "flow", "source", "status", "attempts", "last error")
    for r in rows:
        last = r.errors[-1]["error"] if r.errors else ""
        table.add_row(
            str(r.id),
            _terminal_safe(r.flow),
            _terminal_safe(f"{r.source_object} {r.source_id}"),
            _terminal_safe(r.status),
            str(len(r.errors)),
            _terminal_safe(last),
        )
    Console().print(table)


@failed_app.command("show")
def failed_show(failed_id: int, data_dir: DataDir = Path(".ledgerlink")) -> None:
    """One failed record: its input and every attempt's error."""
    row = _ledger(data_dir).failed_record(failed_id) if 1 <= failed_id <= MAX_ID else None
    if row is None:
        raise typer.BadParameter(f"no failed record {failed_id}")
    typer.echo(json.dumps(_row_json(row), indent=2, default=str))


def _all_open(ledger: Ledger, flow: str | None, page: int = 1000) -> list[FailedRecordRow]:
    """Every open failed record (of ``flow``), paged: no cap that silently leaves some out."""
    rows: list[FailedRecordRow] = []
    while True:
        batch = ledger.failed_records(flow=flow, status="open", limit=page, after_id=rows[-1].id if rows else None)
        rows.extend(batch)
        if len(batch) < page:
            return rows


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
        rows = _all_open(ledger, flow)
    elif failed_id is not None:
        one = ledger.failed_record(failed_id) if 1 <= failed_id <= MAX_ID else None
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
