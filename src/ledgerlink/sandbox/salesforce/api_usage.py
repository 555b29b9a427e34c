"""The daily API request allocation, counted the way Salesforce counts it.

Every authenticated REST call is one request, a composite or collections call is one too; OAuth calls and
``GET /services/data/`` are free. The window is simplified to consecutive 24-hour days since the counter started,
persisted in the org's database so a restarted sandbox remembers how much of today it used.
"""

from __future__ import annotations

import time

from .db import Database

DAY_SECONDS = 86400


class ApiUsage:
    def __init__(self, db: Database, daily_limit: int) -> None:
        self.db = db
        override = db.get_meta("daily_api_limit")
        self.daily_limit = int(override) if override else daily_limit

    def _window(self) -> tuple[int, int]:
        """(window start in epoch seconds, requests counted in it), rolling over after a day."""
        now = int(time.time())
        start = int(self.db.get_meta("api_window_start", "0") or 0)
        if now - start >= DAY_SECONDS:
            self.db.set_meta("api_window_start", str(now))
            self.db.set_meta("api_usage", "0")
            return now, 0
        return start, int(self.db.get_meta("api_usage", "0") or 0)

    def used(self) -> int:
        with self.db.lock:
            return self._window()[1]

    def try_consume(self) -> tuple[bool, int]:
        """Count one request unless the allocation is spent. Returns (allowed, requests used so far)."""
        with self.db.lock:
            _, used = self._window()
            if used >= self.daily_limit:
                return False, used
            used += 1
            self.db.set_meta("api_usage", str(used))
            return True, used

    def reset(self) -> None:
        with self.db.lock:
            self.db.set_meta("api_window_start", str(int(time.time())))
            self.db.set_meta("api_usage", "0")

    def set_daily_limit(self, limit: int) -> None:
        with self.db.lock:
            self.daily_limit = limit
            self.db.set_meta("daily_api_limit", str(limit))

    def header(self, used: int | None = None) -> str:
        return f"api-usage={self.used() if used is None else used}/{self.daily_limit}"
