"""JSONata expressions, parsed once at load and evaluated with a time and depth bound.

jsonata-python's own ``timeout`` starts its clock when the expression is parsed, not per evaluation, so a long-lived
mapping would time out every call after the first ``timeout`` ms; we install the Timebox ourselves and reset it
per call.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import jsonata
from jsonata import timebox
from jsonata.jexception import JException

from ledgerlink.mapping.errors import TransformError

DEFAULT_TIMEOUT_MS = 250
DEFAULT_MAX_DEPTH = 200
MAX_RESULT_CHARS = 1_000_000  # a field value; one call such as $pad can build a huge string inside the time bound


class ExpressionSyntaxError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


class JsonataExpression:
    """One compiled JSONata expression. Thread-safe (evaluations of one expression are serialised)."""

    def __init__(self, text: str, timeout_ms: int = DEFAULT_TIMEOUT_MS, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self.text = text
        try:
            self._expr = jsonata.Jsonata(text)
        except JException as exc:
            raise ExpressionSyntaxError(f"JSONata syntax error: {exc}", int(getattr(exc, "location", 0) or 0)) from exc
        if self._expr.get_errors():
            raise ExpressionSyntaxError(f"JSONata syntax error: {self._expr.get_errors()}", 0)
        self._box = timebox.Timebox(self._expr.environment, timeout_ms, max_depth)
        self._lock = threading.Lock()

    def evaluate(self, data: Any, bindings: dict[str, Any] | None = None) -> Any:
        payload = to_json_types(data)
        with self._lock:
            self._box.time = timebox.Timebox.current_milli_time()
            self._box.depth = 0
            try:
                result = self._expr.evaluate(payload, to_json_types(bindings) if bindings else None)
            except JException as exc:
                raise TransformError(f"JSONata {getattr(exc, 'error', '')}: {exc}".replace(" :", ":")) from exc
            except (ValueError, TypeError, RecursionError) as exc:
                raise TransformError(f"JSONata: {exc}") from exc
        if _too_big(result):
            raise TransformError(f"JSONata: the result is larger than {MAX_RESULT_CHARS} characters")
        return result


def _too_big(value: Any, budget: int = MAX_RESULT_CHARS) -> bool:
    """Whether ``value`` holds more than ``budget`` characters (strings) or items, counting as it goes."""
    stack, total = [value], 0
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            total += len(item)
            stack.extend(item)
        if total > budget:
            return True
    return False


def to_json_types(value: Any) -> Any:
    """JSONata accepts JSON types only: Decimals become numbers and dates ISO strings (money in expr is float math)."""
    if isinstance(value, dict):
        return {k: to_json_types(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_types(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
