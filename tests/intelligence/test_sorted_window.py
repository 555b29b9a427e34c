"""SortedWindow gives the invoice watch the same median and MAD as ``statistics.median`` over the same window."""

from __future__ import annotations

import random
import statistics
from collections import deque

import pytest

from ledgerlink.intelligence.sorted_window import SortedWindow


@pytest.mark.parametrize("maxlen", [None, 1, 2, 5, 40])
def test_median_and_mad_match_statistics_as_the_window_slides(maxlen: int | None) -> None:
    rng = random.Random(maxlen or 0)
    window, reference = SortedWindow(maxlen), deque[float](maxlen=maxlen)
    for n in range(150):  # ties (whole numbers) and spread values, odd and even lengths, evictions
        value = float(rng.randint(0, 4)) if n % 3 else rng.gauss(5, 2)
        window.append(value)
        reference.append(value)
        median = statistics.median(reference)
        assert window.median_mad() == (median, statistics.median(abs(v - median) for v in reference))
        assert window.max() == max(reference)
        assert list(window) == list(reference)


def test_empty_window_has_no_median() -> None:
    with pytest.raises(statistics.StatisticsError):
        SortedWindow().median()
