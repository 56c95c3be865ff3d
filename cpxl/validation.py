"""Validation: catalogue rules compiled to pandera schemas, each failure a finding at its cell.

One schema per template layout (cached by fingerprint). pandera does the checking, lazily, and
its failure cases are mapped back to (sheet, cell) through the layout; pandera's own words never
reach a user. Change rules compare with the province's history in the store, in plain pandas.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pandera.pandas as pa

from cpxl.catalogue import Catalogue, Expression, Period, Ref, Rule, parse_period
from cpxl.findings import Code, Finding, Location, Severity, Value
from cpxl.numbers import format_number
from cpxl.reading import Explanation, Submission
from cpxl.templates import Column, Layout, column_key

# Findings per (sheet, code, column) shown one by one before the rest are grouped.
PER_COLUMN = 5
PER_SHEET = 200

_OPS: dict[str, Callable[[pd.Series, pd.Series], pd.Series]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: (a - b).abs() < 1e-9,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "!=": lambda a, b: (a - b).abs() >= 1e-9,
}


@dataclass(frozen=True, slots=True)
class Frames:
    """A return as two aligned tables: numbers (NaN when not a number) and what was entered."""

    numbers: pd.DataFrame
    entered: pd.DataFrame  # True where a number or a missing-reason code was typed
    cells: Mapping[tuple[str, str], tuple[str, str]]  # (area, key) -> (sheet, cell)


def frames(submission: Submission, extra: Iterable[Value] = ()) -> Frames:
    """Pivot a submission's values (and other ministries' stored values) to area × key tables."""
    areas: list[str] = []
    for sheet in submission.layout.sheets:
        areas.extend(a.code for a in sheet.areas if a.code not in areas)
    data: dict[str, dict[str, float]] = defaultdict(dict)
    entered: dict[str, dict[str, bool]] = defaultdict(dict)
    cells: dict[tuple[str, str], tuple[str, str]] = {}
    for v in (*submission.values, *extra):
        key = column_key(v.element, v.dimension, v.option)
        data[key][v.area] = np.nan if v.value is None else v.value
        entered[key][v.area] = not v.blank
        if v.cell:
            cells[(v.area, key)] = (v.sheet, v.cell)
    for a in {v.area for v in extra}:
        if a not in areas:
            areas.append(a)
    index = pd.Index(areas, dtype=object)
    numbers = pd.DataFrame(
        {k: pd.Series(col, dtype="float64") for k, col in data.items()}, index=index
    )
    filled = pd.DataFrame({k: pd.Series(col, dtype=bool) for k, col in entered.items()})
    filled = filled.reindex(index).fillna(False).astype(bool)
    return Frames(numbers.reindex(index), filled, cells)


# ---------------------------------------------------------------------------------------------
# Compiling rules


@dataclass(frozen=True, slots=True)
class _Check:
    """What a pandera check name stands for: the rule, and which finding it raises."""

    rule: Rule
    code: Code
    key: str = ""  # the column a column-check belongs to


def _applies(rule: Rule, element_type: str, element: str) -> bool:
    if rule.element:
        return rule.element == element
    if rule.elements:
        return element in rule.elements
    return not rule.value_type or rule.value_type == element_type


def _range_checks(rule: Rule, value_type: str) -> list[tuple[str, Code, Callable[..., object]]]:
    out: list[tuple[str, Code, Callable[..., object]]] = []
    low, high = rule.min, rule.max
    if low is not None:
        code = Code.NEGATIVE_COUNT if value_type == "count" and low == 0 else Code.OUT_OF_RANGE
        out.append(("min", code, lambda s, lo=low: s.isna() | (s >= lo)))
    if high is not None:
        out.append(("max", Code.OUT_OF_RANGE, lambda s, hi=high: s.isna() | (s <= hi)))
    if rule.integer:
        code = Code.DECIMAL_IN_COUNT if value_type == "count" else Code.OUT_OF_RANGE
        out.append(("integer", code, lambda s: s.isna() | (np.floor(s) == s)))
    return out


@dataclass(frozen=True, slots=True)
class Compiled:
    """A layout's pandera schemas and the meaning of every check name."""

    numbers: pa.DataFrameSchema
    entered: pa.DataFrameSchema
    checks: Mapping[str, _Check]


