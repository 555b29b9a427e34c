"""Alert rules fire on real ledger data and are delivered to a local webhook and a minimal local SMTP server."""

from __future__ import annotations

import datetime as dt
import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from sqlalchemy import event, select, update

from ledgerlink.alerts import SmtpSettings, check_and_send
from ledgerlink.alerts.rules import Watched
from ledgerlink.bootstrap import watched_triggers
from ledgerlink.outbound import OutboundPolicy
from ledgerlink.store import Ledger
from ledgerlink.store.console_tables import AlertRule
from ledgerlink.store.tables import TriggerCheck, Watermark, utcnow


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP (no auth, no TLS) to receive one message."""

    def handle(self) -> None:
        self.wfile.write(b"220 test ESMTP\r\n")
        data_mode, lines = False, []
        while line := self.rfile.readline():
            if data_mode:
                if line == b".\r\n":
                    self.server.messages.append(b"".join(lines).decode())  # type: ignore[attr-defined]
                    data_mode = False
                    self.wfile.write(b"250 queued\r\n")
                else:
                    lines.append(line)
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.wfile.write(b"250 test\r\n")
            elif verb == b"DATA":
                data_mode = True
                self.wfile.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp() -> Iterator[tuple[str, list[str]]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    server.messages = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"smtp://127.0.0.1:{server.server_address[1]}", server.messages  # type: ignore[attr-defined]
    server.shutdown()


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, object]]]]:
    received: list[dict[str, object]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    server.shutdown()


def test_dead_letters_rule_sends_webhook_and_email_once_per_cooldown(
    tmp_path: Path, smtp: tuple[str, list[str]], hook: tuple[str, list[dict[str, object]]]
) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    for i in range(3):
        ledger.record_failure(flow="opportunity_to_invoice", source=("salesforce", "Opportunity", f"006{i}"), error="x")
    with ledger.session() as s:
        s.add(
            AlertRule(
                name="dead letters",
                kind="dead_letters",
                threshold=2,
                window_minutes=60,
                webhook_url=hook[0],
                email_to="ops@example.com",
                cooldown_minutes=60,
                enabled=1,
            )
        )
    settings = SmtpSettings(url=smtp[0], sender="ledgerlink@example.com")
    loopback = OutboundPolicy.parse(["127.0.0.0/8"])  # the test's webhook receiver is on loopback
    events = check_and_send(ledger, lambda: settings, policy=loopback)
    assert len(events) == 1 and events[0].deliveries == {"webhook": "sent", "email": "sent"}
    assert hook[1][0]["kind"] == "dead_letters" and "3 failed records" in str(hook[1][0]["message"])
    assert "Subject: [LedgerLink] dead letters" in smtp[1][0] and "3 failed records" in smtp[1][0]
    assert check_and_send(ledger, lambda: settings) == []  # cool-down: no second alert


def test_failure_rate_rule_does_not_fire_below_threshold(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    for i in range(9):
        ledger.audit(flow="f", system="kashflow", obj="Invoice", action="created", record_id=str(i))
    ledger.audit(flow="f", system="salesforce", obj="Opportunity", action="failed", record_id="x")
    with ledger.session() as s:
        s.add(
            AlertRule(name="rate", kind="failure_rate", threshold=0.2, window_minutes=60, cooldown_minutes=0, enabled=1)
        )
    assert check_and_send(ledger) == []
    with ledger.session() as s:
        s.add(
            AlertRule(
                name="rate5", kind="failure_rate", threshold=0.05, window_minutes=60, cooldown_minutes=0, enabled=1
            )
        )
    fired = check_and_send(ledger)
    assert len(fired) == 1 and "10%" in fired[0].message


def _aged(ledger: Ledger, name: str, minutes: float) -> None:
    """A watermark last moved ``minutes`` ago."""
    ledger.set_watermark(name, "x")
    with ledger.session() as s:
        s.execute(
            update(Watermark).where(Watermark.name == name).values(updated_at=utcnow() - dt.timedelta(minutes=minutes))
        )


def test_stalled_trigger_rule_watches_the_triggers_watermarks_only(tmp_path: Path) -> None:
    """The watermark table also holds each deal's billed state and the workers' slot claims: rows no trigger
    advances, which must not fire the rule."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    _aged(ledger, "invoice_life/kashflow/006000000000001AAA", 600)  # a deal billed ten hours ago
    _aged(ledger, "worker.slot.every-1s", 600)
    _aged(ledger, "salesforce.Account", 5)
    _aged(ledger, "salesforce.Opportunity", 90)
    with ledger.session() as s:
        s.add(
            AlertRule(
                name="stalled", kind="stalled_trigger", threshold=0, window_minutes=60, cooldown_minutes=0, enabled=1
            )
        )
    assert check_and_send(ledger, triggers={"customer_sync": "salesforce.Account"}) == []
    triggers = {"customer_sync": "salesforce.Account", "opportunity_to_invoice": "salesforce.Opportunity"}
    [event] = check_and_send(ledger, triggers=triggers)
    assert "opportunity_to_invoice (salesforce.Opportunity) has not checked successfully for 90 min" in event.message
    with ledger.session() as s:  # a rule for one flow, named by the flow
        s.execute(update(AlertRule).values(subject="customer_sync"))
    assert check_and_send(ledger, triggers=triggers) == []


