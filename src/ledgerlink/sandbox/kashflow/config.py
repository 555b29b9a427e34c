"""KashFlow sandbox configuration and the credentials a client needs."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ledgerlink.sandbox._faults import FaultConfig
from ledgerlink.sandbox._ratelimit import RateLimit


def _default_data_path() -> Path:
    return Path(tempfile.gettempdir()) / "ledgerlink-sandbox" / "kashflow.sqlite3"


@dataclass
class KashFlowSandboxConfig:
    data_path: Path = field(default_factory=_default_data_path)
    username: str = "admin"
    password: str = "Kf-Sandbox-2024!"
    memorable_word: str = "ledgerlink"
    company_name: str = "LedgerLink Demo Ltd"
    session_idle_minutes: float = 60
    temporary_token_minutes: float = 5
    max_login_failures: int = 5  # consecutive bad passwords or memorable letters before AccountLocked
    lockout_minutes: float = 30
    vat_rates: tuple[float, ...] = (0, 5, 20)
    default_payment_terms_days: int = 30
    rate_limit: RateLimit | None = None  # KashFlow publishes no limit
    faults: FaultConfig = field(default_factory=FaultConfig)
    base_currency: str = "GBP"
    max_per_page: int = 500
    # The account's own payment method ids (KashFlow numbers them per account; an invoice example shows 409844).
    payment_methods: dict[int, str] = field(
        default_factory=lambda: {409844: "Bank transfer", 409845: "Cheque", 409846: "Card", 409847: "Cash"}
    )


def credentials(config: KashFlowSandboxConfig) -> dict[str, str]:
    """What a client needs to log in: user name, password and the memorable word."""
    return {"username": config.username, "password": config.password, "memorable_word": config.memorable_word}
