"""`ledgerlink config check` and `ledgerlink config show`: the settings file in force, validated or printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

config_app = typer.Typer(
    help="The settings file (ledgerlink.toml) and its LEDGERLINK_… overrides.", no_args_is_help=True
)

SettingsFile = Annotated[
    Path | None, typer.Option("--settings", help="the settings file; default $LEDGERLINK_SETTINGS or ./ledgerlink.toml")
]


def _load(path: Path | None, *, required: bool) -> object:
    from ledgerlink.bootstrap import load_app_settings
    from ledgerlink.settings import SettingsError

    try:
        return load_app_settings(path, required=required)
    except SettingsError as exc:
        for line in exc.lines():
            typer.echo(line, err=True)
        raise typer.Exit(2) from None


@config_app.command("check")
def check(settings: SettingsFile = None) -> None:
    """Validate the settings file and the environment's overrides; exit 2 naming file, line and key when wrong."""
    from ledgerlink.settings import settings_path

    app = _load(settings, required=True)
    from ledgerlink.settings import LedgerLinkSettings

    assert isinstance(app, LedgerLinkSettings)
    enabled = [name for name, section in app.flows.sections().items() if section.enabled]
    typer.echo(f"{settings_path(settings)}: ok; flows on: {', '.join(enabled) or 'none'}")


@config_app.command("show")
def show(
    settings: SettingsFile = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of TOML")] = False,
) -> None:
    """Every setting in force (the file, the environment over it, the defaults), secrets masked."""
    from ledgerlink.settings import LedgerLinkSettings, as_dict, as_toml

    app = _load(settings, required=False)
    assert isinstance(app, LedgerLinkSettings)
    typer.echo(json.dumps(as_dict(app), indent=2) if as_json else as_toml(app))
