"""Mapping suggestions: which target field each source field should fill, offline."""

from ledgerlink.intelligence.suggest.model import PairModel, shipped_model
from ledgerlink.intelligence.suggest.schema import ObjectSchema, SchemaField, SchemaFileError, load_schema, parse_schema
from ledgerlink.intelligence.suggest.suggest import Suggestion, suggest

__all__ = [
    "ObjectSchema",
    "PairModel",
    "SchemaField",
    "SchemaFileError",
    "Suggestion",
    "load_schema",
    "parse_schema",
    "shipped_model",
    "suggest",
]
