"""One sandbox org: schema, database, records, change events, tokens, API usage, query engine and cursors."""

from __future__ import annotations

from typing import Any

from . import metadata
from .api_usage import ApiUsage
from .config import SalesforceSandboxConfig
from .context import CallContext
from .db import Database
from .derivations import STANDARD_PRICEBOOK_META
from .dml import Dml
from .events import ChangeEventLog
from .query_locators import QueryLocators
from .record_store import RecordStore
from .schema import ObjectDef, build_schema
from .soql_eval import QueryEngine
from .timefmt import format_ms
from .tokens import TokenStore


class SalesforceOrg:
    def __init__(self, config: SalesforceSandboxConfig) -> None:
        self.config = config
        deployed = metadata.load(metadata.locate(config.metadata_dir)).without(config.not_deployed)
        self.schema = build_schema(deployed, config.extra_objects, _with_currency_fields(config))
        self.db = Database(config.data_path)
        self.records = RecordStore(self.db, self.schema)
        self.events = ChangeEventLog(self.db, config.event_retention_seconds)
        self.dml = Dml(self.db, self.schema, self.records, self.events)
        self.tokens = TokenStore(self.db, config.org_id, config.token_ttl_seconds)
        self.usage = ApiUsage(self.db, config.daily_api_limit)
        self.queries = QueryEngine(self.schema, self.records)
        self.locators = QueryLocators(config.query_page_size)
        self._seed()

    def context(self, client_id: str = "", api_version: str | None = None, base_url: str = "") -> CallContext:
        return CallContext(
            user_id=self.config.user_id,
            api_version=api_version or self.config.api_version,
            client_id=client_id,
            base_url=base_url,
        )

    def undelete(self, record_id: str, client_id: str = "") -> None:
        """Restore a deleted record (Salesforce's undelete; not a REST resource, so Python and admin only)."""
        self.dml.undelete(self.context(client_id), record_id)

    @property
    def standard_pricebook_id(self) -> str:
        return self.db.get_meta(STANDARD_PRICEBOOK_META) or ""

    def _seed(self) -> None:
        """The records every org has from the start: the admin user and the standard price book."""
        if self.db.get_meta("seeded"):
            return
        with self.db.transaction():
            user = self.schema.get("User")
            pricebook = self.schema.get("Pricebook2")
            assert user is not None and pricebook is not None
            self._seed_record(
                user,
                self.config.user_id,
                {
                    "Username": self.config.username,
                    "LastName": "Admin",
                    "FirstName": "Sandbox",
                    "Name": "Sandbox Admin",
                    "Email": self.config.username,
                    "IsActive": True,
                },
            )
            standard_id = self.dml.insert(
                self.context(),
                pricebook,
                {"Name": "Standard Price Book", "IsActive": True, "IsStandard": True},
                system=True,
            )
            self.db.set_meta(STANDARD_PRICEBOOK_META, standard_id)
            self.db.conn.execute("DELETE FROM events")  # the org's birth is not a change anyone subscribed to
            self.db.set_meta("seeded", "1")

    def _seed_record(self, obj: ObjectDef, record_id: str, values: dict[str, Any]) -> None:
        when = format_ms(self.records.next_modstamp())
        record: dict[str, Any] = {f.name: f.default for f in obj.fields.values()}
        record.update(values)
        record.update(
            Id=record_id,
            IsDeleted=False,
            CreatedDate=when,
            CreatedById=self.config.user_id,
            LastModifiedDate=when,
            LastModifiedById=self.config.user_id,
            SystemModstamp=when,
        )
        self.records.save(obj, record)


# Objects that carry a currency in a multi-currency org (the ones the sandbox models).
CURRENCY_OBJECTS = ("Account", "Opportunity", "OpportunityLineItem", "Order", "OrderItem", "Product2", "PricebookEntry")


def _with_currency_fields(config: SalesforceSandboxConfig) -> dict[str, dict[str, dict[str, Any]]]:
    """The config's extra fields, plus CurrencyIsoCode on every currency-bearing object when multi-currency."""
    extra = {name: dict(fields) for name, fields in config.extra_fields.items()}
    if config.multi_currency:
        spec = {
            "type": "picklist",
            "picklist_values": tuple(config.currencies),
            "default": config.corporate_currency,
            "label": "Currency ISO Code",
        }
        for name in CURRENCY_OBJECTS:
            extra.setdefault(name, {}).setdefault("CurrencyIsoCode", spec)
    return extra
