"""Build connectors from a connection description: ``{"system", "base_url", "credentials", "ca_file"?}`` —
the same shape `ledgerlink sandbox run` prints, so a sandbox and a real service are configured alike."""

from __future__ import annotations

from typing import Any

from ledgerlink.connectors.kashflow import KashFlowClient, KashFlowSettings
from ledgerlink.connectors.salesforce import ClientCredentials, SalesforceClient, SalesforceSettings
from ledgerlink.flows.accounting import AccountingSystem, KashFlowBooks

ConnectionSpec = dict[str, Any]


def _verify(spec: ConnectionSpec) -> bool | str:
    return str(spec["ca_file"]) if spec.get("ca_file") else True


def build_salesforce(spec: ConnectionSpec, *, client_tag: str = "ledgerlink") -> SalesforceClient:
    creds = spec["credentials"]
    return SalesforceClient(
        SalesforceSettings(
            login_url=spec["base_url"],
            auth=ClientCredentials(creds["client_id"], creds["client_secret"]),
            api_version=str(spec.get("api_version", "59.0")),
            verify=_verify(spec),
            client_tag=client_tag,
        )
    )


def build_accounting(spec: ConnectionSpec) -> AccountingSystem:
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
                )
            )
        )
    raise ValueError(f"no accounting connector for {system!r}")
