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
from cpxl.templates import Layout, column_key

# Findings per (sheet, code, column) shown one by one before the rest are grouped.
PER_COLUMN = 5
PER_SHEET = 200
MAD_FLOOR = 0.1

_OPS: dict[str, Callable[[pd.Series, pd.Series], pd.Series]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: (a - b).abs() < 1e-9,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "!=": lambda a, b: (a - b).abs() >= 1e-9,
}


# ---------------------------------------------------------------------------------------------
# The tables pandera checks
#
# Three long tables per return, so that a handful of vectorised checks cover every cell:
#   cells:    one row per input cell (value, entered) -> type, range and required rules
#   sums:     one row per (area, sum rule, dimension) -> parts against the total
#   compares: one row per (area, compare rule) -> left side against right side


@dataclass(frozen=True, slots=True)
class Wide:
    """A return as an area × key matrix of numbers (NaN when none), and where each cell is."""

    areas: tuple[str, ...]
    keys: Mapping[str, int]
    numbers: np.ndarray
    present: np.ndarray  # True where the layout has an input cell (whatever it holds)
    cells: Mapping[tuple[str, str], tuple[str, str]]  # (area, key) -> (sheet, cell)

    def column(self, key: str) -> np.ndarray:
        """One key's numbers for every area; all NaN when the return has no such column."""
        at = self.keys.get(key)
        return self.numbers[:, at] if at is not None else np.full(len(self.areas), np.nan)

    def has(self, key: str) -> np.ndarray:
        """Where the key has an input cell."""
        at = self.keys.get(key)
        return self.present[:, at] if at is not None else np.zeros(len(self.areas), dtype=bool)

    def only(self, areas: set[str]) -> Wide:
        """The same table restricted to some areas."""
        rows = [i for i, a in enumerate(self.areas) if a in areas]
        return Wide(
            tuple(self.areas[i] for i in rows),
            self.keys,
            self.numbers[rows],
            self.present[rows],
            self.cells,
        )


def wide(values: Iterable[Value]) -> Wide:
    """Pivot values to an area × key matrix of numbers."""
    area_at: dict[str, int] = {}
    key_at: dict[str, int] = {}
    entries: list[tuple[int, int, float]] = []
    cells: dict[tuple[str, str], tuple[str, str]] = {}
    for v in values:
        key = column_key(v.element, v.dimension, v.option)
        a = area_at.setdefault(v.area, len(area_at))
        k = key_at.setdefault(key, len(key_at))
        entries.append((a, k, np.nan if v.value is None else v.value))
        if v.cell:
            cells[(v.area, key)] = (v.sheet, v.cell)
    numbers = np.full((len(area_at), len(key_at)), np.nan)
    present = np.zeros((len(area_at), len(key_at)), dtype=bool)
    if entries:
        rows, cols, vals = zip(*entries, strict=True)
        numbers[list(rows), list(cols)] = vals
        present[list(rows), list(cols)] = True
    return Wide(tuple(area_at), key_at, numbers, present, cells)


@dataclass(frozen=True, slots=True)
class _Group:
    """One sum to check: the parts of one dimension of an element against its total."""

    rule: Rule
    dimension: str
    parts: tuple[str, ...]
    total: str


@dataclass(frozen=True, slots=True)
class Compiled:
    """A layout's pandera schemas and what each check name stands for."""

    cells: pa.DataFrameSchema
    sums: pa.DataFrameSchema
    compares: pa.DataFrameSchema
    range_rules: tuple[Rule, ...]
    required: Rule | None
    groups: tuple[_Group, ...]
    local: tuple[Rule, ...]
    cross: tuple[Rule, ...]
    codes: Mapping[str, Code]


def _applies(rule: Rule, element_type: str, element: str) -> bool:
    if rule.element:
        return rule.element == element
    if rule.elements:
        return element in rule.elements
    return not rule.value_type or rule.value_type == element_type


