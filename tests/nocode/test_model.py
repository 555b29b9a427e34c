"""Definitions as data: the shipped templates load, and bad input is refused with errors that say where."""

from __future__ import annotations

import pytest

from ledgerlink.flows.defined.model import ACTIONS, MAX_STEPS, MAX_TEXT, AddLine, Branch, DefinitionError, parse
from ledgerlink.flows.defined.templates_catalogue import template, template_names


def test_every_template_loads_and_round_trips() -> None:
    names = template_names()
    assert {"approved_orders_invoice", "international_handling_fee", "split_by_project"} <= set(names)
    for name in names:
        definition = template(name)
        assert definition.name == name
        assert parse(definition.to_yaml()) == definition


def test_the_fee_template_branches_on_the_country() -> None:
    fee = template("international_handling_fee")
    branch = fee.steps[1]
    assert isinstance(branch, Branch)
    line = branch.then[0]
    assert isinstance(line, AddLine) and str(line.percent) == "5"


def _problems(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        parse(text)
    return caught.value.problems


BASE = "name: t1\ntrigger: {object: Order, event: updated}\n"


def test_errors_name_the_place() -> None:
    problems = _problems(BASE + "steps:\n  - {action: add_line, description: fee}\n")
    assert problems == ["steps[0]: Value error, add_line takes a percent or an amount (one of them)"]
    problems = _problems(BASE + "steps:\n  - {action: add_line, description: fee, percent: 500}\n")
    assert any(p.startswith("steps[0].percent:") for p in problems), problems
    problems = _problems(BASE + "steps:\n  - {action: teleport}\n")
    assert problems == ["steps[0]: the action must be one of " + ", ".join(ACTIONS)]


def test_field_changed_needs_its_field() -> None:
    problems = _problems(
        "name: t1\ntrigger: {object: Order, event: field_changed}\nsteps: [{action: create_invoice}]\n"
    )
    assert problems == ["trigger: Value error, a field_changed trigger names the field it watches (field)"]


def test_bounds() -> None:
    assert _problems("x" * (MAX_TEXT + 1)) == [f"definition: {MAX_TEXT + 1} characters; at most {MAX_TEXT}"]
    assert "anchors and aliases" in _problems("a: &x [1]\nb: *x\n")[0]
    many = "".join("  - {action: create_invoice}\n" for _ in range(MAX_STEPS + 1))
    assert any("steps" in p for p in _problems(BASE + "steps:\n" + many))
    nested = "{field: A, op: eq, value: 1}"
    for _ in range(8):
        nested = "{all: [" + nested + "]}"
    assert any("nest" in p for p in _problems(BASE + f"when: {nested}\nsteps: [{{action: create_invoice}}]\n"))
    assert any(
        "name" in p
        for p in _problems(
            "name: 'Robert; DROP'\ntrigger: {object: Order, event: updated}\nsteps: [{action: create_invoice}]"
        )
    )
    assert any(
        p.startswith("trigger.object")
        for p in _problems(
            "name: t1\ntrigger: {object: 'Order WHERE', event: updated}\nsteps: [{action: create_invoice}]"
        )
    )


def test_a_webhook_url_is_never_echoed_in_errors() -> None:
    secret = "https://hooks.slack.com/services/T0/B0/secretsecret"
    problems = _problems(BASE + f"steps:\n  - {{action: notify, channel: pager, to: '{secret}', message: hi}}\n")
    assert problems and all("secretsecret" not in p for p in problems)


def test_not_yaml() -> None:
    assert _problems("name: [unclosed\n")[0].startswith("line ")
    assert _problems("- just a list") == ["definition: expected a mapping with name, trigger and steps"]
