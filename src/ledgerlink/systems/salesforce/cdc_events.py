"""Change events as LedgerLink sees them: decoded from the Pub/Sub API's Avro payloads, typed, with the bitmaps
turned back into field names and Salesforce's date encodings into ``date``/``datetime``."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

import fastavro

from ledgerlink.systems.salesforce.cdc_bitmap import decode_bitmap

HEADER = "ChangeEventHeader"
GAP_TYPES = frozenset({"GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW"})
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class ChangeEvent:
    entity: str
    record_ids: tuple[str, ...]
    change_type: str  # CREATE, UPDATE, DELETE, UNDELETE, GAP_*, GAP_OVERFLOW
    changed_fields: tuple[str, ...]
    nulled_fields: tuple[str, ...]
    change_origin: str
    commit_timestamp: int  # epoch ms
    commit_user: str
    commit_number: int
    transaction_key: str
    sequence_number: int
    replay_id: bytes  # opaque; what a subscription resumes after
    values: dict[str, Any] = field(default_factory=dict)  # the changed fields' new values (None = nulled)
    topic: str = ""

    @property
    def client_id(self) -> str:
        """The ``client=`` part of ``changeOrigin``: the writer's ``Sforce-Call-Options`` client id ('' if none)."""
        for part in self.change_origin.split(";"):
            key, _, value = part.partition("=")
            if key.strip() == "client":
                return value.strip()
        return ""

    @property
    def is_gap(self) -> bool:
        """Salesforce could not produce the event (or a transaction overflowed): re-read instead."""
        return self.change_type in GAP_TYPES

    @property
    def commit_time(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.commit_timestamp / 1000, dt.UTC)


def is_own_change(event: ChangeEvent, client_tag: str = "ledgerlink") -> bool:
    """True when the change was made by a writer that sent ``Sforce-Call-Options: client=<client_tag>`` — for
    LedgerLink, its own write-back, which must not be synced back (echo suppression)."""
    return event.client_id == client_tag


@dataclass(frozen=True)
class EventSchema:
    schema_id: str
    schema: dict[str, Any]  # Avro schema as JSON data
    parsed: Any  # fastavro's parsed form
    docs: dict[str, str]  # field name -> doc (Salesforce's "Data:DateTime" etc.)

    @classmethod
    def from_json(cls, schema_id: str, schema: dict[str, Any]) -> EventSchema:
        docs = {f["name"]: str(f.get("doc", "")) for f in schema.get("fields", [])}
        return cls(schema_id, schema, fastavro.parse_schema(schema), docs)

    def decode(self, payload: bytes) -> dict[str, Any]:
        record = fastavro.schemaless_reader(io.BytesIO(payload), self.parsed, None)
        assert isinstance(record, dict)
        return record


def _python_value(doc: str, value: Any) -> Any:
    if value is None:
        return None
    if doc.endswith(":DateTime") and isinstance(value, int):
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    if doc.endswith(":DateOnly") and isinstance(value, int):
        return _EPOCH + dt.timedelta(days=value)
    return value


def to_change_event(schema: EventSchema, payload: bytes, replay_id: bytes, topic: str = "") -> ChangeEvent:
    record = schema.decode(payload)
    header = record[HEADER]
    changed = decode_bitmap(header.get("changedFields") or [], schema.schema)
    nulled = decode_bitmap(header.get("nulledFields") or [], schema.schema)
    values = {
        name: _python_value(schema.docs.get(name, ""), value)
        for name, value in record.items()
        if name != HEADER and value is not None
    }
    values.update({name: None for name in nulled if "." not in name})
    return ChangeEvent(
        entity=header["entityName"],
        record_ids=tuple(header.get("recordIds") or ()),
        change_type=header["changeType"],
        changed_fields=tuple(changed),
        nulled_fields=tuple(nulled),
        change_origin=header.get("changeOrigin") or "",
        commit_timestamp=int(header.get("commitTimestamp") or 0),
        commit_user=header.get("commitUser") or "",
        commit_number=int(header.get("commitNumber") or 0),
        transaction_key=header.get("transactionKey") or "",
        sequence_number=int(header.get("sequenceNumber") or 0),
        replay_id=replay_id,
        values=values,
        topic=topic,
    )
