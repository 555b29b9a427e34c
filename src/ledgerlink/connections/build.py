"""Build a system's client or adapter from a connection description: ``{"system", "base_url", "credentials",
"ca_file"?}`` — the same shape `ledgerlink sandbox run` prints, so a sandbox and a real service are configured alike.

Any connection may add ``"concurrency"`` (record runs at once per worker on its queue; default: the system's) and
``"rate_limit"`` (``"10/s"``, ``"500 per 3600 s"``, ``{"requests", "per_seconds"}`` or ``null`` for none; default:
the system's) and ``"options"`` (validated by the system's plugin). With ``ledger_url`` the limit is shared by every
worker process through the ledger's database; without, it holds within this process."""

from __future__ import annotations

from typing import Any

from ledgerlink.systems.accounting import AccountingSystem
from ledgerlink.systems.ratelimit import Pacer, RateLimitSpec, make_pacer
from ledgerlink.systems.registry import get_system
from ledgerlink.systems.spec import BuildOptions, ConnectionSpec

__all__ = ["ConnectionSpec", "build_accounting", "build_crm", "build_pacer", "queue_limits"]


def rate_limit_key(spec: ConnectionSpec) -> str:
    """One bucket per account at one service: every connection to it shares the limit."""
    system = get_system(spec["system"])
    return f"{system.name}:{system.rate_limit_identity(spec.get('credentials') or {})}@{spec['base_url']}"


def configured_rate_limit(spec: ConnectionSpec) -> str | dict[str, Any] | None:
    return spec["rate_limit"] if "rate_limit" in spec else get_system(spec["system"]).default_rate_limit


def build_pacer(spec: ConnectionSpec, ledger_url: str | None = None) -> Pacer:
    return make_pacer(configured_rate_limit(spec), key=rate_limit_key(spec), url=ledger_url)


def queue_limits(spec: ConnectionSpec) -> tuple[int, tuple[int, float] | None]:
    """(runs at once per worker, (requests, per seconds) or None) for the connection's record queue."""
    limit = configured_rate_limit(spec)
    parsed = RateLimitSpec.parse(limit) if limit is not None else None
    concurrency = int(spec.get("concurrency") or get_system(spec["system"]).default_concurrency)
    return concurrency, ((parsed.requests, parsed.per_seconds) if parsed else None)


def build_accounting(spec: ConnectionSpec, *, ledger_url: str | None = None) -> AccountingSystem:
    system = get_system(spec["system"])
    if system.role != "accounting":
        raise ValueError(f"{system.title} is not an accounting system")
    options = BuildOptions(pacer=build_pacer(spec, ledger_url), ledger_url=ledger_url)
    books: AccountingSystem = system.build(spec, options)
    return books


def build_crm(spec: ConnectionSpec, *, client_tag: str = "ledgerlink", ledger_url: str | None = None) -> Any:
    """The CRM's client (its own kind: flows are written for it)."""
    system = get_system(spec["system"])
    if system.role != "crm":
        raise ValueError(f"{system.title} is not a CRM")
    return system.build(spec, BuildOptions(pacer=build_pacer(spec, ledger_url), client_tag=client_tag))
