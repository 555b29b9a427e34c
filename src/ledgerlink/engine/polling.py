"""Watermark polling of Salesforce: the trigger that loses nothing.

Records are read in ``(SystemModstamp, Id)`` order, resuming with
``(SystemModstamp = :ts AND Id > :id) OR SystemModstamp > :ts``, only up to ``now − lag`` (commits land late),
and the watermark is saved only after a page has been durably handed on (enqueued in DBOS).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ledgerlink.connectors.salesforce import SalesforceClient
from ledgerlink.store import Ledger

EPOCH = "1970-01-01T00:00:00.000Z"


@dataclass(frozen=True)
class Position:
    modstamp: str  # SOQL datetime literal, e.g. 2024-01-01T00:00:00.000Z
    record_id: str

    def encode(self) -> str:
        return f"{self.modstamp}|{self.record_id}"

    @classmethod
    def decode(cls, text: str | None) -> Position:
        if not text:
            return cls(EPOCH, "")
        stamp, _, record_id = text.partition("|")
        return cls(stamp, record_id)


def soql_datetime(value: str) -> str:
    """Salesforce's JSON datetime (``2022-07-28T12:49:16.000+0000``) as a SOQL literal in UTC."""
    parsed = dt.datetime.strptime(value.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def incremental_soql(sobject: str, fields: list[str], where: str | None, since: Position, upper: str | None) -> str:
    resume = (
        f"(SystemModstamp = {since.modstamp} AND Id > '{since.record_id}') OR SystemModstamp > {since.modstamp}"
        if since.record_id
        else f"SystemModstamp > {since.modstamp}"
    )
    clauses = [f"({resume})"]
    if upper:
        clauses.append(f"SystemModstamp <= {upper}")
    if where:
        clauses.insert(0, f"({where})")
    columns = ", ".join(dict.fromkeys(["Id", "SystemModstamp", *fields]))
    return f"SELECT {columns} FROM {sobject} WHERE {' AND '.join(clauses)} ORDER BY SystemModstamp, Id"


@dataclass
class PollResult:
    seen: int = 0
    handed_on: int = 0
    watermark: str = ""


def poll(
    salesforce: SalesforceClient,
    ledger: Ledger,
    *,
    name: str,
    sobject: str,
    fields: list[str],
    where: str | None,
    hand_on: Callable[[list[dict[str, Any]]], int],
    lag_seconds: float = 5.0,
    now: dt.datetime | None = None,
) -> PollResult:
    """Read every record changed since the saved watermark, a page at a time, handing each page on before
    advancing the watermark; ``hand_on`` returns how many of the page it took."""
    since = Position.decode(ledger.get_watermark(name))
    upper = None
    if lag_seconds > 0:  # 0 means read everything committed so far (tests and the demo, where nothing lags)
        upper_dt = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=lag_seconds)
        upper = upper_dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    result = PollResult(watermark=since.encode())
    for page in _pages(salesforce, incremental_soql(sobject, fields, where, since, upper)):
        result.seen += len(page)
        result.handed_on += hand_on(page)
        last = page[-1]
        position = Position(soql_datetime(last["SystemModstamp"]), last["Id"])
        ledger.set_watermark(name, position.encode())
        result.watermark = position.encode()
    return result


def _pages(salesforce: SalesforceClient, soql: str) -> Iterator[list[dict[str, Any]]]:
    for page in salesforce.query_pages(soql):
        if page:
            yield page
