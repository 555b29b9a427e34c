"""Salesforce REST connector: OAuth, SOQL paging, sObject and collection writes, API-usage pacing."""

from ledgerlink.connectors.salesforce.auth import ClientCredentials, OAuthFlow
from ledgerlink.connectors.salesforce.client import SalesforceClient, SalesforceSettings

__all__ = ["ClientCredentials", "OAuthFlow", "SalesforceClient", "SalesforceSettings"]
