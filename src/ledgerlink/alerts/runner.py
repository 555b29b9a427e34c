"""Check the rules, send what fires (respecting each rule's cool-down), and record every event."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from ledgerlink.alerts import channels
from ledgerlink.alerts.rules import Firing, Triggers, evaluate
from ledgerlink.alerts.senders import SmtpSettings, send_email, send_webhook
from ledgerlink.intelligence import flow_watch
from ledgerlink.outbound import OutboundPolicy
from ledgerlink.store import Ledger
from ledgerlink.store.console_tables import AlertEvent, AlertRule
from ledgerlink.store.tables import utcnow

log = logging.getLogger("ledgerlink.alerts")


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def deliver(
    rule: AlertRule, firing: Firing, smtp: SmtpSettings | None, policy: OutboundPolicy | None = None
) -> dict[str, str]:
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
        if channel is not None:  # channels check their destination themselves (the one outbound policy)
            message = channels.Message(f"[LedgerLink] {rule.name}", firing.message, (("Rule", rule.kind),))
            deliveries["webhook"] = channels.send(channel, rule.webhook_url, message)
        else:  # the outbound policy (LEDGERLINK_OUTBOUND_ALLOW) is checked inside send_webhook
            deliveries["webhook"] = send_webhook(rule.webhook_url, payload, policy=policy)
    if rule.email_to:
        recipients = [a.strip() for a in rule.email_to.split(",") if a.strip()]
        if smtp is None:
            deliveries["email"] = "failed: no SMTP connection configured"
        else:
            deliveries["email"] = send_email(smtp, recipients, f"[LedgerLink] {rule.name}", firing.message)
    return deliveries


def check_and_send(
    ledger: Ledger,
    smtp: Callable[[], SmtpSettings | None] = lambda: None,
    now: dt.datetime | None = None,
    policy: OutboundPolicy | None = None,
    triggers: Triggers | None = None,
) -> list[AlertEvent]:
    """One pass: returns the events recorded (a rule in its cool-down fires no event). A rule that fails is
    logged and skipped: it never stops the rules after it. ``triggers``: each enabled flow's trigger watermark (or
    watermarks) by flow name, for the stalled-trigger rules."""
    now = now or utcnow()
    events = []
    try:
        flow_watch.scan(ledger, now)  # volume and failure-rate anomalies become findings the rules then read
    except Exception:  # noticing anomalies must never stop the other alerts
        log.exception("anomaly scan failed")
    with ledger.session() as s:
        firing = evaluate(s, now, triggers)
    for item in firing:
        try:
            event = _fire(ledger, item, smtp, now, policy)
        except Exception:
            log.exception("alert rule %s could not be delivered", item.rule_name)
            continue
        if event is not None:
            events.append(event)
        log.warning("alert %s: %s", item.rule_name, item.message, extra={"alert": item.kind})
    return events


def _fire(
    ledger: Ledger,
    item: Firing,
    smtp: Callable[[], SmtpSettings | None],
    now: dt.datetime,
    policy: OutboundPolicy | None,
) -> AlertEvent | None:
    with ledger.session() as s:
        rule = s.get(AlertRule, item.rule_id)
        if rule is None:
            return None
        if rule.last_fired_at and now - _aware(rule.last_fired_at) < dt.timedelta(minutes=rule.cooldown_minutes):
            return None
        deliveries = deliver(rule, item, smtp() if rule.email_to else None, policy)
        event = AlertEvent(rule_pk=rule.pk, at=now, message=item.message, value=item.value, deliveries=deliveries)
        s.add(event)
        rule.last_fired_at = now
        s.flush()
        return event
