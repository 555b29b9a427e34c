"""Settings of one Salesforce sandbox org."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgerlink.sandbox._faults import FaultConfig

DEFAULT_CLIENT_SECRET = "ledgerlink-sandbox-secret-3Yq8vN2pK7wR4tZx"
DEFAULT_PASSWORD = "sandbox-password-9f3b"
DEFAULT_ORG_ID = "00D5g0000000001EAA"  # ids.make_id("00D", 1)
DEFAULT_USER_ID = "0055g0000000001AAA"  # ids.make_id("005", 1)
LOGIN_PATH = "/services/oauth2/token"


@dataclass
class SalesforceSandboxConfig:
    """Everything a sandbox org needs; every field has a usable default.

    ``extra_objects`` / ``extra_fields`` extend the declared schema (see ``schema.py``):
    ``extra_objects`` maps an object name to ``{"key_prefix": "a0X", "fields": {FieldName: spec}}`` and
    ``extra_fields`` maps an existing object name to ``{FieldName: spec}``, where a spec is a dict of
    ``FieldDef`` keyword arguments, e.g. ``{"type": "string", "length": 40, "external_id": True, "unique": True}``.

    The custom objects and fields come from LedgerLink's Salesforce metadata (``metadata.py``): ``metadata_dir``
    is its SFDX project folder (default: the one shipped with LedgerLink) and ``not_deployed`` leaves components
    out, as in an org where they were never deployed: ``"Opportunity.Paid_Date__c"`` (a field) or
    ``"Payment__c"`` (a custom object).
    """

    data_path: Path = field(default_factory=lambda: Path("salesforce-sandbox.sqlite3"))
    # The org's newest API version. "API End-of-Life Policy" lists versions 31.0 through 68.0 as served and 21.0-30.0
    # as retired since Summer '25 (https://developer.salesforce.com/docs/platform/api-tooling/guide/tooling-api-eol.html).
    # Clients pin their own: salesforce-pubsub-api-client looks managed subscriptions up at v62.0, jsforce uses 50.0.
    api_version: str = "68.0"
    client_id: str = "ledgerlink-sandbox-client"
    client_secret: str = DEFAULT_CLIENT_SECRET
    username: str = "admin@ledgerlink.sandbox"
    password: str = DEFAULT_PASSWORD
    token_ttl_seconds: int = 7200
    daily_api_limit: int = 15000
    jwt_certificate_pem: str | None = None
    faults: FaultConfig = field(default_factory=FaultConfig)
    org_id: str = DEFAULT_ORG_ID
    user_id: str = DEFAULT_USER_ID
    # How far ahead a JWT bearer assertion's exp may be. Salesforce documents "within 3 minutes"; clients that use 5
    # (salesforce-pubsub-api-client, users in simple-salesforce#491) report that it works, so this is a switch.
    jwt_max_lifetime_seconds: int = 180
    # Audiences accepted in JWT bearer assertions, besides the sandbox's own base URL.
    jwt_audiences: tuple[str, ...] = ("https://login.salesforce.com", "https://test.salesforce.com")
    event_retention_seconds: float = 72 * 3600
    query_page_size: int = 2000
    # SOAP API login() is off by default in orgs created since Winter '26 (soap_login.py); an admin can turn it on.
    soap_login_enabled: bool = False
    extra_objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra_fields: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    metadata_dir: Path | None = None
    not_deployed: tuple[str, ...] = ()
    # A multi-currency org: every currency-bearing object gets the CurrencyIsoCode picklist ("Available only for
    # organizations with the multicurrency feature enabled", Object Reference, Opportunity), defaulting to the
    # corporate currency. Off: the field does not exist and selecting it is an INVALID_FIELD error.
    multi_currency: bool = False
    corporate_currency: str = "GBP"
    currencies: tuple[str, ...] = ("GBP", "USD", "EUR")

    @property
    def supported_versions(self) -> list[str]:
        """API versions advertised by ``GET /services/data/`` (all accepted in URLs): 31.0 up, since versions 21.0
        to 30.0 were retired in Summer '25 (the End-of-Life Policy above)."""
        top = int(float(self.api_version))
        return [f"{v}.0" for v in range(min(31, top), top + 1)]


def credentials(config: SalesforceSandboxConfig) -> dict[str, str]:
    """What a client needs to log in to the sandbox (for a CLI to print)."""
    return {
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "username": config.username,
        "password": config.password,
        "login_path": LOGIN_PATH,
        "api_version": config.api_version,
        "org_id": config.org_id,
    }
