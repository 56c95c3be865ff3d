"""The tables pandera checks, and the schemas compiled from the catalogue's rules.

Three long tables per return, so that a handful of vectorised checks cover every cell: one row
per input cell (type, range, required), one per (area, sum rule, dimension), one per (area,
compare rule). Schemas are built once per template layout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pandera.pandas as pa

from cpxl.catalogue import Catalogue, Expression, Ref, Rule
from cpxl.findings import Code, Value
from cpxl.reading import Submission
from cpxl.templates import Layout, column_key

_OPS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: np.abs(a - b) < 1e-9,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "!=": lambda a, b: np.abs(a - b) >= 1e-9,
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
    key_of: dict[tuple[str, str, str], str] = {}  # one column key per column, not per cell
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    cells: dict[tuple[str, str], tuple[str, str]] = {}
    for v in values:
        column = (v.element, v.dimension, v.option)
        key = key_of.get(column)
        if key is None:
            key = key_of[column] = column_key(*column)
        rows.append(area_at.setdefault(v.area, len(area_at)))
        cols.append(key_at.setdefault(key, len(key_at)))
        vals.append(np.nan if v.value is None else v.value)
        if v.cell:
            cells[(v.area, key)] = (v.sheet, v.cell)
    numbers = np.full((len(area_at), len(key_at)), np.nan)
    present = np.zeros((len(area_at), len(key_at)), dtype=bool)
    numbers[rows, cols] = vals
    present[rows, cols] = True
    return Wide(tuple(area_at), key_at, numbers, present, cells)


@dataclass(frozen=True, slots=True)
class _Group:
    """One sum to check: the parts of one dimension of an element against its total."""

    rule: Rule
    dimension: str
    parts: tuple[str, ...]
    total: str
    # The words the template heads these columns with: (English, Khmer) per part, then total.
    labels: tuple[tuple[str, str], ...] = ()
    total_label: tuple[str, str] = ("", "")


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
    codes: Mapping[str, tuple[tuple[str, Code], ...]]  # check name -> (bound, code) of each


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


# The checks compute on numpy arrays and hand pandera a Series: pandas' per-operation costs
# would otherwise be most of a small return's validation.


def _range_check(
    rule: Rule, specs: tuple[tuple[str, Code], ...]
) -> Callable[[pd.DataFrame], pd.Series]:
    def check(df: pd.DataFrame) -> pd.Series:
        v, applies = df["value"].to_numpy(), df[rule.id].to_numpy()
        ok = np.ones(len(v), dtype=bool)
        with np.errstate(invalid="ignore"):
            for part, _ in specs:
                ok &= within(rule, part, v)
        return pd.Series(~applies | np.isnan(v) | ok, index=df.index)

    return check


def within(rule: Rule, part: str, v: np.ndarray) -> np.ndarray:
    """Where values keep one bound of a range rule ("min", "max" or "integer")."""
    if part == "min":
        return np.asarray(v >= (rule.min or 0.0))
    if part == "max":
        return np.asarray(v <= (rule.max or 0.0))
    return np.asarray(np.floor(v) == v)


def _required_check(df: pd.DataFrame) -> pd.Series:
    return pd.Series(~df["required"].to_numpy() | df["entered"].to_numpy(), index=df.index)


def _sum_check(df: pd.DataFrame) -> pd.Series:
    parts, total = df["parts"].to_numpy(), df["total"].to_numpy()
    ok = np.abs(parts - total) <= df["tolerance"].to_numpy()
    return pd.Series(df["skip"].to_numpy() | ok, index=df.index)


def _compare_check(df: pd.DataFrame) -> pd.Series:
    left, right, ops = df["left"].to_numpy(), df["right"].to_numpy(), df["op"].to_numpy()
    ok = np.ones(len(df), dtype=bool)
    for op, fn in _OPS.items():
        mask = ops == op
        if mask.any():
            ok[mask] = fn(left[mask], right[mask])
    return pd.Series(df["skip"].to_numpy() | ok, index=df.index)


def compile_layout(catalogue: Catalogue, layout: Layout) -> Compiled:
    """Build the pandera schemas for one template layout from the catalogue's rules (cached)."""
    return _compile(catalogue, layout)


# A run cycles through every ministry and period it receives: room for all of them.
@lru_cache(maxsize=1024)
def _compile(catalogue: Catalogue, layout: Layout) -> Compiled:
    columns = [c for s in layout.sheets for c in s.columns]
    own = {c.element for c in columns}
    types = {catalogue.elements[e].value_type for e in own}
    codes: dict[str, tuple[tuple[str, Code], ...]] = {}
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
        specs = tuple(_range_check_specs(rule, value_type if value_type in types else ""))
        if specs:  # one check per rule; a failing cell is then told which bound it broke
            codes[rule.id] = specs
            cell_checks.append(pa.Check(_range_check(rule, specs), name=rule.id, ignore_na=False))
    required = next(iter(catalogue.rules_of("required")), None)
    if required is not None:
        codes[required.id] = (("required", Code.REQUIRED_BLANK),)
        cell_checks.append(pa.Check(_required_check, name=required.id, ignore_na=False))
    present = {c.key for c in columns}
    groups: list[_Group] = []
    for rule in catalogue.rules_of("sum"):
        summed = catalogue.elements.get(rule.element)
        total = column_key(rule.element)
        if summed is None or total not in present:
            continue
        for dim in rule.dimensions or summed.by:
            options = catalogue.dimensions[dim].options
            parts = tuple(column_key(summed.code, dim, o.code) for o in options)
            labels = tuple((o.label.en, o.label.km) for o in options)
            word = catalogue.term("total")
            groups.append(_Group(rule, dim, parts, total, labels, (word.en, word.km)))
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
    # What depends on the element is worked out once per element, then spread to its cells.
    position: dict[str, int] = {}
    at = np.array([position.setdefault(v.element, len(position)) for v in vals], dtype=np.intp)
    elements = [catalogue.elements[code] for code in position]
    table: dict[str, object] = {
        "value": np.array([np.nan if v.value is None else v.value for v in vals], dtype=float),
        "entered": np.array([not v.blank for v in vals], dtype=bool),
        "required": np.array([e.required for e in elements], dtype=bool)[at],
    }
    for rule in compiled.range_rules:
        applies = [_applies(rule, e.value_type, e.code) for e in elements]
        table[rule.id] = np.array(applies, dtype=bool)[at]
    return pd.DataFrame(table)


