"""Change against the province's earlier periods: a warning that shows the history."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence

from cpxl.catalogue import Catalogue, Period, Rule, parse_period
from cpxl.findings import Code, Finding, Location, Stored, Value
from cpxl.numbers import format_number
from cpxl.reading import Submission

MAD_FLOOR = 0.1


def change_findings(
    submission: Submission, catalogue: Catalogue, history: Sequence[Stored]
) -> list[Finding]:
    """Each ruled total against up to three earlier periods of the same province."""
    rules = {r.element: r for r in catalogue.rules_of("change")}
    if not history or not rules:
        return []
    period = parse_period(submission.period)
    earlier: dict[str, bool] = {}
    series: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    # Plain loops: a return's history is a few hundred rows, where pandas' fixed costs dominate.
    for h in history:
        if h.ministry != submission.ministry or h.element not in rules or h.dimension:
            continue
        el, area, p, x = h.element, h.area, h.period, h.value
        if x is None or x != x:  # a missing-reason code: no figure to compare with
            continue
        key = str(p)
        if key not in earlier:
            earlier[key] = _before(key, period)
        if earlier[key]:
            series[(str(el), str(area))].append((key, float(x)))
    out: list[Finding] = []
    with_history = {element for element, _ in series}  # most of a return's values have none
    for v in submission.values:
        if v.element not in with_history or v.dimension or v.value is None:
            continue
        hist = series.get((v.element, v.area))
        if not hist:
            continue
        # Period ids of one type sort in time order: the last three are the latest three.
        latest = sorted(hist)[-3:]
        finding = _change_finding(rules[v.element], v, latest, submission)
        if finding is not None:
            out.append(finding)
    return out


def _before(period_id: str, period: Period) -> bool:
    try:
        return parse_period(period_id).end < period.start
    except ValueError:
        return False


def _change_finding(
    rule: Rule, v: Value, hist: Sequence[tuple[str, float]], submission: Submission
) -> Finding | None:
    current = float(v.value or 0)
    # Plain Python: three or four numbers per cell, where numpy's fixed costs dominate.
    xs = [x for _, x in hist]
    if max(*xs, current) < rule.min_value:
        return None  # small counts move by large shares without any data problem
    if len(xs) >= 3:
        med = statistics.median(xs)
        # With three or four points the median absolute deviation can be almost 0 by chance;
        # a floor of a tenth of the median keeps ordinary year-on-year noise from being an outlier.
        mad = max(statistics.median(abs(x - med) for x in xs), MAD_FLOOR * abs(med))
        if mad > 0:
            z = 0.6745 * (current - med) / mad
            if abs(z) > rule.outlier_z:
                return Finding.make(
                    Code.OUTLIER,
                    rule.severity,
                    _where(submission, v),
                    rule=rule.id,
                    seen=format_number(current),
                    history=_history_text(hist, submission.period, current),
                    z=f"{z:.1f}",
                )
    base = sum(xs) / len(xs)
    if base <= 0 or max(base, current) < rule.min_value:
        return None
    change = (current - base) / base
    if abs(change) > rule.threshold:
        return Finding.make(
            Code.CHANGE_TOO_LARGE,
            rule.severity,
            _where(submission, v),
            rule=rule.id,
            seen=format_number(current),
            history=_history_text(hist, submission.period, current),
            change=f"{change:+.0%}",
        )
    return None


def _where(submission: Submission, v: Value) -> Location:
    return Location(file=submission.file, sheet=v.sheet, cell=v.cell)


def _history_text(hist: Sequence[tuple[str, float]], period: str, current: float) -> str:
    """The figures the warning is about, earliest first: "2022: 10, 2023: 12, 2024: 40"."""
    shown = [f"{p}: {format_number(x)}" for p, x in hist]
    return ", ".join([*shown, f"{period}: {format_number(current)}"])
