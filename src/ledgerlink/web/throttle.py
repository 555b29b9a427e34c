"""Sign-in throttling: failed attempts counted in a sliding minute per client address and per username (beyond
the limit, attempts are refused without running argon2), and a lockout after repeated failures for a username.
Kept in memory (one console process); a restart forgets it, which only ever lets someone in sooner."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_KEYS = 100_000  # a flood of made-up usernames must not grow memory without bound


@dataclass
class SigninThrottle:
    per_ip_per_minute: int
    per_user_per_minute: int
    lockout_failures: int
    lockout_seconds: float
    clock: Callable[[], float] = time.monotonic
    _hits: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _failures: dict[str, int] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, ip: str, username: str) -> float | None:
        """None when this attempt may go ahead; else how many seconds to wait."""
        now = self.clock()
        user_key = username.lower()
        with self._lock:
            until = self._locked_until.get(user_key, 0.0)
            if until > now:
                return until - now
            for key, limit in ((f"ip:{ip}", self.per_ip_per_minute), (f"user:{user_key}", self.per_user_per_minute)):
                window = self._hits[key]
                while window and window[0] <= now - 60:
                    window.popleft()
                if len(window) >= limit:
                    return 60 - (now - window[0])
            return None

    def failed(self, ip: str, username: str) -> None:
        user_key = username.lower()
        with self._lock:
            if len(self._hits) > MAX_KEYS:
                self._hits.clear()
            self._hits[f"ip:{ip}"].append(self.clock())
            self._hits[f"user:{user_key}"].append(self.clock())
            if len(self._failures) > MAX_KEYS:
                self._failures.clear()
            count = self._failures.get(user_key, 0) + 1
            self._failures[user_key] = count
            if count >= self.lockout_failures:
                self._locked_until[user_key] = self.clock() + self.lockout_seconds
                self._failures[user_key] = 0

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username.lower(), None)
