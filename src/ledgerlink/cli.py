"""The `ledgerlink` command line."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="LedgerLink: keep Salesforce and your accounting system in step.", no_args_is_help=True)
sandbox_app = typer.Typer(help="Local emulators of Salesforce, KashFlow and Kashoo.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
salesforce_app = typer.Typer(
    help="Salesforce set-up: the custom objects and fields LedgerLink needs.", no_args_is_help=True
)
app.add_typer(salesforce_app, name="salesforce")


def _register_subapps() -> None:
    """Each concern keeps its commands beside its code; this file only puts them on one command line."""
    from ledgerlink.engine import cli as engine_cli
    from ledgerlink.mapping.cli import mapping_app
    from ledgerlink.web.cli import register as register_console

    app.add_typer(mapping_app, name="mapping")
    app.add_typer(engine_cli.failed_app, name="failed")
    app.command()(engine_cli.worker)
    app.command()(engine_cli.recover)
    app.command()(engine_cli.sync)
    register_console(app)  # serve, user, vault, connection


_register_subapps()


@app.command()
def demo(
    accounting: Annotated[str, typer.Option(help="kashflow or kashoo")] = "kashflow",
    keep_data: Annotated[
        Path | None, typer.Option(help="keep sandbox and ledger files here; rerun to see idempotency")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object instead of a table")] = False,
    accounts: int = 60,
    opportunities: int = 220,
) -> None:
    """Start the sandboxes, seed realistic data, run Closed Won → invoice, and summarise."""
    from ledgerlink.demo.run import DemoOptions, run_demo

    if accounting not in ("kashflow", "kashoo"):
        raise typer.BadParameter("accounting must be kashflow or kashoo")
    summary = run_demo(
        DemoOptions(
            accounting=accounting,  # type: ignore[arg-type]
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
    system: Annotated[str, typer.Argument(help="salesforce, kashflow, kashoo or all")] = "all",
    port: Annotated[int, typer.Option(help="first port (0 = any free port)")] = 0,
    tls: Annotated[bool, typer.Option("--tls", help="serve https with a generated CA")] = False,
    data_dir: Annotated[Path, typer.Option(help="where the sandboxes keep their data")] = Path(".ledgerlink/sandboxes"),
    not_deployed: Annotated[
        list[str] | None,
        typer.Option(help="Salesforce: a metadata field or object to leave out, e.g. Opportunity.Paid_Date__c"),
    ] = None,
) -> None:
    """Serve sandboxes until interrupted; prints one JSON line per system with its base URL and credentials."""
    from ledgerlink.sandbox.runner import SYSTEMS, start_pubsub, start_sandboxes

    systems = list(SYSTEMS) if system == "all" else [system]
    if any(s not in SYSTEMS for s in systems):
        raise typer.BadParameter(f"system must be one of {', '.join(SYSTEMS)} or all")
    overrides = {"salesforce": {"not_deployed": tuple(not_deployed or ())}}
    running = start_sandboxes(systems, data_dir, tls=tls, port=port, overrides=overrides)  # type: ignore[arg-type]
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


@salesforce_app.command("check")
def salesforce_check(
    data_dir: Annotated[Path, typer.Option(help="where the ledger and vault key live")] = Path(".ledgerlink"),
    connections: Annotated[Path | None, typer.Option(help="connection specs file; default: the vault's")] = None,
    metadata_dir: Annotated[Path | None, typer.Option(help="SFDX project folder; default: LedgerLink's")] = None,
    target_org: Annotated[str, typer.Option(help="org alias to put in the printed sf commands")] = "<your-org-alias>",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the custom objects and fields the connected org lacks, with the command that deploys them."""
    from ledgerlink.connectors.errors import ConnectorError
    from ledgerlink.connectors.salesforce import org_check
    from ledgerlink.engine.bootstrap import salesforce_spec
    from ledgerlink.vault import VaultKeyError

    try:
        report = org_check.check_connection(salesforce_spec(data_dir, connections), metadata_dir)
    except (ValueError, OSError, ConnectorError, VaultKeyError) as exc:
        typer.echo(f"salesforce check: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report.as_dict()) if as_json else org_check.render(report, target_org))
    raise typer.Exit(0 if report.ok else 1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
