"""Completeness and timeliness: returns expected, received, accepted and on time, and cells filled.

The calendar says which returns are expected within a period; a return not yet due is not yet
missing. The rates are compared with the WHO data-quality review's thresholds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import numpy as np
import pandas as pd

from cpxl.catalogue import Catalogue, Period, parse_period
from cpxl.consolidation.inputs import Inputs, load_inputs, sub_periods, target_periods
from cpxl.store import Store, SubmissionRecord

COMPLETENESS_TARGET: Final = 90.0  # WHO data-quality review: completeness of reporting
TIMELINESS_TARGET: Final = 75.0  # WHO data-quality review: timeliness of reporting


# completeness(): one row per ministry x period x area. Area "00" is the ministry's whole
# return(s); a province row (for ministries with per-province data sets) counts that province's
# block: it is accepted only when the accepted return holds a value or code for the province.
# expected: returns the calendar expects within the period (a year of a quarterly data set is 4);
# expected_so_far: those due by `today` or already received; not_yet_due: the rest;
# received / accepted / on_time / late (by the first file's arrival) / missing (expected so far,
# not accepted) / needs_correction (received, not accepted); missing_returns: who is missing, in
# words; values_expected / values_present: input cells of the returns expected so far, and the
# numbers stored; completeness_rate = 100 accepted / expected_so_far; timeliness_rate = 100
# on_time / expected_so_far; cell_completeness = 100 values_present / values_expected;
# meets_completeness (>= 90 %) and meets_timeliness (>= 75 %): the WHO data-quality thresholds.
COMPLETENESS_COLUMNS: Final = (
    "ministry", "period", "area", "iso", "expected", "expected_so_far", "not_yet_due",
    "received", "accepted", "on_time", "late", "missing", "needs_correction", "missing_returns",
    "values_expected", "values_present", "completeness_rate", "timeliness_rate",
    "cell_completeness", "meets_completeness", "meets_timeliness",
)  # fmt: skip


def _columns_of(catalogue: Catalogue, element: str) -> int:
    """How many input cells an element has per area: margins plus the Total column."""
    el = catalogue.elements[element]
    if not el.by:
        return 1
    options = sum(len(catalogue.dimensions[d].options) for d in el.by if d in catalogue.dimensions)
    return options + (1 if el.total else 0)


def _kind_order(catalogue: Catalogue) -> list[str]:
    return [
        k for k in catalogue.period_types if any(d.period_type == k for d in catalogue.data_sets)
    ]


def expected_returns(catalogue: Catalogue, target: Period) -> dict[str, tuple[str, ...]]:
    """Ministry -> the returns (period ids) the calendar expects from it within a period."""
    out: dict[str, tuple[str, ...]] = {}
    kinds = _kind_order(catalogue)
    for ministry in catalogue.ministries:
        own = {d.period_type for d in catalogue.data_sets if d.ministry == ministry}
        ids = tuple(s for k in kinds if k in own for s in sub_periods(target, k))
        if ids:
            out[ministry] = ids
    return out


def _cells_expected(catalogue: Catalogue) -> dict[tuple[str, str], dict[str, int]]:
    """(ministry, period type) -> area -> input cells of its template."""
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for d in catalogue.data_sets:
        cells = out[(d.ministry, d.period_type)]
        for code in d.elements:
            n = _columns_of(catalogue, code)
            for area in catalogue.areas(catalogue.elements[code]):
                cells[area.code] += n
    return out


@dataclass(frozen=True, slots=True)
class _Return:
    """What the store knows of one expected return."""

    ministry: str
    period: str
    due: date
    received: bool
    accepted: bool
    late: bool
    latest_status: str
    first: SubmissionRecord | None
    current: SubmissionRecord | None
    latest: SubmissionRecord | None


def return_of(
    catalogue: Catalogue, submissions: Sequence[SubmissionRecord], ministry: str, period: str
) -> _Return:
    subs = [s for s in submissions if s.ministry == ministry and s.period == period]
    first = min(subs, key=lambda s: (s.received_at, s.id), default=None)
    latest = max(subs, key=lambda s: s.id, default=None)
    current = next((s for s in subs if s.is_current), None)
    late = first is not None and first.days_late is not None and first.days_late > 0
    return _Return(
        ministry=ministry,
        period=period,
        due=catalogue.due_date(ministry, parse_period(period)),
        received=bool(subs),
        accepted=current is not None,
        late=late,
        latest_status=latest.status if latest is not None else "",
        first=first,
        current=current,
        latest=latest,
    )


def completeness_table(
    inputs: Inputs, submissions: Sequence[SubmissionRecord], today: date
) -> pd.DataFrame:
    cat = inputs.catalogue
    by_key: dict[tuple[str, str], list[SubmissionRecord]] = defaultdict(list)
    for s in submissions:
        by_key[(s.ministry, s.period)].append(s)
    counts = inputs.counts()  # numbers and cells stored per return and area, from the store
    present: dict[tuple[str, str, str], int] = {}
    stored: dict[tuple[str, str, str], int] = {}
    for m, p, area, n_present, n_rows in zip(
        counts["ministry"].tolist(),
        counts["period"].tolist(),
        counts["area"].tolist(),
        counts["present"].tolist(),
        counts["rows"].tolist(),
        strict=True,
    ):
        # area "" holds a return's count over all its areas
        for key in ((str(m), str(p), str(area)), (str(m), str(p), "")):
            present[key] = present.get(key, 0) + int(n_present)
            stored[key] = stored.get(key, 0) + int(n_rows)
    cells = _cells_expected(cat)
    kinds = _kinds_of_periods(inputs)
    nat = cat.national.code
    iso = {nat: cat.national.iso} | {p.code: p.iso for p in cat.provinces}
    rows: list[dict[str, Any]] = []
    for t in inputs.targets:
        for ministry, periods in expected_returns(cat, t).items():
            returns = [return_of(cat, by_key[(ministry, p)], ministry, p) for p in periods]
            with_cells = {a for p in periods for a in cells[(ministry, kinds[p])]}
            areas = [nat] + [p.code for p in cat.provinces if p.code in with_cells]
            for area in areas:
                where = "" if area == nat else area
                figures = [
                    (
                        _cells_for(cells, ministry, kinds[r.period], area, nat),
                        present.get((ministry, r.period, where), 0),
                        stored.get((ministry, r.period, where), 0),
                    )
                    for r in returns
                ]
                rows.append(
                    _completeness_row(ministry, t.id, area, iso[area], returns, figures, today, nat)
                )
    frame = pd.DataFrame(rows, columns=list(COMPLETENESS_COLUMNS))
    return _completeness_rates(frame)


def _kinds_of_periods(inputs: Inputs) -> dict[str, str]:
    out: dict[str, str] = {}
    for t in inputs.targets:
        for k in inputs.catalogue.period_types:
            for s in sub_periods(t, k):
                out[s] = k
    return out


def _cells_for(
    cells: Mapping[tuple[str, str], Mapping[str, int]],
    ministry: str,
    kind: str,
    area: str,
    nat: str,
) -> int:
    by_area = cells.get((ministry, kind), {})
    return sum(by_area.values()) if area == nat else by_area.get(area, 0)


def _completeness_row(
    ministry: str,
    period: str,
    area: str,
    iso: str,
    returns: Sequence[_Return],
    figures: Sequence[tuple[int, int, int]],
    today: date,
    nat: str,
) -> dict[str, Any]:
    """One ministry, period and area: reports expected, in, usable, on time, and cells filled.

    ``figures`` holds, per return, the cells expected, the values present and the cells stored.
    """
    stored = {r.period: f[2] for r, f in zip(returns, figures, strict=True)}
    so_far = [r for r in returns if r.received or r.due < today]
    accepted = [r for r in so_far if r.accepted and (area == nat or stored[r.period] > 0)]
    missing = [r for r in so_far if r not in accepted]
    reasons = []
    for r in missing:
        if not r.received:
            why = "not received"
        elif not r.accepted:
            why = r.latest_status or "needs correction"
        else:
            why = "no values for this province"
        reasons.append(f"{r.period} {why}")
    return {
        "ministry": ministry,
        "period": period,
        "area": area,
        "iso": iso,
        "expected": len(returns),
        "expected_so_far": len(so_far),
        "not_yet_due": len(returns) - len(so_far),
        "received": sum(r.received for r in so_far),
        "accepted": len(accepted),
        "on_time": sum(r.received and not r.late for r in so_far),
        "late": sum(r.received and r.late for r in so_far),
        "missing": len(missing),
        "needs_correction": sum(r.received and not r.accepted for r in so_far),
        "missing_returns": "; ".join(reasons),
        "values_expected": sum(f[0] for r, f in zip(returns, figures, strict=True) if r in so_far),
        "values_present": sum(f[1] for r, f in zip(returns, figures, strict=True) if r in so_far),
    }


def _completeness_rates(frame: pd.DataFrame) -> pd.DataFrame:
    so_far = frame["expected_so_far"].astype("float64").replace(0.0, np.nan)
    cells = frame["values_expected"].astype("float64").replace(0.0, np.nan)
    frame["completeness_rate"] = 100.0 * frame["accepted"] / so_far
    frame["timeliness_rate"] = 100.0 * frame["on_time"] / so_far
    frame["cell_completeness"] = 100.0 * frame["values_present"] / cells
    frame["meets_completeness"] = (frame["completeness_rate"] >= COMPLETENESS_TARGET).astype(bool)
    frame["meets_timeliness"] = (frame["timeliness_rate"] >= TIMELINESS_TARGET).astype(bool)
    for c in ("ministry", "period", "area", "iso", "missing_returns"):
        frame[c] = frame[c].astype("str")
    for c in (*COMPLETENESS_COLUMNS[4:13], "values_expected", "values_present"):
        frame[c] = frame[c].astype("int64")
    return frame


def completeness(
    catalogue: Catalogue, store: Store, periods: Sequence[str], *, today: date | None = None
) -> pd.DataFrame:
    """Reports expected, received, accepted, on time and cells filled, per ministry and area."""
    inputs = load_inputs(catalogue, store, target_periods(periods))
    return completeness_table(inputs, store.submissions(), today or date.today())
