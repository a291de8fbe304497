"""The months and working days the demo covers.

Everything in the simulation is indexed by month number ``t`` (0 = first month), so the
entity arrays stay plain numpy matrices; this module turns those indices back into dates.
Orders, visits and plans only fall on working days (Mon–Fri, Russian public holidays off),
as they would in a real distributor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

# Non-working public holidays (month, day): New Year week, 23 Feb, 8 Mar, 1 and 9 May, 12 Jun, 4 Nov.
HOLIDAYS = frozenset(
    [(1, d) for d in range(1, 9)] + [(2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)]
)


def default_end_month(today: date | None = None) -> str:
    """The last complete month before ``today``: a demo never holds a half month."""
    today = today or date.today()
    first = pd.Period(today, freq="M") - 1
    return str(first)


@dataclass(frozen=True)
class Timeline:
    """``months[t]`` for t in 0..n-1 and every working day with its month index."""

    months: pd.PeriodIndex
    days: pd.DataFrame  # date, t, weekday (0=Mon), parity (week number mod 2), occurrence (n-th weekday)

    @classmethod
    def build(cls, end_month: str, n_months: int) -> Timeline:
        end = pd.Period(end_month, freq="M")
        months = pd.period_range(end=end, periods=n_months, freq="M")
        dates = pd.date_range(months[0].start_time, months[-1].end_time.normalize(), freq="D")
        holiday = np.array([(d.month, d.day) in HOLIDAYS for d in dates])
        work = (dates.day_of_week < 5) & ~holiday
        dates = dates[work]
        t = (dates.year - months[0].year) * 12 + (dates.month - months[0].month)
        days = pd.DataFrame({
            "date": dates,
            "t": np.asarray(t, dtype=np.int64),
            "weekday": np.asarray(dates.day_of_week, dtype=np.int64),
            # Week number since the epoch, so "every other week" does not jump at New Year.
            "parity": np.asarray((dates.asi8 // 86_400_000_000_000 + 3) // 7 % 2, dtype=np.int64),
            "occurrence": np.asarray((dates.day - 1) // 7, dtype=np.int64),
        })
        return cls(months=months, days=days)

    @property
    def n(self) -> int:
        return len(self.months)

    def label(self, t: int) -> str:
        """``YYYY-MM`` of month ``t``."""
        return str(self.months[t])

    def start(self, t: int) -> pd.Timestamp:
        return self.months[t].start_time

    def end(self, t: int) -> pd.Timestamp:
        """Last calendar day of month ``t`` (midnight)."""
        return self.months[t].end_time.normalize()

    def month_of(self, dates: pd.Series) -> np.ndarray:
        """Month index of each date (dates outside the range give indices outside 0..n-1)."""
        d = pd.DatetimeIndex(dates)
        return np.asarray((d.year - self.months[0].year) * 12 + (d.month - self.months[0].month))
