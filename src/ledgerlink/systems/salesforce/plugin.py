"""Salesforce's entry in the systems registry: the CRM LedgerLink's flows are written for."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr, model_validator

from ledgerlink.systems.salesforce.client import SYSTEM, SalesforceClient
from ledgerlink.systems.spec import BuildOptions, Capabilities, ConnectionSpec, Credentials, ProbeResult, SystemSpec


class SalesforceCredentials(Credentials):
    """One of three OAuth flows: client credentials (``client_secret``), JWT bearer (``private_key`` or
    ``private_key_file``, with ``username``) or a refresh token."""

    client_id: str
    client_secret: SecretStr | None = None
    private_key: SecretStr | None = None
    private_key_file: str | None = None
    username: str | None = None
    refresh_token: SecretStr | None = None
    audience: str | None = None

    @model_validator(mode="after")
    def _one_flow(self) -> SalesforceCredentials:
        if not (self.client_secret or self.private_key or self.private_key_file or self.refresh_token):
            raise ValueError("give client_secret, private_key (with username) or refresh_token")
        if (self.private_key or self.private_key_file) and not self.username:
            raise ValueError("JWT bearer credentials need a username")
        return self


def build(spec: ConnectionSpec, options: BuildOptions) -> SalesforceClient:
    # The flow is chosen by the keys in spec["credentials"] (auth.from_spec).
    return SalesforceClient.from_spec(spec, client_tag=options.client_tag)


def probe(spec: ConnectionSpec) -> ProbeResult:
    client = SalesforceClient.from_spec(spec, client_tag="ledgerlink-console")
    try:
        list(client.query("SELECT Id FROM Account LIMIT 1"))
        usage = client.usage
        samples = {"api_used": float(usage.used), "api_limit": float(usage.limit)} if usage.limit else {}
        return ProbeResult(True, f"signed in and queried ({usage.used}/{usage.limit} API calls used today)", samples)
    finally:
        client.close()


def _commands() -> Any:
    from ledgerlink.systems.salesforce.commands import salesforce_app  # typer, only when the CLI asks

    return salesforce_app


def _identity(creds: dict[str, Any]) -> str:
    return str(creds.get("username") or creds.get("client_id") or "")


SPEC = SystemSpec(
    name=SYSTEM,
    title="Salesforce",
    role="crm",
    package="ledgerlink.systems.salesforce",
    credentials=SalesforceCredentials,
    build=build,
    probe=probe,
    capabilities=Capabilities(change_events=True, custom_fields=True, contacts_on_customer=True, shipping_address=True),
    rate_limit_identity=_identity,
    commands=_commands,
)
