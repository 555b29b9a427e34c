"""Finding 9: an alert rule with a line break in ``email_to`` is refused, and one stored before the rule no longer
stops alerting: the rules after it still fire."""

from __future__ import annotations

import httpx

from ledgerlink.alerts import check_and_send
from ledgerlink.alerts.senders import SmtpSettings
from ledgerlink.outbound import OutboundPolicy
from ledgerlink.store.console_tables import AlertRule
from tests.web.console_helpers import Served, api_token


def test_email_to_with_a_line_break_is_refused(served: Served) -> None:
    headers = {"Authorization": f"Bearer {api_token(served.url)}"}
    for bad in ("ops@example.com\nBcc: all@example.com", "a@example.com\r\nb@example.com", "not an address"):
        rule = {"name": "bad", "kind": "dead_letters", "threshold": 1, "email_to": bad}
        response = httpx.post(f"{served.url}/api/alerts/rules", json=rule, headers=headers)
        assert response.status_code == 422, response.text
    ok = {"name": "ok", "kind": "dead_letters", "threshold": 1000, "email_to": "ops@example.com, b@example.org"}
    assert httpx.post(f"{served.url}/api/alerts/rules", json=ok, headers=headers).status_code == 201


def test_a_bad_stored_rule_does_not_stop_the_others(served: Served) -> None:
    ledger = served.console.ledger
    for i in range(3):
        ledger.record_failure(flow="f9", source=("salesforce", "Opportunity", f"006ALERT{i}"), error="x")
    with ledger.session() as s:
        s.add(
            AlertRule(
                name="broken", kind="dead_letters", threshold=1, email_to="a@example.com\nBcc: x@example.com", enabled=1
            )
        )
        s.add(AlertRule(name="after it", kind="dead_letters", threshold=1, enabled=1, cooldown_minutes=0))
    smtp = SmtpSettings(url="smtp://127.0.0.1:9", sender="ledgerlink@example.com", timeout=1)
    events = check_and_send(ledger, lambda: smtp, policy=OutboundPolicy.parse([]))
    names = {e.rule_pk for e in events}
    with ledger.session() as s:
        fired = {r.name for r in s.query(AlertRule).filter(AlertRule.pk.in_(names))}
    assert "after it" in fired
    broken = [e for e in events if e.deliveries.get("email", "").startswith("failed: not an e-mail address")]
    assert broken  # the broken rule reports its bad address instead of raising
