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
from sqlalchemy import update

from ledgerlink.alerts import SmtpSettings, check_and_send
from ledgerlink.bootstrap import watched_triggers
from ledgerlink.outbound import OutboundPolicy
from ledgerlink.store import Ledger
from ledgerlink.store.console_tables import AlertRule
from ledgerlink.store.tables import Watermark, utcnow


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
    assert "opportunity_to_invoice (salesforce.Opportunity) has not advanced for 90 min" in event.message
    with ledger.session() as s:  # a rule for one flow, named by the flow
        s.execute(update(AlertRule).values(subject="customer_sync"))
    assert check_and_send(ledger, triggers=triggers) == []


def test_the_enabled_flows_triggers_are_what_the_stalled_rule_watches(tmp_path: Path) -> None:
    """From the settings file: a flow turned off is not watched (its watermark stands still on purpose)."""
    path = tmp_path / "ledgerlink.toml"
    path.write_text("[flows.late_payment]\nenabled = false\n")
    watched = watched_triggers(path)
    assert watched["customer_sync"] == "salesforce.Account.customer_sync" and "opportunity_to_invoice" in watched
    assert "late_payment" not in watched and not any("*" in mark for mark in watched.values())
