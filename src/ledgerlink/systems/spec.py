"""What a system plugin declares about itself: one ``SystemSpec`` per package under ``systems/``.

The CLI, the console, the engine and the flows learn every system from these (``systems.registry``), so adding an
accounting system is one folder and one entry-point line, and nothing outside the folder names the system.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from ledgerlink.systems.ratelimit import Pacer

Role = Literal["crm", "accounting"]
ConnectionSpec = dict[str, Any]  # {"system", "base_url", "credentials", "ca_file"?, …}: what `sandbox run` prints


class Credentials(BaseModel):
    """A system's credentials. Fields typed ``SecretStr`` are secrets: masked wherever they are shown. Every field is
    sealed in the vault all the same (a user name is no secret, but it belongs with its password)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @classmethod
    def secret_fields(cls) -> list[str]:
        return [name for name, info in cls.model_fields.items() if info.annotation in (SecretStr, SecretStr | None)]

    @classmethod
    def field_names(cls) -> list[str]:
        return list(cls.model_fields)

    @classmethod
    def required_fields(cls) -> list[str]:
        return [name for name, info in cls.model_fields.items() if info.is_required()]

    def plain(self) -> dict[str, str]:
        """Every set field as plain text, for the connector (never for display)."""
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            out[name] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return out


class CredentialsError(ValueError):
    """Credentials a system refuses before any call: the message names fields, never values."""


def check_credentials(model: type[Credentials], values: dict[str, Any], system: str) -> Credentials:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "credentials"
            problems.append(f"{where}: {error['msg']}")  # the message only: pydantic's input echo may be a secret
        raise CredentialsError(f"{system} credentials: {'; '.join(problems)}") from None


@dataclass(frozen=True)
class Capabilities:
    """What a system can do, so flows choose a path instead of asking which system it is."""

    invoice_pdf: bool = False  # the books render an invoice as PDF (else LedgerLink renders one)
    payment_listing: bool = False  # payments can be listed by change (payment_sync reads them)
    change_feed: bool = False  # customers and products can be read by change since a watermark
    custom_fields: bool = False  # records carry user-defined fields a mapping may fill
    idempotent_create_by_key: bool = False  # a retried create is found again by a key the vendor itself keeps
    contacts_on_customer: bool = False  # a customer record carries its people
    shipping_address: bool = False  # a customer record has a separate delivery address
    change_events: bool = False  # pushes change events (CDC) besides polling


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    message: str
    samples: dict[str, float] = field(default_factory=dict)  # API-budget readings to chart
    change_feed: dict[str, str] | None = None  # what the vendor did with the change feed (``ChangeFeed.status``)


@dataclass(frozen=True)
class BuildOptions:
    """What the engine hands a system's ``build`` besides the connection: the shared rate limiter, the tag our
    own writes carry (so their change events are recognised as ours) and the ledger's database, which workers
    share (create claims, the change feed's mode for the console); None in a lone process such as a probe."""

    pacer: Pacer
    client_tag: str = "ledgerlink"
    ledger_url: str | None = None


class CommandContext(Protocol):
    """What the CLI hands a system's own commands (``ctx.obj``): how to find a connection, as ``worker`` does."""

    def connection_spec(self, system: str, data_dir: Path, connections: Path | None) -> ConnectionSpec: ...


@dataclass(frozen=True)
class SystemSpec:
    name: str  # the registry key and the ledger's name for the system, e.g. "kashflow"
    title: str  # as people write it, e.g. "KashFlow"
    role: Role
    package: str  # the plugin package: its ``templates/`` and ``schema.yaml`` live there
    credentials: type[Credentials]
    build: Callable[[ConnectionSpec, BuildOptions], Any]  # accounting: an AccountingSystem; crm: its client
    probe: Callable[[ConnectionSpec], ProbeResult]  # sign in and make one cheap read
    capabilities: Capabilities = Capabilities()
    default_rate_limit: str | None = None  # "10/s", "500/h"; None: the API publishes none
    default_concurrency: int = 8  # record runs at once per worker on this connection's queue
    options: type[BaseModel] | None = None  # the connection's system-specific ``options``, validated
    commands: Callable[[], Any] | None = None  # the system's own CLI commands: returns a typer.Typer, named after it
    rate_limit_identity: Callable[[dict[str, Any]], str] = lambda creds: str(
        creds.get("username") or creds.get("email") or ""
    )

    def templates_dir(self) -> Path:
        return Path(str(resources.files(self.package).joinpath("templates")))

    def schema_file(self) -> Path | None:
        schema = Path(str(resources.files(self.package).joinpath("schema.yaml")))
        return schema if schema.is_file() else None