def _range_check_specs(rule: Rule, value_type: str) -> list[tuple[str, Code]]:
    out: list[tuple[str, Code]] = []
    if rule.min is not None:
        negative = value_type == "count" and rule.min == 0
        out.append(("min", Code.NEGATIVE_COUNT if negative else Code.OUT_OF_RANGE))
    if rule.max is not None:
        out.append(("max", Code.OUT_OF_RANGE))
    if rule.integer:
        out.append(
            ("integer", Code.DECIMAL_IN_COUNT if value_type == "count" else Code.OUT_OF_RANGE)
        )
    return out


def _range_check(rule: Rule, part: str) -> Callable[[pd.DataFrame], pd.Series]:
    def check(df: pd.DataFrame) -> pd.Series:
        v, applies = df["value"], df[rule.id]
        if part == "min":
            ok = v >= (rule.min or 0.0)
        elif part == "max":
            ok = v <= (rule.max or 0.0)
        else:
            ok = np.floor(v) == v
        return ~applies | v.isna() | ok

    return check


def _required_check(df: pd.DataFrame) -> pd.Series:
    return ~df["required"] | df["entered"]


def _sum_check(df: pd.DataFrame) -> pd.Series:
    return df["skip"] | ((df["parts"] - df["total"]).abs() <= df["tolerance"])


def _compare_check(df: pd.DataFrame) -> pd.Series:
    ok = pd.Series(True, index=df.index)
    for op, fn in _OPS.items():
        mask = df["op"] == op
        if mask.any():
            ok[mask] = fn(df.loc[mask, "left"], df.loc[mask, "right"])
    return df["skip"] | ok


def compile_layout(catalogue: Catalogue, layout: Layout) -> Compiled:
    """Build the pandera schemas for one template layout from the catalogue's rules (cached)."""
    return _compile(catalogue, layout)


@lru_cache(maxsize=64)
def _compile(catalogue: Catalogue, layout: Layout) -> Compiled:
    columns = [c for s in layout.sheets for c in s.columns]
    own = {c.element for c in columns}
    types = {catalogue.elements[e].value_type for e in own}
    codes: dict[str, Code] = {}
    cell_checks: list[pa.Check] = []
    range_rules = tuple(
        r
        for r in catalogue.rules_of("range")
        if any(_applies(r, catalogue.elements[e].value_type, e) for e in own)
    )
    for rule in range_rules:
        value_type = (
            rule.value_type or catalogue.elements[rule.element or next(iter(own))].value_type
        )
        for part, code in _range_check_specs(rule, value_type if value_type in types else ""):
            name = f"{rule.id}|{part}"
            codes[name] = code
            cell_checks.append(pa.Check(_range_check(rule, part), name=name, ignore_na=False))
    required = next(iter(catalogue.rules_of("required")), None)
    if required is not None:
        codes[required.id] = Code.REQUIRED_BLANK
        cell_checks.append(pa.Check(_required_check, name=required.id, ignore_na=False))
    present = {c.key for c in columns}
    groups: list[_Group] = []
    for rule in catalogue.rules_of("sum"):
        summed = catalogue.elements.get(rule.element)
        total = column_key(rule.element)
        if summed is None or total not in present:
            continue
        for dim in rule.dimensions or summed.by:
            parts = tuple(
                column_key(summed.code, dim, o.code) for o in catalogue.dimensions[dim].options
            )
            groups.append(_Group(rule, dim, parts, total))
    local = tuple(r for r in catalogue.rules_of("compare") if _refs(r) <= own)
    cross = tuple(
        r for r in catalogue.rules_of("compare") if _refs(r) & own and not _refs(r) <= own
    )
    return Compiled(
        pa.DataFrameSchema(checks=cell_checks),
        pa.DataFrameSchema(checks=[pa.Check(_sum_check, name="sum", ignore_na=False)]),
        pa.DataFrameSchema(checks=[pa.Check(_compare_check, name="compare", ignore_na=False)]),
        range_rules,
        required,
        tuple(groups),
        local,
        cross,
        codes,
    )


