"""Where a notification goes: Slack or Microsoft Teams (their incoming webhooks) or e-mail (SMTP), each with a
templated message. Used by alert rules and by the ``notify`` action of user-defined flows.

Slack gets its incoming-webhook format: ``text`` (the notification's fallback) and ``blocks`` (a header and a
mrkdwn section; Slack caps a header at 150 characters and a section's text at 3,000). Teams gets a message with
one Adaptive Card attachment, what its Workflows webhooks and the older connectors both accept.

A destination a user typed is checked before anything is sent (``check_destination``): http(s) only, no
credentials in the URL, and no loopback, private, link-local or reserved address unless the operator allows
them (``LEDGERLINK_ALLOW_PRIVATE_WEBHOOKS=1``, e.g. for an on-premises relay or a test receiver). Failures are
returned as a short reason, never raised, and never carry the URL (a webhook URL is a secret).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from ledgerlink.alerts.senders import SmtpSettings, send_email

Channel = Literal["slack", "teams", "email"]
CHANNELS: tuple[Channel, ...] = ("slack", "teams", "email")
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
MAX_URL = 2000
MAX_RECIPIENTS = 20
TIMEOUT = 10.0
ALLOW_PRIVATE_ENV = "LEDGERLINK_ALLOW_PRIVATE_WEBHOOKS"


class DestinationRefused(ValueError):
    """A destination LedgerLink will not send to; the message says why without repeating the URL."""


@dataclass(frozen=True)
class Message:
    title: str
    text: str
    fields: tuple[tuple[str, str], ...] = ()  # shown as facts: ("Invoice", "INV-0042"), …


def allow_private_destinations() -> bool:
    return os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower() in ("1", "true", "yes")


def check_destination(
    url: str,
    *,
    allow_private: bool | None = None,
    resolve: Callable[[str, int], list[str]] | None = None,
) -> None:
    """Raise ``DestinationRefused`` unless ``url`` may be sent to. One small function on purpose: the outbound
    policy module replaces it whole."""
    if len(url) > MAX_URL:
        raise DestinationRefused(f"the URL is longer than {MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise DestinationRefused("the URL must start with https:// (or http://)")
    if not parts.hostname:
        raise DestinationRefused("the URL has no host")
    if parts.username or parts.password:
        raise DestinationRefused("the URL must not carry a user name or password")
    private_ok = allow_private_destinations() if allow_private is None else allow_private
    if private_ok:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DestinationRefused("the URL's port is not a number") from None
    try:
        addresses = (resolve or _resolve)(parts.hostname, port)
    except OSError:
        raise DestinationRefused(f"the host {parts.hostname} does not resolve") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if (
            ip.is_loopback
            or ip.is_private
            or ip.is_link_local
            or ip.is_reserved
            or ip.is_multicast
            or ip.is_unspecified
        ):
            raise DestinationRefused(
                f"the host {parts.hostname} is a loopback, private or reserved address ({ip});"
                f" set {ALLOW_PRIVATE_ENV}=1 to allow such destinations"
            )


def _resolve(host: str, port: int) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)})


def channel_for_url(url: str) -> Channel | None:
    """Slack or Teams when the webhook URL is theirs (an alert rule's URL says which it is), else None."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "hooks.slack.com":
        return "slack"
    if host.endswith((".webhook.office.com", ".logic.azure.com", ".powerplatform.com")):
        return "teams"
    return None


# --- formats ---------------------------------------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(message: Message) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(message.title, SLACK_HEADER_MAX)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(message.text, SLACK_SECTION_MAX)}},
    ]
    if message.fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": _clip(f"*{name}*\n{value}", 2000)} for name, value in message.fields[:10]
                ],
            }
        )
    return {"text": _clip(f"{message.title}: {message.text}", SLACK_SECTION_MAX), "blocks": blocks}


def teams_payload(message: Message) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": _clip(message.title, 200), "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "TextBlock", "text": _clip(message.text, 4000), "wrap": True},
    ]
    if message.fields:
        body.append(
            {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in message.fields[:20]]}
        )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def email_body(message: Message) -> str:
    facts = "".join(f"\n{name}: {value}" for name, value in message.fields)
    return f"{message.text}\n{facts}".strip() + "\n"


# --- sending ---------------------------------------------------------------------------------------------------


def post_json(url: str, payload: dict[str, Any], *, allow_private: bool | None = None, timeout: float = TIMEOUT) -> str:
    """POST to a checked destination: 'sent' or a short reason it wasn't (without the URL)."""
    try:
        check_destination(url, allow_private=allow_private)
    except DestinationRefused as exc:
        return f"refused: {exc}"
    try:
        response = httpx.post(url, json=payload, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        return f"failed: {type(exc).__name__}"
    return "sent" if response.status_code < 300 else f"failed: HTTP {response.status_code}"


def recipients(to: str) -> list[str]:
    found = [a.strip() for a in to.split(",") if a.strip()]
    if not found or len(found) > MAX_RECIPIENTS:
        raise ValueError(f"give 1 to {MAX_RECIPIENTS} e-mail addresses, comma-separated")
    for address in found:
        if len(address) > 254 or address.count("@") != 1 or any(c.isspace() for c in address):
            raise ValueError("an e-mail address is not valid (expected name@domain)")
    return found


def send(
    channel: Channel,
    to: str,
    message: Message,
    *,
    smtp: SmtpSettings | None = None,
    allow_private: bool | None = None,
) -> str:
    """Deliver ``message`` on ``channel`` to ``to`` (a webhook URL, or e-mail addresses): 'sent' or why not."""
    if channel == "slack":
        return post_json(to, slack_payload(message), allow_private=allow_private)
    if channel == "teams":
        return post_json(to, teams_payload(message), allow_private=allow_private)
    if channel == "email":
        try:
            addresses = recipients(to)
        except ValueError as exc:
            return f"refused: {exc}"
        if smtp is None:
            return "failed: no SMTP connection configured"
        return send_email(smtp, addresses, _clip(message.title, 200), email_body(message))
    return f"refused: no channel {channel!r}; channels: {', '.join(CHANNELS)}"


def smtp_from_env() -> SmtpSettings | None:
    """The SMTP connection notifications use: ``LEDGERLINK_SMTP_URL`` and ``LEDGERLINK_SMTP_FROM`` (user and
    password optional, ``LEDGERLINK_SMTP_USERNAME`` / ``LEDGERLINK_SMTP_PASSWORD``)."""
    url = os.environ.get("LEDGERLINK_SMTP_URL")
    if not url:
        return None
    return SmtpSettings(
        url=url,
        sender=os.environ.get("LEDGERLINK_SMTP_FROM", "ledgerlink@localhost"),
        username=os.environ.get("LEDGERLINK_SMTP_USERNAME") or None,
        password=os.environ.get("LEDGERLINK_SMTP_PASSWORD") or None,
    )
