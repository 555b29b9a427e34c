"""Server-side query cursors: results beyond the first page wait here for ``nextRecordsUrl`` to fetch them."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from . import ids
from .errors import ApiError

LOCATOR_TTL_SECONDS = 15 * 60
MAX_OPEN_LOCATORS = 200


class QueryLocators:
    def __init__(self, page_size: int = 2000) -> None:
        self.page_size = page_size
        self._open: OrderedDict[str, tuple[float, list[dict[str, Any]], str]] = OrderedDict()
        self._lock = threading.Lock()
        self._counter = 0

    def page(self, records: list[dict[str, Any]], total: int, api_version: str, endpoint: str) -> dict[str, Any]:
        """The first page of a result; keeps the rest under a new locator when there is more."""
        if len(records) <= self.page_size:
            return {"totalSize": total, "done": True, "records": records}
        with self._lock:
            self._counter += 1
            locator = ids.make_id("01g", self._counter)
            self._open[locator] = (time.monotonic(), records, endpoint)
            self._expire()
        return self._body(locator, records, 0, total, api_version)

    def next_page(self, locator_and_offset: str, api_version: str) -> dict[str, Any]:
        locator, _, offset_text = locator_and_offset.rpartition("-")
        with self._lock:
            self._expire()
            entry = self._open.get(locator)
            if entry is None or not offset_text.isdigit():
                raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            _, records, endpoint = entry
            self._open[locator] = (time.monotonic(), records, endpoint)
            self._open.move_to_end(locator)
        offset = int(offset_text)
        if offset >= len(records):
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        body = self._body(locator, records, offset, len(records), api_version)
        if body["done"]:
            with self._lock:
                self._open.pop(locator, None)
        return body

    def _body(
        self, locator: str, records: list[dict[str, Any]], offset: int, total: int, version: str
    ) -> dict[str, Any]:
        end = offset + self.page_size
        body: dict[str, Any] = {"totalSize": total, "done": end >= len(records), "records": records[offset:end]}
        if end < len(records):
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        return body

    def _expire(self) -> None:
        cutoff = time.monotonic() - LOCATOR_TTL_SECONDS
        while self._open and (len(self._open) > MAX_OPEN_LOCATORS or next(iter(self._open.values()))[0] < cutoff):
            self._open.popitem(last=False)