def _refs(rule: Rule) -> set[str]:
    assert rule.left is not None and rule.right is not None
    return {r.element for r in (*rule.left.refs, *rule.right.refs)}


def _skip(strategy: str, n_missing: np.ndarray, n: int) -> np.ndarray:
    if strategy == "skip_if_any_missing":
        return n_missing > 0
    if strategy == "skip_if_all_missing":
        return n_missing >= n
    return np.zeros(len(n_missing), dtype=bool)


def _cells_table(submission: Submission, catalogue: Catalogue, compiled: Compiled) -> pd.DataFrame:
    vals = submission.values
    elements = [catalogue.elements[v.element] for v in vals]
    table: dict[str, object] = {
        "value": np.array([np.nan if v.value is None else v.value for v in vals], dtype=float),
        "entered": np.array([not v.blank for v in vals], dtype=bool),
        "required": np.array([e.required for e in elements], dtype=bool),
    }
    for rule in compiled.range_rules:
        applies = {e.code: _applies(rule, e.value_type, e.code) for e in set(elements)}
        table[rule.id] = np.array([applies[e.code] for e in elements], dtype=bool)
    return pd.DataFrame(table)


def _sums_table(w: Wide, compiled: Compiled) -> tuple[pd.DataFrame, list[tuple[str, _Group]]]:
    parts_sum: list[np.ndarray] = []
    totals: list[np.ndarray] = []
    tolerance: list[np.ndarray] = []
    skips: list[np.ndarray] = []
    rows: list[tuple[str, _Group]] = []
    for g in compiled.groups:
        keys = (*g.parts, g.total)
        block = np.column_stack([w.column(k) for k in keys])
        present = np.any(np.column_stack([w.has(k) for k in keys]), axis=1)
        if not present.any():
            continue
        block = block[present]
        missing = np.isnan(block)
        parts_sum.append(np.nansum(block[:, :-1], axis=1))
        totals.append(np.nan_to_num(block[:, -1]))
        tolerance.append(np.full(len(block), g.rule.tolerance))
        skips.append(_skip(g.rule.missing, missing.sum(axis=1), len(keys)))
        rows.extend((w.areas[i], g) for i in np.flatnonzero(present))
    if not rows:
        return pd.DataFrame({"parts": [], "total": [], "tolerance": [], "skip": []}), rows
    table = pd.DataFrame(
        {
            "parts": np.concatenate(parts_sum),
            "total": np.concatenate(totals),
            "tolerance": np.concatenate(tolerance),
            "skip": np.concatenate(skips),
        }
    )
    return table, rows


def _side(expr: Expression, w: Wide) -> tuple[np.ndarray, np.ndarray, int]:
    """(value with missing as 0, count of missing references, number of references)."""
    total = np.zeros(len(w.areas))
    missing = np.zeros(len(w.areas), dtype=int)
    for t in expr.terms:
        if t.ref is None:
            total += t.sign * t.constant
            continue
        col = w.column(ref_key(t.ref))
        missing += np.isnan(col)
        total += t.sign * np.nan_to_num(col)
    return total, missing, len(expr.refs)


def _compares_table(w: Wide, rules: Sequence[Rule]) -> tuple[pd.DataFrame, list[tuple[str, Rule]]]:
    frames: list[pd.DataFrame] = []
    rows: list[tuple[str, Rule]] = []
    for rule in rules:
        assert rule.left is not None and rule.right is not None
        left, lmiss, ln = _side(rule.left, w)
        right, rmiss, rn = _side(rule.right, w)
        skip = _skip(rule.missing, lmiss + rmiss, ln + rn)
        # A side with nothing at all is never compared: that is a blank, not a zero.
        skip |= (lmiss >= ln) if ln else False
        skip |= (rmiss >= rn) if rn else False
        frames.append(pd.DataFrame({"left": left, "right": right, "op": rule.op, "skip": skip}))
        rows.extend((a, rule) for a in w.areas)
    if not frames:
        return pd.DataFrame({"left": [], "right": [], "op": [], "skip": []}), rows
    return pd.concat(frames, ignore_index=True), rows


