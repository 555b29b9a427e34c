"""Probes (``Flow.probe``): would a flow's polling trigger find anything? Each asks its trigger's first reads for
one row, from the same watermarks, and writes nothing. The worker spends a slot they find empty without a run;
an error in a probe makes the trigger run (its steps retry and report)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledgerlink.flows.deps import Deps
from ledgerlink.flows.sync.common import read_changed, transform_context
from ledgerlink.mapping import TransformContext

BooksChanged = Callable[[str | None, int, TransformContext], tuple[list[Any], str | None, bool]]


def salesforce_changed(
    deps: Deps, sobject: str, watermark: str, where: str | None, lag: float, *, include_deleted: bool = False
) -> bool:
    """A row of ``sobject`` matching ``where`` changed after the watermark (the sync's own read, for one row)."""
    return bool(read_changed(deps, sobject, watermark, [], where, lag, limit=1, include_deleted=include_deleted))


def books_changed(deps: Deps, watermark: str, changed: BooksChanged) -> bool:
    """The books' change feed (``customers_changed``, ``products_changed``) has a row after the watermark, or
    would move it (a row the flow passes over still moves it on)."""
    mark = deps.ledger.get_watermark(watermark)
    items, position, _more = changed(mark, 1, transform_context(deps))
    return bool(items) or position != mark