def compile_layout(catalogue: Catalogue, layout: Layout, *, cross: bool = False) -> Compiled:
    """Build the pandera schemas for one template layout from the catalogue's rules.

    ``cross=False`` gives the checks a return can answer alone; ``cross=True`` the compare
    rules that also name other ministries' elements, checked against the store.
    """
    return _compile(catalogue, layout, cross)


@lru_cache(maxsize=64)
def _compile(catalogue: Catalogue, layout: Layout, cross: bool) -> Compiled:
    checks: dict[str, _Check] = {}
    number_cols: dict[str, pa.Column] = {}
    entered_cols: dict[str, pa.Column] = {}
    columns = [c for s in layout.sheets for c in s.columns]
    own = {c.element for c in columns}
    if cross:
        return _compile_cross(catalogue, own)
    for col in columns:
        el = catalogue.elements[col.element]
        col_checks: list[pa.Check] = []
        for rule in catalogue.rules_of("range"):
            if not _applies(rule, el.value_type, el.code):
                continue
            for suffix, code, fn in _range_checks(rule, el.value_type):
                name = f"{rule.id}|{suffix}|{col.key}"
                checks[name] = _Check(rule, code, col.key)
                col_checks.append(pa.Check(fn, name=name, ignore_na=False))
        number_cols[col.key] = pa.Column(float, checks=col_checks, nullable=True, required=False)
        req = [
            r
            for r in catalogue.rules_of("required")
            if el.required and (not r.elements or el.code in r.elements)
        ]
        for rule in req[:1]:
            name = f"{rule.id}|required|{col.key}"
            checks[name] = _Check(rule, Code.REQUIRED_BLANK, col.key)
            entered_cols[col.key] = pa.Column(
                bool, checks=[pa.Check(lambda s: s, name=name, ignore_na=False)], required=False
            )
    wide: list[pa.Check] = []
    present = {c.key for c in columns}
    for rule in catalogue.rules_of("sum"):
        summed = catalogue.elements.get(rule.element)
        total = column_key(rule.element)
        if summed is None or not summed.total or total not in present:
            continue
        for dim in rule.dimensions or summed.by:
            options = catalogue.dimensions[dim].options
            parts = [column_key(summed.code, dim, o.code) for o in options]
            name = f"{rule.id}|{dim}"
            checks[name] = _Check(rule, Code.SUM_MISMATCH)
            wide.append(pa.Check(_sum_check(parts, total, rule), name=name, ignore_na=False))
    for rule in catalogue.rules_of("compare"):
        if _names_only(rule, own):
            checks[rule.id] = _Check(rule, Code.COMPARE_FAILED)
            wide.append(pa.Check(_compare_check(rule), name=rule.id, ignore_na=False))
    return Compiled(
        pa.DataFrameSchema(number_cols, checks=wide, coerce=False),
        pa.DataFrameSchema(entered_cols, coerce=False),
        checks,
    )


def _refs(rule: Rule) -> set[str]:
    assert rule.left is not None and rule.right is not None
    return {r.element for r in (*rule.left.refs, *rule.right.refs)}


def _names_only(rule: Rule, own: set[str]) -> bool:
    """The rule names only this return's elements."""
    return _refs(rule) <= own


def _compile_cross(catalogue: Catalogue, own: set[str]) -> Compiled:
    checks: dict[str, _Check] = {}
    wide: list[pa.Check] = []
    for rule in catalogue.rules_of("compare"):
        refs = _refs(rule)
        if refs & own and not refs <= own:
            checks[rule.id] = _Check(rule, Code.COMPARE_FAILED)
            wide.append(pa.Check(_compare_check(rule), name=rule.id, ignore_na=False))
    empty = pa.DataFrameSchema({}, coerce=False)
    return Compiled(pa.DataFrameSchema({}, checks=wide, coerce=False), empty, checks)


