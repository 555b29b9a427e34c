"""Salesforce: the CRM side — REST and Bulk API 2.0 client, OAuth flows, Pub/Sub change events, pacing against the
daily API allocation, mapping templates and schema. Registered by the entry point
``salesforce = "ledgerlink.systems.salesforce:SPEC"``."""

from ledgerlink.systems.salesforce.auth import ClientCredentials, OAuthFlow
from ledgerlink.systems.salesforce.client import SalesforceClient, SalesforceSettings
from ledgerlink.systems.salesforce.plugin import SPEC

__all__ = ["SPEC", "ClientCredentials", "OAuthFlow", "SalesforceClient", "SalesforceSettings"]
