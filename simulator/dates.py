"""Calendar arithmetic on day numbers (days since 1970-01-01, int64), vectorised.

The simulator works in whole days: subscription dates are days, month m of the history is
the half-open range [month_start(m), month_start(m + 1)).
"""

from __future__ import annotations

from datetime import date

import numpy as np

EPOCH = date(1970, 1, 1)
US_PER_DAY = 86_400_000_000


def day_number(value: date) -> int:
    return (value - EPOCH).days


def to_date(day: int) -> date:
    return date.fromordinal(EPOCH.toordinal() + int(day))


def add_months(days: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """``days`` moved by ``months`` calendar months, the day of month clipped to the month's end
    (Jan 31 + 1 month = Feb 28/29), as day numbers."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    dom = (d - m.astype("datetime64[D]")).astype(np.int64)
    target = m + np.asarray(months, dtype=np.int64)
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    return (target.astype("datetime64[D]").astype(np.int64) + np.minimum(dom, length - 1)).astype(
        np.int64
    )


def month_starts(start: date, count: int) -> np.ndarray:
    """Day numbers of the first day of months 0 .. count (count + 1 values)."""
    first = np.datetime64(start, "M")
    months = first + np.arange(count + 1)
    return months.astype("datetime64[D]").astype(np.int64)


def weekday(days: np.ndarray) -> np.ndarray:
    """0 = Monday .. 6 = Sunday (1970-01-01 was a Thursday)."""
    return (np.asarray(days, dtype=np.int64) + 3) % 7
