"""Canonical entities. Validation errors name the field (pydantic's ``loc``), which flows turn into failed records."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ledgerlink.model.money import CurrencyCode, parse_decimal, quantize_money

SystemName = str  # a registered system's name (systems.registry)
ShortText = Annotated[str, Field(max_length=255)]


class _Entity(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_assignment=True)


class SystemRef(_Entity):
    """Where a record lives: system, object type and that system's id."""

    system: SystemName
    object: str
    id: str


class Address(_Entity):
    lines: list[ShortText] = Field(default_factory=list, max_length=4)
    city: ShortText | None = None
    region: ShortText | None = None
    postcode: Annotated[str, Field(max_length=20)] | None = None
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None  # ISO 3166-1 alpha-2


class Contact(_Entity):
    first_name: ShortText | None = None
    last_name: ShortText
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    refs: list[SystemRef] = Field(default_factory=list)


class Customer(_Entity):
    code: Annotated[str, Field(min_length=1, max_length=50)]
    name: Annotated[str, Field(min_length=1, max_length=255)]
    email: Annotated[str, Field(max_length=254)] | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    website: ShortText | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    contacts: list[Contact] = Field(default_factory=list)
    currency: CurrencyCode | None = None
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    vat_number: Annotated[str, Field(max_length=30)] | None = None
    archived: bool = False
    custom_fields: dict[str, str | bool | int | Decimal | None] = Field(default_factory=dict)
    modified_at: dt.datetime | None = None
    refs: list[SystemRef] = Field(default_factory=list)


class Product(_Entity):
    code: Annotated[str, Field(min_length=1, max_length=50)]
    name: Annotated[str, Field(min_length=1, max_length=255)]
    description: Annotated[str, Field(max_length=4000)] | None = None
    unit_price: Decimal = Decimal("0")
    currency: CurrencyCode = "GBP"
    tax_rate: Decimal | None = None  # percent
    active: bool = True
    family: ShortText | None = None
    modified_at: dt.datetime | None = None
    refs: list[SystemRef] = Field(default_factory=list)

    @field_validator("unit_price", mode="before")
    @classmethod
    def _price(cls, value: object) -> Decimal:
        return parse_decimal(value)


class InvoiceLine(_Entity):
    description: Annotated[str, Field(min_length=1, max_length=2000)]
    quantity: Decimal = Field(gt=0)
    unit_price: Decimal  # net, in the invoice's currency
    tax_rate: Decimal = Decimal("0")  # percent, e.g. 20
    product_code: Annotated[str, Field(max_length=50)] | None = None
    nominal_code: int | None = None

    @field_validator("quantity", "unit_price", "tax_rate", mode="before")
    @classmethod
    def _decimal(cls, value: object) -> Decimal:
        return parse_decimal(value)

    @property
    def net(self) -> Decimal:
        return quantize_money(self.quantity * self.unit_price)


class Invoice(_Entity):
    customer_code: Annotated[str, Field(min_length=1, max_length=50)]
    issue_date: dt.date
    due_date: dt.date
    currency: CurrencyCode = "GBP"
    lines: list[InvoiceLine] = Field(min_length=1, max_length=500)
    reference: Annotated[str, Field(max_length=100)] | None = None  # the source record, e.g. the Opportunity Id
    number: str | None = None
    status: str | None = None
    total_net: Decimal | None = None
    total_tax: Decimal | None = None
    total_gross: Decimal | None = None
    amount_paid: Decimal | None = None
    refs: list[SystemRef] = Field(default_factory=list)

    @model_validator(mode="after")
    def _due_after_issue(self) -> Invoice:
        if self.due_date < self.issue_date:
            raise ValueError("due_date is before issue_date")
        return self

    @property
    def lines_net(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal("0"))


class Payment(_Entity):
    invoice_number: Annotated[str, Field(min_length=1, max_length=50)]
    amount: Decimal = Field(gt=0)
    currency: CurrencyCode = "GBP"
    paid_on: dt.date
    method: ShortText | None = None
    reference: ShortText | None = None
    refs: list[SystemRef] = Field(default_factory=list)

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: object) -> Decimal:
        return parse_decimal(value)


class CreditNote(_Entity):
    """Money owed back to a customer against one invoice: a whole invoice credited (a deal reopened) or the difference
    when a paid invoice's deal shrank. Amounts on the lines are positive; the note reduces what the customer owes."""

    customer_code: Annotated[str, Field(min_length=1, max_length=50)]
    invoice_number: Annotated[str, Field(min_length=1, max_length=50)]  # the invoice it credits
    issue_date: dt.date
    currency: CurrencyCode = "GBP"
    lines: list[InvoiceLine] = Field(min_length=1, max_length=500)
    reference: Annotated[str, Field(max_length=100)] | None = None  # what it was made for: the vendor keeps it
    reason: ShortText | None = None
    number: str | None = None
    total_net: Decimal | None = None
    total_tax: Decimal | None = None
    total_gross: Decimal | None = None
    refs: list[SystemRef] = Field(default_factory=list)

    @property
    def lines_net(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal("0"))


class Refund(_Entity):
    """Money paid back to a customer out of a credit note (the opposite of a Payment). ``reference`` is what the
    books keep in the refund's note or memo (the source it was made for); ``refs`` names the books' own record."""

    credit_note_number: Annotated[str, Field(min_length=1, max_length=50)]
    invoice_number: Annotated[str, Field(max_length=50)] | None = None  # the invoice the credit note credits
    amount: Decimal = Field(gt=0)
    currency: CurrencyCode = "GBP"
    paid_on: dt.date
    method: ShortText | None = None
    reference: ShortText | None = None
    refs: list[SystemRef] = Field(default_factory=list)

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: object) -> Decimal:
        return parse_decimal(value)
