"""A running `ledgerlink worker` applies the settings file's edits without a restart, as a user switching a flow on
in the console expects: real processes, sandboxes over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import tomlkit

from ledgerlink.bootstrap import load_app_settings
from ledgerlink.engine.flows import registered_flows
from ledgerlink.sandbox.runner import SandboxSet
from ledgerlink.settings import write_settings
from ledgerlink.store import Ledger, database_url
from tests.settings.test_go_live import _init, _invoices, _won_deals, sandboxes  # noqa: F401  (fixture)

O2I = "opportunity_to_invoice"


def _set(path: Path, changes: dict[tuple[str, ...], object]) -> None:
    load_app_settings(path)  # registers the flows' settings fields, as the console does before it writes
    write_settings(path, changes, extra_flows=list(registered_flows()))


def _wait(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.5)
    return False


def test_a_flow_switched_on_while_the_worker_runs_starts_without_a_restart(
    tmp_path: Path,
    sandboxes: SandboxSet,  # noqa: F811
) -> None:
    assert _init(tmp_path, sandboxes).returncode == 0
    settings = tmp_path / "ledgerlink.toml"
    _set(settings, {("flows", O2I, "enabled"): False})
    (deal,) = _won_deals(sandboxes, 1)
    log_path = tmp_path / "worker.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERLINK_")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "ledgerlink.cli", "worker", "--settings", "ledgerlink.toml", "--poll-interval", "1",
         "--lag", "0", "--executor-id", "live", "--no-cdc"],
        cwd=tmp_path, stdout=log_path.open("w"), stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    invoiced = lambda: any(i["CustomerReference"] == deal for i in _invoices(sandboxes))  # noqa: E731
    try:
        assert _wait(lambda: "running" in log_path.read_text(), 60), log_path.read_text()
        time.sleep(4)  # four polling slots with the flow off
        assert not invoiced(), "invoiced while the flow was off"

        # A careless edit first: the worker keeps its settings and says why, naming the key.
        text = settings.read_text()
        careless = tomlkit.parse(text)
        careless.setdefault("defaults", tomlkit.table())["payment_terms_days"] = 9999  # the model allows 0-365
        settings.write_text(tomlkit.dumps(careless))
        assert _wait(lambda: "not applied" in log_path.read_text(), 15), log_path.read_text()[-3000:]
        assert "payment_terms_days" in log_path.read_text()
        settings.write_text(text)

        _set(settings, {("flows", O2I, "enabled"): True})
        assert _wait(invoiced, 60), log_path.read_text()[-3000:]
        assert worker.poll() is None  # the same process: no restart
        ledger = Ledger(database_url(tmp_path / "data"))
        try:  # the change is in the audit trail, with what it changed (the console shows it)
            applied = [e for e in ledger.audit_trail(record_id="ledgerlink.toml") if e.action == "applied"]
        finally:
            ledger.dispose()
        assert applied and "enabled_flows" in applied[-1].detail["keys"], applied
    finally:
        worker.terminate()
        worker.wait(timeout=60)
