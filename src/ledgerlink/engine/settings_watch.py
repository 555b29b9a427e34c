"""A running worker applies edits of the settings file: no restart for what a business changes day to day.

The console (or a person with an editor) writes ``ledgerlink.toml``; each worker looks at the file's size and
modification time every few seconds and, when they change, loads it with the same validation as at start. A file
that does not validate is not applied: the worker keeps the settings it has and logs the file's own error lines
(file, line, key) once per version of the file. An applied change is logged and audited with the keys it changed.

Applied at once: everything the flows read (``FlowSettings``: flows on or off, schedules, payment terms, tax, currency,
the policies), since the worker's trigger loop and every new run read ``runtime.settings``; each flow's worker-start
hook runs again (they are idempotent: the reconciliation's cron moves to the new schedule). Not applied before a
restart: the database and the connections (the worker's clients and queues are built from them), and the Change Data
Capture subscriptions of a flow switched on while the worker ran (its polling trigger serves it meanwhile); both
are named in the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from ledgerlink.engine import runtime as engine
from ledgerlink.engine.flows import registered_flows
from ledgerlink.settings import LedgerLinkSettings, SettingsError

log = logging.getLogger(__name__)

CHECK_SECONDS = 2.0
AUDIT_FLOW = "settings"
# Parts of the file a worker reads only when it starts.
_AT_RESTART = ("database", "connections")


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def changed_keys(before: engine.FlowSettings, after: engine.FlowSettings) -> list[str]:
    """The FlowSettings fields whose values differ (the flows' view of the file)."""
    old, new = asdict(before), asdict(after)
    return sorted(key for key in new if old.get(key) != new[key])


def _restart_keys(before: LedgerLinkSettings | None, after: LedgerLinkSettings) -> list[str]:
    if before is None:
        return []
    return [part for part in _AT_RESTART if getattr(before, part) != getattr(after, part)]


class SettingsWatch:
    """Checks the settings file of ``runtime`` (``EngineSettings.settings_file``) and applies a new version."""

    def __init__(
        self,
        runtime: engine.Runtime,
        *,
        check_seconds: float = CHECK_SECONDS,
        after_apply: Callable[[], None] | None = None,  # default: each flow's worker-start hook again
    ) -> None:
        self.runtime = runtime
        self.after_apply = after_apply or rerun_worker_start_hooks
        self.path = runtime.settings.settings_file
        self.check_seconds = check_seconds
        self._stamp = _stamp(self.path) if self.path is not None else None
        self._next_check = time.monotonic() + check_seconds

    def due(self) -> bool:
        return self.path is not None and time.monotonic() >= self._next_check

    def check(self) -> list[str] | None:
        """Apply the file if it changed since the last look; returns the flows' keys it changed (None: nothing
        applied, because the file is unchanged, missing or invalid)."""
        self._next_check = time.monotonic() + self.check_seconds
        if self.path is None:
            return None
        stamp = _stamp(self.path)
        if stamp is None or stamp == self._stamp:
            return None  # unchanged, or gone (a worker keeps what it has; an editor may be replacing the file)
        self._stamp = stamp
        try:
            app = engine.load_app_settings(self.path)
        except SettingsError as exc:
            log.warning(
                "settings file changed but not applied (the worker keeps its settings): %s", "; ".join(exc.lines())
            )
            return None
        return self.apply(app)

    def apply(self, app: LedgerLinkSettings) -> list[str]:
        settings = self.runtime.settings
        flows = engine.flow_settings_from(app)
        keys = changed_keys(settings.flows, flows)
        restart = _restart_keys(settings.app, app)
        settings.flows, settings.app = flows, app
        if restart:
            log.warning("settings file: %s changed; a worker applies that when it restarts", ", ".join(restart))
        if not keys:
            return keys
        log.info("settings file %s applied: %s", self.path, ", ".join(keys))
        self.runtime.ledger.audit(
            flow=AUDIT_FLOW,
            system="ledgerlink",
            obj="settings",
            action="applied",
            record_id=str(self.path),
            detail={"keys": keys, "restart_needed": restart},
        )
        self.after_apply()
        return keys


def rerun_worker_start_hooks() -> None:
    for entry in registered_flows().values():
        if entry.on_worker_start is None:
            continue
        try:
            entry.on_worker_start()
        except Exception:  # one flow's hook must not keep the others' settings from applying
            log.exception("%s: applying the new settings failed", entry.name)
