"""`ledgerlink init`: from nothing to a running set-up, by prompts or (for scripts) flags.

It stores each connection in the vault and tests it, runs each connected system's own `check` command (for
Salesforce: the custom fields and objects LedgerLink needs), proposes the flows to switch on, and writes the
settings file, which names the connections by their vault names and never holds a credential.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from ledgerlink.connections.store import Connections

HEADER = """\
# LedgerLink settings. `ledgerlink config check` validates this file, `ledgerlink config show` prints every
# setting in force (secrets masked). Any key can be overridden by an environment variable:
# LEDGERLINK_<SECTION>__<KEY>, e.g. LEDGERLINK_FLOWS__ORDER_TO_INVOICE__ENABLED=true.
# [connections] names connections stored (encrypted) in the vault: `ledgerlink connection add`, or the console.
# [defaults] applies to every flow; a flow's own section may override any of its keys.
"""


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _read_specs(path: Path) -> list[dict[str, Any]]:
    from ledgerlink.bootstrap import read_connection_file

    try:
        return read_connection_file(path)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"--connections-file {path}: {exc}") from None


def _prompt_spec(role: str, system: str | None, base_url: str | None, interactive: bool) -> dict[str, Any] | None:
    """One connection by prompts (credentials from LEDGERLINK_SECRET_<FIELD> first, as `connection add`)."""
    from ledgerlink.connections.store import credential_fields, required_fields
    from ledgerlink.systems import registry
    from ledgerlink.web.cli import _ask

    names = registry.names(role)  # type: ignore[arg-type]
    if system is None:
        if not interactive:
            return None
        system = typer.prompt(f"{role} system ({', '.join(names)})", default=names[0])
    if system not in names:
        raise typer.BadParameter(f"the {role} system must be one of {', '.join(names)}")
    if base_url is None:
        if not interactive:
            raise typer.BadParameter(f"give --{role}-url for {system}")
        base_url = typer.prompt(f"{system} API URL")
    secret = set(registry.get_system(system).credentials.secret_fields())
    required = required_fields(system)
    creds = {f: _ask(f, secret=f in secret, required=f in required) for f in credential_fields(system)}
    return {"system": system, "base_url": base_url, "credentials": {k: v for k, v in creds.items() if v}}


def _store(connections: Connections, spec: dict[str, Any]) -> str:
    """Store (or update) the connection named after its system; returns its name."""
    name = str(spec.get("name") or spec["system"])
    extra = {k: v for k, v in spec.items() if k not in ("name", "system", "base_url", "credentials")}
    existing = connections.get(name)
    if existing is None:
        connections.add(name, spec["system"], spec["base_url"], dict(spec.get("credentials") or {}), extra)
    else:
        connections.rotate(name, dict(spec.get("credentials") or {}))
    return name


def _test(connections: Connections, name: str) -> tuple[bool, str]:
    from ledgerlink.systems.registry import get_system

    spec = connections.spec(name)
    try:
        result = get_system(spec["system"]).probe(spec)
        ok, message = bool(result.ok), str(result.message)
    except Exception as exc:  # any failure to reach or sign in is the test's answer, never a crash of init
        ok, message = False, f"{type(exc).__name__}: {exc}"
    connections.record_test(name, ok, message)
    return ok, message


def _system_check(system: str, data_dir: Path) -> int | None:
    """The system's own `check` command, when it has one (its exit code); None when it has none."""
    import click

    from ledgerlink.cli import _Connections
    from ledgerlink.systems.registry import get_system

    commands = get_system(system).commands
    if commands is None:
        return None
    found = typer.main.get_command(commands())
    # A plugin with one command is that command itself (typer collapses a one-command app).
    check = found.commands.get("check") if isinstance(found, click.Group) else found
    if check is None or check.name != "check":
        return None
    result = check.main(["--data-dir", str(data_dir)], "check", standalone_mode=False, obj=_Connections())
    return int(result or 0)


