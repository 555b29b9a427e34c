"""Describe bodies: global ``sobjects/``, per-object ``sobjects/{Obj}/describe`` and the basic ``sobjects/{Obj}``."""

from __future__ import annotations

from typing import Any

from .schema import ObjectDef, Schema


def _urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def object_summary(obj: ObjectDef, version: str) -> dict[str, Any]:
    return {
        "name": obj.name,
        "label": obj.label,
        "labelPlural": obj.label + "s",
        "keyPrefix": obj.key_prefix,
        "custom": obj.custom,
        "createable": obj.createable,
        "updateable": obj.createable,
        "deletable": obj.createable,
        "queryable": True,
        "retrieveable": True,
        "searchable": True,
        "undeletable": True,
        "triggerable": True,
        "replicateable": True,
        "layoutable": True,
        "urls": _urls(obj, version),
    }


def global_describe(schema: Schema, version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [object_summary(o, version) for o in sorted(schema.objects.values(), key=lambda o: o.name)],
    }


def describe_object(schema: Schema, obj: ObjectDef, version: str) -> dict[str, Any]:
    children = []
    for rel_name, (child_name, field_name) in sorted(obj.children.items()):
        child = schema.get(child_name)
        fdef = child.field(field_name) if child else None
        children.append(
            {
                "childSObject": child_name,
                "field": field_name,
                "relationshipName": fdef.child_relationship if fdef else rel_name,
                "cascadeDelete": bool(fdef and fdef.cascade_delete),
                "deprecatedAndHidden": False,
                "restrictedDelete": False,
            }
        )
    body = object_summary(obj, version)
    body.update(
        fields=[f.describe() for f in obj.fields.values()],
        childRelationships=children,
        recordTypeInfos=[],
        supportedScopes=[{"label": "All", "name": "everything"}],
    )
    return body
