"""The `ledgerlink` command line."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(help="LedgerLink: keep your CRM and your accounting system in step.", no_args_is_help=True)


def _register_subapps() -> None:
    """Each concern keeps its commands beside its code; this file only puts them on one command line."""
    from ledgerlink.cli import run as engine_cli
    from ledgerlink.cli.config import config_app
    from ledgerlink.cli.intelligence import intel_app
    from ledgerlink.cli.setup import init
    from ledgerlink.demo.commands import register as register_demo
    from ledgerlink.intelligence.matching.cli import match_app
    from ledgerlink.mapping.cli import mapping_app
    from ledgerlink.systems.registry import load_systems
    from ledgerlink.web.cli import register as register_console

    systems = load_systems()  # every system's templates and schema, before any command reads a mapping

    app.add_typer(mapping_app, name="mapping")
    app.add_typer(match_app, name="match")
    app.add_typer(intel_app, name="intel")
    app.add_typer(engine_cli.failed_app, name="failed")
    app.add_typer(config_app, name="config")
    app.command()(init)
    app.command()(engine_cli.worker)
    app.command()(engine_cli.recover)
    app.command()(engine_cli.sync)
    register_console(app)  # serve, user, vault, connection
    register_demo(app)  # demo, sandbox run
    for system in systems.values():  # each system's own commands, e.g. `ledgerlink salesforce check`
        if system.commands is not None:
            app.add_typer(system.commands(), name=system.name)


class _Connections:
    """How a system's own commands find their connection (``ctx.obj``): as ``worker`` does."""

    def connection_spec(self, system: str, data_dir: Path, connections: Path | None) -> dict[str, Any]:
        from ledgerlink.bootstrap import connection_spec

        return connection_spec(system, data_dir, connections)


@app.callback()
def _main(ctx: typer.Context) -> None:
    ctx.obj = _Connections()
    if ctx.invoked_subcommand != "worker":  # the worker turns it on once started (settle_heap)
        gc.enable()


_register_subapps()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