def init(
    settings_file: Annotated[Path, typer.Option("--settings", help="the settings file to write")] = Path(
        "ledgerlink.toml"
    ),
    data_dir: Annotated[Path, typer.Option(help="where the ledger, DBOS database and vault key live")] = Path(
        ".ledgerlink"
    ),
    database_url: Annotated[
        str | None, typer.Option(help="PostgreSQL URL for the ledger (default: SQLite in --data-dir)")
    ] = None,
    connections_file: Annotated[
        Path | None,
        typer.Option(help="connection specs with credentials (JSON or JSON lines, as `sandbox run` prints)"),
    ] = None,
    crm: Annotated[str | None, typer.Option(help="the CRM system")] = None,
    crm_url: Annotated[str | None, typer.Option(help="the CRM's API URL")] = None,
    accounting: Annotated[str | None, typer.Option(help="the accounting system")] = None,
    accounting_url: Annotated[str | None, typer.Option(help="the accounting system's API URL")] = None,
    enable: Annotated[list[str] | None, typer.Option(help="switch this flow on (repeatable)")] = None,
    disable: Annotated[list[str] | None, typer.Option(help="switch this flow off (repeatable)")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="no prompts: flags, environment and defaults only")] = False,
    force: Annotated[bool, typer.Option(help="overwrite settings the file already has")] = False,
) -> None:
    """Set LedgerLink up: connections into the vault (each tested), the systems' own checks, the flows to switch
    on, and the settings file. Credentials come from LEDGERLINK_SECRET_<FIELD>, --connections-file, or prompts."""
    from ledgerlink.bootstrap import load_app_settings
    from ledgerlink.connections.store import ConnectionError_, Connections
    from ledgerlink.settings import SettingsError, write_settings
    from ledgerlink.settings.model import FLOW_MODELS
    from ledgerlink.store import Ledger
    from ledgerlink.store.database import database_url as default_url
    from ledgerlink.store.database import normalise_url
    from ledgerlink.systems.registry import get_system
    from ledgerlink.vault import Vault, load_keyring

    started = time.monotonic()
    interactive = not yes and sys.stdin.isatty()
    if (
        settings_file.exists()
        and not force
        and not (interactive and typer.confirm(f"{settings_file} exists; update it?"))
    ):
        raise typer.BadParameter(f"{settings_file} exists: pass --force to update it")

    # 1. Connections: into the vault, each tested.
    data_dir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(normalise_url(database_url) if database_url else default_url(data_dir))
    vault = Connections(ledger, Vault(load_keyring(data_dir, create=True)))
    specs = _read_specs(connections_file) if connections_file else []
    for role, system, url in (("crm", crm, crm_url), ("accounting", accounting, accounting_url)):
        if any(get_system(s["system"]).role == role for s in specs if s.get("system") != "smtp"):
            continue
        spec = _prompt_spec(role, system, url, interactive)
        if spec is not None:
            specs.append(spec)
    names: dict[str, str] = {}
    failed = False
    for spec in specs:
        try:
            name = _store(vault, spec)
        except ConnectionError_ as exc:
            raise typer.BadParameter(f"connection {spec.get('system')}: {exc}") from None
        ok, message = _test(vault, name)
        _say(f"connection {name}: {'ok' if ok else 'FAILED'}: {message}")
        failed = failed or not ok
        names.setdefault(get_system(spec["system"]).role, name)
    if failed:
        _say("a connection test failed: fix its URL or credentials and run init again")
        raise typer.Exit(1)

    # 2. Each connected system's own check (Salesforce: the custom fields and objects LedgerLink needs).
    for spec in specs:
        code = _system_check(str(spec["system"]), data_dir)
        if code not in (None, 0):
            _say(f"{spec['system']} check found something missing (above); the flows that need it will fail until then")

    # 3. The flows to switch on: proposed with their defaults, or as --enable / --disable say.
    switches: dict[str, bool] = {name: bool(model().enabled) for name, model in FLOW_MODELS.items()}
    for flow in enable or []:
        switches[_known_flow(flow, switches)] = True
    for flow in disable or []:
        switches[_known_flow(flow, switches)] = False
    if interactive and not enable and not disable:
        for flow in switches:
            switches[flow] = typer.confirm(f"switch on {flow}?", default=switches[flow])

    # 4. The settings file.
    changes: dict[tuple[str, ...], Any] = {("database", "data_dir"): str(data_dir)}
    if database_url:
        changes[("database", "url")] = database_url
    for role in ("crm", "accounting"):
        if role in names:
            changes[("connections", role)] = names[role]
    for flow, on in switches.items():
        changes[("flows", flow, "enabled")] = on
    if not settings_file.exists():
        settings_file.write_text(HEADER)
    try:
        load_app_settings(None)  # registers the flows, so their sections are known
        write_settings(settings_file, changes)
    except SettingsError as exc:
        raise typer.BadParameter(str(exc)) from None
    flows_on = [flow for flow, value in switches.items() if value]
    _say(f"wrote {settings_file}; flows on: {', '.join(flows_on)}")
    _say(f"next: `ledgerlink worker --settings {settings_file}` ({time.monotonic() - started:.1f} s so far)")
    typer.echo(json.dumps({"settings": str(settings_file), "connections": names, "flows_on": flows_on}))


def _known_flow(flow: str, switches: dict[str, bool]) -> str:
    if flow not in switches:
        raise typer.BadParameter(f"no flow named {flow!r}; flows: {', '.join(switches)}")
    return flow