def test_the_enabled_flows_triggers_are_what_the_stalled_rule_watches(tmp_path: Path) -> None:
    """From the settings file: a flow turned off is not watched (its watermark stands still on purpose)."""
    path = tmp_path / "ledgerlink.toml"
    path.write_text("[flows.late_payment]\nenabled = false\n")
    watched = watched_triggers(path)
    assert watched["customer_sync"].marks == ("salesforce.Account.customer_sync",)
    assert "opportunity_to_invoice" in watched and "late_payment" not in watched
    assert not any("*" in mark for trigger in watched.values() for mark in trigger.marks)


def _checked_ago(ledger: Ledger, name: str, minutes: float) -> None:
    """A trigger last checked its source ``minutes`` ago."""
    ledger.check_every = 0.0  # this test's own writes are not throttled
    ledger.trigger_checked(name)
    with ledger.session() as s:
        s.execute(
            update(TriggerCheck)
            .where(TriggerCheck.name == name)
            .values(checked_at=utcnow() - dt.timedelta(minutes=minutes))
        )


def _stalled_rule(ledger: Ledger, window_minutes: int = 60, subject: str | None = None) -> None:
    with ledger.session() as s:
        s.add(
            AlertRule(
                name="stalled",
                kind="stalled_trigger",
                subject=subject,
                threshold=0,
                window_minutes=window_minutes,
                cooldown_minutes=0,
                enabled=1,
            )
        )


def test_a_quiet_source_is_no_stalled_trigger_while_its_trigger_checks(tmp_path: Path) -> None:
    """No deal closed overnight: the watermark last moved ten hours ago, but the trigger read its source a minute
    ago. Stalled is a trigger that stopped checking, not a source with nothing new."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    triggers = {"opportunity_to_invoice": "salesforce.Opportunity.won", "payment_to_books": "salesforce.Payment__c"}
    _aged(ledger, "salesforce.Opportunity.won", 600)
    _checked_ago(ledger, "salesforce.Opportunity.won", 1)
    _checked_ago(ledger, "salesforce.Payment__c", 2)  # a trigger that keeps no watermark at all
    _stalled_rule(ledger)
    assert check_and_send(ledger, triggers=triggers) == []

    _checked_ago(ledger, "salesforce.Opportunity.won", 90)  # then its polls stopped succeeding
    [event] = check_and_send(ledger, triggers=triggers)
    assert event.message == (
        "the trigger of opportunity_to_invoice (salesforce.Opportunity.won) has not checked successfully for 90 min"
    )
    _checked_ago(ledger, "salesforce.Payment__c", 75)
    [event] = check_and_send(ledger, triggers={"payment_to_books": "salesforce.Payment__c"})
    assert "payment_to_books (salesforce.Payment__c) has not checked successfully for 75 min" in event.message


def test_a_check_vouches_for_the_throttle_period_after_it(tmp_path: Path) -> None:
    """A check is written at most once a minute (``Ledger.trigger_checked``): a trigger polling every few seconds
    under a one-minute rule is not stalled 70 s after its last written check; 2.5 min after it, it is."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    triggers = {"customer_sync": "salesforce.Account.customer_sync"}
    _stalled_rule(ledger, window_minutes=1)
    _checked_ago(ledger, "salesforce.Account.customer_sync", 70 / 60)
    assert check_and_send(ledger, triggers=triggers) == []
    _checked_ago(ledger, "salesforce.Account.customer_sync", 2.5)
    assert len(check_and_send(ledger, triggers=triggers)) == 1


