"""KashFlow's list wrapper, ``{Data, MetaData}``, with paging, sorting and the changed-since filter.

``MetaData`` carries ``FirstPageUrl, LastPageUrl, NextPageUrl, PreviousPageUrl, TotalRecords``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import Request

from ledgerlink.sandbox.kashflow.wire import ApiError, KfJSON, invalid, parse_datetime, parse_int, stored_second

Row = dict[str, Any]


def _sort_key(field: str) -> Callable[[Row], tuple[int, Any, int]]:
    def key(row: Row) -> tuple[int, Any, int]:
        value = row.get(field)
        if isinstance(value, str):
            value = value.lower()
        elif isinstance(value, bool):
            value = int(value)
        elif isinstance(value, int | float):
            value = Decimal(value)
        # Id breaks ties so pages never overlap or skip.
        return (value is None, value if value is not None else 0, row.get("Id") or 0)

    return key


def updated_since(request: Request) -> datetime | None:
    """The "changed since" watermark: ``?updatedsince=<date>`` keeps rows with LastUpdatedDate >= it (inclusive).
    No KashFlow source shows the parameter, so ``/__admin/behaviour`` can make it ignored or rejected."""
    raw = request.query_params.get("updatedsince")
    feed = request.app.state.kf.behaviour["change_feed"]
    if raw and feed == "rejected":
        raise ApiError(400, "ValidationError", "UpdatedSince: The request is invalid.", "UpdatedSince")
    if feed == "ignored":
        return None
    return parse_datetime(raw, "updatedsince") if raw else None


def keep_since(docs: Iterable[Row], since: datetime | None, field: str = "LastUpdatedDate") -> list[Row]:
    if since is None:
        return list(docs)
    # Stored stamps carry microseconds but are served to the second, so compare at second precision.
    cutoff = since.replace(microsecond=0)
    return [d for d in docs if (stamp := stored_second(d.get(field))) and stamp >= cutoff]


def paged(request: Request, rows: list[Row], *, max_per_page: int, default_sort: str = "Id") -> KfJSON:
    params = request.query_params
    page = parse_int(params.get("page", "1"), "page")
    per_page = parse_int(params.get("perpage", "100"), "perpage")
    if page < 1:
        raise invalid("page", "must be 1 or more")
    if not 1 <= per_page <= max_per_page:
        raise invalid("perpage", f"must be between 1 and {max_per_page}")
    order = params.get("order", "Asc").lower()
    if order not in ("asc", "desc"):
        raise invalid("order", "must be Asc or Desc")
    sort_by = params.get("sortby", default_sort)
    if rows:
        names = {k.lower(): k for k in rows[0]}
        if sort_by.lower() not in names:
            raise ApiError(400, "ValidationError", f"sortby: cannot sort by {sort_by!r}", "sortby")
        rows = sorted(rows, key=_sort_key(names[sort_by.lower()]), reverse=order == "desc")
    total = len(rows)
    last = max(1, math.ceil(total / per_page))

    def url(number: int) -> str:
        return str(request.url.include_query_params(page=number, perpage=per_page))

    meta = {
        "FirstPageUrl": url(1),
        "LastPageUrl": url(last),
        "NextPageUrl": url(page + 1) if page < last else None,
        "PreviousPageUrl": url(min(page - 1, last)) if page > 1 else None,
        "TotalRecords": total,
    }
    return KfJSON({"Data": rows[(page - 1) * per_page : page * per_page], "MetaData": meta})
