"""The Salesforce sandbox with its Pub/Sub API on 127.0.0.1, a person's REST client, and subscriber helpers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ledgerlink.connections.build import build_crm
from ledgerlink.sandbox.runner import Sandbox, start_pubsub, start_sandbox
from ledgerlink.sandbox.salesforce import SalesforceOrg
from ledgerlink.sandbox.salesforce.pubsub import PubSubServer
from ledgerlink.systems.salesforce.cdc import (
    ChangeEvent,
    PubSubSession,
    PubSubSettings,
    PubSubSubscriber,
    SessionProvider,
    oauth_session,
)
from ledgerlink.systems.salesforce.client import SalesforceClient
from tests.flows.conftest import CLOSE_DATE

KEEPALIVE_SECONDS = 0.3


class MemoryWatermarks:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get_watermark(self, name: str) -> str | None:
        return self.values.get(name)

    def set_watermark(self, name: str, value: str) -> None:
        self.values[name] = value


@dataclass
class CdcEnv:
    sandbox: Sandbox
    pubsub: PubSubServer
    user: SalesforceClient  # writes tagged client=test-user
    ledgerlink: SalesforceClient  # writes tagged client=ledgerlink
    sessions: SessionProvider
    subscribers: list[PubSubSubscriber] = field(default_factory=list)

    @property
    def org(self) -> SalesforceOrg:
        org: SalesforceOrg = self.sandbox.server.server.config.app.app.state.org  # type: ignore[union-attr]
        return org

    def subscriber(
        self,
        topic: str = "/data/OpportunityChangeEvent",
        watermarks: MemoryWatermarks | None = None,
        batch_size: int = 100,
        checked: Callable[[str], object] | None = None,
    ) -> PubSubSubscriber:
        sub = PubSubSubscriber(
            PubSubSettings(address=self.pubsub.address, topic=topic, batch_size=batch_size),
            self.sessions,
            watermarks if watermarks is not None else MemoryWatermarks(),
            checked,
        )
        self.subscribers.append(sub)
        return sub

    def session(self) -> PubSubSession:
        return self.sessions(False)

    def make_opportunity(self, name: str = "Deal", **fields: object) -> str:
        values: dict[str, object] = {"Name": name, "StageName": "Prospecting", "CloseDate": str(CLOSE_DATE), **fields}
        return self.user.create("Opportunity", values)


class Collector:
    """Runs ``PubSubSubscriber.run`` in a thread, collecting events and fallback calls."""

    def __init__(self, subscriber: PubSubSubscriber, stop_after: int | None = None) -> None:
        self.subscriber = subscriber
        self.stop_after = stop_after
        self.events: list[ChangeEvent] = []
        self.fallbacks: list[str] = []
        self.stop_event = threading.Event()
        self._cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.subscriber.run(self._handle, self._fallback, self.stop_event)

    def _handle(self, event: ChangeEvent) -> None:
        with self._cond:
            self.events.append(event)
            if self.stop_after is not None and len(self.events) >= self.stop_after:
                self.stop_event.set()  # run() returns after this response: with batch_size=1, right here
            self._cond.notify_all()

    def _fallback(self, reason: str) -> None:
        with self._cond:
            self.fallbacks.append(reason)
            self._cond.notify_all()

    def start(self) -> Collector:
        self.thread.start()
        return self

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ChangeEvent]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.events) >= count, timeout)
            return list(self.events)

    def wait_for_fallback(self, reason: str, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: reason in self.fallbacks, timeout)

    def stop(self) -> None:
        self.stop_event.set()
        self.subscriber.cancel()
        self.thread.join(timeout=5)


@pytest.fixture
def cdc_env(tmp_path: Path) -> Iterator[CdcEnv]:
    sandbox = start_sandbox("salesforce", tmp_path / "sandboxes")
    pubsub = start_pubsub(sandbox, keepalive_seconds=KEEPALIVE_SECONDS)
    spec = sandbox.describe()
    ledgerlink = build_crm(spec)
    user = build_crm(spec, client_tag="test-user")
    sessions = oauth_session(ledgerlink.settings.auth, spec["base_url"])
    env = CdcEnv(sandbox=sandbox, pubsub=pubsub, user=user, ledgerlink=ledgerlink, sessions=sessions)
    try:
        yield env
    finally:
        for sub in env.subscribers:
            sub.close()
        user.close()
        ledgerlink.close()
        sandbox.stop()