def _sums_table(w: Wide, compiled: Compiled) -> tuple[pd.DataFrame, list[tuple[str, _Group]]]:
    """One row per (sum, area) where any of its cells is in the return, sum by sum."""
    groups = compiled.groups
    if not groups or not w.areas:
        return _no_sums(), []
    # Every sum at once: the parts of sum g are columns parts[g] of the numbers, padded with an
    # extra all-NaN column; a key the return lacks points there too, and counts as missing.
    nan_column = w.numbers.shape[1]
    numbers = np.hstack([w.numbers, np.full((len(w.areas), 1), np.nan)])
    present = np.hstack([w.present, np.zeros((len(w.areas), 1), dtype=bool)])
    width = max(len(g.parts) for g in groups)
    parts = np.full((len(groups), width), nan_column)
    is_part = np.zeros((len(groups), width), dtype=bool)
    for i, g in enumerate(groups):
        parts[i, : len(g.parts)] = [w.keys.get(k, nan_column) for k in g.parts]
        is_part[i, : len(g.parts)] = True
    total = np.array([w.keys.get(g.total, nan_column) for g in groups])
    block, totals = numbers[:, parts], numbers[:, total]  # (areas, sums, parts), (areas, sums)
    seen = present[:, parts].any(axis=2) | present[:, total]
    missing = (np.isnan(block) & is_part).sum(axis=2) + np.isnan(totals)
    keys = is_part.sum(axis=1) + 1
    strategy = np.array([g.rule.missing for g in groups])
    skip = np.where(
        strategy == "skip_if_any_missing",
        missing > 0,
        (strategy == "skip_if_all_missing") & (missing >= keys),
    )
    sums, areas = np.nonzero(seen.T)  # sum by sum, each over its areas
    if not len(sums):
        return _no_sums(), []
    table = pd.DataFrame(
        {
            "parts": np.nansum(block, axis=2)[areas, sums],
            "total": np.nan_to_num(totals[areas, sums]),
            "tolerance": np.array([g.rule.tolerance for g in groups], dtype=float)[sums],
            "skip": skip[areas, sums],
        }
    )
    return table, [(w.areas[a], groups[g]) for g, a in zip(sums, areas, strict=True)]


def _no_sums() -> pd.DataFrame:
    return pd.DataFrame({"parts": [], "total": [], "tolerance": [], "skip": []})


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
    lefts: list[np.ndarray] = []
    rights: list[np.ndarray] = []
    skips: list[np.ndarray] = []
    ops: list[str] = []
    rows: list[tuple[str, Rule]] = []
    for rule in rules:
        assert rule.left is not None and rule.right is not None
        left, lmiss, ln = _side(rule.left, w)
        right, rmiss, rn = _side(rule.right, w)
        skip = _skip(rule.missing, lmiss + rmiss, ln + rn)
        # A side with nothing at all is never compared: that is a blank, not a zero.
        skip |= (lmiss >= ln) if ln else False
        skip |= (rmiss >= rn) if rn else False
        lefts.append(left)
        rights.append(right)
        skips.append(skip)
        ops.extend([rule.op] * len(w.areas))
        rows.extend((a, rule) for a in w.areas)
    if not rows:
        return pd.DataFrame({"left": [], "right": [], "op": [], "skip": []}), rows
    table = pd.DataFrame(
        {
            "left": np.concatenate(lefts),
            "right": np.concatenate(rights),
            "op": ops,
            "skip": np.concatenate(skips),
        }
    )
    return table, rows


def _failures(schema: pa.DataFrameSchema, df: pd.DataFrame) -> list[tuple[str, int]]:
    """(check name, row) of every failure, check by check; pandera's own words are never shown.

    Each of the schema's checks is run through pandera's check backend. ``schema.validate``
    would run the same checks, then build a report in pandera's words that is never shown: a
    table with a failure then costs 1.5 ms instead of 0.04 ms per check.
    """
    if df.empty:
        return []
    out: list[tuple[str, int]] = []
    for check in schema.checks:
        passed = np.asarray(check(df).check_output, dtype=bool)
        out.extend((str(check.name), int(row)) for row in np.flatnonzero(~passed))
    return out


def ref_key(ref: Ref) -> str:
    """The layout key a reference points at."""
    return column_key(ref.element, ref.dimension, ref.option)
