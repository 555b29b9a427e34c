"""Inbound webhooks: HMAC-SHA256 over ``<timestamp>.<body>`` with the connection's secret, a timestamp window
against replay, a unique receipt per signature so the same request can't be accepted twice, and a size cap."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

TIMESTAMP_HEADER = "X-LedgerLink-Timestamp"
SIGNATURE_HEADER = "X-LedgerLink-Signature"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    status: int
    reason: str


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """What a sender puts in ``X-LedgerLink-Signature``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def verify(
    secret: str | None,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    tolerance_seconds: int,
    now: float | None = None,
) -> Verdict:
    # One answer for unknown connection and bad signature: a prober learns nothing about which names exist.
    if secret is None or not timestamp_header or not signature_header:
        return Verdict(False, 401, "missing or invalid signature")
    if not timestamp_header.isdigit() or len(timestamp_header) > 12:
        return Verdict(False, 401, "bad timestamp")
    timestamp = int(timestamp_header)
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_seconds:
        return Verdict(False, 401, "timestamp outside the allowed window (replayed or clock skew)")
    expected = sign(secret, timestamp, body)
    candidates = [s.strip() for s in signature_header.split(",")]  # several during a secret rollover
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        return Verdict(False, 401, "missing or invalid signature")
    return Verdict(True, 200, "ok")


def receipt_key(connection: str, signature_header: str) -> str:
    return hashlib.sha256(f"{connection}\n{signature_header}".encode()).hexdigest()
