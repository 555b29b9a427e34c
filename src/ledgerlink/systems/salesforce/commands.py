"""``ledgerlink salesforce …``: the Salesforce plugin's own commands, put on the command line by the CLI (every
system's ``SystemSpec.commands``). The CLI hands each command the way to find a connection (``ctx.obj``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ledgerlink.systems.errors import ConnectorError
from ledgerlink.systems.salesforce import org_check
from ledgerlink.systems.spec import CommandContext
from ledgerlink.vault import VaultKeyError

salesforce_app = typer.Typer(
    help="Salesforce set-up: the custom objects and fields LedgerLink needs.", no_args_is_help=True
)


@salesforce_app.command("check")
def salesforce_check(
    ctx: typer.Context,
    data_dir: Annotated[Path, typer.Option(help="where the ledger and vault key live")] = Path(".ledgerlink"),
    connections: Annotated[Path | None, typer.Option(help="connection specs file; default: the vault's")] = None,
    metadata_dir: Annotated[Path | None, typer.Option(help="SFDX project folder; default: LedgerLink's")] = None,
    target_org: Annotated[str, typer.Option(help="org alias to put in the printed sf commands")] = "<your-org-alias>",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the custom objects and fields the connected org lacks, with the command that deploys them."""
    found: CommandContext = ctx.obj
    try:
        spec = found.connection_spec("salesforce", data_dir, connections)
        report = org_check.check_connection(spec, metadata_dir)
    except (ValueError, OSError, ConnectorError, VaultKeyError) as exc:
        typer.echo(f"salesforce check: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report.as_dict()) if as_json else org_check.render(report, target_org))
    raise typer.Exit(0 if report.ok else 1)
