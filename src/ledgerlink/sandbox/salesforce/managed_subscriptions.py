"""Managed event subscriptions (Pub/Sub API, beta): the ``ManagedEventSubscription`` records and their committed
replay ids, kept in the org's database so they survive a restart as they survive a reconnect on Salesforce.

A record, as the Tooling API serves it: ``Id`` (key prefix ``18x``), ``DeveloperName``, ``MasterLabel`` and
``Metadata`` ``{label, topicName, defaultReplay, errorRecoveryReplay, state}`` where the replays are ``LATEST`` or
``EARLIEST`` (LATEST by default) and the state ``RUN`` or ``STOP``. Sources:
https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/tooling_api_objects_managedeventsubscription.htm,
https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/meta_managedeventsubscription.htm and
https://developer.salesforce.com/docs/platform/pub-sub-api/guide/managed-sub.html. salesforce-pubsub-api-client
looks a subscription up by ``Id`` (15/18 characters starting ``18x``) or ``DeveloperName`` before subscribing.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass
from typing import Any

from . import ids
from .db import Database
from .errors import bad_request, not_found
from .timefmt import format_ms

KEY_PREFIX = "18x"
SOBJECT = "ManagedEventSubscription"
REPLAY_PRESETS = ("LATEST", "EARLIEST")
STATES = ("RUN", "STOP")
# "can contain only underscores and alphanumeric characters ... must begin with a letter, not include spaces, not end
# with an underscore, and not contain two consecutive underscores" (DeveloperName, Tooling API reference above).
_DEVELOPER_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)$")
_TABLE = """
CREATE TABLE IF NOT EXISTS managed_subscriptions (
    id TEXT PRIMARY KEY,
    developer_name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    data TEXT NOT NULL
)
"""


@dataclass
class ManagedSubscription:
    id: str
    developer_name: str
    label: str
    topic_name: str
    default_replay: str = "LATEST"
    error_recovery_replay: str = "LATEST"
    state: str = "RUN"
    committed_replay_id: int | None = None  # the last replay id the client committed
    created_ms: int = 0
    modified_ms: int = 0

    def metadata(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "topicName": self.topic_name,
            "defaultReplay": self.default_replay,
            "errorRecoveryReplay": self.error_recovery_replay,
            "state": self.state,
            "urls": None,
        }

    def field(self, name: str) -> Any:
        """A queryable field by (case-insensitive) name; KeyError for others."""
        values = {
            "id": self.id,
            "developername": self.developer_name,
            "masterlabel": self.label,
            "metadata": self.metadata(),
            "createddate": format_ms(self.created_ms),
            "lastmodifieddate": format_ms(self.modified_ms),
        }
        return values[name.lower()]


class ManagedSubscriptions:
    """The org's managed subscriptions; safe across threads through the database lock."""

    FIELDS = ("Id", "DeveloperName", "MasterLabel", "Metadata", "CreatedDate", "LastModifiedDate")

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.lock:
            db.conn.execute(_TABLE)

    def create(self, developer_name: str, metadata: dict[str, Any], topic_exists: Any) -> ManagedSubscription:
        if not developer_name or not _DEVELOPER_NAME.match(developer_name):
            raise bad_request(
                "INVALID_FIELD",
                "DeveloperName (FullName) may hold only letters, digits and single underscores, starting with a letter",
                ["DeveloperName"],
            )
        values = _metadata_values(metadata, topic_exists, partial=False)
        now = int(time.time() * 1000)
        with self.db.transaction() as conn:
            if self._row("developer_name", developer_name) is not None:
                raise bad_request(
                    "DUPLICATE_DEVELOPER_NAME", f"The developer name {developer_name} is already in use", ["FullName"]
                )
            record_id = ids.make_id(KEY_PREFIX, self.db.next_counter(f"id:{KEY_PREFIX}"))
            sub = ManagedSubscription(
                id=record_id,
                developer_name=developer_name,
                label=str(values.pop("label", developer_name)),
                topic_name=str(values.pop("topicName")),
                created_ms=now,
                modified_ms=now,
                **{_ATTRS[k]: v for k, v in values.items()},
            )
            conn.execute(
                "INSERT INTO managed_subscriptions (id, developer_name, data) VALUES (?, ?, ?)",
                (sub.id, sub.developer_name, json.dumps(asdict(sub))),
            )
        return sub

    def get(self, id_or_name: str) -> ManagedSubscription | None:
        """By record id (15 or 18 characters) or developer name."""
        record_id = ids.normalize(id_or_name) if id_or_name[:3].lower() == KEY_PREFIX.lower() else None
        row = self._row("id", record_id) if record_id else None
        return row or self._row("developer_name", id_or_name)

    def require(self, record_id: str) -> ManagedSubscription:
        sub = self.get(record_id) if ids.is_valid_id(record_id) else None
        if sub is None:
            raise not_found()
        return sub

    def update(self, record_id: str, body: dict[str, Any], topic_exists: Any) -> None:
        sub = self.require(record_id)
        metadata = body.get("Metadata")
        if not isinstance(metadata, dict):
            raise bad_request("JSON_PARSER_ERROR", "Expected a Metadata object", ["Metadata"])
        for key, value in _metadata_values(metadata, topic_exists, partial=True).items():
            if key == "label":
                sub.label = str(value)
            elif key == "topicName":
                sub.topic_name = str(value)
            else:
                setattr(sub, _ATTRS[key], value)
        sub.modified_ms = int(time.time() * 1000)
        self._save(sub)

    def delete(self, record_id: str) -> None:
        sub = self.require(record_id)
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM managed_subscriptions WHERE id = ?", (sub.id,))

    def all(self) -> list[ManagedSubscription]:
        with self.db.lock:
            rows = self.db.conn.execute("SELECT data FROM managed_subscriptions ORDER BY id").fetchall()
        return [ManagedSubscription(**json.loads(data)) for (data,) in rows]

    def commit(self, record_id: str, replay_id: int) -> None:
        sub = self.get(record_id)
        if sub is None:
            raise not_found()
        sub.committed_replay_id = replay_id
        self._save(sub)

    def _save(self, sub: ManagedSubscription) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE managed_subscriptions SET developer_name = ?, data = ? WHERE id = ?",
                (sub.developer_name, json.dumps(asdict(sub)), sub.id),
            )

    def _row(self, column: str, value: str) -> ManagedSubscription | None:
        with self.db.lock:
            row = self.db.conn.execute(
                f"SELECT data FROM managed_subscriptions WHERE {column} = ?", (value,)
            ).fetchone()
        return ManagedSubscription(**json.loads(row[0])) if row else None


