"""Anomalies in the data flowing through, each with an explanation. Statistics only (robust z-scores over each
customer's and product's own history, and over a flow's hourly volume): no model to download, nothing to train,
and every alarm can say which history it left and by how much.

- ``amount_outlier``: an invoice total far above its customer's history (log scale: amounts are multiplicative),
  judged on pooled evidence: the customer's few invoices shrunk toward every customer's, and what the invoice's
  lines come to at their products' usual prices;
- ``unit_price_outlier``: a line's unit price far from what that product usually sells for (a typo, a wrong unit);
- ``near_duplicate``: the same customer, amount and issue date as another invoice;
- ``non_positive_line``: a line with a zero or negative quantity or amount;
- ``volume_spike`` / ``volume_drop``: an hour's record count far outside the flow's usual hours;
- ``failure_rate_jump``: the share failing in the latest window far above the usual share.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerlink.intelligence.sorted_window import SortedWindow

# A robust z (median and MAD) above this is an anomaly. The MAD is scaled to a standard deviation (×1.4826).
Z_LIMIT = 5.0
MIN_HISTORY = 5  # fewer past values than this say too little about what is usual
MIN_SPREAD = 0.25  # log-scale floor for the MAD: a customer always billed the same doesn't alarm on +30%
AMOUNT_Z_LIMIT = 3.0  # with the range test below; a customer's totals spread widely, so z alone is weak
RANGE_MARGIN = math.log(5)  # an invoice total must also be 5× beyond the customer's largest (or smallest) before
# A customer with few invoices says little about its usual: its median and spread are shrunk toward all customers'
# as if the population were this many invoices of its own (empirical Bayes in its simplest form).
SHRINK_INVOICES = 10
UNEXPLAINED_MARGIN = math.log(5)  # a total 5× what its lines come to at their products' usual prices
POPULATION_WINDOW = 5000  # the latest totals of all customers (bounded: a long-running worker)
CUSTOMER_WINDOW = 200


@dataclass(frozen=True)
class Line:
    product: str | None
    quantity: float
    unit_price: float

    @property
    def amount(self) -> float:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class InvoiceSeen:
    id: str
    customer: str
    issue_date: str  # ISO date
    lines: tuple[Line, ...]

    @property
    def total(self) -> float:
        return round(sum(line.amount for line in self.lines), 2)


@dataclass(frozen=True)
class Anomaly:
    rule: str
    subject: str  # the invoice id, or the flow
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


def invoice_seen(record_id: str, customer: str, invoice: dict[str, Any]) -> InvoiceSeen:
    """From a canonical invoice as JSON (``lines`` with ``quantity``, ``unit_price``, ``product_code``)."""
    lines = tuple(
        Line(
            str(line.get("product_code") or line.get("description") or "") or None,
            float(Decimal(str(line.get("quantity") or 0))),
            float(Decimal(str(line.get("unit_price") or 0))),
        )
        for line in invoice.get("lines") or []
    )
    return InvoiceSeen(record_id, customer, str(invoice.get("issue_date") or ""), lines)


def robust_z(value: float, history: Sequence[float] | SortedWindow, floor: float = 0.0) -> float:
    median, mad = _median_mad(history)
    return (value - median) / max(mad, floor, 1e-9)


def _log(x: float) -> float:
    return math.log(max(x, 0.01))


def _median_mad(values: Sequence[float] | SortedWindow) -> tuple[float, float]:
    if isinstance(values, SortedWindow):  # the same figures without sorting the history again
        median, mad = values.median_mad()
        return median, mad * 1.4826
    median = statistics.median(values)
    return median, statistics.median(abs(v - median) for v in values) * 1.4826


def pooled_z(
    value: float, own: Sequence[float] | SortedWindow, population: Sequence[float] | SortedWindow
) -> tuple[float, float]:
    """(z, centre): ``value`` against the customer's log totals shrunk toward the population's. With five invoices
    the population weighs twice the customer; with fifty the customer dominates."""
    median, mad = _median_mad(own)
    if len(population) >= MIN_HISTORY:
        pmedian, pmad = _median_mad(population)
        n, k = len(own), SHRINK_INVOICES
        median = (n * median + k * pmedian) / (n + k)
        mad = math.sqrt((n * mad**2 + k * pmad**2) / (n + k))
    return (value - median) / max(mad, MIN_SPREAD), median


class InvoiceWatch:
    """Invoices in the order they flow; ``check`` explains what is odd about one against those seen before it,
    then remembers it."""

    def __init__(self) -> None:
        self.by_customer: dict[str, SortedWindow] = defaultdict(lambda: SortedWindow(CUSTOMER_WINDOW))  # log totals
        self.population = SortedWindow(POPULATION_WINDOW)  # log totals, all customers
        self.by_product: dict[str, SortedWindow] = defaultdict(SortedWindow)  # log unit prices
        self.seen: dict[tuple[str, str, float], str] = {}  # (customer, date, total) -> invoice id

    def check(self, inv: InvoiceSeen) -> list[Anomaly]:
        found: list[Anomaly] = []
        for n, line in enumerate(inv.lines, 1):
            if line.quantity <= 0 or line.amount <= 0:
                found.append(
                    Anomaly(
                        "non_positive_line",
                        inv.id,
                        f"invoice {inv.id}: line {n} ({line.product or 'no product'}) has quantity {line.quantity:g} "
                        f"and amount {line.amount:.2f}",
                        {"line": n},
                    )
                )
        key = (inv.customer, inv.issue_date, inv.total)
        if key in self.seen and self.seen[key] != inv.id:
            found.append(
                Anomaly(
                    "near_duplicate",
                    inv.id,
                    f"invoice {inv.id} has the same customer, amount ({inv.total:.2f}) and date ({inv.issue_date}) "
                    f"as invoice {self.seen[key]}",
                    {"other": self.seen[key]},
                )
            )
        history = self.by_customer[inv.customer]
        if inv.total > 0 and len(history) >= MIN_HISTORY:
            amount = self._amount(inv, history)
            if amount is not None:
                found.append(amount)
        for n, line in enumerate(inv.lines, 1):
            prices = self.by_product[line.product or ""]
            if line.product and line.unit_price > 0 and len(prices) >= MIN_HISTORY:
                z = robust_z(_log(line.unit_price), prices, MIN_SPREAD)
                if abs(z) > Z_LIMIT:
                    usual = math.exp(prices.median())
                    found.append(
                        Anomaly(
                            "unit_price_outlier",
                            inv.id,
                            f"invoice {inv.id}: line {n} sells {line.product} at {line.unit_price:.2f}; it usually "
                            f"sells at {usual:.2f}",
                            {"line": n, "unit_price": line.unit_price, "usual": round(usual, 2)},
                        )
                    )
        self.seen.setdefault(key, inv.id)
        if inv.total > 0:
            history.append(_log(inv.total))
            self.population.append(_log(inv.total))
        for line in inv.lines:
            if line.product and line.unit_price > 0:
                self.by_product[line.product].append(_log(line.unit_price))
        return found

    def _expected(self, inv: InvoiceSeen) -> float | None:
        """What the lines come to at their products' usual unit prices; None when a product has too little history
        (then nothing can be said about the prices)."""
        total = 0.0
        for line in inv.lines:
            prices = self.by_product.get(line.product or "")
            if not prices or len(prices) < MIN_HISTORY:
                return None
            total += max(line.quantity, 0.0) * math.exp(prices.median())
        return total

    def _amount(self, inv: InvoiceSeen, history: SortedWindow) -> Anomaly | None:
        """A total far above the customer's history. Two kinds of evidence, either enough:
        - far above the customer's usual (pooled with all customers') *and* 5× above anything billed to them
          before: a customer's deals vary a lot (a storage plan, then an implementation), so the usual alone alarms
          on ordinary months; only upwards, a small invoice costs little if wrong;
        - above anything billed to them before *and* 5× what the lines come to at their products' usual prices:
          the amount is not explained by what was sold (a misplaced decimal point, a wrong line total)."""
        value = _log(inv.total)
        z, centre = pooled_z(value, history, self.population)
        largest = history.max()
        expected = self._expected(inv)
        unexplained = expected is not None and expected > 0 and value > _log(expected) + UNEXPLAINED_MARGIN
        if not ((z > AMOUNT_Z_LIMIT and value > largest + RANGE_MARGIN) or (value > largest and unexplained)):
            return None
        usual = math.exp(history.median())
        why = f"{math.exp(value - history.median()):.0f}× more, over {len(history)} invoices"
        if unexplained and expected is not None:
            why += f"; its lines at their products' usual prices come to {expected:.2f}"
        return Anomaly(
            "amount_outlier",
            inv.id,
            f"invoice {inv.id}: {inv.total:.2f} for customer {inv.customer}, who is usually invoiced about "
            f"{usual:.2f} ({why})",
            {
                "total": inv.total,
                "usual": round(usual, 2),
                "z": round(z, 1),
                "pooled_usual": round(math.exp(centre), 2),
                "expected_from_prices": round(expected, 2) if expected is not None else None,
            },
        )


def check_invoices(invoices: Iterable[InvoiceSeen]) -> list[Anomaly]:
    watch = InvoiceWatch()
    return [a for inv in invoices for a in watch.check(inv)]


def check_volume(flow: str, hourly: Sequence[int], min_history: int = 24) -> Anomaly | None:
    """The last hour's count against the hours before it (square roots: counts are Poisson-like)."""
    if len(hourly) <= min_history:
        return None
    *history, last = hourly
    roots = [math.sqrt(c) for c in history]
    z = robust_z(math.sqrt(last), roots, floor=1.0)
    if abs(z) <= Z_LIMIT:
        return None
    usual = statistics.median(history)
    rule = "volume_spike" if z > 0 else "volume_drop"
    return Anomaly(
        rule,
        flow,
        f"flow {flow}: {last} records in the last hour, against about {usual:g} an hour usually "
        f"(over {len(history)} hours)",
        {"last": last, "usual": usual, "z": round(z, 1)},
    )


def check_failure_rate(
    flow: str, window: tuple[int, int], before: tuple[int, int], min_failed: int = 3
) -> Anomaly | None:
    """``window`` and ``before``: (failed, done) in the latest window and in the usual period before it."""
    failed, done = window
    usual_failed, usual_done = before
    if failed < min_failed or failed + done == 0:
        return None
    rate = failed / (failed + done)
    usual = (usual_failed + 1) / (usual_failed + usual_done + 2)  # Laplace: a clean history isn't a zero rate
    if rate < max(3 * usual, usual + 0.1):
        return None
    return Anomaly(
        "failure_rate_jump",
        flow,
        f"flow {flow}: {rate:.0%} of records failed in the latest window ({failed} of {failed + done}), "
        f"against {usual:.0%} before",
        {"rate": round(rate, 3), "usual": round(usual, 3)},
    )
