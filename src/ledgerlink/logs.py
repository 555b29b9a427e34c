"""JSON log lines carrying flow, run and record ids, with any known secret masked before it is written."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from typing import Any

from ledgerlink.logcontext import log_context  # set by request handlers and flows' steps

MASK = "[redacted]"
_secrets: set[str] = set()
_lock = threading.Lock()


_CONTEXT_KEYS = ("flow", "run_id", "record_id", "request_id", "user", "connection")


MIN_SECRET_CHARS = 6  # shorter values are too common to mask without garbling text (and revealing themselves)
_pattern: re.Pattern[str] | None = None


def register_secret(value: str) -> None:
    """Remember a secret opened in this process, so a log line that contains it is masked."""
    global _pattern
    if len(value) < MIN_SECRET_CHARS:
        return
    with _lock:
        if value not in _secrets:
            _secrets.add(value)
            _pattern = None


def _secret_pattern() -> re.Pattern[str] | None:
    """Every known secret, longest first, matched only as a whole token: never inside a longer word, so masking
    doesn't garble ordinary text or show where a secret's letters occur."""
    global _pattern
    with _lock:
        if _pattern is None and _secrets:
            alternatives = "|".join(re.escape(s) for s in sorted(_secrets, key=len, reverse=True))
            _pattern = re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])")
        return _pattern


def redact(text: str) -> str:
    pattern = _secret_pattern()
    return pattern.sub(MASK, text) if pattern is not None else text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(log_context.get())
        for key in _CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


def configure_json_logging(level: int = logging.INFO, stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h.formatter, JsonFormatter)]
    root.addHandler(handler)
    root.setLevel(level)
    return handler
