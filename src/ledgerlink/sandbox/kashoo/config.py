"""Kashoo sandbox configuration and the credentials a client needs."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ledgerlink.sandbox._faults import FaultConfig
from ledgerlink.sandbox._ratelimit import RateLimit


def _default_data_path() -> Path:
    return Path(tempfile.gettempdir()) / "ledgerlink-sandbox" / "kashoo.sqlite3"


@dataclass
class KashooSandboxConfig:
    data_path: Path = field(default_factory=_default_data_path)
    email: str = "owner@ledgerlink.example"
    password: str = "Kashoo-Sandbox-2024!"
    user_id: int = 271828
    business_id: int = 314159265
    business_name: str = "LedgerLink Demo Inc."
    token_ttl_seconds: float = 3600
    rate_limit: RateLimit | None = field(default_factory=lambda: RateLimit(10, 1.0))
    faults: FaultConfig = field(default_factory=FaultConfig)
    base_currency: str = "CAD"
    default_terms_days: int = 30
    max_limit: int = 1000  # largest ?limit= a list accepts


def credentials(config: KashooSandboxConfig) -> dict[str, str]:
    """What a client needs: the login e-mail and password (the business id is found via /users/me/businesses)."""
    return {"email": config.email, "password": config.password}
