"""Reporting periods as DHIS2-style ids (``2025``, ``2025S1``, ``2025Q1``, ``202503``).

An id is all a workbook, a file name or the store carries; parsing it gives the dates that due
dates, closed periods and consolidation compare.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from cpxl.errors import UsageError


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A reporting period: ``2025``, ``2025S1``, ``2025Q1`` or ``202503``."""

    start: date
    end: date
    id: str = field(compare=False)
    type: str = field(compare=False)

    @property
    def year(self) -> int:
        """The calendar year the period falls in."""
        return self.start.year

    def contains(self, other: Period) -> bool:
        """True when ``other`` lies within this period."""
        return self.start <= other.start and other.end <= self.end

    def previous(self) -> Period:
        """The period of the same type just before this one."""
        return period_containing(self.start - timedelta(days=1), self.type)


_PERIOD = re.compile(r"^(\d{4})(?:(Q)([1-4])|(S)([12])|(0[1-9]|1[0-2]))?$")


class PeriodError(UsageError, ValueError):
    """Text that is not a period id; still a ValueError for callers that test a string."""


def parse_period(text: str) -> Period:
    """Parse a DHIS2-style period id; raise PeriodError for anything else."""
    m = _PERIOD.match(text.strip())
    if not m:
        raise PeriodError(f"not a period: {text!r} (write 2025, 2025S1, 2025Q1 or 202503)")
    year = int(m.group(1))
    if m.group(2):
        q = int(m.group(3))
        start, months, kind = date(year, 3 * q - 2, 1), 3, "quarterly"
    elif m.group(4):
        s = int(m.group(5))
        start, months, kind = date(year, 6 * s - 5, 1), 6, "semiannual"
    elif m.group(6):
        start, months, kind = date(year, int(m.group(6)), 1), 1, "monthly"
    else:
        start, months, kind = date(year, 1, 1), 12, "annual"
    end_month = start.month + months
    end_year = year + (end_month - 1) // 12
    end = date(end_year, (end_month - 1) % 12 + 1, 1) - timedelta(days=1)
    return Period(start, end, text.strip(), kind)


def period_containing(day: date, kind: str) -> Period:
    """The period of type ``kind`` that contains ``day``."""
    y, m = day.year, day.month
    ids = {
        "annual": f"{y}",
        "semiannual": f"{y}S{1 if m <= 6 else 2}",
        "quarterly": f"{y}Q{(m - 1) // 3 + 1}",
        "monthly": f"{y}{m:02d}",
    }
    return parse_period(ids[kind])
