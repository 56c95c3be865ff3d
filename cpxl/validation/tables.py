"""The table pandera checks, and the schemas compiled from the catalogue's rules.

A template layout has one ``DataFrameSchema`` (built once per layout) holding one ``Check`` per
catalogue rule that applies to it: the check's name is the rule's id and its error leads with
it, so pandera's own report names the rule. A return becomes one long table of judgements, one
row per thing a rule judges: a cell (range and required rules), a breakdown of an area (sum
rules), an area (compare rules). The schema is validated lazily, so every rule's failures are
collected in one pass; :func:`failures` reads pandera's ``failure_cases`` back as (check, row).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter

import numpy as np
import pandas as pd
import pandera.pandas as pa

from cpxl.catalogue import Catalogue, Expression, Ref, Rule
from cpxl.findings import Code, Value
from cpxl.reading import Submission
from cpxl.templates import Layout, column_key

Op = Callable[[np.ndarray, np.ndarray], np.ndarray]
_OPS: dict[str, Op] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: np.abs(a - b) < 1e-9,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "!=": lambda a, b: np.abs(a - b) >= 1e-9,
}


# ---------------------------------------------------------------------------------------------
# A return as numbers: the area × key matrix that sums, compares and references read


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
    """Pivot values to an area × key matrix of numbers (areas and keys in order of first use)."""
    vals = tuple(values)
    return _fill(_arrange(tuple(map(_PLACE, vals))), vals).wide


def place(values: Sequence[Value]) -> Placed:
    """A return's values as :func:`wide` pivots them, and per value its figure and element.

    Where each value goes depends only on where the return's cells are (one arrangement per
    layout, unless rows or columns were moved or removed): that is worked out once per
    arrangement, and only the figures are read per return.
    """
    return _fill(_arranged(tuple(map(_PLACE, values))), values)


_PLACE = itemgetter(0, 1, 2, 3, 6, 7)  # a Value's element, area, dimension, option, sheet, cell
_FIGURE = itemgetter(4)  # a Value's value
Place = tuple[str, str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class Placed:
    """A return's values placed: the matrix, and per value its figure (NaN when none) and the
    position of its element in ``elements``."""

    wide: Wide
    figures: np.ndarray
    elements: tuple[str, ...]
    element_at: np.ndarray


@dataclass(frozen=True, slots=True)
class _Arrangement:
    """Where each value of an arrangement of cells goes; never changed once made."""

    areas: tuple[str, ...]
    keys: Mapping[str, int]
    present: np.ndarray
    cells: Mapping[tuple[str, str], tuple[str, str]]
    rows: np.ndarray
    cols: np.ndarray
    elements: tuple[str, ...]
    element_at: np.ndarray


def _arrange(places: tuple[Place, ...]) -> _Arrangement:
    area_at: dict[str, int] = {}
    key_at: dict[str, int] = {}
    element_at: dict[str, int] = {}
    key_of: dict[tuple[str, str, str], str] = {}  # one column key per column, not per cell
    rows: list[int] = []
    cols: list[int] = []
    elements: list[int] = []
    cells: dict[tuple[str, str], tuple[str, str]] = {}
    for element, area, dimension, option, sheet, cell in places:
        column = (element, dimension, option)
        key = key_of.get(column)
        if key is None:
            key = key_of[column] = column_key(*column)
        rows.append(area_at.setdefault(area, len(area_at)))
        cols.append(key_at.setdefault(key, len(key_at)))
        elements.append(element_at.setdefault(element, len(element_at)))
        if cell:
            cells[(area, key)] = (sheet, cell)
    present = np.zeros((len(area_at), len(key_at)), dtype=bool)
    present[rows, cols] = True
    present.flags.writeable = False  # shared by every return of the arrangement
    return _Arrangement(
        tuple(area_at),
        key_at,
        present,
        cells,
        np.array(rows, dtype=np.intp),
        np.array(cols, dtype=np.intp),
        tuple(element_at),
        np.array(elements, dtype=np.intp),
    )


# A run meets each layout in one arrangement or a few (a return with a moved row is another).
_arranged = lru_cache(maxsize=32)(_arrange)


def _fill(arrangement: _Arrangement, values: Sequence[Value]) -> Placed:
    figures = np.array(list(map(_FIGURE, values)), dtype=float)  # None (no figure) is NaN
    numbers = np.full(arrangement.present.shape, np.nan)
    numbers[arrangement.rows, arrangement.cols] = figures
    a = arrangement
    w = Wide(a.areas, a.keys, numbers, a.present, a.cells)
    return Placed(w, figures, a.elements, a.element_at)


@dataclass(frozen=True, slots=True)
class Group:
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
    """A layout's pandera schemas, one named check per rule, and what each check stands for.

    ``alone`` judges what a return can answer by itself; its checks, in order: the range
    rules (``cell_checks`` of them, then the required rule), the sum rules, the ``local``
    compare rules. ``cross`` checks the compare rules that also name other ministries'
    figures, in their order.
    """

    alone: pa.DataFrameSchema
    cross_compares: pa.DataFrameSchema
    range_rules: tuple[Rule, ...]  # the rules with a check: at least one bound
    required: Rule | None
    groups: tuple[Group, ...]
    sum_rules: tuple[Rule, ...]
    local: tuple[Rule, ...]
    cross: tuple[Rule, ...]
    codes: Mapping[str, tuple[tuple[str, Code], ...]]  # check name -> (bound, code) of each
    group_checks: tuple[int, ...]  # the check number of each group's rule in ``alone``

    @property
    def first_sum(self) -> int:
        """The check number of the first sum rule in ``alone``."""
        return len(self.range_rules) + (self.required is not None)

    @property
    def first_compare(self) -> int:
        """The check number of the first local compare rule in ``alone``."""
        return self.first_sum + len(self.sum_rules)


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


def named(rule: Rule, fn: Callable[[pd.DataFrame], pd.Series]) -> pa.Check:
    """A catalogue rule as a pandera check, named by the rule's id; its error, the words
    pandera's report gives it, leads with the id too."""
    error = f"{rule.id}: {rule.description.en}" if rule.description.en else rule.id
    return pa.Check(fn, name=rule.id, error=error, ignore_na=False)


