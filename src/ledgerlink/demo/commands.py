"""The demo's commands: ``ledgerlink demo`` and ``ledgerlink sandbox run``. The demo is the one part of LedgerLink
that starts the vendors' sandboxes; the rest only ever sees a connection's URL."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from ledgerlink.systems import registry

sandbox_app = typer.Typer(
    help="Local emulators of the vendors' APIs, for demos, tests and benchmarks.", no_args_is_help=True
)


def demo(
    accounting: Annotated[str, typer.Option(help="the accounting system to demo against")] = "kashflow",
    keep_data: Annotated[
        Path | None, typer.Option(help="keep sandbox and ledger files here; rerun to see idempotency")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object instead of a table")] = False,
    accounts: int = 60,
    opportunities: int = 220,
) -> None:
    """Start the sandboxes, seed realistic data, run Closed Won → invoice, and summarise."""
    from ledgerlink.demo.run import DemoOptions, run_demo

    if accounting not in registry.names("accounting"):
        raise typer.BadParameter(f"accounting must be one of {', '.join(registry.names('accounting'))}")
    summary = run_demo(
        DemoOptions(
            accounting=accounting,
            keep_data=keep_data,
            accounts=accounts,
            opportunities=opportunities,
            quiet=as_json,
        )
    )
    if as_json:
        typer.echo(json.dumps(summary))


@sandbox_app.command("run")
def sandbox_run(
    system: Annotated[str, typer.Argument(help="a system with a sandbox, or all")] = "all",
    port: Annotated[int, typer.Option(help="first port (0 = any free port)")] = 0,
    tls: Annotated[bool, typer.Option("--tls", help="serve https with a generated CA")] = False,
    data_dir: Annotated[Path, typer.Option(help="where the sandboxes keep their data")] = Path(".ledgerlink/sandboxes"),
    not_deployed: Annotated[
        list[str] | None,
        typer.Option(help="Salesforce: a metadata field or object to leave out, e.g. Opportunity.Paid_Date__c"),
    ] = None,
) -> None:
    """Serve sandboxes until interrupted; prints one JSON line per system with its base URL and credentials."""
    from ledgerlink.sandbox.runner import sandbox_systems, start_pubsub, start_sandboxes

    known = sandbox_systems()
    systems = known if system == "all" else [system]
    if any(s not in known for s in systems):
        raise typer.BadParameter(f"system must be one of {', '.join(known)} or all")
    overrides = {"salesforce": {"not_deployed": tuple(not_deployed or ())}} if not_deployed else {}
    running = start_sandboxes(systems, data_dir, tls=tls, port=port, overrides=overrides)
    if "salesforce" in running.sandboxes:
        start_pubsub(running["salesforce"])  # its gRPC address is printed as "pubsub" below
    for sandbox in running.sandboxes.values():
        typer.echo(json.dumps(sandbox.describe()), nl=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


def register(app: typer.Typer) -> None:
    app.command()(demo)
    app.add_typer(sandbox_app, name="sandbox")
