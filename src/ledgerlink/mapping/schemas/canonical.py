"""The canonical schema, derived from the pydantic models so it never drifts from them."""

from __future__ import annotations

import datetime as dt
import types
import typing
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from ledgerlink.model import entities

_MODELS: tuple[type[BaseModel], ...] = (
    entities.Address,
    entities.Contact,
    entities.Customer,
    entities.Invoice,
    entities.InvoiceLine,
    entities.Payment,
    entities.Product,
    entities.SystemRef,
)


def _strip(annotation: Any) -> Any:
    # Annotated[X, ...] → X; X | None → X.
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else annotation
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _type_of(annotation: Any) -> tuple[str, str | None]:
    annotation = _strip(annotation)
    origin = typing.get_origin(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        item = _strip(item)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return "list", item.__name__
        return "list", None
    if origin is dict:
        return "map", None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object", annotation.__name__
    simple = {str: "string", int: "int", bool: "bool", Decimal: "decimal", dt.date: "date", dt.datetime: "datetime"}
    if isinstance(annotation, type):
        return simple.get(annotation, "string"), None
    return "string", None


def canonical_schema() -> dict[str, dict[str, Any]]:
    from ledgerlink.mapping.schemas import FieldInfo  # the dataclass lives beside the providers

    schema: dict[str, dict[str, Any]] = {}
    for model in _MODELS:
        fields = {}
        for name, info in model.model_fields.items():
            kind, target = _type_of(info.annotation)
            fields[name] = FieldInfo(name, kind, target)
        schema[model.__name__] = fields
    return schema
