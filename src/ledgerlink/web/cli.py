"""Console commands for the ``ledgerlink`` CLI: ``serve``, ``user add``, ``token create``, ``vault rotate``,
``connection add``. Register with ``register(app)``."""

from __future__ import annotations

import getpass
import json
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ledgerlink.store import Ledger
    from ledgerlink.vault import KeyRing

DATA_DIR = Path(".ledgerlink")
user_app = typer.Typer(help="Console users (viewer or admin).", no_args_is_help=True)
vault_app = typer.Typer(help="The credentials vault.", no_args_is_help=True)
connection_app = typer.Typer(help="Connections to the systems LedgerLink syncs, and SMTP.", no_args_is_help=True)

DataDir = Annotated[Path, typer.Option(help="where the ledger and the key file live")]


def _ledger(data_dir: Path) -> Ledger:
    from ledgerlink.store import Ledger, database_url

    return Ledger(database_url(data_dir))


def _password(prompt: str) -> str:
    # From the environment for scripts, else asked without echo; never from a command-line argument (shell history).
    return os.environ.get("LEDGERLINK_PASSWORD") or getpass.getpass(prompt)


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8080,
    data_dir: DataDir = DATA_DIR,
    engine: Annotated[
        bool, typer.Option("--engine/--no-engine", help="run the flows in this process (for replay)")
    ] = False,
    secure_cookies: Annotated[bool, typer.Option(help="mark cookies Secure (serve behind https)")] = False,
    json_logs: Annotated[bool, typer.Option("--json-logs/--plain-logs")] = True,
) -> None:
    """Serve the operations console and its JSON API."""
    import uvicorn

    from ledgerlink.logs import configure_json_logging
    from ledgerlink.store import database_url
    from ledgerlink.web import ConsoleSettings, create_app
    from ledgerlink.web.background import start_alert_loop, start_engine_from_connections
    from ledgerlink.web.protocol import HeaderDeadlineProtocol

    if json_logs:
        configure_json_logging()
    settings = ConsoleSettings(data_dir=data_dir, database_url=database_url(data_dir), cookie_secure=secure_cookies)
    app = create_app(settings)
    console = app.state.console

    async def warm_preview_workers() -> None:  # the first mapping preview shouldn't wait for them to start
        from ledgerlink.web.routes.mappings import worker_for

        worker_for(app).warm()

    app.router.on_startup.append(warm_preview_workers)
    stop = threading.Event()
    if engine:
        from ledgerlink.engine import history
        from ledgerlink.engine import runtime as engine_runtime

        start_engine_from_connections(console)
        history.start_for(engine_runtime.current(), stop)
    start_alert_loop(console, stop)
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            http=HeaderDeadlineProtocol,  # a request's headers must arrive within 10 s (slowloris)
            timeout_keep_alive=5,  # an idle keep-alive connection is closed after 5 s
            h11_max_incomplete_event_size=64 * 1024,  # request line + headers: at most 64 KiB
            limit_concurrency=int(os.environ.get("LEDGERLINK_MAX_CONNECTIONS", "200")),  # then 503, not a pile-up
        )
    finally:
        stop.set()
        if engine:
            from ledgerlink.engine import runtime

            runtime.stop()


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="viewer or admin")] = "viewer",
    data_dir: DataDir = DATA_DIR,
) -> None:
    """Create a user; the password is read from LEDGERLINK_PASSWORD or asked for."""
    from ledgerlink.web.services.users import UserError, Users

    try:
        Users(_ledger(data_dir)).add(username, _password(f"password for {username}: "), role)
    except UserError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"user {username} added ({role})")


@user_app.command("disable")
def user_disable(
    username: str,
    enable: Annotated[bool, typer.Option("--enable", help="enable the user again")] = False,
    data_dir: DataDir = DATA_DIR,
) -> None:
    """Disable a user (sessions end, tokens stop working), or --enable them again."""
    from ledgerlink.web.services.users import UserError, Users

    try:
        Users(_ledger(data_dir)).set_disabled(username, not enable)
    except UserError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"user {username} {'enabled' if enable else 'disabled'}")


@user_app.command("passwd")
def user_passwd(username: str, data_dir: DataDir = DATA_DIR) -> None:
    """Set a user's password (from LEDGERLINK_PASSWORD or asked for); their sessions end."""
    from ledgerlink.web.services.users import UserError, Users

    try:
        Users(_ledger(data_dir)).set_password(username, _password(f"new password for {username}: "))
    except UserError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"password of {username} changed; their sessions have ended")


@user_app.command("revoke-tokens")
def user_revoke_tokens(username: str, data_dir: DataDir = DATA_DIR) -> None:
    """Revoke every API token of a user."""
    from ledgerlink.web.services.users import UserError, Users

    try:
        count = Users(_ledger(data_dir)).revoke_all_tokens(username)
    except UserError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"revoked {count} token(s) of {username}")


