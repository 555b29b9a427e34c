"""Property tests: round trips keep owned fields, money keeps every cent, names and addresses survive split and join."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledgerlink.mapping import TransformContext, load_mapping
from ledgerlink.mapping.transforms import build_transform
from ledgerlink.mapping.transforms.addresses import join_address, split_address
from ledgerlink.mapping.transforms.countries import COUNTRY_NAMES
from ledgerlink.mapping.transforms.names import PARTICLES, join_name, split_name
from ledgerlink.mapping.transforms.numbers import minor_unit_exponent
from ledgerlink.model import Customer, Product

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CTX = TransformContext()

_characters = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))


def clean_text(max_size: int) -> st.SearchStrategy[str]:
    """Realistic and odd text (any script, accents, symbols) as stored: single spaces, no surrounding whitespace."""
    return (
        st.text(alphabet=_characters, min_size=1, max_size=max_size)
        .map(lambda s: " ".join(s.split())[:max_size].strip())
        .filter(bool)
    )


street = st.lists(clean_text(60), min_size=1, max_size=4).map("\n".join)
optional = st.none() | clean_text(40)


@st.composite
def accounts(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "Id": "001" + draw(st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=15, max_size=15)),
        "ExternalID__c": draw(clean_text(50)),
        "Name": draw(clean_text(255)),
        "Phone": draw(st.none() | clean_text(40)),
        "Website": draw(optional),
        "BillingStreet": draw(st.none() | street),
        "BillingCity": draw(optional),
        "BillingState": draw(optional),
        "BillingPostalCode": draw(st.none() | clean_text(20)),
        "BillingCountry": draw(st.none() | st.sampled_from(sorted(COUNTRY_NAMES.values()))),
        "ShippingStreet": draw(st.none() | street),
        "ShippingCity": draw(optional),
        "ShippingPostalCode": draw(st.none() | clean_text(20)),
        "ShippingCountry": draw(st.none() | st.sampled_from(sorted(COUNTRY_NAMES.values()))),
    }


@FAST
@given(accounts())
def test_account_round_trip_keeps_owned_fields(account: dict[str, Any]) -> None:
    to_canonical = load_mapping("salesforce/account_to_canonical")
    from_canonical = load_mapping("salesforce/account_from_canonical")
    customer = Customer.model_validate(to_canonical.apply(account).values)
    back = from_canonical.apply(customer.model_dump(mode="json")).values
    owned = [field for field, owner in from_canonical.owners.items() if owner == "salesforce"]
    assert owned
    for field in owned:
        assert back.get(field) == account.get(field), field


amounts_in_units = st.integers(min_value=-(10**12), max_value=10**12)
currencies = st.sampled_from(["GBP", "USD", "EUR", "JPY", "KWD", "BHD", "CAD", "CLP"])


@FAST
@given(amounts_in_units, currencies)
def test_money_never_gains_or_loses_a_cent(units: int, currency: str) -> None:
    to_cents, from_cents = build_transform("to_cents")[1], build_transform("from_cents")[1]
    amount = Decimal(units).scaleb(-minor_unit_exponent(currency))
    assert to_cents((amount, currency), CTX) == units
    assert from_cents((units, currency), CTX) == amount
    assert to_cents((from_cents((units, currency), CTX), currency), CTX) == units


@FAST
@given(st.lists(amounts_in_units, min_size=1, max_size=20), currencies)
def test_sums_are_the_same_in_cents_and_decimals(parts: list[int], currency: str) -> None:
    from_cents = build_transform("from_cents")[1]
    to_cents = build_transform("to_cents")[1]
    decimals = [from_cents((p, currency), CTX) for p in parts]
    assert to_cents((sum(decimals, Decimal(0)), currency), CTX) == sum(parts)


@FAST
@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["GBP", "USD", "JPY", "KWD"]))
def test_product_price_survives_kashoo_cents(units: int, currency: str) -> None:
    price = Decimal(units).scaleb(-minor_unit_exponent(currency))
    product = Product(code="P1", name="Widget", unit_price=price, currency=currency)
    item = load_mapping("kashoo/item_from_canonical").apply(product.model_dump()).values
    assert item["price"] == units
    back = Product.model_validate(load_mapping("kashoo/item_to_canonical").apply(item).values)
    assert back.unit_price == price and back.currency == currency


@FAST
@given(st.text(alphabet=_characters | st.sampled_from(" \t\n"), max_size=80))
def test_join_of_split_name_is_the_name(full: str) -> None:
    first, last = split_name(full)
    assert join_name(first, last) == " ".join(full.split())
    assert bool(last) == bool(full.split())


word = clean_text(20).filter(lambda w: " " not in w and w.casefold() not in PARTICLES)


@FAST
@given(st.lists(word, min_size=0, max_size=3).map(" ".join), word)
def test_split_of_joined_name_gives_the_parts(first: str, last: str) -> None:
    assert split_name(join_name(first, last)) == (first, last)


@FAST
@given(st.lists(word, min_size=1, max_size=2).map(" ".join), st.sampled_from(["van", "van der", "de la", "von"]), word)
def test_surname_particles_stay_with_the_surname(first: str, particle: str, last: str) -> None:
    assert split_name(f"{first} {particle} {last}") == (first, f"{particle} {last}")


@FAST
@given(st.lists(clean_text(80), min_size=1, max_size=4))
def test_address_lines_survive_join_and_split(lines: list[str]) -> None:
    assert split_address(join_address(lines), width=80) == lines


@FAST
@given(st.text(alphabet=_characters | st.sampled_from(" \n\r"), max_size=600), st.integers(min_value=10, max_value=80))
def test_long_address_lines_are_wrapped_not_truncated(text: str, width: int) -> None:
    lines = split_address(text, width=width, max_lines=None)
    assert all(0 < len(line) <= width for line in lines)
    assert "".join("".join(lines).split()) == "".join(text.split())
    kept = split_address(text, width=width, max_lines=4)
    assert len(kept) <= 4
    assert "".join("".join(kept).replace(", ", "").split()) == "".join("".join(lines).split())
