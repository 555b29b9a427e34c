"""Inbound webhooks: HMAC-SHA256 over ``<timestamp>.<body>`` with the connection's secret, a timestamp window
against replay, a unique receipt per (connection, timestamp, body) so the same request can't be accepted twice,
and a size cap."""

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
    # One answer for every refusal (unknown connection, bad signature, bad or stale timestamp): a prober learns
    # nothing about which connection names exist.
    if secret is None or not timestamp_header or not signature_header:
        return Verdict(False, 401, "missing or invalid signature")
    # isascii: str.isdigit() accepts digits like "²" that int() refuses (that was a 500).
    if not (timestamp_header.isascii() and timestamp_header.isdigit()) or len(timestamp_header) > 12:
        return Verdict(False, 401, "missing or invalid signature")
    timestamp = int(timestamp_header)
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_seconds:
        return Verdict(False, 401, "missing or invalid signature")
    expected = sign(secret, timestamp, body)
    candidates = [s.strip() for s in signature_header.split(",")]  # several during a secret rollover
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        return Verdict(False, 401, "missing or invalid signature")
    return Verdict(True, 200, "ok")


def receipt_key(connection: str, timestamp_header: str, body: bytes) -> str:
    """What makes a request "the same one again": connection, timestamp and body, never the signature header
    (which may list several signatures, so padding it with a junk one would make a fresh-looking key)."""
    digest = hashlib.sha256()
    for part in (connection.encode(), timestamp_header.encode(), body):
        digest.update(len(part).to_bytes(8, "big") + part)  # length-prefixed: no two inputs share an encoding
    return digest.hexdigest()
