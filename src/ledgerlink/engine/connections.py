"""Build connectors from a connection description: ``{"system", "base_url", "credentials", "ca_file"?}`` —
the same shape `ledgerlink sandbox run` prints, so a sandbox and a real service are configured alike.

Any connection may add ``"concurrency"`` (record runs at once per worker on its queue, default 8). Accounting
connections may add ``"rate_limit"`` (``"10/s"``, ``"500 per 3600 s"``, ``{"requests", "per_seconds"}``
or ``null`` for none; Kashoo defaults to 10/s, KashFlow to none) and, for Kashoo, ``"options"`` (``tax_codes``,
``create_missing_taxes``: see ``flows.books_kashoo``). With ``ledger_url`` the limit is shared by every worker
process through the ledger's database; without, it holds within this process."""

from __future__ import annotations

from typing import Any

from ledgerlink.connectors.kashflow import KashFlowClient, KashFlowSettings
from ledgerlink.connectors.kashoo import KashooClient, KashooSettings
from ledgerlink.connectors.salesforce import SalesforceClient
from ledgerlink.engine.ratelimit import Pacer, RateLimitSpec, make_pacer
from ledgerlink.engine.runtime import DEFAULT_CONNECTION_CONCURRENCY, QueueSettings, connection_queue
from ledgerlink.flows.accounting import AccountingSystem
from ledgerlink.flows.books_kashflow import KashFlowBooks
from ledgerlink.flows.books_kashoo import KashooBooks, KashooOptions

ConnectionSpec = dict[str, Any]


def _verify(spec: ConnectionSpec) -> bool | str:
    return str(spec["ca_file"]) if spec.get("ca_file") else True


def build_salesforce(spec: ConnectionSpec, *, client_tag: str = "ledgerlink") -> SalesforceClient:
    # Client credentials, JWT bearer or refresh token, chosen by the keys in spec["credentials"].
    return SalesforceClient.from_spec(spec, client_tag=client_tag)


DEFAULT_RATE_LIMITS: dict[str, str | None] = {"kashflow": None, "kashoo": "10/s"}


def rate_limit_key(spec: ConnectionSpec) -> str:
    """One bucket per account at one service: every connection to it shares the limit."""
    creds = spec["credentials"]
    user = creds.get("username") or creds.get("email") or ""
    return f"{spec['system']}:{user}@{spec['base_url']}"


def configured_rate_limit(spec: ConnectionSpec) -> str | dict[str, Any] | None:
    return spec["rate_limit"] if "rate_limit" in spec else DEFAULT_RATE_LIMITS.get(spec["system"])


def build_pacer(spec: ConnectionSpec, ledger_url: str | None = None) -> Pacer:
    return make_pacer(configured_rate_limit(spec), key=rate_limit_key(spec), url=ledger_url)


def queue_settings(spec: ConnectionSpec, concurrency: int | None = None) -> QueueSettings:
    """The connection's record queue: ``"concurrency"`` runs at once per worker (default 8) and its rate limit."""
    limit = configured_rate_limit(spec)
    parsed = RateLimitSpec.parse(limit) if limit is not None else None
    return connection_queue(
        concurrency or int(spec.get("concurrency") or DEFAULT_CONNECTION_CONCURRENCY),
        (parsed.requests, parsed.per_seconds) if parsed else None,
    )


def build_accounting(spec: ConnectionSpec, *, ledger_url: str | None = None) -> AccountingSystem:
    creds = spec["credentials"]
    system = spec["system"]
    if system == "kashflow":
        return KashFlowBooks(
            KashFlowClient(
                KashFlowSettings(
                    base_url=spec["base_url"],
                    username=creds["username"],
                    password=creds["password"],
                    memorable_word=creds["memorable_word"],
                    verify=_verify(spec),
                    pacer=build_pacer(spec, ledger_url),
                )
            )
        )
    if system == "kashoo":
        options = spec.get("options") or {}
        return KashooBooks(
            KashooClient(
                KashooSettings(
                    base_url=spec["base_url"],
                    email=creds["email"],
                    password=creds["password"],
                    verify=_verify(spec),
                    pacer=build_pacer(spec, ledger_url),
                )
            ),
            KashooOptions(
                tax_codes={str(k): list(v) for k, v in (options.get("tax_codes") or {}).items()},
                create_missing_taxes=bool(options.get("create_missing_taxes", False)),
            ),
        )
    raise ValueError(f"no accounting connector for {system!r}")
