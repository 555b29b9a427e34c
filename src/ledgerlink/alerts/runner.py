"""Check the rules, send what fires (respecting each rule's cool-down), and record every event."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from ledgerlink.alerts import channels
from ledgerlink.alerts.rules import Firing, evaluate
from ledgerlink.alerts.senders import SmtpSettings, send_email, send_webhook
from ledgerlink.intelligence import flow_watch
from ledgerlink.store import Ledger
from ledgerlink.store.console_tables import AlertEvent, AlertRule
from ledgerlink.store.tables import utcnow

log = logging.getLogger("ledgerlink.alerts")


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def deliver(rule: AlertRule, firing: Firing, smtp: SmtpSettings | None) -> dict[str, str]:
    deliveries: dict[str, str] = {}
    payload = {
        "rule": rule.name,
        "kind": rule.kind,
        "value": firing.value,
        "message": firing.message,
        "at": utcnow().isoformat(),
    }
    if rule.webhook_url:
        # A Slack or Teams incoming webhook gets its own message format; any other URL the plain JSON payload.
        channel = channels.channel_for_url(rule.webhook_url)
        if channel is not None:
            message = channels.Message(f"[LedgerLink] {rule.name}", firing.message, (("Rule", rule.kind),))
            deliveries["webhook"] = channels.send(channel, rule.webhook_url, message)
        else:
            deliveries["webhook"] = send_webhook(rule.webhook_url, payload)
    if rule.email_to:
        recipients = [a.strip() for a in rule.email_to.split(",") if a.strip()]
        if smtp is None:
            deliveries["email"] = "failed: no SMTP connection configured"
        else:
            deliveries["email"] = send_email(smtp, recipients, f"[LedgerLink] {rule.name}", firing.message)
    return deliveries


def check_and_send(
    ledger: Ledger, smtp: Callable[[], SmtpSettings | None] = lambda: None, now: dt.datetime | None = None
) -> list[AlertEvent]:
    """One pass: returns the events recorded (a rule in its cool-down fires no event)."""
    now = now or utcnow()
    events = []
    try:
        flow_watch.scan(ledger, now)  # volume and failure-rate anomalies become findings the rules then read
    except Exception:  # noticing anomalies must never stop the other alerts
        log.exception("anomaly scan failed")
    with ledger.session() as s:
        firing = evaluate(s, now)
    for item in firing:
        with ledger.session() as s:
            rule = s.get(AlertRule, item.rule_id)
            if rule is None:
                continue
            if rule.last_fired_at and now - _aware(rule.last_fired_at) < dt.timedelta(minutes=rule.cooldown_minutes):
                continue
            deliveries = deliver(rule, item, smtp() if rule.email_to else None)
            event = AlertEvent(rule_pk=rule.pk, at=now, message=item.message, value=item.value, deliveries=deliveries)
            s.add(event)
            rule.last_fired_at = now
            s.flush()
            events.append(event)
        log.warning("alert %s: %s", item.rule_name, item.message, extra={"alert": item.kind})
    return events
