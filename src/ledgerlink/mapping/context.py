"""What transforms may need from outside at apply time: cross-reference lookups and per-connection settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# (from_system, from_object, from_id, to_system) -> the id on the other side, or None when not linked yet.
LookupXref = Callable[[str, str, str, str], str | None]


@dataclass(frozen=True, slots=True)
class TransformContext:
    """Settings and callbacks for one flow run; mappings read them through ``{setting: name}`` arguments.

    The flows pass ``lookup_xref`` backed by the cross-reference ledger; mappings never import the store.
    """

    lookup_xref: LookupXref | None = None
    source_system: str | None = None  # the system the record came from, for lookups that depend on it
    # The books' own names of the canonical entities ({"Invoice": …, "Customer": …, "Product": …}), so a
    # mapping can look up "the books' invoice" without naming a system.
    object_names: Mapping[str, str] = field(default_factory=dict)
    default_nominal_code: int = 4000
    default_payment_method: str | None = None
    invoice_prefix: str = ""
    default_currency: str = "GBP"
    default_tax_rate: Decimal = Decimal("20")
    payment_terms_days: int = 30
    tax_rules: tuple[Mapping[str, Any], ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def setting(self, name: str) -> Any:
        """A named setting: a field of this context, else an entry of ``extra``; None when unknown."""
        if name in _FIELD_NAMES:
            return getattr(self, name)
        return self.extra.get(name)


_FIELD_NAMES = frozenset(TransformContext.__dataclass_fields__) - {"extra", "lookup_xref", "object_names"}

DEFAULT_CONTEXT = TransformContext()