def test_a_flows_change_event_subscription_is_watched_with_its_polling_trigger(tmp_path: Path) -> None:
    """A worker that subscribes to change events watches the subscription too (``cdc_trigger.watched_with``): a
    dead stream is a stalled trigger though the polling safety net still checks; a rule for the flow covers both."""
    from ledgerlink.flows.cdc_trigger import watched_with

    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    _checked_ago(ledger, "salesforce.Opportunity.won", 0)
    _checked_ago(ledger, "cdc:/data/OpportunityChangeEvent", 30)
    _stalled_rule(ledger, window_minutes=15, subject="opportunity_to_invoice")

    class Subscription:  # what watched_with reads of a CdcTrigger
        flow, watermark = "opportunity_to_invoice", "cdc:/data/OpportunityChangeEvent"

    polling = {
        "opportunity_to_invoice": Watched(("salesforce.Opportunity.won",)),
        "customer_sync": Watched(("salesforce.Account",)),
    }
    watched = watched_with(polling, [Subscription()])  # type: ignore[list-item]
    assert watched["opportunity_to_invoice"].marks == (
        "salesforce.Opportunity.won",
        "cdc:/data/OpportunityChangeEvent",
    )
    assert watched_with({"customer_sync": Watched(("salesforce.Account",))}, [Subscription()]) == {  # type: ignore[list-item]
        "customer_sync": Watched(("salesforce.Account",))  # the flow switched off: nor its subscription
    }
    [event] = check_and_send(ledger, triggers=watched)
    assert "opportunity_to_invoice (cdc:/data/OpportunityChangeEvent) has not checked successfully for 30 min" in (
        event.message
    )
    assert check_and_send(ledger, triggers=polling) == []


