"""Numbers and money: numeric strings to Decimal, rounding, and exact Decimal ⇄ integer minor units (cents)."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ledgerlink.mapping.context import TransformContext
from ledgerlink.mapping.errors import TransformError
from ledgerlink.mapping.transforms.registry import TransformFn, expect_mapping, register

# ISO 4217 minor-unit exponents that are not 2; everything else has cents.
_EXPONENTS = {
    **dict.fromkeys(["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"], 0),
    **dict.fromkeys(["VND", "VUV", "XAF", "XOF", "XPF"], 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}
_SYMBOLS = re.compile(r"[\s£$€¥\u00a0\u202f']")


def minor_unit_exponent(currency: str | None) -> int:
    return _EXPONENTS.get((currency or "").upper(), 2)


def to_decimal(value: Any, decimal_separator: str = ".") -> Decimal:
    """Decimal from int, float (shortest repr), Decimal or a numeric string with thousands separators ("1,234.50")."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TransformError(f"{value!r} is a boolean, not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        text = _SYMBOLS.sub("", value)
        thousands = "." if decimal_separator == "," else ","
        text = text.replace(thousands, "").replace(decimal_separator, ".")
        try:
            result = Decimal(text)
        except InvalidOperation:
            result = Decimal("NaN")
        if result.is_finite():
            return result
    raise TransformError(f"{value!r} is not a number")


def money_round(amount: Decimal, places: int = 2) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def to_minor_units(amount: Decimal, currency: str | None = None) -> int:
    """Exact Decimal → integer minor units; refuses sub-unit fractions rather than invent or drop a cent."""
    scaled = amount.scaleb(minor_unit_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise TransformError(f"{amount} {currency or ''} has fractions of a cent; round it first (money_round)".strip())
    return int(scaled)


def from_minor_units(units: int, currency: str | None = None) -> Decimal:
    exponent = minor_unit_exponent(currency)
    return Decimal(units).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def _amount_and_currency(value: Any, fixed: str | None) -> tuple[Any, str | None]:
    # ``from: [Amount, Currency]`` gives a pair; a single value uses the ``currency`` argument (default: 2 places).
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise TransformError(f"expected (amount, currency), got {value!r}")
        return value[0], (value[1] or fixed)
    return value, fixed


@register("decimal")
def make_decimal(args: Any) -> TransformFn:
    """Numeric string / int / float → Decimal. ``{decimal: {decimal_separator: ","}}`` reads "1.234,56"."""
    options = expect_mapping("decimal", args, {"decimal_separator"})
    separator = options.get("decimal_separator", ".")
    if separator not in (".", ","):
        raise ValueError("decimal_separator is '.' or ','")

    def convert(value: Any, ctx: TransformContext) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return to_decimal(value, separator)

    return convert


@register("money_round")
def make_money_round(args: Any) -> TransformFn:
    """Round to 2 decimal places (or ``{money_round: N}``), half up."""
    places = 2 if args is None else int(args)
    return lambda value, ctx: money_round(to_decimal(value), places)


@register("to_cents")
def make_to_cents(args: Any) -> TransformFn:
    """Decimal → integer minor units, exactly. ``{to_cents: {currency: JPY}}``, or ``from: [Amount, Currency]``."""
    options = expect_mapping("to_cents", args, {"currency", "round"})
    fixed, rounding = options.get("currency"), bool(options.get("round", False))

    def convert(value: Any, ctx: TransformContext) -> Any:
        amount, currency = _amount_and_currency(value, fixed)
        if amount is None:
            return None
        number = to_decimal(amount)
        if rounding:
            number = money_round(number, minor_unit_exponent(currency))
        return to_minor_units(number, currency)

    return convert


@register("from_cents")
def make_from_cents(args: Any) -> TransformFn:
    """Integer minor units → Decimal with the currency's places (2 unless ``currency`` says otherwise)."""
    options = expect_mapping("from_cents", args, {"currency"})
    fixed = options.get("currency")

    def convert(value: Any, ctx: TransformContext) -> Any:
        units, currency = _amount_and_currency(value, fixed)
        if units is None:
            return None
        number = to_decimal(units)
        if number != number.to_integral_value():
            raise TransformError(f"{units!r} is not a whole number of cents")
        return from_minor_units(int(number), currency)

    return convert


@register("int")
def make_int(args: Any) -> TransformFn:
    """Whole number from int, Decimal or numeric string; refuses fractions."""

    def convert(value: Any, ctx: TransformContext) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        number = to_decimal(value)
        if number != number.to_integral_value():
            raise TransformError(f"{value!r} is not a whole number")
        return int(number)

    return convert


@register("float")
def make_float(args: Any) -> TransformFn:
    """Number as float, for APIs whose JSON wants plain numbers (never use it for money on the canonical side)."""
    return lambda value, ctx: float(to_decimal(value))


@register("number")
def make_number(args: Any) -> TransformFn:
    """Decimal → a JSON number for API payloads: int when whole, else float; refuses more than 15 significant digits,
    where a float would no longer give back the same decimal."""

    def convert(value: Any, ctx: TransformContext) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        number = to_decimal(value)
        if number == number.to_integral_value():
            return int(number)
        if len(number.normalize().as_tuple().digits) > 15:
            raise TransformError(f"{value!r} has too many digits for a JSON number")
        return float(number)

    return convert


@register("negate")
def make_negate(args: Any) -> TransformFn:
    """A number with its sign flipped (Decimal in, Decimal out): a credit note's positive totals as the negative
    amounts a ledger lists them with."""

    def convert(value: Any, ctx: TransformContext) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return -to_decimal(value)

    return convert
