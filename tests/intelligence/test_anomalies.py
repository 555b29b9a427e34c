"""Anomalies: each rule on its own, then the product's wiring (invoices seen as they are made, volume and failure
rate read off the audit log) kept as findings and sent by an ``anomaly`` alert rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ledgerlink.alerts import check_and_send
from ledgerlink.flows.sync import invoice_watch
from ledgerlink.intelligence import anomalies, findings
from ledgerlink.intelligence.anomalies import InvoiceSeen, Line, check_invoices
from ledgerlink.store import Ledger, database_url
from ledgerlink.store.console_tables import AlertRule
from ledgerlink.store.tables import AuditLog


def _inv(n: int, customer: str = "C1", price: float = 100.0, qty: float = 2, day: int = 1) -> InvoiceSeen:
    return InvoiceSeen(f"I{n}", customer, f"2026-11-{day:02d}", (Line("P1", qty, price),))


def test_each_invoice_rule_explains_itself() -> None:
    history = [_inv(n, price=100 + n, day=n) for n in range(1, 9)]
    found = check_invoices([*history, _inv(20, price=105, qty=400, day=20)])
    assert {a.rule for a in found} == {"amount_outlier"}
    assert "usually invoiced about" in found[0].message and found[0].subject == "I20"
    price = check_invoices([*history, _inv(21, price=1040, qty=2, day=21)])
    assert "unit_price_outlier" in {a.rule for a in price}
    dup = check_invoices([*history, InvoiceSeen("I30", "C1", "2026-11-03", history[2].lines)])
    assert [a.rule for a in dup] == ["near_duplicate"] and "as invoice I3" in dup[0].message
    neg = check_invoices([InvoiceSeen("I40", "C2", "2026-11-01", (Line("P2", 1, -5.0),))])
    assert [a.rule for a in neg] == ["non_positive_line"]
    assert check_invoices(history) == []


def test_volume_and_failure_rate() -> None:
    usual = [40, 38, 45, 41, 39, 44, 37, 42] * 4
    assert anomalies.check_volume("f", [*usual, 41]) is None
    assert anomalies.check_volume("f", [*usual, 400]).rule == "volume_spike"
    assert anomalies.check_volume("f", [*usual, 0]).rule == "volume_drop"
    assert anomalies.check_failure_rate("f", (2, 198), (40, 4000)) is None
    assert anomalies.check_failure_rate("f", (60, 140), (40, 4000)) is not None


def test_the_invoice_history_is_the_ledgers_own(tmp_path: Path) -> None:
    """The watch seeded from one ledger is not another's history: an earlier ledger in the same process (another
    test's, a console pointed elsewhere) made a first big invoice on this one look usual."""
    line = {"description": "x", "product_code": "P1", "quantity": 900, "unit_price": 100}
    other = Ledger(database_url(tmp_path / "other"))
    big = [(f"OLD{n}", "CUST1", {"issue_date": f"2026-10-{n:02d}", "lines": [line]}) for n in range(1, 9)]
    invoice_watch.observe(other, big)  # on the other ledger, 90,000 a time is this customer's usual
    ledger = Ledger(database_url(tmp_path / "this"))
    usual = [
        (f"INV{n}", "CUST1", {"issue_date": f"2026-11-{n:02d}", "lines": [{**line, "quantity": 1}]})
        for n in range(1, 9)
    ]
    assert invoice_watch.observe(ledger, usual) == 0
    assert invoice_watch.observe(ledger, [("INV99", "CUST1", {"issue_date": "2026-11-20", "lines": [line]})]) >= 1


def test_findings_from_invoices_and_the_audit_log_are_alerted(tmp_path: Path) -> None:
    ledger = Ledger(database_url(tmp_path))
    invoice = {
        "issue_date": "2026-11-02",
        "lines": [{"description": "x", "product_code": "P1", "quantity": 1, "unit_price": 100}],
    }
    normal = [(f"INV{n}", "CUST1", {**invoice, "issue_date": f"2026-11-{n:02d}"}) for n in range(1, 9)]
    assert invoice_watch.observe(ledger, normal) == 0
    big = {**invoice, "issue_date": "2026-11-20", "lines": [{**invoice["lines"][0], "quantity": 900}]}  # type: ignore[dict-item]
    assert invoice_watch.observe(ledger, [("INV99", "CUST1", big)]) >= 1
    assert invoice_watch.summary(big)["total"] == 90000.0

    now = dt.datetime(2026, 12, 6, 12, 5, tzinfo=dt.UTC)
    rows = []
    for hours_ago in range(2, 60):
        at = now - dt.timedelta(hours=hours_ago)
        rows += [AuditLog(at=at, flow="f1", system="s", object="o", action="created", detail={}) for _ in range(20)]
    last = now - dt.timedelta(minutes=30)  # the last complete hour: 11:00-12:00
    rows += [AuditLog(at=last, flow="f1", system="s", object="o", action="failed", detail={}) for _ in range(15)]
    with ledger.session() as s:
        s.add_all(rows)
        s.add(AlertRule(name="odd", kind="anomaly", threshold=0, window_minutes=60 * 24 * 400))
    events = check_and_send(ledger, now=now)
    kept = {f.rule for f in findings.find(ledger, kind="anomaly")}
    assert {"amount_outlier", "failure_rate_jump"} <= kept
    assert (len(events) == 1 and "failed in the latest window" in events[0].message) or "INV99" in events[0].message
    ledger.dispose()


def test_a_young_customer_is_judged_with_everyone_and_with_the_prices() -> None:
    # Customers whose totals vary widely (1 to 20 seats), one new customer with five small invoices.
    others = [
        InvoiceSeen(f"O{c}-{n}", f"C{c}", f"2026-10-{n:02d}", (Line("SEAT", 1 + (n * c) % 20, 100.0),))
        for c in range(2, 8)
        for n in range(1, 11)
    ]
    young = [InvoiceSeen(f"Y{n}", "C9", f"2026-11-{n:02d}", (Line("SEAT", 1 + n % 2, 100.0),)) for n in range(1, 6)]
    # 30× its usual in one line at 30× the seat price: the prices don't explain it.
    typo = InvoiceSeen("T1", "C9", "2026-11-20", (Line("SEAT", 1, 4500.0),))
    found = [a for a in check_invoices([*others, *young, typo]) if a.rule == "amount_outlier"]
    assert [a.subject for a in found] == ["T1"]
    assert "its lines at their products' usual prices come to 100.00" in found[0].message
    assert found[0].detail["expected_from_prices"] == 100.0
    # 15 seats at the usual price: big for this customer, ordinary for everyone: no alarm (pooled history).
    ordinary = InvoiceSeen("T2", "C9", "2026-11-21", (Line("SEAT", 15, 100.0),))
    assert not [a for a in check_invoices([*others, *young, ordinary]) if a.rule == "amount_outlier"]
    # 400 seats is far outside everyone's history too: an alarm without the prices' help.
    huge = InvoiceSeen("T3", "C9", "2026-11-22", (Line("SEAT", 400, 100.0),))
    hit = [a for a in check_invoices([*others, *young, huge]) if a.rule == "amount_outlier"]
    assert [a.subject for a in hit] == ["T3"] and hit[0].detail["expected_from_prices"] == 40000.0