def test_many_checks_write_once_per_throttle_period_for_all_triggers_together(tmp_path: Path) -> None:
    """An idle worker polls every few seconds; its checks cost one statement a minute, not one a poll, and the
    triggers' checks fall due together (one statement for them all). A second worker's checks are its own, and never
    move a row back."""
    url = f"sqlite:///{tmp_path / 'l.db'}"
    ledger, other = Ledger(url), Ledger(url)
    clock = [6000.0]  # seconds: the start of a period of 60
    ledger.check_clock = other.check_clock = lambda: clock[0]
    statements: list[str] = []

    @event.listens_for(ledger.engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        if "ll_trigger_check" in statement:
            statements.append(statement)

    won, orders = "salesforce.Opportunity.won", "salesforce.Order.activated"
    written = [ledger.trigger_checked(won) for _ in range(500)]
    assert written[0] == [won] and not any(written[1:]) and len(statements) == 1
    clock[0] += 30
    assert ledger.trigger_checked(won, orders) == [orders]  # the new one, in the same period
    assert len(statements) == 2
    clock[0] += 29.9
    assert [ledger.trigger_checked(won, orders) for _ in range(100)] == [[]] * 100
    clock[0] += 0.1  # the next period: both at once, in one statement
    assert ledger.trigger_checked(won, orders) == [won, orders] and len(statements) == 3
    assert not any(ledger.trigger_checked(won, orders) for _ in range(100)) and len(statements) == 3

    with ledger.session() as s:
        first = {c.name: c.checked_at for c in s.scalars(select(TriggerCheck))}
    assert other.trigger_checked(won) == [won]  # another worker: its own period
    with ledger.session() as s:
        assert s.get(TriggerCheck, won).checked_at > first[won]  # type: ignore[union-attr]
        s.execute(update(TriggerCheck).values(checked_at=utcnow() + dt.timedelta(minutes=5)))  # a clock ahead
    clock[0] += 60
    ledger.trigger_checked(won)
    with ledger.session() as s:
        ahead = s.get(TriggerCheck, won).checked_at.replace(tzinfo=dt.UTC)  # type: ignore[union-attr]
    assert ahead > utcnow() + dt.timedelta(minutes=4)  # never moved back


def test_a_trigger_that_runs_now_and_then_has_its_period_on_top_of_the_window(tmp_path: Path) -> None:
    """An hourly check and a nightly reconciliation stand still between their runs: a one-hour rule must not fire on
    them the moment a run is a minute late, nor every day; it fires once they have missed a run and the window."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    _stalled_rule(ledger, window_minutes=60)
    hourly = {"late_payment": Watched(("accounting.Invoice.overdue",), still_seconds=3600)}
    nightly = {"reconciliation": Watched(("reconciliation.last",), still_seconds=86_400)}
    _checked_ago(ledger, "accounting.Invoice.overdue", 100)
    _checked_ago(ledger, "reconciliation.last", 20 * 60)
    assert check_and_send(ledger, triggers={**hourly, **nightly}) == []
    _checked_ago(ledger, "accounting.Invoice.overdue", 125)  # a missed hourly run, and an hour more
    [event] = check_and_send(ledger, triggers=hourly)
    assert "late_payment (accounting.Invoice.overdue) has not checked successfully for 125 min" in event.message
    _checked_ago(ledger, "reconciliation.last", 26 * 60)
    [event] = check_and_send(ledger, triggers=nightly)
    assert "reconciliation (reconciliation.last) has not checked successfully for 1560 min" in event.message


def test_what_the_stalled_rule_allows_each_trigger_comes_from_its_schedule(tmp_path: Path) -> None:
    """From the settings file: a flow's own period (late payments hourly), the nightly reconciliation's clock, a
    schedule the user gives a flow (a cron's longest gap: a weekday schedule's weekend; an interval), and 0 for a
    flow that polls at the worker's interval."""
    path = tmp_path / "ledgerlink.toml"
    path.write_text(
        '[flows.customer_sync]\nschedule = "0 6 * * 1-5"\n'
        '[flows.product_sync]\nschedule = "every 10 minutes"\n'
        '[flows.reconciliation]\nschedule = "daily at 3 AM"\n'
    )
    watched = watched_triggers(path)
    assert watched["opportunity_to_invoice"].still_seconds == 0
    assert watched["late_payment"].still_seconds == 3600
    assert watched["reconciliation"].still_seconds == 86_400
    assert watched["customer_sync"].still_seconds == 3 * 86_400  # Friday 06:00 to Monday 06:00
    assert watched["product_sync"].still_seconds == 600


def test_a_trigger_that_never_checked_counts_from_the_rules_making(tmp_path: Path) -> None:
    """No worker ever ran (or a change stream never connected): nothing to count from but the rule itself. Quiet
    for a while after the rule is made, then a stall that says so."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    _stalled_rule(ledger, window_minutes=60)
    triggers = {"customer_sync": Watched(("salesforce.Account.customer_sync",))}
    assert check_and_send(ledger, triggers=triggers) == []
    with ledger.session() as s:
        s.execute(update(AlertRule).values(created_at=utcnow() - dt.timedelta(minutes=90)))
    [event] = check_and_send(ledger, triggers=triggers)
    made = "has not checked successfully since this rule was made, 90 min ago (is a worker running?)"
    assert event.message == f"the trigger of customer_sync (salesforce.Account.customer_sync) {made}"
    _checked_ago(ledger, "salesforce.Account.customer_sync", 1)  # the worker started
    assert check_and_send(ledger, triggers=triggers) == []