# Every check reads the judgements table (see ``judgements``): one row per thing a rule
# judges, as one block of numbers (check number, a, b, skip), and keeps the rows of other
# checks. Each reads the block in one step and hands pandera a boolean Series: pandas'
# per-column costs would otherwise be most of a small return's validation.
JUDGEMENT_COLUMNS = ("check", "a", "b", "skip")


def _rows(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    check, a, b, skip = df.to_numpy().T
    return check, a, b, skip > 0


def _range_check(
    number: int, rule: Rule, specs: tuple[tuple[str, Code], ...]
) -> Callable[[pd.DataFrame], pd.Series]:
    """A figure (``a``) within the rule's bounds; a cell with no figure is not judged."""

    def check(df: pd.DataFrame) -> pd.Series:
        rows, value, _, _ = _rows(df)
        ok = np.ones(len(value), dtype=bool)
        with np.errstate(invalid="ignore"):
            for part, _ in specs:
                ok &= within(rule, part, value)
        return pd.Series((rows != number) | np.isnan(value) | ok, index=df.index)

    return check


def within(rule: Rule, part: str, v: np.ndarray) -> np.ndarray:
    """Where values keep one bound of a range rule ("min", "max" or "integer")."""
    if part == "min":
        return np.asarray(v >= (rule.min or 0.0))
    if part == "max":
        return np.asarray(v <= (rule.max or 0.0))
    return np.asarray(np.floor(v) == v)


def _required_check(number: int) -> Callable[[pd.DataFrame], pd.Series]:
    """A required cell (one row each) is entered (``a`` is 1): a figure or a reason code."""

    def check(df: pd.DataFrame) -> pd.Series:
        rows, entered, _, _ = _rows(df)
        return pd.Series((rows != number) | (entered > 0), index=df.index)

    return check


def _sum_check(number: int, tolerance: float) -> Callable[[pd.DataFrame], pd.Series]:
    """The parts (``a``) of each dimension equal the total (``b``), area by area."""

    def check(df: pd.DataFrame) -> pd.Series:
        rows, parts, total, skip = _rows(df)
        ok = np.abs(parts - total) <= tolerance
        return pd.Series((rows != number) | skip | ok, index=df.index)

    return check


def _compare_check(number: int, op: Op) -> Callable[[pd.DataFrame], pd.Series]:
    """``left op right`` (``a`` and ``b``), area by area."""

    def check(df: pd.DataFrame) -> pd.Series:
        rows, left, right, skip = _rows(df)
        with np.errstate(invalid="ignore"):
            ok = op(left, right)
        return pd.Series((rows != number) | skip | ok, index=df.index)

    return check


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
    checks: list[pa.Check] = []
    range_rules: list[Rule] = []
    for rule in catalogue.rules_of("range"):
        if not any(_applies(rule, catalogue.elements[e].value_type, e) for e in own):
            continue
        value_type = (
            rule.value_type or catalogue.elements[rule.element or next(iter(own))].value_type
        )
        specs = tuple(_range_check_specs(rule, value_type if value_type in types else ""))
        if specs:  # one check per rule; a failing cell is then told which bound it broke
            codes[rule.id] = specs
            checks.append(named(rule, _range_check(len(checks), rule, specs)))
            range_rules.append(rule)
    required = next(iter(catalogue.rules_of("required")), None)
    if required is not None:
        codes[required.id] = (("required", Code.REQUIRED_BLANK),)
        checks.append(named(required, _required_check(len(checks))))
    present = {c.key for c in columns}
    groups: list[Group] = []
    sum_rules: list[Rule] = []
    group_checks: list[int] = []
    for rule in catalogue.rules_of("sum"):
        summed = catalogue.elements.get(rule.element)
        total = column_key(rule.element)
        if summed is None or total not in present:
            continue
        checks.append(named(rule, _sum_check(len(checks), rule.tolerance)))
        sum_rules.append(rule)
        for dim in rule.dimensions or summed.by:
            options = catalogue.dimensions[dim].options
            parts = tuple(column_key(summed.code, dim, o.code) for o in options)
            labels = tuple((o.label.en, o.label.km) for o in options)
            word = catalogue.term("total")
            groups.append(Group(rule, dim, parts, total, labels, (word.en, word.km)))
            group_checks.append(len(checks) - 1)
    local = tuple(r for r in catalogue.rules_of("compare") if rule_refs(r) <= own)
    cross = tuple(
        r for r in catalogue.rules_of("compare") if rule_refs(r) & own and not rule_refs(r) <= own
    )
    first = len(checks)
    checks.extend(named(r, _compare_check(first + i, _OPS[r.op])) for i, r in enumerate(local))
    return Compiled(
        pa.DataFrameSchema(checks=checks),
        pa.DataFrameSchema(
            checks=[named(r, _compare_check(i, _OPS[r.op])) for i, r in enumerate(cross)]
        ),
        tuple(range_rules),
        required,
        tuple(groups),
        tuple(sum_rules),
        local,
        cross,
        codes,
        tuple(group_checks),
    )


def rule_refs(rule: Rule) -> set[str]:
    assert rule.left is not None and rule.right is not None
    return {r.element for r in (*rule.left.refs, *rule.right.refs)}


def _skip(strategy: str, n_missing: np.ndarray, n: int) -> np.ndarray:
    if strategy == "skip_if_any_missing":
        return n_missing > 0
    if strategy == "skip_if_all_missing":
        return n_missing >= n
    return np.zeros(len(n_missing), dtype=bool)


@dataclass(frozen=True, slots=True)
class Judgements:
    """Everything a return's rules judge by themselves, one row each (``table``), and what
    each row is about (``subject``): the index of its value for a cell rule, of its entry
    in ``sums`` for a sum rule, of its entry in ``compares`` for a compare rule."""

    table: pd.DataFrame
    subject: np.ndarray
    sums: list[tuple[str, Group]]  # (area, breakdown)
    compares: list[tuple[str, Rule]]  # (area, rule)


def judgements(
    submission: Submission, catalogue: Catalogue, compiled: Compiled, placed: Placed
) -> Judgements:
    """The table the layout's ``alone`` schema validates: cell rules' rows (one per cell a
    rule applies to), then sums' (per breakdown and area), then compares' (per rule and area)."""
    columns: list[tuple[np.ndarray, ...]] = []  # (check, a, b, skip, subject) per block
    value, entered, required, applies = _cell_arrays(submission, catalogue, compiled, placed)
    for number, rule_applies in enumerate(applies):
        at = np.flatnonzero(rule_applies)
        columns.append(_block(number, value[at], at))
    if compiled.required is not None:
        at = np.flatnonzero(required)
        columns.append(_block(len(applies), entered[at].astype(float), at))
    sums, sum_rows = _sum_rows(placed.wide, compiled)
    compares, compare_rows = compare_judgements(placed.wide, compiled.local, compiled.first_compare)
    for block in (sums, compares):
        columns.append((*block, np.arange(len(block[0]))))
    check, a, b, skip, subject = (np.concatenate(c) for c in zip(*columns, strict=True))
    return Judgements(judgement_table(check, a, b, skip), subject, sum_rows, compare_rows)


def _block(number: int, a: np.ndarray, subject: np.ndarray) -> tuple[np.ndarray, ...]:
    nothing = np.zeros(len(a))
    return np.full(len(a), float(number)), a, nothing, nothing, subject


def _cell_arrays(
    submission: Submission, catalogue: Catalogue, compiled: Compiled, placed: Placed
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Per input cell: its figure (NaN when none), entered, required, and per range rule
    whether the rule applies to it."""
    value = placed.figures
    entered = ~np.isnan(value)
    for i in np.flatnonzero(~entered):  # no figure: a reason code or text is still an entry
        entered[i] = not submission.values[i].blank
    # What depends on the element is worked out once per element, then spread to its cells.
    elements = [catalogue.elements[code] for code in placed.elements]
    at = placed.element_at
    required = np.array([e.required for e in elements], dtype=bool)[at]
    applies = [
        np.array([_applies(rule, e.value_type, e.code) for e in elements], dtype=bool)[at]
        for rule in compiled.range_rules
    ]
    return value, entered, required, applies


def _sum_rows(
    w: Wide, compiled: Compiled
) -> tuple[tuple[np.ndarray, ...], list[tuple[str, Group]]]:
    """One row per (sum, area) where any of its cells is in the return, sum by sum."""
    groups = compiled.groups
    if not groups or not w.areas:
        return _NO_ROWS, []
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
        return _NO_ROWS, []
    rows = (
        np.array(compiled.group_checks, dtype=float)[sums],
        np.nansum(block, axis=2)[areas, sums],
        np.nan_to_num(totals[areas, sums]),
        skip[areas, sums].astype(float),
    )
    return rows, [(w.areas[a], groups[g]) for g, a in zip(sums, areas, strict=True)]


_NO_ROWS: tuple[np.ndarray, ...] = tuple(np.zeros(0) for _ in JUDGEMENT_COLUMNS)


def judgement_table(
    check: np.ndarray, a: np.ndarray, b: np.ndarray, skip: np.ndarray
) -> pd.DataFrame:
    """Rule rows as one block of numbers (see ``JUDGEMENT_COLUMNS``)."""
    return pd.DataFrame(np.column_stack([check, a, b, skip]), columns=list(JUDGEMENT_COLUMNS))


def side_sums(expr: Expression, w: Wide) -> tuple[np.ndarray, np.ndarray, int]:
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


def compare_judgements(
    w: Wide, rules: Sequence[Rule], first: int
) -> tuple[tuple[np.ndarray, ...], list[tuple[str, Rule]]]:
    """One row per (rule, area), rule by rule: check ``first`` + the rule's number."""
    if not rules or not w.areas:
        return _NO_ROWS, []
    blocks: list[tuple[np.ndarray, ...]] = []
    rows: list[tuple[str, Rule]] = []
    for number, rule in enumerate(rules):
        assert rule.left is not None and rule.right is not None
        left, lmiss, ln = side_sums(rule.left, w)
        right, rmiss, rn = side_sums(rule.right, w)
        skip = _skip(rule.missing, lmiss + rmiss, ln + rn)
        # A side with nothing at all is never compared: that is a blank, not a zero.
        skip |= (lmiss >= ln) if ln else False
        skip |= (rmiss >= rn) if rn else False
        blocks.append((np.full(len(w.areas), float(first + number)), left, right, skip))
        rows.extend((a, rule) for a in w.areas)
    check, left, right, skip = (np.concatenate(c) for c in zip(*blocks, strict=True))
    return (check, left, right, skip.astype(float)), rows


def failures(schema: pa.DataFrameSchema, df: pd.DataFrame) -> list[tuple[int, int]]:
    """(check number, row) of every failure, check by check in the schema's order, rows in
    order; ``schema.checks[number].name`` is the rule's id.

    The schema is validated lazily: pandera runs every check and collects each failing row
    in its ``failure_cases`` (one line per failing row and column, for checks over the whole
    table), which this reads back by check number and row index. pandera's own words are
    never shown to a user. A check that could not run is a bug, not a finding: it is raised.
    """
    if df.empty:
        return []
    try:
        schema.validate(df, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as err:
        broken = [e for e in err.schema_errors if e.reason_code == _CHECK_ERROR]
        if broken:
            raise RuntimeError(f"a validation check could not run: {broken[0]}") from err
        cases = err.failure_cases
        failed = cases.loc[cases["schema_context"] == "DataFrameSchema", ["check_number", "index"]]
        pairs = sorted({(int(n), int(i)) for n, i in failed.itertuples(index=False)})
        return pairs
    return []


_CHECK_ERROR = pa.errors.SchemaErrorReason.CHECK_ERROR


def ref_key(ref: Ref) -> str:
    """The layout key a reference points at."""
    return column_key(ref.element, ref.dimension, ref.option)