def _failures(schema: pa.DataFrameSchema, df: pd.DataFrame) -> list[tuple[str, int]]:
    """(check name, row) of every failure; pandera's own words are never shown."""
    if df.empty or not schema.checks:
        return []
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        return [
            (str(c), int(i))
            for c, i in zip(cases["check"], cases["index"], strict=True)
            if i is not None and not pd.isna(i)
        ]
    return []


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
    out: list[Finding] = []
    cells = _cells_table(submission, catalogue, compiled)
    for name, row in _failures(compiled.cells, cells):
        out.append(_cell_finding(compiled, name, submission.values[row], submission.file))
    w = wide(submission.values)
    sums, sum_rows = _sums_table(w, compiled)
    for _, row in _failures(compiled.sums, sums):
        area, group = sum_rows[row]
        out.append(_sum_finding(group, area, w, submission.file))
    out.extend(_compare_findings(w, compiled.local, compiled.compares, submission.file))
    return out


def check_against_store(
    submission: Submission, catalogue: Catalogue, history: pd.DataFrame | None
) -> list[Finding]:
    """Compare rules across ministries' returns, and change against earlier periods."""
    if history is None or history.empty:
        return []
    out: list[Finding] = []
    compiled = compile_layout(catalogue, submission.layout)
    others = _other_values(submission, compiled, history)
    if compiled.cross and others:
        w = wide([*submission.values, *others])
        own = {a.code for s in submission.layout.sheets for a in s.areas}
        w = w.only(own)
        out.extend(_compare_findings(w, compiled.cross, compiled.compares, submission.file))
    out.extend(_change(submission, catalogue, history))
    return out


def _compare_findings(
    w: Wide, rules: Sequence[Rule], schema: pa.DataFrameSchema, file: str
) -> list[Finding]:
    if not rules or not w.areas:
        return []
    table, rows = _compares_table(w, rules)
    return [
        _compare_finding(rows[row][1], rows[row][0], w, file) for _, row in _failures(schema, table)
    ]


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
        if f.location.cell and key in seen:
            continue  # two rules saying the same thing of one cell: say it once
        if f.code in _ROW_RULES:
            cells = {c.strip() for c in f.params.get("cells", "").split(",") if c.strip()}
            if any((f.location.sheet, c) in bad for c in cells):
                continue
        seen.add(key)
        kept.append(f)
    return tuple(cap(sorted(_explain(kept, explanations), key=_order)))


_ROW_RULES = frozenset({Code.SUM_MISMATCH, Code.COMPARE_FAILED})


def _other_values(submission: Submission, compiled: Compiled, history: pd.DataFrame) -> list[Value]:
    """Stored values of other ministries' elements that this return's compare rules name."""
    own = {c.element for s in submission.layout.sheets for c in s.columns}
    needed: set[str] = set()
    for rule in compiled.cross:
        needed |= _refs(rule) - own
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


def _cell_finding(compiled: Compiled, name: str, v: Value, file: str) -> Finding:
    rule_id = name.split("|", 1)[0]
    rule = next(r for r in (*compiled.range_rules, compiled.required) if r and r.id == rule_id)
    code = compiled.codes[name]
    seen = "" if code == Code.REQUIRED_BLANK or v.value is None else format_number(v.value)
    return Finding.make(
        code,
        rule.severity,
        Location(file=file, sheet=v.sheet, cell=v.cell),
        rule=rule.id,
        seen=seen,
        min="" if rule.min is None else format_number(rule.min),
        max="" if rule.max is None else format_number(rule.max),
    )