def _sum_check(parts: list[str], total: str, rule: Rule) -> Callable[[pd.DataFrame], pd.Series]:
    def check(df: pd.DataFrame) -> pd.Series:
        cols = df.reindex(columns=[*parts, total])
        n_missing = cols.isna().sum(axis=1)
        skip = _skip(rule.missing, n_missing, len(parts) + 1)
        diff = (cols[parts].fillna(0).sum(axis=1) - cols[total].fillna(0)).abs()
        return skip | (diff <= rule.tolerance)

    return check


def _skip(strategy: str, n_missing: pd.Series, n: int) -> pd.Series:
    if strategy == "skip_if_any_missing":
        return n_missing > 0
    if strategy == "skip_if_all_missing":
        return n_missing >= n
    return pd.Series(False, index=n_missing.index)


def _side(expr: Expression, df: pd.DataFrame) -> tuple[pd.Series, pd.Series, int]:
    """(value with missing as 0, count of missing references, number of references)."""
    total = pd.Series(0.0, index=df.index)
    missing = pd.Series(0, index=df.index)
    for t in expr.terms:
        if t.ref is None:
            total += t.sign * t.constant
            continue
        key = column_key(t.ref.element, t.ref.dimension, t.ref.option)
        col = df[key] if key in df.columns else pd.Series(np.nan, index=df.index)
        missing += col.isna().astype(int)
        total += t.sign * col.fillna(0)
    return total, missing, len(expr.refs)


def _compare_check(rule: Rule) -> Callable[[pd.DataFrame], pd.Series]:
    assert rule.left is not None and rule.right is not None
    left_expr, right_expr = rule.left, rule.right

    def check(df: pd.DataFrame) -> pd.Series:
        left, lmiss, ln = _side(left_expr, df)
        right, rmiss, rn = _side(right_expr, df)
        skip = _skip(rule.missing, lmiss + rmiss, ln + rn)
        # A side with nothing at all is never compared: that is a blank, not a zero.
        skip |= lmiss >= max(ln, 1) if ln else False
        skip |= rmiss >= max(rn, 1) if rn else False
        return skip | _OPS[rule.op](left, right)

    return check


# ---------------------------------------------------------------------------------------------
# Running


def validate(
    submission: Submission,
    catalogue: Catalogue,
    history: pd.DataFrame | None = None,
) -> tuple[Finding, ...]:
    """Every finding for a return: reading, rules alone, and rules against the store.

    ``history`` is the store's long table (element, period, area, dimension, option, value,
    missing, ministry); cross-workbook compare rules use its rows for this period, change rules
    its earlier periods.
    """
    found = [
        *submission.findings,
        *check_alone(submission, catalogue),
        *check_against_store(submission, catalogue, history),
    ]
    return finish(found, submission.explanations)


def check_alone(submission: Submission, catalogue: Catalogue) -> list[Finding]:
    """Type, range, required, sum and compare rules a return can answer by itself."""
    compiled = compile_layout(catalogue, submission.layout)
    f = frames(submission)
    out = _run(compiled.numbers, f.numbers, compiled, f, submission)
    own_keys = [c.key for s in submission.layout.sheets for c in s.columns]
    entered = f.entered.reindex(columns=own_keys).fillna(False).astype(bool)
    out.extend(_run(compiled.entered, entered, compiled, f, submission))
    return out


def check_against_store(
    submission: Submission, catalogue: Catalogue, history: pd.DataFrame | None
) -> list[Finding]:
    """Compare rules across ministries' returns, and change against earlier periods."""
    if history is None or history.empty:
        return []
    out: list[Finding] = []
    compiled = compile_layout(catalogue, submission.layout, cross=True)
    others = _other_values(submission, catalogue, history)
    if compiled.checks and others:
        f = frames(submission, others)
        out.extend(_run(compiled.numbers, f.numbers, compiled, f, submission))
    out.extend(_change(submission, catalogue, history))
    return out


