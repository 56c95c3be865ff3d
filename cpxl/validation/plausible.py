"""Plausibility: figures against declared reference values, and stocks and shares over time.

Three rule kinds, each a warning that shows the figure it was compared with:

- ``reference``: a figure (or the sum of a return's provinces) against a reference value the
  catalogue declares with its source (NIS child population, the last survey's estimate);
- ``continuity``: an opening stock against the previous period's closing stock in the store;
- ``share``: a part's share of a whole against the previous period's share in the store.

Each rule is one named pandera ``Check`` over a small table of (rule, area) rows, as for the
other kinds, validated lazily; the rows pandera reports failing become findings at the
sender's cells.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pandera.pandas as pa

from cpxl.catalogue import Catalogue, Expression, Ref, Rule, parse_period
from cpxl.findings import Code, Finding, Location, Stored
from cpxl.numbers import format_number
from cpxl.reading import Submission
from cpxl.templates import column_key
from cpxl.validation.tables import Wide, failures, named, place, ref_key


@dataclass(frozen=True, slots=True)
class _Row:
    """One comparison: a rule, the area it is about, the figure and the figure it is held to."""

    rule: Rule
    area: str
    seen: float
    base: float
    allowed: float


def _within(number: int) -> Callable[[pd.DataFrame], pd.Series]:
    """The rows of one rule: the figure within ``allowed`` of its base."""

    def check(df: pd.DataFrame) -> pd.Series:
        mine = df["check"].to_numpy() == number
        gap = np.abs(df["seen"].to_numpy(float) - df["base"].to_numpy(float))
        return pd.Series(~mine | (gap <= df["allowed"].to_numpy(float) + 1e-9), index=df.index)

    return check


@lru_cache(maxsize=256)
def _schema(rules: tuple[Rule, ...]) -> pa.DataFrameSchema:
    """One named check per rule, as for the other kinds (cached: a run meets few rule sets)."""
    return pa.DataFrameSchema(checks=[named(r, _within(i)) for i, r in enumerate(rules)])


def _failing(rows: Sequence[_Row]) -> list[_Row]:
    """The rows whose figure is further from its base than allowed, checked by pandera."""
    if not rows:
        return []
    rules = tuple(dict.fromkeys(r.rule for r in rows))
    number = {rule.id: i for i, rule in enumerate(rules)}
    table = pd.DataFrame(
        {
            "check": [number[r.rule.id] for r in rows],
            "seen": [r.seen for r in rows],
            "base": [r.base for r in rows],
            "allowed": [r.allowed for r in rows],
        }
    )
    return [rows[row] for _, row in failures(_schema(rules), table)]


def _own(submission: Submission) -> frozenset[str]:
    return frozenset(c.element for s in submission.layout.sheets for c in s.columns)


def _percent(x: float) -> str:
    return f"{format_number(round(x, 1))} %"


# ---------------------------------------------------------------------------------------------
# reference: against a declared value, from the return alone


def check_references(
    submission: Submission, catalogue: Catalogue, w: Wide | None = None
) -> list[Finding]:
    """Each ``reference`` rule on this return's figures, as warnings naming the source.

    ``w`` is the return as a matrix when the caller has already built it.
    """
    own = _own(submission)
    rules = [r for r in catalogue.rules_of("reference") if r.element in own]
    if not rules:
        return []
    w = w if w is not None else place(submission.values).wide
    rows: list[_Row] = []
    for rule in rules:
        assert rule.reference is not None
        key = column_key(rule.element)
        column = w.column(key)
        if rule.over == "provinces":
            # the country only when every province's figure is in: a partial sum is no total
            cells = column[w.has(key)]
            if len(cells) and not np.isnan(cells).any():
                rows.append(_Row(rule, "", float(cells.sum()), rule.reference, 0.0))
            continue
        rows.extend(
            _Row(rule, area, float(x), rule.reference, 0.0)
            for area, x in zip(w.areas, column, strict=True)
            if not math.isnan(x)
        )
    rows = [_Row(r.rule, r.area, r.seen, r.base, r.rule.allowed(r.base)) for r in rows]
    return [_reference_finding(row, w, submission.file, catalogue) for row in _failing(rows)]


def _reference_finding(row: _Row, w: Wide, file: str, catalogue: Catalogue) -> Finding:
    rule, key = row.rule, column_key(row.rule.element)
    is_year = catalogue.elements[rule.element].value_type == "year"
    number = (lambda x: f"{x:.0f}") if is_year else format_number
    if row.area:
        sheet, cell = w.cells.get((row.area, key), ("", ""))
        cells = cell
    else:  # the sum of every province: the whole column
        found = [w.cells[(a, key)] for a in w.areas if (a, key) in w.cells]
        sheet, cell = found[0] if found else ("", "")
        cells = f"{found[0][1]}:{found[-1][1]}" if found else ""
    return Finding.make(
        Code.TOTAL_FAR_FROM_REFERENCE if not row.area else Code.FAR_FROM_REFERENCE,
        rule.severity,
        Location(file=file, sheet=sheet, cell=cell),
        rule=rule.id,
        seen=number(row.seen),
        expected=number(row.base),
        cells=cells,
        reference=number(row.base),
        allowed=format_number(row.allowed),
        source_en=rule.source.en,
        source_km=rule.source.km,
    )


# ---------------------------------------------------------------------------------------------
# continuity and share: against the previous period in the store


def history_elements(catalogue: Catalogue, elements: Iterable[str]) -> frozenset[str]:
    """Elements whose earlier periods' totals the store checks of a return need.

    For a return asking for ``elements``: change rules read their own element, continuity
    rules the previous period's closing stock, share rules both sides of the share.
    """
    own = frozenset(elements)
    out = {r.element for r in catalogue.rules_of("change") if r.element in own}
    out |= {r.previous for r in catalogue.rules_of("continuity") if r.element in own}
    for r in catalogue.rules_of("share"):
        refs = _share_refs(r)
        if refs <= own:
            out |= refs
    return frozenset(out)


def _share_refs(rule: Rule) -> set[str]:
    assert rule.left is not None and rule.right is not None
    return {r.element for r in (*rule.left.refs, *rule.right.refs)}


def _previous_totals(
    history: Sequence[Stored], period: str, elements: set[str]
) -> dict[tuple[str, str], float]:
    """(element, area) -> the previous period's total, from the store's history."""
    before = parse_period(period).previous().id
    out: dict[tuple[str, str], float] = {}
    for h in history:
        if h.element not in elements or h.period != before or h.dimension:
            continue
        if h.value is None or h.value != h.value:  # a missing-reason code: no figure
            continue
        out[(h.element, h.area)] = float(h.value)
    return out


def check_over_time(
    submission: Submission, catalogue: Catalogue, history: Sequence[Stored]
) -> list[Finding]:
    """Continuity of stocks and stability of shares against the previous period."""
    own = _own(submission)
    continuity = [r for r in catalogue.rules_of("continuity") if r.element in own]
    shares = [r for r in catalogue.rules_of("share") if _share_refs(r) <= own]
    if not history or not (continuity or shares):
        return []
    needed = {r.previous for r in continuity} | set().union(*(_share_refs(r) for r in shares))
    before = _previous_totals(history, submission.period, needed)
    if not before:
        return []
    w = place(submission.values).wide
    out: list[Finding] = []
    rows: list[_Row] = []
    for rule in continuity:
        column = w.column(column_key(rule.element))
        for area, x in zip(w.areas, column, strict=True):
            closing = before.get((rule.previous, area))
            if closing is not None and not math.isnan(x):
                rows.append(_Row(rule, area, float(x), closing, rule.allowed(closing)))
    out.extend(_continuity_finding(row, w, submission) for row in _failing(rows))
    rows = []
    for rule in shares:
        assert rule.left is not None and rule.right is not None
        refs = (*rule.left.refs, *rule.right.refs)
        for area in w.areas:
            now = _share(rule.left, rule.right, {r: _now(w, area, r) for r in refs})
            then = _share(rule.left, rule.right, {r: before.get((r.element, area)) for r in refs})
            if now is not None and then is not None:
                rows.append(_Row(rule, area, now, then, rule.tolerance))
    out.extend(_share_finding(row, w, submission) for row in _failing(rows))
    return out


def _now(w: Wide, area: str, ref: Ref) -> float | None:
    x = float(w.only({area}).column(ref_key(ref))[0]) if area in w.areas else math.nan
    return None if math.isnan(x) else x


def _share(left: Expression, right: Expression, lookup: Mapping[Ref, float | None]) -> float | None:
    """100 x left / right, or None when either side is missing or the whole is 0."""
    part = left.evaluate(lookup, any_missing=True)
    whole = right.evaluate(lookup, any_missing=True)
    if part is None or whole is None or whole <= 0:
        return None
    return 100 * part / whole


def _continuity_finding(row: _Row, w: Wide, submission: Submission) -> Finding:
    sheet, cell = w.cells.get((row.area, column_key(row.rule.element)), ("", ""))
    return Finding.make(
        Code.STOCK_NOT_CONTINUED,
        row.rule.severity,
        Location(file=submission.file, sheet=sheet, cell=cell),
        rule=row.rule.id,
        seen=format_number(row.seen),
        expected=format_number(row.base),
        period=submission.period,
        previous_value=format_number(row.base),
        previous_period=parse_period(submission.period).previous().id,
        difference=format_number(abs(row.seen - row.base)),
    )


def _share_finding(row: _Row, w: Wide, submission: Submission) -> Finding:
    rule = row.rule
    assert rule.left is not None and rule.right is not None
    first = rule.left.refs[0] if rule.left.refs else None
    sheet, cell = w.cells.get((row.area, ref_key(first)), ("", "")) if first else ("", "")
    return Finding.make(
        Code.SHARE_CHANGED,
        rule.severity,
        Location(file=submission.file, sheet=sheet, cell=cell),
        rule=rule.id,
        seen=_percent(row.seen),
        expected=_percent(row.base),
        left=str(rule.left),
        right=str(rule.right),
        share=_percent(row.seen),
        period=submission.period,
        previous_share=_percent(row.base),
        previous_period=parse_period(submission.period).previous().id,
        allowed=format_number(row.allowed),
    )
