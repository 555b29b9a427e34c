"""What the console needs to know about where it runs. Security limits default from ``LEDGERLINK_…`` variables
(listed in the README's security section) so an operator can tune them without code."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ledgerlink.outbound import OutboundPolicy


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() else default


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


def _env_flag(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    return default if not raw else raw in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ConsoleSettings:
    data_dir: Path
    database_url: str
    # Secure cookies: on when LEDGERLINK_COOKIE_SECURE says so, and per request whenever it came over https.
    cookie_secure: bool = field(default_factory=lambda: _env_flag("LEDGERLINK_COOKIE_SECURE"))
    session_hours: float = 12.0
    session_idle_minutes: float = field(default_factory=lambda: _env_float("LEDGERLINK_SESSION_IDLE_MINUTES", 60.0))
    webhook_max_bytes: int = 256 * 1024
    webhook_tolerance_seconds: int = 300  # how old (or how far in the future) a webhook timestamp may be
    alert_interval_seconds: float = 60.0
    # Any request body larger than this is refused before it is read (webhooks have their own, smaller cap).
    max_body_bytes: int = field(default_factory=lambda: _env_int("LEDGERLINK_MAX_BODY_BYTES", 1024 * 1024))
    # Sign-in throttling: failed attempts per minute per client address and per username; failures before a lockout.
    signin_per_ip_per_minute: int = field(default_factory=lambda: _env_int("LEDGERLINK_SIGNIN_PER_IP_PER_MINUTE", 30))
    signin_per_user_per_minute: int = field(
        default_factory=lambda: _env_int("LEDGERLINK_SIGNIN_PER_USER_PER_MINUTE", 5)
    )
    signin_lockout_failures: int = field(default_factory=lambda: _env_int("LEDGERLINK_SIGNIN_LOCKOUT_FAILURES", 10))
    signin_lockout_minutes: float = field(default_factory=lambda: _env_float("LEDGERLINK_SIGNIN_LOCKOUT_MINUTES", 15.0))
    # Mapping preview runs in a separate process with these limits.
    preview_seconds: float = field(default_factory=lambda: _env_float("LEDGERLINK_PREVIEW_SECONDS", 5.0))
    preview_memory_mb: int = field(default_factory=lambda: _env_int("LEDGERLINK_PREVIEW_MEMORY_MB", 512))
    preview_output_bytes: int = field(default_factory=lambda: _env_int("LEDGERLINK_PREVIEW_OUTPUT_BYTES", 256 * 1024))

    # Internal addresses connection tests and alert webhooks may reach (see ledgerlink.outbound); None: from
    # LEDGERLINK_OUTBOUND_ALLOW.
    outbound_allow: tuple[str, ...] | None = None

    def outbound_policy(self) -> OutboundPolicy:
        if self.outbound_allow is None:
            return OutboundPolicy.from_env()
        return OutboundPolicy.parse(self.outbound_allow)

    @property
    def mappings_dir(self) -> Path:
        """Where edited mappings are saved: ``LEDGERLINK_MAPPINGS_DIR`` or ``./mappings`` (what load_mapping reads)."""
        return Path(os.environ.get("LEDGERLINK_MAPPINGS_DIR") or Path.cwd() / "mappings")
