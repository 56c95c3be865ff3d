"""Who to chase today: per ministry expected for a period, what arrived and what is missing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from cpxl.catalogue import Catalogue, Period, parse_period
from cpxl.consolidation.completeness import return_of
from cpxl.consolidation.inputs import sub_periods
from cpxl.findings import Severity
from cpxl.store import Store


@dataclass(frozen=True, slots=True)
class MinistryStatus:
    """Where one ministry's return for a period stands."""

    ministry: str
    name_en: str
    name_km: str
    period: str  # the return's own period: the one asked for, or a quarter or half-year in it
    expected: bool
    received: bool
    accepted: bool
    status: str
    due: date
    days_late: int | None
    missing: str  # "" | "not-received" | "needs-correction"
    open_warnings: int
    file: str

    def to_dict(self) -> dict[str, Any]:
        """The machine shape printed by ``--json``."""
        return {
            "ministry": self.ministry,
            "name_en": self.name_en,
            "name_km": self.name_km,
            "period": self.period,
            "expected": self.expected,
            "received": self.received,
            "accepted": self.accepted,
            "status": self.status,
            "due": self.due.isoformat(),
            "days_late": self.days_late,
            "missing": self.missing,
            "open_warnings": self.open_warnings,
            "file": self.file,
        }


STATUS_REPORT_COLUMNS: Final = (
    "ministry", "period", "expected", "received", "accepted", "status", "due", "days_late",
    "missing", "open_warnings", "file",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class StatusReport:
    """The data officer's list for one period: who sent what, and whom to chase today."""

    period: str
    today: date
    ministries: tuple[MinistryStatus, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        """Ministries to chase: nothing received when due, or a return that needs correction."""
        return tuple(dict.fromkeys(m.ministry for m in self.ministries if m.missing))

    @property
    def exit_code(self) -> int:
        """0 when nothing is overdue or waiting for correction, 1 when someone is to chase."""
        return 1 if self.missing else 0

    def to_dict(self) -> dict[str, Any]:
        """The machine shape printed by ``--json``."""
        return {
            "period": self.period,
            "today": self.today.isoformat(),
            "ministries": [m.to_dict() for m in self.ministries],
            "missing": list(self.missing),
        }

    def cells(self) -> list[tuple[str, ...]]:
        """One tuple of texts per ministry, in STATUS_REPORT_COLUMNS order."""
        return [
            (
                m.ministry,
                m.period,
                "yes" if m.expected else "no",
                "yes" if m.received else "no",
                "yes" if m.accepted else "no",
                m.status,
                m.due.isoformat(),
                "" if m.days_late is None else str(m.days_late),
                m.missing,
                str(m.open_warnings),
                m.file,
            )
            for m in self.ministries
        ]

    def rows(self) -> list[str]:
        """The lines a terminal shows: a header, then one aligned line per ministry."""
        table = [STATUS_REPORT_COLUMNS, *self.cells()]
        widths = [max(len(r[j]) for r in table) for j in range(len(STATUS_REPORT_COLUMNS))]
        return [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table
        ]


def status_report(
    catalogue: Catalogue, store: Store, period: str, *, today: date | None = None
) -> StatusReport:
    """Per ministry and return due in a period (the period itself, and every half-year, quarter
    or month in it that a data set is reported for): received, accepted, late, missing, open
    warnings. A year's status thus shows a quarterly return 476 days overdue."""
    target = parse_period(period)
    day = today or date.today()
    out: list[MinistryStatus] = []
    for kind in ("annual", "semiannual", "quarterly", "monthly"):
        for pid in sub_periods(target, kind):
            out.extend(_statuses(catalogue, store, parse_period(pid), day))
    return StatusReport(target.id, day, tuple(out))


def _statuses(catalogue: Catalogue, store: Store, p: Period, day: date) -> list[MinistryStatus]:
    subs = store.submissions(p.id)
    out: list[MinistryStatus] = []
    for code in catalogue.reporting_ministries(p):
        r = return_of(catalogue, subs, code, p.id)
        ministry = catalogue.ministries[code]
        if r.current is not None:
            status, missing = r.current.status, ""
        elif r.received:
            status, missing = r.latest_status, "needs-correction"
        elif day > r.due:
            status, missing = "not-received", "not-received"
        else:
            status, missing = "not-yet-due", ""
        if r.first is not None:
            days_late: int | None = max(r.first.days_late or 0, 0)
        else:
            days_late = (day - r.due).days if day > r.due else None
        warnings = 0
        if r.current is not None:
            warnings = sum(f.severity == Severity.WARNING for f in store.findings_of(r.current.id))
        latest = r.current or r.latest
        out.append(
            MinistryStatus(
                ministry=code,
                name_en=ministry.name.en,
                name_km=ministry.name.km,
                period=p.id,
                expected=True,
                received=r.received,
                accepted=r.accepted,
                status=status,
                due=r.due,
                days_late=days_late,
                missing=missing,
                open_warnings=warnings,
                file=latest.name_received if latest is not None else "",
            )
        )
    return out
