"""Money as Decimal plus an ISO 4217 currency; conversions to and from integer cents that never lose a cent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

CENT = Decimal("0.01")

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. GBP")]


def quantize_money(amount: Decimal) -> Decimal:
    """Round to the cent, half up, as invoices do."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def to_cents(amount: Decimal) -> int:
    """Decimal → integer cents; refuses amounts with fractions of a cent rather than invent or drop one."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} has fractions of a cent; round it explicitly first")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    """Integer cents → Decimal with exactly two places."""
    return (Decimal(cents) / 100).quantize(CENT)


def parse_decimal(value: object) -> Decimal:
    """Accept Decimal, int, numeric strings and floats (via their shortest repr) as Decimal."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip().replace(",", ""))
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a number") from exc
    raise ValueError(f"{type(value).__name__} is not a number")


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: Decimal
    currency: CurrencyCode = "GBP"

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: object) -> Decimal:
        return parse_decimal(value)
