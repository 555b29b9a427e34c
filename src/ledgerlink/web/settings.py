"""What the console needs to know about where it runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ConsoleSettings:
    data_dir: Path
    database_url: str
    cookie_secure: bool = False  # set when served over https (or behind a TLS proxy)
    session_hours: float = 12.0
    webhook_max_bytes: int = 256 * 1024
    webhook_tolerance_seconds: int = 300  # how old (or how far in the future) a webhook timestamp may be
    alert_interval_seconds: float = 60.0

    @property
    def mappings_dir(self) -> Path:
        """Where edited mappings are saved: ``LEDGERLINK_MAPPINGS_DIR`` or ``./mappings`` (what load_mapping reads)."""
        return Path(os.environ.get("LEDGERLINK_MAPPINGS_DIR") or Path.cwd() / "mappings")
