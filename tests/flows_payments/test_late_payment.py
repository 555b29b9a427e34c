"""An invoice overdue by late_payment_days → one Case on the Account; paying it closes the Case."""

from __future__ import annotations

import pytest

from ledgerlink.flows import late_payment
from ledgerlink.flows.deps import Deps
from ledgerlink.systems.errors import TransientError
from tests.flows_payments.conftest import BooksEnv, result


def _check(env: BooksEnv) -> list[late_payment.Outcome]:
    return [result(h) for h in late_payment.poll()]


def _cases(env: BooksEnv, account: str) -> list[dict[str, object]]:
    return list(
        env.user.query(f"SELECT Id, Subject, Status, IsClosed, Priority FROM Case WHERE AccountId = '{account}'")
    )


def test_overdue_invoice_opens_one_case_and_payment_closes_it(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    account, _opp, number = env.invoiced_opportunity("Slow Payer Ltd", 200.0)
    invoice = env.runtime.books.get_invoice(number)
    assert invoice is not None
    assert _check(env) == []  # not due yet

    # Overdue, but by fewer days than the project's threshold (14): no Case yet.
    env.advance_books_clock((invoice.due_date - env.books_today()).days + 5)
    assert _check(env) == []

    env.advance_books_clock(10)
    [opened] = _check(env)
    assert opened["status"] == "opened" and opened["invoice_number"] == number
    [case] = _cases(env, account)
    assert case["Id"] == opened["case"] and case["IsClosed"] is False and case["Priority"] == "High"
    assert f"Invoice {number}" in str(case["Subject"]) and f"[ledgerlink kashflow invoice {number}]" in str(
        case["Subject"]
    )

    # Run twice: the check starts nothing, a replay finds the Case; still one Case.
    writes = env.ledger.count_audit(flow=late_payment.FLOW)
    assert _check(env) == []
    assert result(late_payment.replay(number))["status"] == "already_open"
    assert len(_cases(env, account)) == 1
    assert env.ledger.count_audit(flow=late_payment.FLOW) == writes

    # Part payment: still owed, the Case stays open.
    env.pay(number, "10.00", env.books_today(), reference="part")
    assert _check(env) == []
    assert _cases(env, account)[0]["IsClosed"] is False

    env.pay(number, str(env.gross(number) - 10), env.books_today(), reference="rest")
    [closed] = _check(env)
    assert closed["status"] == "closed" and closed["case"] == case["Id"]
    [case] = _cases(env, account)
    assert case["IsClosed"] is True and case["Status"] == "Closed"
    assert _check(env) == []  # nothing open, nothing overdue


def test_threshold_is_configured_per_project(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    env.runtime.settings.flows.late_payment_days = 1
    account, _opp, number = env.invoiced_opportunity("Strict Terms Ltd", 10.0)
    invoice = env.runtime.books.get_invoice(number)
    assert invoice is not None
    env.advance_books_clock((invoice.due_date - env.books_today()).days + 2)
    assert [o["status"] for o in _check(env)] == ["opened"]
    env.runtime.settings.flows.late_payment = False
    assert late_payment.poll() == []
    assert len(_cases(env, account)) == 1


def _overdue(env: BooksEnv, names: list[str]) -> list[tuple[str, str, str]]:
    """Invoiced deals for ``names``, then the books' clock past the threshold for all of them."""
    made = [env.invoiced_opportunity(name, 20.0 + n, chain_pdf=False) for n, name in enumerate(names)]
    latest = max(env.runtime.books.get_invoice(number).due_date for _a, _o, number in made)  # type: ignore[union-attr]
    env.advance_books_clock((latest - env.books_today()).days + 20)
    return made


def test_a_check_opens_a_batch_of_cases_in_a_few_calls(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    env.runtime.settings.record_shards = 1  # every invoice in one batch run
    made = _overdue(env, [f"Batch Payer {n}" for n in range(5)])
    calls = env.runtime.crm.calls_made()
    outcomes = _check(env)
    assert sorted(o["invoice_number"] for o in outcomes) == sorted(number for _a, _o, number in made)
    assert {o["status"] for o in outcomes} == {"opened"}
    assert len({o["case"] for o in outcomes}) == 5
    # The check's Case query, then one query for the deals, one for the markers, one create for all five (a run
    # per invoice made three calls each).
    assert env.runtime.crm.calls_made() - calls <= 5
    assert late_payment.poll() == []  # checked again: every invoice has its Case
    for account, _opp, number in made:
        [case] = _cases(env, account)
        assert f"[ledgerlink kashflow invoice {number}]" in str(case["Subject"])
        assert case["Id"] == next(o["case"] for o in outcomes if o["invoice_number"] == number)


def test_a_case_made_before_a_crash_is_found_and_a_deal_gone_fails_alone(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    env.runtime.settings.record_shards = 1
    (account_a, _opp_a, number_a), (_account_b, opp_b, number_b), (account_c, _opp_c, number_c) = _overdue(
        env, ["Crash Payer", "Gone Payer", "Plain Payer"]
    )
    # A Case the last run made just before it crashed: in Salesforce with its marker, not yet in the ledger.
    earlier = env.user.create(
        "Case",
        {"Subject": f"Invoice {number_a} is late [ledgerlink kashflow invoice {number_a}]", "AccountId": account_a},
    )
    env.user.delete("Opportunity", opp_b)

    outcomes = {o["invoice_number"]: o for o in _check(env)}
    assert outcomes[number_a]["status"] == "already_open" and outcomes[number_a]["case"] == earlier
    assert len(_cases(env, account_a)) == 1
    assert outcomes[number_b]["status"] == "failed" and outcomes[number_b]["field"] == "Opportunity"
    assert outcomes[number_c]["status"] == "opened" and len(_cases(env, account_c)) == 1
    [failure] = env.ledger.failed_records(flow=late_payment.FLOW)
    assert failure.source_id == number_b and f"Opportunity {opp_b} not found" in str(failure.errors)


def test_a_replay_whose_books_read_fails_for_a_moment_opens_its_case(
    kashflow_env: BooksEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 on the replay's read of the invoice is retried with the whole read, not taken as the invoice refused.
    The fault is put at the read's seam: the connector serves the row from the listing it read a moment ago, so a
    fault in the sandbox would never be reached."""
    env = kashflow_env
    [(account, _opp, number)] = _overdue(env, ["Blip Payer"])
    reads: list[str] = []
    read = late_payment._due_from_books

    def flaky(deps: Deps, asked: str) -> dict[str, str]:
        reads.append(asked)
        if len(reads) == 1:
            raise TransientError(f"GET invoices/{asked}: service unavailable", system="kashflow", status=503)
        return read(deps, asked)

    monkeypatch.setattr(late_payment, "_due_from_books", flaky)
    outcome = result(late_payment.replay(number))
    assert reads == [number, number]
    assert outcome["status"] == "opened", outcome
    [case] = _cases(env, account)
    assert case["Id"] == outcome["case"]