def finish(findings: Sequence[Finding], explanations: Sequence[Explanation]) -> tuple[Finding, ...]:
    """Mark explained warnings, order the findings as an official reads them, cap repeats.

    A sum or compare that involves a cell which itself could not be read (or broke a cell
    rule) is left out: it cannot be judged until that cell is fixed, and saying so twice
    only confuses.
    """
    bad = {
        (f.location.sheet, f.location.cell)
        for f in findings
        if f.severity == Severity.ERROR and f.code not in _ROW_RULES and f.location.cell
    }
    kept: list[Finding] = []
    seen: set[tuple[Code, str, str]] = set()
    for f in findings:
        key = (f.code, f.location.sheet, f.location.cell)
        if f.code in _ROW_RULES:
            cells = {c.strip() for c in f.params.get("cells", "").split(",") if c.strip()}
            if any((f.location.sheet, c) in bad for c in cells) or key in seen:
                continue
        seen.add(key)
        kept.append(f)
    return tuple(cap(sorted(_explain(kept, explanations), key=_order)))


_ROW_RULES = frozenset({Code.SUM_MISMATCH, Code.COMPARE_FAILED})


def _own_area(submission: Submission, area: str) -> bool:
    return any(area == a.code for s in submission.layout.sheets for a in s.areas)


def _other_values(
    submission: Submission, catalogue: Catalogue, history: pd.DataFrame | None
) -> list[Value]:
    """Stored values of other ministries' elements that this return's compare rules name."""
    if history is None or history.empty:
        return []
    own = {c.element for s in submission.layout.sheets for c in s.columns}
    needed: set[str] = set()
    for rule in catalogue.rules_of("compare"):
        refs = _refs(rule)
        if refs & own:
            needed |= refs - own
    if not needed:
        return []
    rows = history[(history["period"] == submission.period) & history["element"].isin(needed)]
    return [
        Value(
            str(r["element"]),
            str(r["area"]),
            _str(r["dimension"]),
            _str(r["option"]),
            _num(r["value"]),
            _str(r["missing"]),
        )
        for r in rows.to_dict("records")
    ]


def _str(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v)


def _num(v: object) -> float | None:
    if v is None:
        return None
    x = float(v)  # type: ignore[arg-type]
    return None if math.isnan(x) else x


def _run(
    schema: pa.DataFrameSchema,
    df: pd.DataFrame,
    compiled: Compiled,
    f: Frames,
    submission: Submission,
) -> list[Finding]:
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []
    out: list[Finding] = []
    for case in cases.itertuples():
        meaning = compiled.checks.get(str(case.check))
        if meaning is None or case.index is None:
            continue  # a dtype or presence failure: the reader already reported the cell
        area = str(case.index)
        if not _own_area(submission, area):
            continue
        if meaning.code == Code.SUM_MISMATCH:
            out.append(_sum_finding(meaning, str(case.check), area, f, submission))
        elif meaning.code == Code.COMPARE_FAILED:
            out.append(_compare_finding(meaning.rule, area, f, submission))
        else:
            out.append(_cell_finding(meaning, area, f, submission, case.failure_case))
    return out


def _where(f: Frames, submission: Submission, area: str, key: str) -> Location:
    sheet, cell = f.cells.get((area, key), ("", ""))
    return Location(file=submission.file, sheet=sheet, cell=cell)


def _cell_finding(
    meaning: _Check, area: str, f: Frames, submission: Submission, seen: object
) -> Finding:
    rule = meaning.rule
    seen_text = "" if meaning.code == Code.REQUIRED_BLANK else _fmt(seen)
    return Finding.make(
        meaning.code,
        rule.severity,
        _where(f, submission, area, meaning.key),
        rule=rule.id,
        seen=seen_text,
        min="" if rule.min is None else format_number(rule.min),
        max="" if rule.max is None else format_number(rule.max),
    )


