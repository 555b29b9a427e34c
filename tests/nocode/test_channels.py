"""Slack, Teams and e-mail notifications delivered to local receivers over real sockets; destinations checked."""

from __future__ import annotations

import pytest

from ledgerlink.alerts.channels import (
    SLACK_HEADER_MAX,
    DestinationRefused,
    Message,
    check_destination,
    send,
)
from ledgerlink.alerts.senders import SmtpSettings
from tests.nocode.receivers import smtp_receiver, webhook_receiver

MESSAGE = Message("Invoice INV-7 raised", "Fjord AS was *won* and invoiced.", (("Invoice", "INV-7"),))


def test_slack_gets_its_incoming_webhook_format_with_blocks() -> None:
    with webhook_receiver() as receiver:
        assert send("slack", receiver.url, MESSAGE, allow_private=True) == "sent"
    (got,) = receiver.received
    assert got["type"] == "application/json"
    body = got["json"]
    assert body["text"].startswith("Invoice INV-7 raised")
    assert body["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": "Invoice INV-7 raised"}}
    assert body["blocks"][1] == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "Fjord AS was *won* and invoiced."},
    }
    assert body["blocks"][2]["fields"] == [{"type": "mrkdwn", "text": "*Invoice*\nINV-7"}]


def test_slack_limits_are_kept() -> None:
    with webhook_receiver() as receiver:
        send("slack", receiver.url, Message("T" * 500, "x" * 10_000), allow_private=True)
    blocks = receiver.received[0]["json"]["blocks"]
    assert len(blocks[0]["text"]["text"]) == SLACK_HEADER_MAX
    assert len(blocks[1]["text"]["text"]) == 3000


def test_teams_gets_an_adaptive_card() -> None:
    with webhook_receiver() as receiver:
        assert send("teams", receiver.url, MESSAGE, allow_private=True) == "sent"
    body = receiver.received[0]["json"]
    assert body["type"] == "message"
    card = body["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    assert card["content"]["body"][0]["text"] == "Invoice INV-7 raised"
    assert card["content"]["body"][2]["facts"] == [{"title": "Invoice", "value": "INV-7"}]


def test_a_receiver_error_is_reported_without_the_url() -> None:
    with webhook_receiver() as receiver:
        receiver.status = 404
        outcome = send("slack", receiver.url, MESSAGE, allow_private=True)
    assert outcome == "failed: HTTP 404"


def test_email_over_smtp() -> None:
    with smtp_receiver() as mailbox:
        smtp = SmtpSettings(url=f"smtp://127.0.0.1:{mailbox.port}", sender="ledgerlink@example.com")
        assert send("email", "books@example.com, ar@example.com", MESSAGE, smtp=smtp) == "sent"
    ((rcpts, mail),) = mailbox.messages
    assert rcpts == ["books@example.com", "ar@example.com"]
    assert mail["Subject"] == "Invoice INV-7 raised"
    assert "Invoice: INV-7" in mail.get_payload()
    assert send("email", "not an address", MESSAGE, smtp=smtp).startswith("refused: ")


def test_loopback_and_private_destinations_are_refused_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDGERLINK_ALLOW_PRIVATE_WEBHOOKS", raising=False)
    for url in ("http://127.0.0.1:9/x", "https://10.1.2.3/x", "https://169.254.169.254/latest", "http://[::1]/x"):
        with pytest.raises(DestinationRefused):
            check_destination(url)
    with pytest.raises(DestinationRefused, match="loopback"):
        check_destination("https://hooks.example/x", resolve=lambda _h, _p: ["192.168.1.20"])
    check_destination("https://hooks.example/x", resolve=lambda _h, _p: ["93.184.215.14"])
    with pytest.raises(DestinationRefused, match="user name"):
        check_destination("https://user:pw@hooks.example/x", resolve=lambda _h, _p: ["93.184.215.14"])
    with pytest.raises(DestinationRefused, match="https"):
        check_destination("file:///etc/passwd")
    assert send("slack", "http://127.0.0.1:9/x", MESSAGE).startswith("refused: ")
    monkeypatch.setenv("LEDGERLINK_ALLOW_PRIVATE_WEBHOOKS", "1")
    check_destination("http://127.0.0.1:9/x")


def test_an_alert_rule_with_a_slack_url_sends_slack_format(monkeypatch: pytest.MonkeyPatch) -> None:
    from ledgerlink.alerts import runner
    from ledgerlink.alerts.rules import Firing
    from ledgerlink.store.console_tables import AlertRule

    sent: list[tuple[str, str, Message]] = []
    monkeypatch.setattr(runner.channels, "send", lambda ch, to, msg, **_kw: sent.append((ch, to, msg)) or "sent")
    rule = AlertRule(name="failures", kind="failure_rate", webhook_url="https://hooks.slack.com/services/T/B/X")
    firing = Firing(1, "failures", "failure_rate", 0.5, "50% of records failed")
    assert runner.deliver(rule, firing, None) == {"webhook": "sent"}
    ((channel, to, message),) = sent
    assert (channel, to, message.text) == ("slack", "https://hooks.slack.com/services/T/B/X", "50% of records failed")
