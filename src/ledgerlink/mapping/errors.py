"""The two errors mappings raise: one at load time (with a position in the YAML file), one per record at apply time."""

from __future__ import annotations


class MappingLoadError(Exception):
    """A mapping file is unusable: bad YAML, unknown keys, unknown transforms or fields, JSONata syntax errors.

    ``line`` and ``column`` are 1-based and point at the offending node, so editors and CI can jump to it.
    """

    def __init__(self, file: str, line: int, column: int, message: str) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        super().__init__(f"{file}:{line}:{column}: {message}")


class MappingError(Exception):
    """One rule failed for one record: a required value is missing or a transform refused the value."""

    def __init__(self, record_id: str | None, rule: str, field: str, message: str) -> None:
        self.record_id = record_id
        self.rule = rule
        self.field = field
        self.message = message
        super().__init__(f"record {record_id or '?'}: field {field!r} (rule: {rule}): {message}")


class TransformError(ValueError):
    """A transform cannot handle a value; apply turns it into a MappingError naming record and field."""
