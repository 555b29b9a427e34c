"""Delivering an alert: a JSON POST to a webhook, or an e-mail over SMTP. Failures are returned, not raised."""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx

from ledgerlink.outbound import OutboundPolicy, OutboundRefused


@dataclass(frozen=True)
class SmtpSettings:
    url: str  # smtp://host:port (STARTTLS when offered) or smtps://host:port (TLS from the start)
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    ca_file: str | None = None


def _scrub(message: str, *secrets: str | None) -> str:
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[redacted]")
    return message[:300]


# One address: no whitespace or line breaks (a header injection, and what used to stop all alerting), one "@".
_ADDRESS = re.compile(r"[^@\s,;<>\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}\Z")


def parse_recipients(text: str) -> list[str]:
    """Comma-separated e-mail addresses; ValueError naming the first bad one."""
    found = [part.strip() for part in text.split(",") if part.strip()]
    for address in found:
        if not _ADDRESS.match(address):
            raise ValueError(f"not an e-mail address: {address[:80]!r}")
    if not found:
        raise ValueError("no e-mail address")
    return found


def send_webhook(url: str, payload: dict[str, Any], timeout: float = 10.0, policy: OutboundPolicy | None = None) -> str:
    """'sent' or a short reason it wasn't."""
    try:
        (policy or OutboundPolicy.from_env()).check(url)
    except OutboundRefused as exc:
        return f"failed: {exc}"
    try:
        response = httpx.post(url, json=payload, timeout=timeout)
    except httpx.HTTPError as exc:
        return f"failed: {type(exc).__name__}"
    return "sent" if response.status_code < 300 else f"failed: HTTP {response.status_code}"


def send_email(settings: SmtpSettings, to: list[str], subject: str, body: str) -> str:
    try:
        to = parse_recipients(",".join(to))
    except ValueError as exc:
        return f"failed: {exc}"
    parts = urlsplit(settings.url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        return "failed: the SMTP URL must be smtp://host:port or smtps://host:port"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.sender, ", ".join(to), subject
    message.set_content(body)
    context = ssl.create_default_context(cafile=settings.ca_file)
    try:
        if parts.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                parts.hostname, parts.port or 465, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=settings.timeout)
        with client:
            client.ehlo()
            if parts.scheme == "smtp" and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            if settings.username and settings.password:
                client.login(settings.username, settings.password)
            client.send_message(message)
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        return "failed: " + _scrub(f"{type(exc).__name__}: {exc}", settings.password, settings.username)
    return "sent"
