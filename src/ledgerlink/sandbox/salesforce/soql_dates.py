"""SOQL relative date literals (TODAY, LAST_N_DAYS:n, …) as half-open [start, end) date ranges.

The org's time zone is UTC. Weeks start on Sunday and quarters are calendar quarters (no fiscal year set-up).
``LAST_N_DAYS:n`` runs from n days ago up to the end of today; ``NEXT_N_DAYS:n`` from today through n days ahead.
"""

from __future__ import annotations

import datetime as dt


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def date_range(name: str, n: int | None, today: dt.date) -> tuple[dt.date, dt.date]:
    one = dt.timedelta(days=1)
    week_start = today - dt.timedelta(days=(today.weekday() + 1) % 7)  # Sunday
    month_start = today.replace(day=1)
    quarter_start = dt.date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    year_start = dt.date(today.year, 1, 1)
    k = n or 0
    fixed: dict[str, tuple[dt.date, dt.date]] = {
        "TODAY": (today, today + one),
        "YESTERDAY": (today - one, today),
        "TOMORROW": (today + one, today + 2 * one),
        "THIS_WEEK": (week_start, week_start + 7 * one),
        "LAST_WEEK": (week_start - 7 * one, week_start),
        "NEXT_WEEK": (week_start + 7 * one, week_start + 14 * one),
        "THIS_MONTH": (month_start, _add_months(month_start, 1)),
        "LAST_MONTH": (_add_months(month_start, -1), month_start),
        "NEXT_MONTH": (_add_months(month_start, 1), _add_months(month_start, 2)),
        "THIS_QUARTER": (quarter_start, _add_months(quarter_start, 3)),
        "LAST_QUARTER": (_add_months(quarter_start, -3), quarter_start),
        "NEXT_QUARTER": (_add_months(quarter_start, 3), _add_months(quarter_start, 6)),
        "THIS_YEAR": (year_start, year_start.replace(year=today.year + 1)),
        "LAST_YEAR": (year_start.replace(year=today.year - 1), year_start),
        "NEXT_YEAR": (year_start.replace(year=today.year + 1), year_start.replace(year=today.year + 2)),
        "LAST_90_DAYS": (today - 90 * one, today + one),
        "NEXT_90_DAYS": (today, today + 91 * one),
        "LAST_N_DAYS": (today - k * one, today + one),
        "NEXT_N_DAYS": (today, today + (k + 1) * one),
        "N_DAYS_AGO": (today - k * one, today - (k - 1) * one),
        "LAST_N_WEEKS": (week_start - 7 * k * one, week_start),
        "NEXT_N_WEEKS": (week_start + 7 * one, week_start + 7 * (k + 1) * one),
        "N_WEEKS_AGO": (week_start - 7 * k * one, week_start - 7 * (k - 1) * one),
        "LAST_N_MONTHS": (_add_months(month_start, -k), month_start),
        "NEXT_N_MONTHS": (_add_months(month_start, 1), _add_months(month_start, k + 1)),
        "N_MONTHS_AGO": (_add_months(month_start, -k), _add_months(month_start, -k + 1)),
        "LAST_N_YEARS": (year_start.replace(year=today.year - k), year_start),
        "NEXT_N_YEARS": (year_start.replace(year=today.year + 1), year_start.replace(year=today.year + k + 1)),
        "N_YEARS_AGO": (year_start.replace(year=today.year - k), year_start.replace(year=today.year - k + 1)),
    }
    return fixed[name]
