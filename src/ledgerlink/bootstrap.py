"""Putting a runtime together: settings from the environment, connections from the vault or a file, the systems
built from their plugins, the flows registered, DBOS launched.

The demo, the tests, `ledgerlink worker` and `ledgerlink serve --engine` all start LedgerLink through here.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from ledgerlink.alerts.rules import Watched
from ledgerlink.connections.build import ConnectionSpec, build_accounting, build_crm, queue_limits
from ledgerlink.engine import flows as engine_flows
from ledgerlink.engine import runtime as engine
from ledgerlink.flows import load_flows
from ledgerlink.settings import LedgerLinkSettings
from ledgerlink.store import Ledger, database_url
from ledgerlink.store.database import normalise_url
from ledgerlink.systems import registry


def default_executor_id() -> str:
    """Stable across restarts of the same worker, so a restarted worker recovers its own pending work."""
    return os.environ.get("LEDGERLINK_EXECUTOR_ID") or socket.gethostname()


def engine_settings(
    data_dir: Path,
    *,
    executor_id: str | None = None,
    worker_concurrency: int | None = None,
    ledger_url: str | None = None,
    app: LedgerLinkSettings | None = None,
    settings_file: Path | None = None,
) -> engine.EngineSettings:
    """The engine's settings; with ``app`` (the settings file), the flows' settings and the database come from it."""
    if app is not None and app.database.url and not ledger_url and not os.environ.get("LEDGERLINK_DATABASE_URL"):
        ledger_url = normalise_url(app.database.url)
    ledger_url = ledger_url or database_url(data_dir)
    settings = engine.EngineSettings(
        data_dir=data_dir,
        ledger_url=ledger_url,
        system_database_url=engine.system_database_url(ledger_url, data_dir),
        executor_id=executor_id,
    )
    if window := os.environ.get("LEDGERLINK_BACKFILL_WINDOW"):
        settings.backfill_window = int(window)
    if batch := os.environ.get("LEDGERLINK_BACKFILL_BATCH"):
        settings.backfill_batch = int(batch)
    if window := os.environ.get("LEDGERLINK_EVENT_WINDOW"):  # a shard's unfinished change-event runs (latency vs runs)
        settings.event_window = int(window)
    if lane := os.environ.get("LEDGERLINK_BACKGROUND_CONCURRENCY"):  # PDF runs a worker runs at once
        settings.background_concurrency = int(lane)
    if busy := os.environ.get("LEDGERLINK_BACKGROUND_WHILE_BUSY"):  # ... while the record queues are busy
        settings.background_while_busy = int(busy)
    if yield_for := os.environ.get("LEDGERLINK_BACKGROUND_YIELD_SECONDS"):  # how long a lane waits on busy records
        settings.background_yield_seconds = float(yield_for)
    if poll := os.environ.get("LEDGERLINK_QUEUE_POLL_SECONDS"):  # DBOS's look at each record queue (latency vs CPU)
        for queue in settings.connection_queues.values():
            queue.poll_seconds = float(poll)
    if worker_concurrency:
        for queue in [*settings.queues, *settings.connection_queues.values()]:
            queue.worker_concurrency = worker_concurrency
    settings.worker_concurrency = worker_concurrency
    if app is not None:
        settings.flows = engine.flow_settings_from(app)
        settings.app = app
        settings.settings_file = settings_file
    return settings


def load_app_settings(path: Path | None = None, *, required: bool = False) -> LedgerLinkSettings:
    """The settings file, validated once every flow is registered (a flow's section is checked against it)."""
    load_flows()
    return engine.load_app_settings(path, required=required)


def watched_triggers(path: Path | None = None) -> dict[str, Watched]:
    """Each enabled flow's trigger by flow name, from the settings file: what the console's stalled-trigger rules
    watch (it has no worker's settings in hand)."""
    return engine_flows.watched_triggers(engine.flow_settings_from(load_app_settings(path)))


def app_data_dir(app: LedgerLinkSettings, given: Path | None) -> Path:
    """The data directory: the one given on the command line, else the settings file's."""
    return given if given is not None else app.database.data_dir


def app_database_url(app: LedgerLinkSettings, data_dir: Path) -> str:
    """The ledger's URL: ``LEDGERLINK_DATABASE_URL``, else the settings file's, else SQLite in ``data_dir``."""
    if app.database.url and not os.environ.get("LEDGERLINK_DATABASE_URL"):
        return normalise_url(app.database.url)
    return database_url(data_dir)


def named_connection_specs(ledger: Ledger, data_dir: Path, app: LedgerLinkSettings) -> list[ConnectionSpec]:
    """The connections the settings file names (``[connections]``), else every connection in the vault."""
    from ledgerlink.connections.store import Connections
    from ledgerlink.vault.keys import load_keyring
    from ledgerlink.vault.vault import Vault

    names = [n for n in (app.connections.crm, app.connections.accounting) if n]
    if not names:
        return vault_connection_specs(ledger, data_dir)
    connections = Connections(ledger, Vault(load_keyring(data_dir, create=False)))
    specs = []
    for name in names:
        try:
            specs.append(connections.spec(name))
        except KeyError:
            raise ValueError(f"the settings name connection {name!r}, which is not in the vault") from None
    return specs


def read_connection_file(path: Path) -> list[ConnectionSpec]:
    """A JSON list of connection specs, or JSON lines as `ledgerlink sandbox run` prints them."""
    text = path.read_text()
    stripped = text.strip()
    if stripped.startswith("["):
        return list(json.loads(stripped))
    return [json.loads(line) for line in stripped.splitlines() if line.strip()]


def pick(specs: list[ConnectionSpec], accounting: str | None = None) -> tuple[ConnectionSpec, ConnectionSpec]:
    """The CRM connection and the accounting one (the named system, else the only one there is)."""
    crm_systems, books_systems = registry.names("crm"), registry.names("accounting")
    crm = [s for s in specs if s["system"] in crm_systems]
    books = [s for s in specs if s["system"] in books_systems and (accounting is None or s["system"] == accounting)]
    if len(crm) != 1:
        raise ValueError(f"expected one CRM connection ({' or '.join(crm_systems)}), found {len(crm)}")
    if len(books) != 1:
        wanted = accounting or " or ".join(books_systems)
        raise ValueError(f"expected one accounting connection ({wanted}), found {len(books)}")
    return crm[0], books[0]


def connection_spec(system: str, data_dir: Path, connections: Path | None = None) -> ConnectionSpec:
    """The one connection to ``system``, from ``connections`` (a file) or else the vault, as ``worker`` finds it."""
    specs = (
        read_connection_file(connections)
        if connections
        else vault_connection_specs(Ledger(database_url(data_dir)), data_dir)
    )
    found = [s for s in specs if s["system"] == system]
    if len(found) != 1:
        raise ValueError(f"expected one {registry.get_system(system).title} connection, found {len(found)}")
    return found[0]


def vault_connection_specs(ledger: Ledger, data_dir: Path) -> list[ConnectionSpec]:
    """Connections added in the console or with `ledgerlink connection add`, secrets opened from the vault."""
    from ledgerlink.connections.store import Connections
    from ledgerlink.vault.keys import load_keyring
    from ledgerlink.vault.vault import Vault

    connections = Connections(ledger, Vault(load_keyring(data_dir, create=False)))
    return [connections.spec(view.name) for view in connections.list()]


def open_runtime(
    settings: engine.EngineSettings,
    crm: ConnectionSpec,
    accounting: ConnectionSpec,
    *,
    ledger: Ledger | None = None,
) -> engine.Runtime:
    """Build the systems from their connections, register the flows and launch DBOS; ``engine.stop()`` shuts down."""
    load_flows()
    ledger = ledger or Ledger(settings.ledger_url)
    for role, spec in ((engine.CRM, crm), (engine.ACCOUNTING, accounting)):
        concurrency, rate_limit = queue_limits(spec)
        settings.connection_queues[role] = engine.connection_queue(
            settings.worker_concurrency or concurrency, rate_limit
        )
    return engine.start(
        engine.Runtime(
            settings=settings,
            ledger=ledger,
            crm=build_crm(crm),
            # The ledger holds the accounting API's rate-limit slots, shared by every worker process.
            books=build_accounting(accounting, ledger_url=settings.ledger_url),
            crm_name=str(crm["system"]),
        )
    )


def describe_specs(specs: list[ConnectionSpec]) -> list[dict[str, Any]]:
    """What may be printed about connections: never their credentials."""
    return [{"system": s["system"], "base_url": s["base_url"]} for s in specs]