def _fmt(v: object) -> str:
    try:
        return format_number(float(v))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "" if v is None else str(v)


def _sum_finding(
    meaning: _Check, check: str, area: str, f: Frames, submission: Submission
) -> Finding:
    rule = meaning.rule
    dim = check.split("|", 1)[1]
    prefix = column_key(rule.element, dim, "")
    parts = [k for k in f.numbers.columns if str(k).startswith(prefix)]
    total_key = column_key(rule.element)
    row = f.numbers.loc[area]
    assert isinstance(row, pd.Series)
    part_sum = float(row.reindex(parts).fillna(0).to_numpy().sum())
    total = _num(row.get(total_key)) or 0.0
    cells = [f.cells.get((area, k), ("", ""))[1] for k in [*parts, total_key]]
    return Finding.make(
        Code.SUM_MISMATCH,
        rule.severity,
        _where(f, submission, area, total_key),
        rule=rule.id,
        seen=format_number(total),
        expected=format_number(part_sum),
        parts=format_number(part_sum),
        total=format_number(total),
        cells=", ".join(c for c in cells if c),
        difference=format_number(abs(part_sum - total)),
        dimension=dim,
    )


def _compare_finding(rule: Rule, area: str, f: Frames, submission: Submission) -> Finding:
    assert rule.left is not None and rule.right is not None
    row = f.numbers.loc[[area]]
    left = float(_side(rule.left, row)[0].iloc[0])
    right = float(_side(rule.right, row)[0].iloc[0])
    anchor = _first_own_cell(rule.left, area, f) or _first_own_cell(rule.right, area, f)
    sheet, cell = anchor or ("", "")
    cells = [
        f.cells[(area, ref_key(r))][1]
        for r in (*rule.left.refs, *rule.right.refs)
        if (area, ref_key(r)) in f.cells and f.cells[(area, ref_key(r))][0] == sheet
    ]
    return Finding.make(
        Code.COMPARE_FAILED,
        rule.severity,
        Location(file=submission.file, sheet=sheet, cell=cell),
        rule=rule.id,
        seen=format_number(left),
        expected=f"{rule.op} {format_number(right)}",
        left=str(rule.left),
        right=str(rule.right),
        left_value=format_number(left),
        right_value=format_number(right),
        op=rule.op,
        area=area,
        cells=", ".join(cells),
        detail_en=rule.message_en,
        detail_km=rule.message_km,
    )


def _first_own_cell(expr: Expression, area: str, f: Frames) -> tuple[str, str] | None:
    for ref in expr.refs:
        key = column_key(ref.element, ref.dimension, ref.option)
        if (area, key) in f.cells:
            return f.cells[(area, key)]
    return None


# ---------------------------------------------------------------------------------------------
# Change against earlier periods


def _change(
    submission: Submission, catalogue: Catalogue, history: pd.DataFrame | None
) -> list[Finding]:
    rules = catalogue.rules_of("change")
    if history is None or history.empty or not rules:
        return []
    period = parse_period(submission.period)
    past = history[
        (history["ministry"] == submission.ministry) & (history["period"] != submission.period)
    ]
    if past.empty:
        return []
    past = past[[_before(p, period) for p in past["period"]]]
    out: list[Finding] = []
    values = {(v.element, v.area, v.dimension, v.option): v for v in submission.values}
    for rule in rules:
        key = column_key(rule.element)
        rows = past[(past["element"] == rule.element) & (past["dimension"].fillna("") == "")]
        for (el, area, _d, _o), v in values.items():
            if el != rule.element or _d or v.value is None:
                continue
            series = rows[rows["area"] == area].dropna(subset=["value"])
            if series.empty:
                continue
            series = series.sort_values("period").tail(3)
            hist = [
                (str(p), float(x)) for p, x in zip(series["period"], series["value"], strict=True)
            ]
            finding = _change_finding(rule, v, hist, submission, key)
            if finding is not None:
                out.append(finding)
    return out


def _before(period_id: str, period: Period) -> bool:
    try:
        return parse_period(period_id).end < period.start
    except ValueError:
        return False