@user_app.command("token")
def user_token(username: str, name: str = "cli", data_dir: DataDir = DATA_DIR) -> None:
    """Create an API token for a user; printed once, stored hashed."""
    from ledgerlink.web.services.users import Users

    users = Users(_ledger(data_dir))
    found = next((u for u in users.all() if u.username == username), None)
    if found is None:
        raise typer.BadParameter(f"no user {username!r}")
    _id, token = users.create_token(found.pk, name)
    typer.echo(token)


@vault_app.command("rotate")
def vault_rotate(data_dir: DataDir = DATA_DIR) -> None:
    """Re-encrypt every secret under a new master key (key file: replaced in place; env key: from
    LEDGERLINK_NEW_MASTER_KEY). Restart running consoles and workers afterwards."""
    from ledgerlink.vault import Vault, VaultKeyError
    from ledgerlink.vault.keys import MasterKey
    from ledgerlink.vault.vault import key_ids_in_use, rotate_env_key, rotate_key_file

    ledger = _ledger(data_dir)
    try:
        ring = keyring_for(ledger, data_dir)
    except VaultKeyError as exc:
        raise typer.BadParameter(str(exc)) from None
    vault = Vault(ring)

    def reseal(new_key: MasterKey) -> int:
        with ledger.session() as s:
            return vault.reseal_all(s, new_key)

    def in_use() -> set[str]:
        with ledger.session() as s:
            return key_ids_in_use(s)

    try:
        if ring.source == "env":
            new_key, count = rotate_env_key(os.environ.get("LEDGERLINK_NEW_MASTER_KEY"), reseal)
            typer.echo(
                f"re-encrypted {count} connection(s) under key {new_key.key_id}; "
                "now set LEDGERLINK_MASTER_KEY to the new key"
            )
        else:
            assert ring.key_file is not None
            new_key, count = rotate_key_file(ring.key_file, reseal, in_use)
            typer.echo(f"re-encrypted {count} connection(s); {ring.key_file} now holds key {new_key.key_id}")
    except VaultKeyError as exc:
        raise typer.BadParameter(str(exc)) from None


def keyring_for(ledger: Ledger, data_dir: Path) -> KeyRing:
    """The key ring; a missing key file is only created while no secret is sealed (else it is an error)."""
    from ledgerlink.vault import load_keyring
    from ledgerlink.vault.vault import has_sealed_secrets

    with ledger.session() as s:
        sealed = has_sealed_secrets(s)
    return load_keyring(data_dir, create=not sealed)


def _system_help() -> str:
    from ledgerlink.connections.store import kinds

    return ", ".join(kinds())


def _ask(name: str, *, secret: bool, required: bool) -> str:
    """A credential from LEDGERLINK_SECRET_<NAME>, else asked for (without echo when secret); optional ones are
    only asked for where a terminal can answer."""
    value = os.environ.get(f"LEDGERLINK_SECRET_{name.upper()}")
    if value is not None:
        return value
    if not required and not sys.stdin.isatty():
        return ""
    label = f"{name}{'' if required else ' (optional, Enter to skip)'}: "
    return getpass.getpass(label) if secret else input(label)


@connection_app.command("add")
def connection_add(
    name: str,
    system: Annotated[str, typer.Option(help=f"one of: {_system_help()}")],
    base_url: Annotated[str, typer.Option(help="the API (or smtp://host:port) URL")],
    setting: Annotated[
        list[str] | None,
        typer.Option(help='KEY=JSON, repeatable: e.g. rate_limit="5/s", concurrency=4, options={...}'),
    ] = None,
    data_dir: DataDir = DATA_DIR,
) -> None:
    """Add a connection; each credential is read from LEDGERLINK_SECRET_<NAME> or asked for (secrets without echo)."""
    from ledgerlink.connections.store import ConnectionError_, Connections, credential_fields, kinds, required_fields
    from ledgerlink.systems.registry import get_system
    from ledgerlink.vault import Vault

    if system not in kinds():
        raise typer.BadParameter(f"system must be one of {', '.join(kinds())}")
    required = required_fields(system)
    secret = set(get_system(system).credentials.secret_fields()) if system != "smtp" else set(credential_fields(system))
    secrets = {f: _ask(f, secret=f in secret, required=f in required) for f in credential_fields(system)}
    settings = {}
    for item in setting or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"--setting takes KEY=JSON, not {item[:80]!r}")
        try:
            settings[key.strip()] = json.loads(value)
        except ValueError:
            raise typer.BadParameter(f"--setting {key.strip()}: the value is not JSON") from None
    ledger = _ledger(data_dir)
    connections = Connections(ledger, Vault(keyring_for(ledger, data_dir)))
    try:
        _view, hook = connections.add(name, system, base_url, secrets, settings)
    except ConnectionError_ as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"connection {name} added. Webhook signing secret (shown once): {hook}")


def register(app: typer.Typer) -> None:
    """Add the console's commands to the main CLI."""
    app.command("serve")(serve)
    app.add_typer(user_app, name="user")
    app.add_typer(vault_app, name="vault")
    app.add_typer(connection_app, name="connection")
