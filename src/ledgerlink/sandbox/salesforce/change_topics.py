"""Change Data Capture channel names: ``/data/ChangeEvents`` (every object) and ``/data/<Object>ChangeEvent``.

Shared by the Pub/Sub server and the Tooling API (a managed subscription must name a topic that exists), free of
gRPC so the REST side does not load it.
"""

from __future__ import annotations

from .schema import Schema

ALL_CHANGE_EVENTS = "/data/ChangeEvents"


def topic_entity_name(entity: str) -> str:
    """``Opportunity`` → ``OpportunityChangeEvent``; custom ``Payment__c`` → ``Payment__ChangeEvent``."""
    return f"{entity.removesuffix('__c')}__ChangeEvent" if entity.endswith("__c") else f"{entity}ChangeEvent"


def topic_entity(schema: Schema, name: str) -> tuple[bool, str | None]:
    """(exists, object name) for a topic; the object is None for ``/data/ChangeEvents``."""
    if name == ALL_CHANGE_EVENTS:
        return True, None
    if name.startswith("/data/"):
        wanted = name.removeprefix("/data/")
        for obj in schema.objects.values():
            if topic_entity_name(obj.name) == wanted:
                return True, obj.name
    return False, None
