"""What ``ledgerlink serve`` runs beside the web app: the alert loop, and optionally the engine for replays."""

from __future__ import annotations

import logging
import threading

from ledgerlink.alerts import check_and_send
from ledgerlink.alerts.rules import Watched
from ledgerlink.web.console import Console

log = logging.getLogger("ledgerlink.web.background")


def console_triggers() -> dict[str, Watched]:
    """The enabled flows' triggers, as the settings file says now; none when it cannot be read (the
    other rules still run; the settings page shows the mistake)."""
    from ledgerlink.bootstrap import watched_triggers
    from ledgerlink.settings import SettingsError

    try:
        return watched_triggers()
    except SettingsError:
        log.warning("stalled-trigger rules skipped this pass: the settings file could not be read", exc_info=True)
        return {}


def start_alert_loop(console: Console, stop: threading.Event) -> threading.Thread:
    def loop() -> None:
        while not stop.wait(console.settings.alert_interval_seconds):
            try:
                check_and_send(
                    console.ledger,
                    console.connections.smtp_settings,
                    policy=console.settings.outbound_policy(),
                    triggers=console_triggers(),
                )
            except Exception:  # one bad pass must not end alerting
                log.exception("alert check failed")

    thread = threading.Thread(target=loop, name="alerts", daemon=True)
    thread.start()
    return thread


def start_engine_from_connections(console: Console) -> None:
    """Start the DBOS runtime with the first CRM and accounting connections from the vault."""
    from ledgerlink.bootstrap import engine_settings, load_app_settings, open_runtime
    from ledgerlink.settings import settings_path

    sf = console.connections.first_in_role("crm")
    books = console.connections.first_in_role("accounting")
    if sf is None or books is None:
        raise SystemExit("--engine needs a CRM and an accounting connection (ledgerlink connection add)")
    app = load_app_settings()  # the settings file: a mistake in it stops the start, naming file, line and key
    settings = engine_settings(
        console.settings.data_dir, ledger_url=console.ledger.url, app=app, settings_file=settings_path()
    )
    open_runtime(settings, console.connections.spec(sf), console.connections.spec(books), ledger=console.ledger)