_ATTRS = {"defaultReplay": "default_replay", "errorRecoveryReplay": "error_recovery_replay", "state": "state"}


def _metadata_values(metadata: dict[str, Any], topic_exists: Any, *, partial: bool) -> dict[str, Any]:
    """The known Metadata keys, checked; ``partial`` (an update) lets any of them be absent."""
    unknown = sorted(set(metadata) - {"label", "topicName", "defaultReplay", "errorRecoveryReplay", "state", "urls"})
    if unknown:
        raise bad_request("INVALID_FIELD", f"No such column '{unknown[0]}' on entity '{SOBJECT}' Metadata", unknown)
    values = {k: v for k, v in metadata.items() if k != "urls" and v is not None}
    if not partial and not values.get("topicName"):
        raise bad_request("REQUIRED_FIELD_MISSING", "Required fields are missing: [topicName]", ["topicName"])
    if "topicName" in values and not topic_exists(str(values["topicName"])):
        raise bad_request("INVALID_INPUT", f"Topic {values['topicName']} does not exist or can't be subscribed to")
    for key, allowed in (("defaultReplay", REPLAY_PRESETS), ("errorRecoveryReplay", REPLAY_PRESETS), ("state", STATES)):
        if key in values and values[key] not in allowed:
            raise bad_request("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", f"{key}: bad value {values[key]!r}", [key])
    if "label" in values and not str(values["label"]).strip():
        raise bad_request("REQUIRED_FIELD_MISSING", "Required fields are missing: [label]", ["label"])
    return values
