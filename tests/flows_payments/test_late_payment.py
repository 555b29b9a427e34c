"""An invoice overdue by late_payment_days → one Case on the Account; paying it closes the Case."""

from __future__ import annotations

from ledgerlink.flows import late_payment
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