def _sum_finding(group: _Group, area: str, w: Wide, file: str) -> Finding:
    one = w.only({area})
    part_sum = float(np.nansum([one.column(k)[0] for k in group.parts]))
    total = float(np.nan_to_num(one.column(group.total)[0]))
    cells = [w.cells.get((area, k), ("", ""))[1] for k in (*group.parts, group.total)]
    sheet, cell = w.cells.get((area, group.total), ("", ""))
    return Finding.make(
        Code.SUM_MISMATCH,
        group.rule.severity,
        Location(file=file, sheet=sheet, cell=cell),
        rule=group.rule.id,
        seen=format_number(total),
        expected=format_number(part_sum),
        parts=format_number(part_sum),
        total=format_number(total),
        cells=", ".join(c for c in cells if c),
        difference=format_number(abs(part_sum - total)),
        dimension=group.dimension,
    )


def _compare_finding(rule: Rule, area: str, w: Wide, file: str) -> Finding:
    assert rule.left is not None and rule.right is not None
    one = w.only({area})
    left = float(_side(rule.left, one)[0][0])
    right = float(_side(rule.right, one)[0][0])
    refs = [*rule.left.refs, *rule.right.refs]
    own = [w.cells[(area, ref_key(r))] for r in refs if (area, ref_key(r)) in w.cells]
    sheet, cell = own[0] if own else ("", "")
    return Finding.make(
        Code.COMPARE_FAILED,
        rule.severity,
        Location(file=file, sheet=sheet, cell=cell),
        rule=rule.id,
        seen=format_number(left),
        expected=f"{rule.op} {format_number(right)}",
        left=str(rule.left),
        right=str(rule.right),
        left_value=format_number(left),
        right_value=format_number(right),
        op=rule.op,
        area=area,
        cells=", ".join(c for s, c in own if s == sheet),
        detail_en=rule.message_en,
        detail_km=rule.message_km,
    )


# ---------------------------------------------------------------------------------------------
# Change against earlier periods


def _change(
    submission: Submission, catalogue: Catalogue, history: pd.DataFrame | None
) -> list[Finding]:
    """Each ruled total against up to three earlier periods of the same province."""
    rules = {r.element: r for r in catalogue.rules_of("change")}
    if history is None or history.empty or not rules:
        return []
    period = parse_period(submission.period)
    earlier: dict[str, bool] = {}
    series: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    columns = ("ministry", "element", "dimension", "area", "period", "value")
    # Plain loops: a return's history is a few hundred rows, where pandas' fixed costs dominate.
    for ministry, el, dim, area, p, x in zip(*(history[c].tolist() for c in columns), strict=True):
        disaggregated = isinstance(dim, str) and dim != ""
        if ministry != submission.ministry or el not in rules or disaggregated:
            continue
        if x is None or x != x:  # a missing-reason code: no figure to compare with
            continue
        key = str(p)
        if key not in earlier:
            earlier[key] = _before(key, period)
        if earlier[key]:
            series[(str(el), str(area))].append((key, float(x)))
    out: list[Finding] = []
    for v in submission.values:
        rule = rules.get(v.element)
        hist = series.get((v.element, v.area))
        if rule is None or v.dimension or v.value is None or not hist:
            continue
        # Period ids of one type sort in time order: the last three are the latest three.
        latest = sorted(hist)[-3:]
        finding = _change_finding(rule, v, latest, submission, column_key(v.element))
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
    if max(float(np.max(xs)), current) < rule.min_value:
        return None  # small counts move by large shares without any data problem
    if len(xs) >= 3:
        med = float(np.median(xs))
        # With three or four points the median absolute deviation can be almost 0 by chance;
        # a floor of a tenth of the median keeps ordinary year-on-year noise from being an outlier.
        mad = max(float(np.median(np.abs(xs - med))), MAD_FLOOR * abs(med))
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
    if base <= 0 or max(base, current) < rule.min_value:
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


def ref_key(ref: Ref) -> str:
    """The layout key a reference points at."""
    return column_key(ref.element, ref.dimension, ref.option)
