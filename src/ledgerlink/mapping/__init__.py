"""Declarative mappings between system records and the canonical model: YAML rules compiled to Python closures.

    from ledgerlink.mapping import load_mapping
    m = load_mapping("salesforce/opportunity_to_canonical")
    if m.matches(record):
        values = m.apply(record, ctx).values

See README.md in this package for the file format and the transforms.
"""

from ledgerlink.mapping.context import LookupXref, TransformContext
from ledgerlink.mapping.errors import MappingError, MappingLoadError, TransformError
from ledgerlink.mapping.loader import MappingInfo, list_mappings, load_mapping, load_mapping_text, user_mappings_dir
from ledgerlink.mapping.mapping import MappedRecord, Mapping
from ledgerlink.mapping.schemas import (
    DEFAULT_SCHEMAS,
    ExtendedSchemaProvider,
    FieldInfo,
    SchemaProvider,
    StaticSchemaProvider,
    fields_from_describe,
)

__all__ = [
    "DEFAULT_SCHEMAS",
    "ExtendedSchemaProvider",
    "FieldInfo",
    "LookupXref",
    "MappedRecord",
    "Mapping",
    "MappingError",
    "MappingInfo",
    "MappingLoadError",
    "SchemaProvider",
    "StaticSchemaProvider",
    "TransformContext",
    "TransformError",
    "fields_from_describe",
    "list_mappings",
    "load_mapping",
    "load_mapping_text",
    "user_mappings_dir",
]
