"""Salesforce writes of one page, batched: every update, create and upsert of a page goes out in sObject
Collections calls of up to 200 records, never one call per record. Results come back per record, so one refused
record fails alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.salesforce.client import SalesforceClient

OnError = Callable[[str, PermanentError], None]  # (the record's key, what Salesforce said)


def _error(sobject: str, key: str, result: dict[str, Any]) -> PermanentError:
    first = (result.get("errors") or [{}])[0]
    fields = first.get("fields") or []
    return PermanentError(
        str(first.get("message") or "refused"),
        system="salesforce",
        code=str(first.get("statusCode") or ""),
        field=",".join(fields) if fields else None,
        record=f"{sobject} {key}",
    )


@dataclass
class Batch:
    """Writes of one sObject type collected during a page and sent at its end."""

    sobject: str
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (key, record with Id)
    creates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    upserts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    deletes: list[tuple[str, str]] = field(default_factory=list)  # (key, id)

    def __bool__(self) -> bool:
        return bool(self.updates or self.creates or self.upserts or self.deletes)

    def send(
        self, sf: SalesforceClient, on_error: OnError, external_field: str = "ExternalID__c"
    ) -> dict[str, tuple[str, bool]]:
        """Send everything; returns key -> (id, created) for what succeeded; ``on_error`` hears of the rest."""
        done: dict[str, tuple[str, bool]] = {}

        def collect(items: list[tuple[str, dict[str, Any]]], results: list[dict[str, Any]], verb: str) -> None:
            for (key, record), result in zip(items, results, strict=True):
                if result.get("success"):
                    created = verb == "create" or bool(result.get("created"))
                    done[key] = (str(result.get("id") or record.get("Id") or ""), created)
                else:
                    on_error(key, _error(self.sobject, key, result))

        if self.updates:
            collect(self.updates, sf.update_many(self.sobject, [r for _, r in self.updates]), "update")
        if self.creates:
            collect(self.creates, sf.create_many(self.sobject, [r for _, r in self.creates]), "create")
        if self.upserts:
            collect(self.upserts, sf.upsert_many(self.sobject, external_field, [r for _, r in self.upserts]), "upsert")
        for key, record_id in self.deletes:
            sf.delete(self.sobject, record_id)
            done[key] = (record_id, False)
        return done
