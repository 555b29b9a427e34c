"""Start sandboxes in this process on loopback ports: what `ledgerlink sandbox run`, the demo and the tests use."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledgerlink.sandbox._faults import FaultConfig
from ledgerlink.sandbox._server import RunningServer, serve_in_thread
from ledgerlink.sandbox._tls import make_tls_files
from ledgerlink.sandbox.kind import SandboxKind

if TYPE_CHECKING:
    from ledgerlink.sandbox.salesforce.pubsub import PubSubServer

GROUP = "ledgerlink.sandboxes"
SystemName = str  # a system with a sandbox registered under GROUP


def sandbox_kinds() -> dict[str, SandboxKind]:
    """Every registered sandbox by system name (loaded as asked for: starting one imports only its own)."""
    return {point.name: point.load() for point in entry_points(group=GROUP)}


def sandbox_systems() -> list[str]:
    return sorted(point.name for point in entry_points(group=GROUP))


@dataclass
class Sandbox:
    system: SystemName
    server: RunningServer
    config: Any
    credentials: dict[str, str]
    api_base: str  # what a connector takes as its base URL
    kind: SandboxKind | None = None
    pubsub: PubSubServer | None = None  # Salesforce's gRPC Pub/Sub API, once start_pubsub() ran

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "system": self.system,
            "base_url": self.api_base,
            "credentials": self.credentials,
        }
        if self.server.tls:
            info["ca_file"] = str(self.server.tls.ca_file)
        if self.pubsub is not None:
            info["pubsub"] = self.pubsub.address
        if self.kind is not None and self.kind.books is not None and self.kind.books.options:
            info["options"] = dict(self.kind.books.options)
        return info

    def stop(self) -> None:
        if self.pubsub is not None:
            self.pubsub.stop()
        self.server.stop()


@dataclass
class SandboxSet:
    sandboxes: dict[str, Sandbox] = field(default_factory=dict)

    def __getitem__(self, system: str) -> Sandbox:
        return self.sandboxes[system]

    def stop(self) -> None:
        for sandbox in self.sandboxes.values():
            sandbox.stop()


def start_sandbox(
    system: SystemName,
    data_dir: Path,
    *,
    port: int = 0,
    tls: bool = False,
    faults: FaultConfig | None = None,
    **overrides: Any,
) -> Sandbox:
    """Serve one system's sandbox with its data in ``data_dir/<system>.db``."""
    points = {point.name: point for point in entry_points(group=GROUP)}
    if system not in points:
        raise ValueError(f"no sandbox for {system!r}; sandboxes: {', '.join(sorted(points))}")
    kind: SandboxKind = points[system].load()
    data_dir.mkdir(parents=True, exist_ok=True)
    config = kind.config(data_path=data_dir / f"{system}.db", **overrides)
    if faults is not None:
        config.faults = faults
    tls_files = make_tls_files(data_dir / "tls") if tls else None
    server = serve_in_thread(kind.create_app(config), port=port, tls=tls_files, name=system)
    return Sandbox(
        system=system,
        server=server,
        config=config,
        credentials=kind.credentials(config),
        api_base=server.base_url + kind.api_path,
        kind=kind,
    )


def start_pubsub(
    sandbox: Sandbox,
    *,
    port: int = 0,
    keepalive_seconds: float | None = None,
    idle_close_seconds: float | None = None,
) -> PubSubServer:
    """Serve the Salesforce sandbox's Pub/Sub API (gRPC, TLS when the sandbox has TLS) beside its REST API;
    ``describe()`` then carries ``"pubsub": "host:port"`` and ``stop()`` stops both."""
    from ledgerlink.sandbox.salesforce.pubsub import DEFAULT_IDLE_CLOSE_SECONDS, DEFAULT_KEEPALIVE_SECONDS, serve_pubsub

    if sandbox.system != "salesforce":
        raise ValueError("only the Salesforce sandbox has a Pub/Sub API")
    if sandbox.pubsub is None:
        app: Any = sandbox.server.server.config.app  # the FaultInjector around the Starlette app
        org = app.app.state.org
        sandbox.pubsub = serve_pubsub(
            org,
            port=port,
            keepalive_seconds=DEFAULT_KEEPALIVE_SECONDS if keepalive_seconds is None else keepalive_seconds,
            idle_close_seconds=DEFAULT_IDLE_CLOSE_SECONDS if idle_close_seconds is None else idle_close_seconds,
            tls=sandbox.server.tls,
        )
    return sandbox.pubsub


def start_sandboxes(
    systems: list[SystemName],
    data_dir: Path,
    *,
    tls: bool = False,
    port: int = 0,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> SandboxSet:
    """Start several sandboxes; ``overrides`` gives config values per system, e.g.
    ``{"salesforce": {"not_deployed": ("Opportunity.Paid_Date__c",)}}``."""
    result = SandboxSet()
    for index, system in enumerate(systems):
        extra = (overrides or {}).get(system, {})
        result.sandboxes[system] = start_sandbox(system, data_dir, tls=tls, port=port + index if port else 0, **extra)
    return result
