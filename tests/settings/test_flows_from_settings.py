"""The settings file drives the flows end to end, over HTTP against the sandboxes: switches, tax rules by country,
multi-currency, and a custom field a user's mapping reads."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

from ledgerlink.engine import runtime as engine
from ledgerlink.engine.worker import start_triggers
from tests.flows.test_order_to_invoice import make_order
from tests.settings.conftest import StartEnv


def _wait_for(predicate: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_a_settings_file_switches_order_to_invoice_on_and_opportunity_to_invoice_off(start_env: StartEnv) -> None:
    env = start_env(
        """
[flows.order_to_invoice]
enabled = true

[flows.opportunity_to_invoice]
enabled = false
"""
    )
    account = env.make_account("Switch Ltd", "CUST-SW")
    _product, entry = env.make_product("SW-1", 100)
    order = make_order(env, account, [(entry, 2, 100.0)], activate=True)
    deal = env.make_opportunity(stage="Closed Won", account_id=account, lines=[(entry, 1, 100.0)])

    fired = start_triggers(env.runtime, poll_interval=1.0, started={})
    assert "order_to_invoice" in fired and "opportunity_to_invoice" not in fired

    _wait_for(lambda: any(i["CustomerReference"] == order for i in env.kashflow_invoices()))
    time.sleep(1.0)  # anything else the triggers started has had its time
    references = [i["CustomerReference"] for i in env.kashflow_invoices()]
    assert references == [order]  # the won deal is not invoiced: its flow is off
    assert deal not in references


def test_a_tax_rule_ie_0_gives_an_irish_customer_0_percent_vat(start_env: StartEnv) -> None:
    env = start_env(
        """
[defaults]
default_tax_rate = 20
tax_rules = [
  {country = "IE", rate = 0},
  {family = "Books", rate = 5},
]
"""
    )
    _product, entry = env.make_product("TX-1", 50)
    irish = env.won_deal(env.make_account_in("Dublin Ltd", "Ireland"), entry, 50)
    british = env.won_deal(env.make_account_in("Leeds Ltd", "United Kingdom"), entry, 50)

    outcomes = {o["opportunity"]: o for o in (env.run_one(irish), env.run_one(british))}
    assert {o["status"] for o in outcomes.values()} == {"invoiced"}
    irish_invoice = env.kashflow_invoice(outcomes[irish]["invoice_number"])
    british_invoice = env.kashflow_invoice(outcomes[british]["invoice_number"])
    assert [Decimal(str(li["VATLevel"])) for li in irish_invoice["LineItems"]] == [Decimal(0)]
    assert Decimal(str(irish_invoice["VATAmount"])) == 0
    assert [Decimal(str(li["VATLevel"])) for li in british_invoice["LineItems"]] == [Decimal(20)]


def test_a_usd_opportunity_in_a_multi_currency_org_becomes_a_usd_invoice(start_env: StartEnv) -> None:
    env = start_env(multi_currency=True, corporate_currency="GBP")
    _product, entry = env.make_product("FX-1", 80)
    account = env.make_account_in("New York Inc", "United States")
    usd = env.won_deal(account, entry, 80, CurrencyIsoCode="USD")
    gbp = env.won_deal(account, entry, 80)  # the org's corporate currency

    usd_outcome, gbp_outcome = env.run_one(usd), env.run_one(gbp)
    assert env.kashflow_invoice(usd_outcome["invoice_number"])["Currency"]["Code"] == "USD"
    assert env.kashflow_invoice(gbp_outcome["invoice_number"])["Currency"]["Code"] == "GBP"


def test_without_multi_currency_the_same_mapping_reads_no_currency_and_invoices_in_the_default(
    start_env: StartEnv,
) -> None:
    env = start_env('[defaults]\ndefault_currency = "EUR"\n')
    _product, entry = env.make_product("FX-2", 80)
    outcome = env.run_one(env.won_deal(env.make_account_in("Paris SA", "France"), entry, 80))
    assert outcome["status"] == "invoiced"
    assert env.kashflow_invoice(outcome["invoice_number"])["Currency"]["Code"] == "EUR"


REGION_ACCOUNT = """\
description: the user's copy, with their Region__c custom field
source: {system: salesforce, object: Account}
target: {system: canonical, object: Customer}
direction: to_canonical
fields:
  code: {from: [ExternalID__c, Id], transforms: [coalesce, strip], required: true}
  name: {from: Name, transforms: [strip], required: true}
  billing_address.country: {from: BillingCountry, transforms: [country_to_iso]}
  custom_fields.Region: {from: Region__c, transforms: [strip]}
"""


def test_a_users_mapping_with_region_c_puts_it_into_the_kashflow_custom_text_box(
    start_env: StartEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledgerlink.mapping.loader import template_file

    mappings = tmp_path / "mappings"
    (mappings / "salesforce").mkdir(parents=True)
    (mappings / "kashflow").mkdir(parents=True)
    (mappings / "salesforce" / "account_to_canonical.yaml").write_text(REGION_ACCOUNT)
    # A custom field is declared once (what `mapping check` reads); nothing else names it.
    (mappings / "schema_extensions.yaml").write_text("salesforce:\n  Account:\n    Region__c: string\n")
    shipped = template_file("kashflow/customer_from_canonical")
    assert shipped is not None
    (mappings / "kashflow" / "customer_from_canonical.yaml").write_text(
        shipped.read_text() + "  CustomTextBoxes[Name=Region].Value: custom_fields.Region\n"
    )
    monkeypatch.setenv("LEDGERLINK_MAPPINGS_DIR", str(mappings))

    env = start_env()
    _product, entry = env.make_product("RG-1", 10)
    account = env.make_account_in("Region Ltd", "United Kingdom", Region__c="North West", ExternalID__c="CUST-RG")
    outcome = env.run_one(env.won_deal(account, entry, 10))
    assert outcome["status"] == "invoiced", outcome

    customer = env.runtime.books.client.get_customer("CUST-RG")  # type: ignore[attr-defined]
    boxes = {box["Name"]: box["Value"] for box in customer["CustomTextBoxes"]}
    assert boxes == {"Region": "North West"}


def test_a_flows_own_section_overrides_the_defaults_for_that_flow_only(start_env: StartEnv) -> None:
    env = start_env("[defaults]\npayment_terms_days = 30\n[flows.opportunity_to_invoice]\npayment_terms_days = 7\n")
    assert env.runtime.settings.for_flow("opportunity_to_invoice").payment_terms_days == 7
    assert env.runtime.settings.for_flow("order_to_invoice").payment_terms_days == 30
    _product, entry = env.make_product("PT-1", 10)
    outcome = env.run_one(env.won_deal(env.make_account_in("Terms Ltd", "United Kingdom"), entry, 10))
    invoice = env.kashflow_invoice(outcome["invoice_number"])
    issued, due = (engine_date(invoice[k]) for k in ("IssuedDate", "DueDate"))
    assert (due - issued).days == 7


def engine_date(text: str) -> object:
    import datetime as dt

    return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")).date()


_ = engine
