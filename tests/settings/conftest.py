"""Fixtures: a LedgerLink started from a settings file, against the Salesforce and KashFlow sandboxes over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledgerlink.bootstrap import engine_settings, load_app_settings, open_runtime
from ledgerlink.connections.build import build_crm
from ledgerlink.engine import runtime as engine
from ledgerlink.sandbox.runner import SandboxSet, start_sandboxes
from ledgerlink.settings import LedgerLinkSettings
from tests.flows.conftest import CLOSE_DATE, FlowEnv


@dataclass
class SettingsEnv(FlowEnv):
    app: LedgerLinkSettings | None = None

    def kashflow_invoice(self, number: str) -> dict[str, Any]:
        found = self.runtime.books.client.get_invoice(number)  # type: ignore[attr-defined]
        assert found is not None
        return dict(found)

    def make_account_in(self, name: str, country: str, **fields: Any) -> str:
        return self.user.create("Account", {"Name": name, "BillingCountry": country, **fields})

    def won_deal(self, account_id: str, entry: str, price: float, **fields: Any) -> str:
        opp = self.user.create(
            "Opportunity",
            {"Name": "Deal", "StageName": "Prospecting", "CloseDate": CLOSE_DATE.isoformat(), "AccountId": account_id}
            | fields,
        )
        self.user.create(
            "OpportunityLineItem", {"OpportunityId": opp, "PricebookEntryId": entry, "Quantity": 1, "UnitPrice": price}
        )
        self.user.update("Opportunity", opp, {"StageName": "Closed Won"})
        return opp


StartEnv = Callable[..., SettingsEnv]


@pytest.fixture
def start_env(tmp_path: Path) -> Iterator[StartEnv]:
    """Start the sandboxes (Salesforce overrides given, e.g. ``multi_currency=True``) and LedgerLink with the
    settings ``text`` (a ledgerlink.toml) as `ledgerlink worker` reads it."""
    running: list[tuple[SandboxSet, Any]] = []

    def start(text: str = "", **salesforce: Any) -> SettingsEnv:
        sandboxes = start_sandboxes(
            ["salesforce", "kashflow"], tmp_path / "sandboxes", overrides={"salesforce": salesforce}
        )
        settings_file = tmp_path / "ledgerlink.toml"
        settings_file.write_text(text)
        app = load_app_settings(settings_file, required=True)
        sf_spec = sandboxes["salesforce"].describe()
        settings = engine_settings(tmp_path, app=app, settings_file=settings_file)
        runtime = open_runtime(settings, sf_spec, sandboxes["kashflow"].describe())
        user = build_crm(sf_spec, client_tag="test-user")
        running.append((sandboxes, user))
        return SettingsEnv(sandboxes=sandboxes, runtime=runtime, user=user, app=app)

    yield start
    engine.stop()
    for sandboxes, user in running:
        user.close()
        sandboxes.stop()