def _change_finding(
    rule: Rule, v: Value, hist: Sequence[tuple[str, float]], submission: Submission, key: str
) -> Finding | None:
    current = float(v.value or 0)
    history_text = ", ".join(f"{p}: {format_number(x)}" for p, x in hist)
    history_text += f", {submission.period}: {format_number(current)}"
    loc = Location(file=submission.file, sheet=v.sheet, cell=v.cell)
    xs = np.array([x for _, x in hist])
    if len(xs) >= 3:
        med = float(np.median(xs))
        mad = float(np.median(np.abs(xs - med)))
        if mad > 0:
            z = 0.6745 * (current - med) / mad
            if abs(z) > rule.outlier_z:
                return Finding.make(
                    Code.OUTLIER,
                    rule.severity,
                    loc,
                    rule=rule.id,
                    seen=format_number(current),
                    history=history_text,
                    z=f"{z:.1f}",
                )
    base = float(np.mean(xs))
    if base <= 0:
        return None
    change = (current - base) / base
    if abs(change) > rule.threshold:
        return Finding.make(
            Code.CHANGE_TOO_LARGE,
            rule.severity,
            loc,
            rule=rule.id,
            seen=format_number(current),
            history=history_text,
            change=f"{change:+.0%}",
        )
    return None


# ---------------------------------------------------------------------------------------------
# Explanations, order and caps


def _explain(findings: list[Finding], explanations: Sequence[Explanation]) -> list[Finding]:
    """A warning on a row whose Explanation cell is filled is kept, as explained information."""
    if not explanations:
        return findings
    by_row = {(e.sheet, _row_of(e.cell)): e.text for e in explanations}
    out: list[Finding] = []
    for f in findings:
        text = by_row.get((f.location.sheet, _row_of(f.location.cell)))
        if f.severity == Severity.WARNING and text:
            out.append(
                Finding(
                    f.code,
                    Severity.INFO,
                    f.location,
                    f.rule,
                    f.seen,
                    f.expected,
                    {**f.params, "explanation": text},
                )
            )
        else:
            out.append(f)
    return out


def _row_of(cell: str) -> str:
    return "".join(ch for ch in cell if ch.isdigit())


def _col_of(cell: str) -> str:
    return "".join(ch for ch in cell if ch.isalpha())


_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def _order(f: Finding) -> tuple[object, ...]:
    row = int(_row_of(f.location.cell) or 0)
    return (f.location.sheet, row, len(_col_of(f.location.cell)), _col_of(f.location.cell))


def cap(findings: Sequence[Finding]) -> list[Finding]:
    """Keep the first few findings per column and code; group the rest into one finding."""
    seen: dict[tuple[str, Code, str], int] = defaultdict(int)
    per_sheet: dict[str, int] = defaultdict(int)
    extra: dict[tuple[str, Code, str], list[Finding]] = defaultdict(list)
    out: list[Finding] = []
    for f in findings:
        key = (f.location.sheet, f.code, _col_of(f.location.cell))
        seen[key] += 1
        if seen[key] > PER_COLUMN or per_sheet[f.location.sheet] >= PER_SHEET:
            extra[key].append(f)
            continue
        per_sheet[f.location.sheet] += 1
        out.append(f)
    for (sheet, code, column), rest in extra.items():
        first = rest[0]
        out.append(
            Finding.make(
                Code.MORE_FINDINGS,
                first.severity,
                Location(file=first.location.file, sheet=sheet, cell=first.location.cell),
                rule=first.rule,
                count=len(rest),
                column=column,
                of=code.value,
                cells=", ".join(x.location.cell for x in rest),
            )
        )
    return out


def columns_of(layout: Layout) -> list[Column]:
    """Every input column of a layout, sheet by sheet."""
    return [c for s in layout.sheets for c in s.columns]


def ref_key(ref: Ref) -> str:
    """The layout key a reference points at."""
    return column_key(ref.element, ref.dimension, ref.option)
