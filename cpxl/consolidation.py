"""National figures from the store: indicators, completeness, data quality, and their workbook.

Everything starts from :meth:`Store.long_table` (current accepted values, one row per stored
cell). Absence of a row means "not reported" and is never turned into 0: a value that cannot be
built is NaN with status ``not-reported``, and ``missing_from`` says who is missing.

How an indicator value is built (see /work/notes/national.md):

- an element's value for a period is the stored value for that period; a longer period built
  from shorter returns (a year from quarters) uses the element's aggregation (sum for flows,
  last for stocks, mean); a return period longer than the period asked for (a year for a
  quarter) cannot be split, so the indicator has no row for that period;
- a disaggregated value replaces each numerator reference by the same option of the same
  dimension (margins, like the store); a denominator element that lacks that dimension keeps
  its total, so the parts of a share add up to the whole;
- the national value of a province indicator is built from the provinces that reported both
  numerator and denominator: counts are summed, percents and rates recomputed from the sums;
- rates per 100,000 divide by the child population of the same year, or of the nearest earlier
  year the province has one, and ``denominator_year`` says which;
- a survey indicator shows the survey's estimate as reported for the period and its survey year.

Computation is vectorised: values are pivoted once into (period x area) x (element, dimension,
option) arrays, and each indicator view is a handful of numpy operations on whole columns.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import xlsxwriter

from cpxl.catalogue import (
    Catalogue,
    Expression,
    Indicator,
    Period,
    Ref,
    parse_period,
    period_containing,
)
from cpxl.findings import Severity
from cpxl.store import Store, SubmissionRecord

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]

REPORTED: Final = "reported"
LATE: Final = "late"
PARTLY_REPORTED: Final = "partly-reported"
NOT_REPORTED: Final = "not-reported"
STATUSES: Final = (REPORTED, LATE, PARTLY_REPORTED, NOT_REPORTED)

COMPLETENESS_TARGET: Final = 90.0  # WHO data-quality review: completeness of reporting
TIMELINESS_TARGET: Final = 75.0  # WHO data-quality review: timeliness of reporting
EXTREME_SD: Final = 3.0
MODERATE_SD: Final = 2.0
MODIFIED_Z_LIMIT: Final = 3.5
CHANGE_LIMIT: Final = 0.33
HISTORY_PERIODS: Final = 3
RATE: Final = "rate_per_100000"

INDICATOR_COLUMNS: Final = (
    "indicator", "period", "area", "iso", "dimension", "option", "numerator", "denominator",
    "value", "unit", "status", "missing_from", "denominator_year", "survey_year", "sources",
)  # fmt: skip
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
# data_quality(): one row per indicator x period x area (totals). z_provinces: (value - mean) /
# SD over the provinces of the period; z_series: over the periods asked for, per area;
# outlier_*: "extreme" (|z| >= 3), "moderate" (2 <= |z| < 3) or ""; modified_z: 0.6745 (value -
# median) / MAD over the provinces, flagged beyond 3.5; previous_mean / previous_periods: mean of
# up to 3 earlier periods that have a value; change_ratio = value / previous_mean, change_flag
# beyond +-33 %; compare_rules: the compare rules naming the indicator's elements;
# compare_failed: those failing in this area; compare_fail_pct: share of the provinces (where
# any was checked) in which one fails; open_warnings / explained_warnings / explanations: from
# the findings of the current accepted submissions, on the cells the indicator is built from.
QUALITY_COLUMNS: Final = (
    "indicator", "period", "area", "iso", "value", "status", "z_provinces",
    "outlier_provinces", "z_series", "outlier_series", "modified_z", "modified_z_outlier",
    "previous_mean", "previous_periods", "change_ratio", "change_flag", "compare_rules",
    "compare_failed", "compare_fail_pct", "open_warnings", "explained_warnings", "explanations",
)  # fmt: skip
SOURCE_COLUMNS: Final = (
    "indicator", "period", "dimension", "option", "file", "sha256", "sheet", "cells",
)  # fmt: skip

_KEYS: Final = ["element", "target", "area", "dimension", "option"]
_SEP: Final = "\x1f"


# ---------------------------------------------------------------------------------------------
# Periods


def _targets(periods: Sequence[str]) -> tuple[Period, ...]:
    """The periods asked for, parsed; misuse (none, a duplicate, a typo) raises ValueError."""
    if isinstance(periods, str) or not periods:
        raise ValueError("name at least one period, as a list such as ['2025']")
    out = tuple(parse_period(p) for p in periods)
    ids = [p.id for p in out]
    if len(set(ids)) != len(ids):
        raise ValueError(f"a period is named twice in {ids}")
    return out


def sub_periods(target: Period, kind: str) -> tuple[str, ...]:
    """The periods of type ``kind`` that make up ``target`` (none when ``kind`` is longer)."""
    current = period_containing(target.start, kind)
    if not target.contains(current):
        return ()
    out: list[str] = []
    while True:
        out.append(current.id)
        if current.end >= target.end:
            return tuple(out)
        current = period_containing(current.end + timedelta(days=1), kind)


def _previous(target: Period, count: int) -> list[Period]:
    out: list[Period] = []
    current = target
    for _ in range(count):
        current = current.previous()
        out.append(current)
    return out


def _kinds(catalogue: Catalogue) -> dict[str, str]:
    """Element -> the period type of the data set it is reported in."""
    return {e: d.period_type for d in catalogue.data_sets for e in d.elements}


def _columns_of(catalogue: Catalogue, element: str) -> int:
    """How many input cells an element has per area: margins plus the Total column."""
    el = catalogue.elements[element]
    if not el.by:
        return 1
    options = sum(len(catalogue.dimensions[d].options) for d in el.by if d in catalogue.dimensions)
    return options + (1 if el.total else 0)


# ---------------------------------------------------------------------------------------------
# Inputs: one read of the store


@dataclass(frozen=True, slots=True, eq=False)
class _Inputs:
    """What every table is computed from: the long table and how its periods map to targets."""

    catalogue: Catalogue
    targets: tuple[Period, ...]
    long: pd.DataFrame
    period_map: pd.DataFrame  # stored, target, sub_index, n_sub
    population: pd.DataFrame  # target, element, area, dimension, option, period
    cache: dict[str, pd.DataFrame] = field(default_factory=dict)  # computed once per read

    @property
    def areas(self) -> tuple[str, ...]:
        """The national area first, then the provinces in catalogue order."""
        return (self.catalogue.national.code, *(p.code for p in self.catalogue.provinces))


def _period_map(catalogue: Catalogue, targets: Sequence[Period]) -> pd.DataFrame:
    kinds = sorted({d.period_type for d in catalogue.data_sets})
    rows: list[tuple[str, str, int, int]] = []
    for t in targets:
        for kind in kinds:
            subs = sub_periods(t, kind)
            rows += [(s, t.id, i, len(subs)) for i, s in enumerate(subs)]
    return pd.DataFrame(rows, columns=["stored", "target", "sub_index", "n_sub"])


def _rate_elements(catalogue: Catalogue) -> list[str]:
    return sorted(
        {
            r.element
            for ind in catalogue.indicators
            if ind.unit == RATE and ind.denominator is not None
            for r in ind.denominator.refs
        }
    )


def _population_choice(
    catalogue: Catalogue, store: Store, targets: Sequence[Period]
) -> pd.DataFrame:
    """For each target and cell of a rate denominator: the latest period up to its year."""
    columns = ["target", "element", "area", "dimension", "option", "period"]
    elements = _rate_elements(catalogue)
    if not elements:
        return pd.DataFrame(columns=columns)
    hist = store.history(elements)
    hist = hist[hist["value"].notna()]
    if hist.empty:
        return pd.DataFrame(columns=columns)
    parsed = {p: parse_period(p) for p in hist["period"].unique()}
    hist = hist.assign(
        year=hist["period"].map({k: v.year for k, v in parsed.items()}),
        start=hist["period"].map({k: v.start for k, v in parsed.items()}),
    ).sort_values("start", kind="stable")
    parts = []
    for t in targets:
        chosen = hist[hist["year"] <= t.year]
        chosen = chosen.groupby(["element", "area", "dimension", "option"], sort=False).tail(1)
        parts.append(chosen.assign(target=t.id)[columns])
    return pd.concat(parts, ignore_index=True)


def _load(catalogue: Catalogue, store: Store, targets: Sequence[Period]) -> _Inputs:
    """Read the store once for these target periods."""
    period_map = _period_map(catalogue, targets)
    population = _population_choice(catalogue, store, targets)
    wanted = set(period_map["stored"]) | set(population["period"])
    long = store.long_table(sorted(wanted))
    long = long[long["element"].isin(list(catalogue.elements))]
    return _Inputs(catalogue, tuple(targets), long, period_map, population)


# ---------------------------------------------------------------------------------------------
# Element values per target period


def _element_values(inputs: _Inputs) -> pd.DataFrame:
    """(element, target, area, dimension, option) -> value, src, late, partial."""
    if "elements" not in inputs.cache:
        inputs.cache["elements"] = _compute_element_values(inputs)
    return inputs.cache["elements"]


def _compute_element_values(inputs: _Inputs) -> pd.DataFrame:
    cat = inputs.catalogue
    cols = ["element", "period", "area", "dimension", "option", "value", "days_late"]
    x = inputs.long[cols].merge(inputs.period_map, left_on="period", right_on="stored")
    present = x["value"].notna()
    x = x.assign(
        late=present & (x["days_late"].fillna(0).astype("int64") > 0),
        at=np.where(present, x["sub_index"], -1),
    ).sort_values("sub_index", kind="stable")
    g = x.groupby(_KEYS, sort=False)
    res = g.agg(
        total=("value", "sum"),
        mean=("value", "mean"),
        last=("value", "last"),
        n=("value", "count"),
        late=("late", "any"),
        n_sub=("n_sub", "first"),
        top=("at", "max"),
    ).reset_index()
    how = res["element"].map({k: e.aggregation for k, e in cat.elements.items()})
    is_last = (how == "last").to_numpy()
    value = np.select(
        [is_last, (how == "mean").to_numpy()],
        [res["last"].to_numpy(float), res["mean"].to_numpy(float)],
        res["total"].to_numpy(float),
    )
    n = res["n"].to_numpy("int64")
    value = np.where(n > 0, value, np.nan)
    partial = (n > 0) & np.where(
        is_last,
        res["top"].to_numpy("int64") < res["n_sub"].to_numpy("int64") - 1,
        n < res["n_sub"].to_numpy("int64"),
    )
    out = res[_KEYS].assign(
        value=value,
        src=np.where(is_last, (n > 0).astype("int64"), n),
        late=res["late"].to_numpy(bool),
        partial=partial,
    )
    return _with_national(cat, _with_totals(cat, out))


def _with_totals(catalogue: Catalogue, frame: pd.DataFrame) -> pd.DataFrame:
    """Add the total of elements that have margins but no Total column (sum of the first)."""
    first = {
        code: el.by[0]
        for code, el in catalogue.elements.items()
        if el.by and not el.total and el.value_type in ("count", "amount")
    }
    if not first:
        return frame
    dim = frame["element"].map(first)
    parts = frame[(frame["dimension"] == dim) & frame["value"].notna()]
    if parts.empty:
        return frame
    total = (
        parts.groupby(["element", "target", "area"], sort=False)
        .agg(value=("value", "sum"), src=("src", "sum"), late=("late", "any"))
        .reset_index()
        .assign(dimension="", option="", partial=False)
    )
    return pd.concat([frame, total[frame.columns]], ignore_index=True)


def _with_national(catalogue: Catalogue, frame: pd.DataFrame) -> pd.DataFrame:
    """Add national rows of additive province elements: the sum of the provinces reported."""
    nat = catalogue.national.code
    additive = [
        c
        for c, e in catalogue.elements.items()
        if not e.national and e.value_type in ("count", "amount")
    ]
    prov = frame[frame["element"].isin(additive) & frame["value"].notna() & (frame["area"] != nat)]
    if prov.empty:
        return frame
    keys = ["element", "target", "dimension", "option"]
    summed = (
        prov.groupby(keys, sort=False)
        .agg(
            value=("value", "sum"),
            src=("src", "sum"),
            late=("late", "any"),
            partial=("partial", "any"),
            n=("value", "count"),
        )
        .reset_index()
    )
    summed["partial"] = summed["partial"] | (summed["n"] < len(catalogue.provinces))
    summed = summed.assign(area=nat)
    return pd.concat([frame, summed[frame.columns]], ignore_index=True)


def _population_values(inputs: _Inputs) -> pd.DataFrame:
    """Rate denominators per target: the chosen population cells, with their year."""
    if "population" not in inputs.cache:
        inputs.cache["population"] = _compute_population_values(inputs)
    return inputs.cache["population"]


def _compute_population_values(inputs: _Inputs) -> pd.DataFrame:
    cols = ["element", "period", "area", "dimension", "option", "value", "days_late"]
    merged = inputs.population.merge(
        inputs.long[cols], on=["element", "period", "area", "dimension", "option"]
    )
    years = {p: parse_period(p).year for p in merged["period"].unique()}
    out = merged.assign(
        src=merged["value"].notna().astype("int64"),
        late=merged["days_late"].fillna(0).astype("int64") > 0,
        partial=False,
        year=merged["period"].map(years).astype("float64"),
    )[[*_KEYS, "value", "src", "late", "partial", "year"]]
    out = out[out["value"].notna()]
    nat = inputs.catalogue.national.code
    prov = out[out["area"] != nat]
    if prov.empty:
        return out
    summed = (
        prov.groupby(["element", "target", "dimension", "option"], sort=False)
        .agg(
            value=("value", "sum"),
            src=("src", "sum"),
            late=("late", "any"),
            n=("value", "count"),
            year=("year", "max"),
        )
        .reset_index()
    )
    summed = summed.assign(area=nat, partial=summed["n"] < len(inputs.catalogue.provinces))
    return pd.concat([out, summed[out.columns]], ignore_index=True)


class _Grid:
    """Element cells pivoted to arrays: one row per (target, area), one column per cell key."""

    def __init__(self, frame: pd.DataFrame, targets: Sequence[str], areas: Sequence[str]) -> None:
        self.n_areas = len(areas)
        n_rows = len(targets) * len(areas)
        t_index = {t: i for i, t in enumerate(targets)}
        a_index = {a: i for i, a in enumerate(areas)}
        frame = frame[frame["target"].isin(t_index) & frame["area"].isin(a_index)]
        rows = frame["target"].map(t_index).to_numpy("int64") * len(areas) + frame["area"].map(
            a_index
        ).to_numpy("int64")
        combined = np.zeros(len(frame), dtype=np.int64)
        for c in ("element", "dimension", "option"):
            part_codes, part_uniques = pd.factorize(frame[c])
            combined = combined * (len(part_uniques) + 1) + part_codes
        _u, first, codes = np.unique(combined, return_index=True, return_inverse=True)
        keys = frame[["element", "dimension", "option"]].to_numpy(dtype=object)[first]
        self.columns: dict[str, int] = {
            f"{e}{_SEP}{d}{_SEP}{o}": i for i, (e, d, o) in enumerate(keys.tolist())
        }
        shape = (n_rows, len(self.columns) + 1)  # the last column stays empty: "no such cell"
        self.value: Floats = np.full(shape, np.nan)
        self.src: Ints = np.zeros(shape, dtype=np.int64)
        self.late: Bools = np.zeros(shape, dtype=bool)
        self.partial: Bools = np.zeros(shape, dtype=bool)
        self.year: Floats = np.full(shape, np.nan)
        self.value[rows, codes] = frame["value"].to_numpy(float)
        self.src[rows, codes] = frame["src"].to_numpy("int64")
        self.late[rows, codes] = frame["late"].to_numpy(bool)
        self.partial[rows, codes] = frame["partial"].to_numpy(bool)
        if "year" in frame:
            self.year[rows, codes] = frame["year"].to_numpy(float)

    def column(self, ref: Ref) -> int:
        """The array column of a reference (the empty column when nothing was stored)."""
        key = f"{ref.element}{_SEP}{ref.dimension}{_SEP}{ref.option}"
        return self.columns.get(key, int(self.value.shape[1]) - 1)


# ---------------------------------------------------------------------------------------------
# Indicators


@dataclass(frozen=True, slots=True)
class _Term:
    sign: float
    ref: Ref | None
    constant: float


@dataclass(frozen=True, slots=True)
class _View:
    """One row kind of an indicator: its total, or one option of one disaggregation."""

    dimension: str
    option: str
    numerator: tuple[_Term, ...]
    denominator: tuple[_Term, ...] | None


@dataclass(frozen=True, slots=True)
class _Side:
    """An expression evaluated over every (target, area) row."""

    value: Floats
    has: Bools
    complete: Bools
    missing_bits: Ints
    partial_bits: Ints
    late: Bools
    src: Ints
    year: Floats


def _terms(expr: Expression, dim: str, opt: str, *, need: bool, cat: Catalogue) -> list[_Term]:
    """Terms with each plain reference narrowed to dim=opt; [] when that is not possible."""
    out: list[_Term] = []
    for t in expr.terms:
        if t.ref is None:
            out.append(_Term(t.sign, None, t.constant))
            continue
        ref = t.ref
        if dim:
            narrowable = not ref.dimension and dim in cat.elements[ref.element].by
            if narrowable:
                ref = Ref(ref.element, dim, opt)
            elif need:
                return []
        out.append(_Term(t.sign, ref, 0.0))
    return out


def _views(cat: Catalogue, ind: Indicator, totals_only: bool) -> list[_View]:
    def den(dim: str, opt: str) -> tuple[_Term, ...] | None:
        if ind.denominator is None:
            return None
        return tuple(_terms(ind.denominator, dim, opt, need=False, cat=cat))

    out = [_View("", "", tuple(_terms(ind.numerator, "", "", need=True, cat=cat)), den("", ""))]
    if totals_only:
        return out
    for dim in ind.disaggregations:
        dimension = cat.dimensions.get(dim)
        if dimension is None:
            continue
        for opt in dimension.options:
            num = _terms(ind.numerator, dim, opt.code, need=True, cat=cat)
            if not num:
                break
            out.append(_View(dim, opt.code, tuple(num), den(dim, opt.code)))
    return out


def _side(terms: Sequence[_Term], grid: _Grid, bit: int) -> _Side:
    """Sum of signed terms; a value where at least one reference was reported."""
    n = grid.value.shape[0]
    total = np.zeros(n)
    has = np.zeros(n, dtype=bool)
    complete = np.ones(n, dtype=bool)
    missing = np.zeros(n, dtype=np.int64)
    partial = np.zeros(n, dtype=np.int64)
    late = np.zeros(n, dtype=bool)
    src = np.zeros(n, dtype=np.int64)
    year = np.full(n, np.nan)
    refs = 0
    for t in terms:
        if t.ref is None:
            total += t.sign * t.constant
            continue
        col = grid.column(t.ref)
        v = grid.value[:, col]
        present = ~np.isnan(v)
        total += t.sign * np.where(present, v, 0.0)
        has |= present
        complete &= present
        missing |= np.where(present, 0, 1 << (bit + refs))
        partial |= np.where(present & grid.partial[:, col], 1 << (bit + refs), 0)
        late |= present & grid.late[:, col]
        src += np.where(present, grid.src[:, col], 0)
        if refs == 0:
            year = grid.year[:, col]
        refs += 1
    if refs == 0:
        has[:] = True
    return _Side(np.where(has, total, np.nan), has, complete, missing, partial, late, src, year)


def _ratio(unit: str, num: Floats, den: Floats | None) -> Floats:
    """The indicator's value from numerator and denominator, by unit."""
    if den is None:
        return num
    scale = {"percent": 100.0, RATE: 100_000.0}.get(unit, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: Floats = np.where(den != 0, scale * num / np.where(den != 0, den, 1.0), np.nan)
    return out


@dataclass
class _Columns:
    """Output columns being collected, one array per view."""

    parts: dict[str, list[Any]]

    @classmethod
    def empty(cls) -> _Columns:
        names = [*INDICATOR_COLUMNS, "_ind", "_target", "_area", "_view"]
        return cls({c: [] for c in names})

    def add(self, **arrays: Any) -> None:
        for k, v in arrays.items():
            self.parts[k].append(v)

    def frame(self) -> pd.DataFrame:
        data = {k: np.concatenate(v) if v else np.array([]) for k, v in self.parts.items()}
        return pd.DataFrame(data)


class _IndicatorBuilder:
    """Builds the indicator long table from the pivoted element values."""

    def __init__(self, inputs: _Inputs, totals_only: bool) -> None:
        self.inputs = inputs
        self.cat = inputs.catalogue
        self.totals_only = totals_only
        self.targets = [t.id for t in inputs.targets]
        self.areas = inputs.areas
        self.grid = _Grid(_element_values(inputs), self.targets, self.areas)
        self.rates = _Grid(_population_values(inputs), self.targets, self.areas)
        self.kinds = _kinds(self.cat)
        self.ministry = {e: d.ministry for d in self.cat.data_sets for e in d.elements}
        self.gaps = _sub_period_gaps(inputs)
        self.names = [p.name_en for p in self.cat.provinces]
        self.iso = {self.cat.national.code: self.cat.national.iso} | {
            p.code: p.iso for p in self.cat.provinces
        }
        self.out = _Columns.empty()
        self.refs: list[tuple[str, str, str, str, str, str, str, bool]] = []

    def build(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        for i, ind in enumerate(self.cat.indicators):
            self._indicator(i, ind)
        frame = self.out.frame()
        if frame.empty:
            frame = pd.DataFrame({c: pd.Series(dtype=object) for c in INDICATOR_COLUMNS})
            return frame, _empty_refs()
        order = np.lexsort(
            (
                frame["_view"].to_numpy(),
                frame["_area"].to_numpy(),
                frame["_target"].to_numpy(),
                frame["_ind"].to_numpy(),
            )
        )
        frame = frame.iloc[order].reset_index(drop=True)[list(INDICATOR_COLUMNS)]
        frame = _typed_indicators(frame)
        refs = pd.DataFrame(
            self.refs,
            columns=list(_REF_COLUMNS_ALL),
        )
        return frame, refs

    def _applicable(self, ind: Indicator) -> Bools:
        """Targets for which every reference can be built from the returns of the calendar."""
        elements = [r.element for r in ind.numerator.refs]
        if ind.denominator is not None and ind.unit != RATE:
            elements += [r.element for r in ind.denominator.refs]
        ok = np.ones(len(self.targets), dtype=bool)
        for i, t in enumerate(self.inputs.targets):
            ok[i] = all(sub_periods(t, self.kinds[e]) for e in elements if e in self.kinds)
        return ok

    def _indicator(self, i: int, ind: Indicator) -> None:
        applicable = self._applicable(ind)
        if not applicable.any() or not ind.numerator.refs:
            return
        refs = list(ind.numerator.refs) + list(ind.denominator.refs if ind.denominator else ())
        scopes = {self.cat.elements[r.element].scope for r in refs}
        by_province = scopes == {"province"}
        survey_year = self._survey_year(ind)
        for v, view in enumerate(_views(self.cat, ind, self.totals_only)):
            num = _side(view.numerator, self.grid, 0)
            den = None
            if view.denominator is not None:
                grid = self.rates if ind.unit == RATE else self.grid
                den = _side(view.denominator, grid, len(view.numerator))
            ctx = _ViewContext(i, ind, v, view, num, den, applicable, survey_year)
            if by_province:
                self._province_rows(ctx)
            else:
                self._national_rows(ctx)

    def _survey_year(self, ind: Indicator) -> list[str]:
        """Per target, the survey year reported beside a survey indicator's estimate."""
        blank = [""] * len(self.targets)
        if not ind.survey:
            return blank
        candidates = [
            r.element.removesuffix("_pct") + "_survey_year"
            for r in ind.numerator.refs
            if r.element.endswith("_pct")
        ]
        element = next((c for c in candidates if c in self.cat.elements), None)
        if element is None:
            return blank
        col = self.grid.column(Ref(element))
        values = self.grid.value[:: self.grid.n_areas, col]  # the national row of each target
        return [f"{v:.0f}" if not np.isnan(v) else "" for v in values]

    def _ministries(self, view: _View) -> list[str]:
        terms = list(view.numerator) + list(view.denominator or ())
        return [self.ministry.get(t.ref.element, "") for t in terms if t.ref is not None]

    def _missing_text(self, view: _View, target: int, missing: int, partial: int) -> str:
        """Ministries whose figures are missing; for partial ones, which returns are missing."""
        names: list[str] = []
        for b, ministry in enumerate(self._ministries(view)):
            if missing & (1 << b):
                names.append(ministry)
            elif partial & (1 << b):
                gaps = self.gaps.get((ministry, self.targets[target]), ())
                names.append(f"{ministry} ({', '.join(gaps)})" if gaps else ministry)
        return ", ".join(dict.fromkeys(n for n in names if n))

    def _status(self, has: Bools, partly: Bools, late: Bools) -> npt.NDArray[np.object_]:
        return np.select(
            [~has, partly, late], [NOT_REPORTED, PARTLY_REPORTED, LATE], REPORTED
        ).astype(object)

    def _emit(
        self,
        ctx: _ViewContext,
        rows: Ints,
        *,
        num: Floats,
        den: Floats,
        value: Floats,
        status: npt.NDArray[np.object_],
        missing_from: list[str],
        den_year: list[str],
        src: Ints,
    ) -> None:
        n = len(rows)
        targets = rows // self.grid.n_areas
        areas = rows % self.grid.n_areas
        area_codes = np.array(self.areas, dtype=object)[areas]
        self.out.add(
            indicator=np.full(n, ctx.ind.id, dtype=object),
            period=np.array(self.targets, dtype=object)[targets],
            area=area_codes,
            iso=np.array([self.iso[a] for a in self.areas], dtype=object)[areas],
            dimension=np.full(n, ctx.view.dimension, dtype=object),
            option=np.full(n, ctx.view.option, dtype=object),
            numerator=num,
            denominator=den,
            value=value,
            unit=np.full(n, ctx.ind.unit, dtype=object),
            status=status,
            missing_from=np.array(missing_from, dtype=object),
            denominator_year=np.array(den_year, dtype=object),
            survey_year=np.array(ctx.survey_year, dtype=object)[targets],
            sources=src,
            _ind=np.full(n, ctx.index),
            _target=targets,
            _area=areas,
            _view=np.full(n, ctx.view_index),
        )

    def _province_rows(self, ctx: _ViewContext) -> None:
        """Province values, and the national value built from the provinces that reported."""
        both = _combine(ctx)
        n_t, n_a = len(self.targets), self.grid.n_areas
        if "province" in ctx.ind.disaggregations:
            prov = np.zeros((n_t, n_a), dtype=bool)
            prov[:, 1:] = True
            rows = np.flatnonzero((prov & ctx.applicable[:, None]).ravel())
            self._emit_rows(ctx, both, rows)
        self._national_from_provinces(ctx, both)

    def _emit_rows(self, ctx: _ViewContext, both: _Both, rows: Ints) -> None:
        """Rows computed directly from the grid (provinces, or national elements)."""
        n_a = self.grid.n_areas
        texts: dict[tuple[int, int, int], str] = {}
        missing_from: list[str] = []
        for r in rows.tolist():
            m, p = int(both.missing[r]), int(both.partial[r])
            key = (r // n_a, m, p)
            if key not in texts:
                texts[key] = self._missing_text(ctx.view, r // n_a, m, p) if m or p else ""
            missing_from.append(texts[key])
        if both.year is not None:
            den_year = [f"{y:.0f}" if not np.isnan(y) else "" for y in both.year[rows].tolist()]
        else:
            den_year = [""] * len(rows)
        self._emit(
            ctx,
            rows,
            num=both.num[rows],
            den=both.den[rows],
            value=both.value[rows],
            status=self._status(
                both.has[rows], (both.missing | both.partial)[rows] != 0, both.late[rows]
            ),
            missing_from=missing_from,
            den_year=den_year,
            src=both.src[rows],
        )

    def _national_from_provinces(self, ctx: _ViewContext, both: _Both) -> None:
        """Sum the provinces that reported everything the value needs; name the others."""
        shape = (len(self.targets), self.grid.n_areas)
        prov = np.zeros(shape, dtype=bool)
        prov[:, 1:] = True
        inc = both.has.reshape(shape) & prov
        any_inc: Bools = np.asarray(inc.any(axis=1), dtype=bool)
        nat_num = np.where(inc, both.num.reshape(shape), 0.0).sum(axis=1)
        nat_den = np.where(inc, both.den.reshape(shape), 0.0).sum(axis=1)
        has_den = ctx.den is not None
        value = _ratio(ctx.ind.unit, nat_num, nat_den if has_den else None)
        part_inc = np.where(inc, both.partial.reshape(shape), 0)
        partly: Bools = np.asarray(
            ((prov & ~inc).any(axis=1) & any_inc) | (part_inc != 0).any(axis=1), dtype=bool
        )
        late: Bools = np.asarray((both.late.reshape(shape) & inc).any(axis=1), dtype=bool)
        src = np.where(inc, both.src.reshape(shape), 0).sum(axis=1)
        t_rows = np.flatnonzero(ctx.applicable)
        missing = both.missing.reshape(shape)
        missing_from = [
            self._national_text(ctx.view, t, inc[t], missing[t], part_inc[t])
            for t in t_rows.tolist()
        ]
        if both.year is not None:
            years = both.year.reshape(shape)
            den_year = [
                ", ".join(f"{y:.0f}" for y in sorted(set(years[t][inc[t]].tolist())))
                for t in t_rows.tolist()
            ]
        else:
            den_year = [""] * len(t_rows)
        self._emit(
            ctx,
            t_rows * shape[1],
            num=np.where(any_inc, nat_num, np.nan)[t_rows],
            den=np.where(any_inc, nat_den, np.nan)[t_rows] if has_den else nat_den[t_rows] * np.nan,
            value=np.where(any_inc, value, np.nan)[t_rows],
            status=self._status(any_inc[t_rows], partly[t_rows], late[t_rows]),
            missing_from=missing_from,
            den_year=den_year,
            src=src[t_rows],
        )
        for t in t_rows.tolist():
            if any_inc[t]:
                self._remember_refs(ctx, t)

    def _national_text(self, view: _View, t: int, inc: Bools, missing: Ints, partial: Ints) -> str:
        """The provinces left out of a national value (by ministry when it uses several)."""
        provinces = inc[1:]
        if not provinces.any():
            bits = int(np.bitwise_or.reduce(missing[1:])) if len(missing) > 1 else 0
            return self._missing_text(view, t, bits, 0)
        groups: dict[str, list[str]] = {}
        for name, ok, bits in zip(
            self.names, provinces.tolist(), missing[1:].tolist(), strict=True
        ):
            if not ok:
                groups.setdefault(self._missing_text(view, t, bits, 0), []).append(name)
        if len(set(self._ministries(view))) > 1:
            parts = [f"{who}: {', '.join(names)}" for who, names in groups.items()]
        else:
            parts = [", ".join(names) for names in groups.values()]
        part_bits = int(np.bitwise_or.reduce(np.where(inc, partial, 0)))
        if part_bits:
            parts.append(self._missing_text(view, t, 0, part_bits))
        return "; ".join(parts)

    def _national_rows(self, ctx: _ViewContext) -> None:
        """Indicators of national elements: the national row only."""
        both = _combine(ctx)
        t_rows = np.flatnonzero(ctx.applicable)
        rows = t_rows * self.grid.n_areas
        self._emit_rows(ctx, both, rows)
        for t, r in zip(t_rows.tolist(), rows.tolist(), strict=True):
            if both.has[r]:
                self._remember_refs(ctx, t)

    def _remember_refs(self, ctx: _ViewContext, t: int) -> None:
        """Which stored cells a national value was built from (for the Sources sheet)."""
        for side, rate in ((ctx.view.numerator, False), (ctx.view.denominator or (), True)):
            for term in side:
                if term.ref is not None:
                    self.refs.append(
                        (
                            ctx.ind.id,
                            self.targets[t],
                            ctx.view.dimension,
                            ctx.view.option,
                            term.ref.element,
                            term.ref.dimension,
                            term.ref.option,
                            rate and ctx.ind.unit == RATE,
                        )
                    )


@dataclass(frozen=True, slots=True)
class _ViewContext:
    index: int
    ind: Indicator
    view_index: int
    view: _View
    num: _Side
    den: _Side | None
    applicable: Bools
    survey_year: list[str]


@dataclass(frozen=True, slots=True)
class _Both:
    """Numerator and denominator of one view combined, over every (target, area) row."""

    has: Bools  # numerator and (when there is one) denominator reported
    num: Floats
    den: Floats
    value: Floats
    missing: Ints
    partial: Ints
    late: Bools
    src: Ints
    year: Floats | None  # the population year, for rates


def _combine(ctx: _ViewContext) -> _Both:
    num, den = ctx.num, ctx.den
    if den is None:
        return _Both(
            num.has, num.value, np.full_like(num.value, np.nan), num.value,
            num.missing_bits, num.partial_bits, num.late, num.src, None,
        )  # fmt: skip
    has = num.has & den.has
    value = _ratio(ctx.ind.unit, num.value, den.value)
    return _Both(
        has,
        num.value,
        den.value,
        np.where(has, value, np.nan),
        num.missing_bits | den.missing_bits,
        num.partial_bits | den.partial_bits,
        num.late | den.late,
        num.src + den.src,
        den.year if ctx.ind.unit == RATE else None,
    )


_REF_COLUMNS: Final = ("indicator", "target", "dimension", "option", "element", "rdim", "ropt")
_REF_COLUMNS_ALL: Final = (*_REF_COLUMNS, "rate")


def _empty_refs() -> pd.DataFrame:
    return pd.DataFrame(columns=list(_REF_COLUMNS_ALL))


def _typed_indicators(frame: pd.DataFrame) -> pd.DataFrame:
    for c in ("numerator", "denominator", "value"):
        frame[c] = frame[c].astype("float64")
    frame["sources"] = frame["sources"].astype("int64")
    for c in INDICATOR_COLUMNS:
        if c not in ("numerator", "denominator", "value", "sources"):
            frame[c] = frame[c].astype("str")
    return frame


def _sub_period_gaps(inputs: _Inputs) -> dict[tuple[str, str], tuple[str, ...]]:
    """(ministry, target) -> the shorter returns in the target that sent no value at all."""
    cat = inputs.catalogue
    pairs = inputs.long[["ministry", "period"]].drop_duplicates()
    sent = set(zip(pairs["ministry"].tolist(), pairs["period"].tolist(), strict=True))
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for t in inputs.targets:
        for ministry in cat.ministries:
            kinds = {d.period_type for d in cat.data_sets if d.ministry == ministry}
            expected = [s for k in sorted(kinds) for s in sub_periods(t, k) if s != t.id]
            gaps = tuple(s for s in expected if (ministry, s) not in sent)
            if gaps:
                out[(ministry, t.id)] = gaps
    return out


def _indicator_frames(
    inputs: _Inputs, *, totals_only: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _IndicatorBuilder(inputs, totals_only).build()


def indicator_table(catalogue: Catalogue, store: Store, periods: Sequence[str]) -> pd.DataFrame:
    """National indicators: a row per indicator, period, area and option; never 0 for absence."""
    inputs = _load(catalogue, store, _targets(periods))
    return _indicator_frames(inputs)[0]


# ---------------------------------------------------------------------------------------------
# Completeness and timeliness


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


def _returns(
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


def _completeness(
    inputs: _Inputs, submissions: Sequence[SubmissionRecord], today: date
) -> pd.DataFrame:
    cat = inputs.catalogue
    by_key: dict[tuple[str, str], list[SubmissionRecord]] = defaultdict(list)
    for s in submissions:
        by_key[(s.ministry, s.period)].append(s)
    long = inputs.long
    counts = long.groupby(["ministry", "period", "area"]).agg(
        present=("value", "count"), rows=("value", "size")
    )
    present: dict[tuple[str, str, str], int] = {}
    stored: dict[tuple[str, str, str], int] = {}
    for (m, p, area), n_present, n_rows in zip(
        counts.index.tolist(), counts["present"].tolist(), counts["rows"].tolist(), strict=True
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
            returns = [_returns(cat, by_key[(ministry, p)], ministry, p) for p in periods]
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


def _kinds_of_periods(inputs: _Inputs) -> dict[str, str]:
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
    inputs = _load(catalogue, store, _targets(periods))
    return _completeness(inputs, store.submissions(), today or date.today())


# ---------------------------------------------------------------------------------------------
# Who to chase today


@dataclass(frozen=True, slots=True)
class MinistryStatus:
    """Where one ministry's return for a period stands."""

    ministry: str
    name_en: str
    name_km: str
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
    "ministry", "expected", "received", "accepted", "status", "due", "days_late", "missing",
    "open_warnings", "file",
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
        return tuple(m.ministry for m in self.ministries if m.missing)

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
    """Per ministry expected for a period: received, accepted, late, missing, open warnings."""
    p = parse_period(period)
    day = today or date.today()
    subs = store.submissions(p.id)
    out: list[MinistryStatus] = []
    for code in catalogue.reporting_ministries(p):
        r = _returns(catalogue, subs, code, p.id)
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
                name_en=ministry.name_en,
                name_km=ministry.name_km,
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
    return StatusReport(p.id, day, tuple(out))


# ---------------------------------------------------------------------------------------------
# Data quality


def _with_history(targets: Sequence[Period]) -> tuple[Period, ...]:
    """The targets plus the earlier periods that consistency over time compares them with."""
    ids = {t.id for t in targets}
    extra: dict[str, Period] = {}
    for t in targets:
        for p in _previous(t, HISTORY_PERIODS):
            if p.id not in ids:
                extra[p.id] = p
    return (*targets, *sorted(extra.values()))


def _restrict(inputs: _Inputs, targets: Sequence[Period]) -> _Inputs:
    ids = [t.id for t in targets]
    cache = {k: v[v["target"].isin(ids)] for k, v in inputs.cache.items()}
    return _Inputs(
        inputs.catalogue,
        tuple(targets),
        inputs.long,
        inputs.period_map[inputs.period_map["target"].isin(ids)],
        inputs.population[inputs.population["target"].isin(ids)],
        cache,
    )


_OPS: Final[dict[str, Callable[[Floats, Floats, float], Bools]]] = {
    "<": lambda a, b, tol: a < b + tol,
    "<=": lambda a, b, tol: a <= b + tol,
    "==": lambda a, b, tol: np.abs(a - b) <= tol,
    "!=": lambda a, b, tol: np.abs(a - b) > tol,
    ">=": lambda a, b, tol: a + tol >= b,
    ">": lambda a, b, tol: a + tol > b,
}


def _plain(expr: Expression | None) -> list[_Term]:
    if expr is None:
        return []
    return [_Term(t.sign, t.ref, t.constant if t.ref is None else 0.0) for t in expr.terms]


def _compare_outcomes(inputs: _Inputs, grid: _Grid) -> dict[str, tuple[Bools, Bools, set[str]]]:
    """Compare rule id -> (evaluated, failed) over grid rows, and the elements it names."""
    out: dict[str, tuple[Bools, Bools, set[str]]] = {}
    for rule in inputs.catalogue.rules_of("compare"):
        op = _OPS.get(rule.op)
        if op is None or rule.left is None or rule.right is None:
            continue
        left, right = _side(_plain(rule.left), grid, 0), _side(_plain(rule.right), grid, 0)
        if rule.missing == "skip_if_any_missing":
            evaluated = left.complete & right.complete
        elif rule.missing == "never_skip":
            evaluated = np.ones_like(left.has)
        else:
            evaluated = left.has & right.has
        lv = np.where(left.has, left.value, 0.0)
        rv = np.where(right.has, right.value, 0.0)
        failed = evaluated & ~op(lv, rv, rule.tolerance + 1e-9)
        names = {r.element for r in (*rule.left.refs, *rule.right.refs)}
        out[rule.id] = (evaluated, failed, names)
    return out


def _warnings(inputs: _Inputs, store: Store) -> pd.DataFrame:
    """(element, target, area) -> open warnings, explained warnings and their explanations."""
    columns = ["element", "target", "area", "open", "explained", "text"]
    records: list[tuple[int, str, str, int, int, str]] = []
    for sid in sorted(int(s) for s in inputs.long["submission_id"].unique()):
        for f in store.findings_of(sid):
            loc = f.location
            if f.severity == Severity.WARNING:
                records.append((sid, loc.sheet, loc.cell, 1, 0, ""))
            elif f.severity == Severity.INFO and "explanation" in f.params:
                why = (
                    f"{f.rule or f.code.value} ({loc.sheet}!{loc.cell}): {f.params['explanation']}"
                )
                records.append((sid, loc.sheet, loc.cell, 0, 1, why))
    if not records:
        return pd.DataFrame(columns=columns)
    found = pd.DataFrame(
        records, columns=["submission_id", "sheet", "cell", "open", "explained", "text"]
    )
    cols = ["submission_id", "sheet", "cell", "element", "area", "period"]
    cells = inputs.long[inputs.long["submission_id"].isin(found["submission_id"])][cols]
    exact = found.merge(cells, on=["submission_id", "sheet", "cell"])
    # A warning on a cell that holds nothing stored (a blank beside a total, say) is placed by
    # its row (the area) and its column (the element), read from the cells around it.
    rest = found.merge(exact[["submission_id", "sheet", "cell"]], how="left", indicator=True)
    rest = rest[rest["_merge"] == "left_only"].drop(columns="_merge")
    if not rest.empty:
        near = cells.merge(rest[["submission_id", "sheet"]].drop_duplicates())
        split = near["cell"].str.extract(r"^([A-Z]+)(\d+)$")
        near = near.assign(col=split[0], row=split[1])
        split = rest["cell"].str.extract(r"^([A-Z]+)(\d+)$")
        rest = rest.assign(col=split[0], row=split[1])
        on_row, on_col = ["submission_id", "sheet", "row"], ["submission_id", "sheet", "col"]
        by_row = near.drop_duplicates(on_row)[[*on_row, "area", "period"]]
        by_col = near.drop_duplicates(on_col)[[*on_col, "element"]]
        rest = rest.merge(by_row, on=on_row).merge(by_col, on=on_col)
        exact = pd.concat([exact, rest[exact.columns]], ignore_index=True)
    placed = exact.merge(inputs.period_map, left_on="period", right_on="stored")
    if placed.empty:
        return pd.DataFrame(columns=columns)
    return (
        placed.groupby(["element", "target", "area"], sort=False)
        .agg(
            open=("open", "sum"),
            explained=("explained", "sum"),
            text=("text", lambda s: " | ".join(x for x in s if x)),
        )
        .reset_index()[columns]
    )


def _quality(inputs: _Inputs, totals: pd.DataFrame, store: Store) -> pd.DataFrame:
    cat = inputs.catalogue
    nat = cat.national.code
    ids = [t.id for t in inputs.targets]
    cur = totals[totals["period"].isin(ids) & (totals["dimension"] == "")].reset_index(drop=True)
    cur = cur[["indicator", "period", "area", "iso", "value", "status"]].copy()
    _outliers(cur, totals, nat)
    _over_time(cur, totals, inputs.targets)
    _consistency(cur, inputs)
    _open_warnings(cur, inputs, store)
    return cur[list(QUALITY_COLUMNS)]


def _outliers(cur: pd.DataFrame, totals: pd.DataFrame, nat: str) -> None:
    """z over the provinces of a period, and over an area's series (with the earlier periods)."""
    pv = cur["value"].where(cur["area"] != nat)
    by_period = [cur["indicator"], cur["period"]]
    g = pv.groupby(by_period)
    sd = g.transform("std").replace(0.0, np.nan)
    cur["z_provinces"] = (pv - g.transform("mean")) / sd
    median = g.transform("median")
    mad = (pv - median).abs().groupby(by_period).transform("median").replace(0.0, np.nan)
    cur["modified_z"] = 0.6745 * (pv - median) / mad
    cur["modified_z_outlier"] = (cur["modified_z"].abs() > MODIFIED_Z_LIMIT).astype(bool)
    kinds = {p: parse_period(p).type for p in totals["period"].unique()}
    series = totals[totals["dimension"] == ""][["indicator", "area", "period", "value"]]
    series = series.assign(kind=series["period"].map(kinds))
    stats = (
        series.groupby(["indicator", "area", "kind"])["value"].agg(["mean", "std"]).reset_index()
    )
    keyed = cur[["indicator", "area", "period"]].assign(kind=cur["period"].map(kinds))
    merged = keyed.merge(stats, on=["indicator", "area", "kind"], how="left")
    sd_s = merged["std"].replace(0.0, np.nan).to_numpy(float)
    cur["z_series"] = (cur["value"].to_numpy(float) - merged["mean"].to_numpy(float)) / sd_s
    for name in ("provinces", "series"):
        z = cur[f"z_{name}"].abs()
        cur[f"outlier_{name}"] = np.select(
            [z >= EXTREME_SD, z >= MODERATE_SD], ["extreme", "moderate"], ""
        ).astype(object)
        cur[f"outlier_{name}"] = cur[f"outlier_{name}"].astype("str")


def _over_time(cur: pd.DataFrame, totals: pd.DataFrame, targets: Sequence[Period]) -> None:
    """Ratio of each value to the mean of up to 3 earlier periods; flag beyond +-33 %."""
    pairs = pd.DataFrame(
        [(t.id, p.id) for t in targets for p in _previous(t, HISTORY_PERIODS)],
        columns=["period", "previous"],
    )
    earlier = totals[totals["dimension"] == ""][["indicator", "area", "period", "value"]]
    earlier = earlier.rename(columns={"period": "previous", "value": "earlier"})
    joined = cur[["indicator", "area", "period"]].merge(pairs, on="period")
    joined = joined.merge(earlier, on=["indicator", "area", "previous"])
    stats = (
        joined.groupby(["indicator", "area", "period"])
        .agg(previous_mean=("earlier", "mean"), previous_periods=("earlier", "count"))
        .reset_index()
    )
    merged = cur[["indicator", "area", "period"]].merge(
        stats, on=["indicator", "area", "period"], how="left"
    )
    cur["previous_mean"] = merged["previous_mean"].to_numpy(float)
    cur["previous_periods"] = merged["previous_periods"].fillna(0).to_numpy("int64")
    prev = cur["previous_mean"]
    with np.errstate(divide="ignore", invalid="ignore"):
        cur["change_ratio"] = (cur["value"] / prev).where(prev != 0)
    off = (cur["change_ratio"] - 1.0).abs() > CHANGE_LIMIT
    from_zero = (prev == 0) & (cur["value"] > 0)
    cur["change_flag"] = (off | from_zero).astype(bool)


def _consistency(cur: pd.DataFrame, inputs: _Inputs) -> None:
    """Compare rules naming an indicator's elements: which fail here; share of provinces."""
    cat = inputs.catalogue
    targets = [t.id for t in inputs.targets]
    areas = inputs.areas
    grid = _Grid(_element_values(inputs), targets, areas)
    outcomes = _compare_outcomes(inputs, grid)
    t_index = {t: i for i, t in enumerate(targets)}
    a_index = {a: i for i, a in enumerate(areas)}
    rows = cur["period"].map(t_index).to_numpy("int64") * len(areas) + cur["area"].map(
        a_index
    ).to_numpy("int64")
    related = np.full(len(cur), "", dtype=object)
    failed = np.full(len(cur), "", dtype=object)
    share = np.full(len(cur), np.nan)
    n_t, n_a = len(targets), len(areas)
    indicators = cur["indicator"].to_numpy(dtype=object)
    for ind in cat.indicators:
        names = {r.element for r in ind.numerator.refs}
        names |= {r.element for r in (ind.denominator.refs if ind.denominator else ())}
        rules = [k for k, (_e, _f, named) in outcomes.items() if named & names]
        at = np.flatnonzero(indicators == ind.id)
        if not rules or not len(at):
            continue
        fails = np.stack([outcomes[k][1] for k in rules])
        evaluated = np.stack([outcomes[k][0] for k in rules]).any(axis=0).reshape(n_t, n_a)
        failing = fails.any(axis=0).reshape(n_t, n_a)
        n_eval = evaluated[:, 1:].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            by_target = np.where(n_eval > 0, 100.0 * failing[:, 1:].sum(axis=1) / n_eval, np.nan)
        related[at] = ", ".join(rules)
        share[at] = by_target[rows[at] // n_a]
        for i in at[fails[:, rows[at]].any(axis=0)].tolist():
            failed[i] = ", ".join(k for k, f in zip(rules, fails[:, rows[i]], strict=True) if f)
    cur["compare_rules"] = pd.Series(related, index=cur.index, dtype="str")
    cur["compare_failed"] = pd.Series(failed, index=cur.index, dtype="str")
    cur["compare_fail_pct"] = share


def _open_warnings(cur: pd.DataFrame, inputs: _Inputs, store: Store) -> None:
    """Warnings still open, and those explained, on the cells an indicator is built from."""
    cat = inputs.catalogue
    found = _warnings(inputs, store)
    cur["open_warnings"] = 0
    cur["explained_warnings"] = 0
    cur["explanations"] = ""
    if found.empty:
        cur["explanations"] = cur["explanations"].astype("str")
        return
    nat = cat.national.code
    parts = []
    for ind in cat.indicators:
        names = {r.element for r in ind.numerator.refs}
        names |= {r.element for r in (ind.denominator.refs if ind.denominator else ())}
        mine = found[found["element"].isin(names)]
        if mine.empty:
            continue
        local = mine.groupby(["target", "area"]).agg(
            open=("open", "sum"), explained=("explained", "sum"),
            text=("text", lambda s: " | ".join(x for x in s if x)),
        ).reset_index()  # fmt: skip
        national = mine.groupby("target").agg(
            open=("open", "sum"), explained=("explained", "sum"),
            text=("text", lambda s: " | ".join(x for x in s if x)),
        ).reset_index().assign(area=nat)  # fmt: skip
        both = pd.concat([local[local["area"] != nat], national], ignore_index=True)
        parts.append(both.assign(indicator=ind.id))
    if not parts:
        cur["explanations"] = cur["explanations"].astype("str")
        return
    table = pd.concat(parts, ignore_index=True).rename(columns={"target": "period"})
    merged = cur[["indicator", "period", "area"]].merge(
        table, on=["indicator", "period", "area"], how="left"
    )
    cur["open_warnings"] = merged["open"].fillna(0).to_numpy("int64")
    cur["explained_warnings"] = merged["explained"].fillna(0).to_numpy("int64")
    cur["explanations"] = pd.Series(
        merged["text"].fillna("").to_numpy(object), index=cur.index, dtype="str"
    )


def data_quality(catalogue: Catalogue, store: Store, periods: Sequence[str]) -> pd.DataFrame:
    """Outliers, consistency over time and between indicators, and warnings, per province."""
    targets = _targets(periods)
    inputs = _load(catalogue, store, _with_history(targets))
    totals = _indicator_frames(inputs, totals_only=True)[0]  # also fills the cache
    return _quality(_restrict(inputs, targets), totals, store)


# ---------------------------------------------------------------------------------------------
# Sources of national values


def _cell_ranges(cells: Iterable[str]) -> str:
    """``D5, D6, D7, F9`` -> ``D5:D7, F9``: the cells a value came from, compactly."""
    by_col: dict[str, list[int]] = defaultdict(list)
    for cell in cells:
        m = _CELL.match(cell)
        if m:
            by_col[m.group(1)].append(int(m.group(2)))
    out: list[str] = []
    for col in sorted(by_col, key=lambda c: (len(c), c)):
        rows = sorted(set(by_col[col]))
        start = prev = rows[0]
        for r in [*rows[1:], None]:
            if r is not None and r == prev + 1:
                prev = r
                continue
            out.append(f"{col}{start}" if start == prev else f"{col}{start}:{col}{prev}")
            if r is not None:
                start = prev = r
    return ", ".join(out)


_CELL: Final = re.compile(r"^([A-Z]+)(\d+)$")


def _sources(inputs: _Inputs, refs: pd.DataFrame) -> pd.DataFrame:
    """Every national value with the files, sheets and cells it was built from."""
    if refs.empty or inputs.long.empty:
        return pd.DataFrame(columns=list(SOURCE_COLUMNS))
    cols = ["element", "period", "area", "dimension", "option", "submission_id"]
    cols += ["name_received", "sha256", "sheet", "cell"]
    stored = inputs.long[inputs.long["value"].notna()][cols]
    plain = stored.merge(inputs.period_map, left_on="period", right_on="stored")
    plain = plain.assign(rate=False)
    pop = inputs.population.merge(
        stored, on=["element", "period", "area", "dimension", "option"]
    ).assign(rate=True)
    keys = ["element", "target", "dimension", "option", "rate"]
    both = pd.concat([plain[[*keys, *cols[5:]]], pop[[*keys, *cols[5:]]]], ignore_index=True)
    needed = refs[["element", "target", "rdim", "ropt", "rate"]].drop_duplicates()
    both = both.merge(needed.rename(columns={"rdim": "dimension", "ropt": "option"}), on=keys)
    if both.empty:
        return pd.DataFrame(columns=list(SOURCE_COLUMNS))
    # One group per referenced cell key, file and sheet; its cells written as ranges once.
    by = [*keys, "name_received", "sha256", "sheet"]
    ids = both.groupby(by, sort=False).ngroup().to_numpy()
    order = np.argsort(ids, kind="stable")
    bounds = np.flatnonzero(np.diff(ids[order])) + 1
    cells = np.split(both["cell"].to_numpy(dtype=object)[order], bounds)
    firsts = order[np.concatenate([[0], bounds])]
    grouped = both.iloc[firsts][by].assign(cells=[_cell_ranges(c.tolist()) for c in cells])
    merged = refs.merge(
        grouped.rename(columns={"dimension": "rdim", "option": "ropt"}),
        on=["element", "target", "rdim", "ropt", "rate"],
    )
    out = (
        merged.groupby(
            ["indicator", "target", "dimension", "option", "name_received", "sha256", "sheet"],
            sort=False,
        )["cells"]
        .agg(", ".join)
        .reset_index()
        .rename(columns={"target": "period", "name_received": "file"})
    )
    return out[list(SOURCE_COLUMNS)]


# ---------------------------------------------------------------------------------------------
# The national workbook


@dataclass(frozen=True, slots=True)
class NationalResult:
    """What the national workbook holds, for the command line and the run summary.

    ``indicators``: indicators with at least one value; ``values``: indicator values (all rows
    of indicator_table with a value); ``submissions``: files whose values were read.
    """

    workbook: Path
    periods: tuple[str, ...]
    indicators: int
    values: int
    submissions: int

    def to_dict(self) -> dict[str, Any]:
        """The machine shape printed by ``--json``."""
        return {
            "workbook": str(self.workbook),
            "periods": list(self.periods),
            "indicators": self.indicators,
            "values": self.values,
            "submissions": self.submissions,
        }


@dataclass(frozen=True, slots=True)
class _Col:
    """One column of a sheet: the frame column, its header term and how to write it."""

    field: str
    key: str
    en: str
    kind: str = "text"  # text | number | int | bool
    width: float = 14.0


class _Book:
    """The xlsxwriter workbook with its formats and the catalogue's bilingual headers."""

    def __init__(self, path: Path, catalogue: Catalogue) -> None:
        options = {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "nan_inf_to_errors": False,
        }
        self.wb = xlsxwriter.Workbook(str(path), options)
        self.cat = catalogue
        self.head = self.wb.add_format({"bold": True, "bg_color": "#DDEBF7", "text_wrap": True})
        self.head_km = self.wb.add_format({"italic": True, "bg_color": "#DDEBF7"})
        self.title = self.wb.add_format({"bold": True, "font_size": 14})
        self.bold = self.wb.add_format({"bold": True})
        self.wrap = self.wb.add_format({"text_wrap": True, "valign": "top"})
        self.number = self.wb.add_format({"num_format": "#,##0.##"})
        self.integer = self.wb.add_format({"num_format": "#,##0"})
        self.grey = self.wb.add_format({"bg_color": "#EDEDED", "font_color": "#7F7F7F"})
        self.amber = self.wb.add_format({"bg_color": "#FFF2CC"})
        self.red = self.wb.add_format({"bg_color": "#F8CBAD"})

    def label(self, key: str, en: str) -> tuple[str, str]:
        """English and Khmer for a label: the catalogue's term, else English in both rows."""
        term = self.cat.terms.get(key)
        return (term.en, term.km) if term is not None else (en, en)

    def sheet(self, name: str) -> Any:
        return self.wb.add_worksheet(_sheet_name(name))

    def table(self, ws: Any, cols: Sequence[_Col], frame: pd.DataFrame, first: int = 0) -> int:
        """Two header rows (English, Khmer), then the frame; returns the last row written."""
        for j, c in enumerate(cols):
            en, km = self.label(c.key, c.en)
            ws.write_string(first, j, en, self.head)
            ws.write_string(first + 1, j, km, self.head_km)
            ws.set_column(j, j, c.width)
        ws.freeze_panes(first + 2, 0)
        n = len(frame)
        ws.autofilter(first + 1, 0, first + 1 + n, len(cols) - 1)
        for j, c in enumerate(cols):
            kind = float if c.kind in ("number", "int") else object
            values = frame[c.field].to_numpy(dtype=kind).tolist() if n else []
            self._column(ws, first + 2, j, c.kind, values)
        return first + 1 + n

    def _column(self, ws: Any, first: int, j: int, kind: str, values: list[Any]) -> None:
        # Written column by column: one tight loop per column, no per-cell type dispatch.
        if kind in ("number", "int"):
            fmt = self.integer if kind == "int" else self.number
            write_number = ws.write_number
            finite = math.isfinite
            for i, v in enumerate(values):
                if finite(v):
                    write_number(first + i, j, v, fmt)
        elif kind == "bool":
            write_string = ws.write_string
            for i, v in enumerate(values):
                write_string(first + i, j, "yes" if v else "no")
        else:
            write_string = ws.write_string
            for i, v in enumerate(values):
                if isinstance(v, str) and v:
                    write_string(first + i, j, v)

    def close(self) -> None:
        self.wb.close()


def _submissions_used(inputs: _Inputs) -> set[int]:
    """The submissions whose values a consolidation reads (population years included)."""
    long = inputs.long
    own = long.loc[long["period"].isin(set(inputs.period_map["stored"])), "submission_id"]
    keys = ["element", "period", "area", "dimension", "option"]
    pop = inputs.population.merge(long[[*keys, "submission_id"]], on=keys)["submission_id"]
    return {int(x) for x in own.unique()} | {int(x) for x in pop.unique()}


def _sheet_name(name: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", " ", name)[:31].strip()


def _period_label(periods: Sequence[str]) -> str:
    return periods[0] + (f"-{periods[-1]}" if len(periods) > 1 else "")


def write_national_workbook(
    catalogue: Catalogue,
    store: Store,
    periods: Sequence[str],
    out_dir: Path,
    *,
    built_at: datetime | None = None,
    today: date | None = None,
) -> NationalResult:
    """Write the national workbook (indicators, completeness, data quality, sources, charts)."""
    targets = _targets(periods)
    moment = built_at or datetime.now(UTC)
    inputs_all = _load(catalogue, store, _with_history(targets))
    _element_values(inputs_all)
    _population_values(inputs_all)
    inputs = _restrict(inputs_all, targets)
    table, refs = _indicator_frames(inputs)
    totals = _indicator_frames(inputs_all, totals_only=True)[0]
    quality = _quality(inputs, totals, store)
    complete = _completeness(inputs, store.submissions(), today or moment.date())
    sources = _sources(inputs, refs)
    n_subs = len(_submissions_used(inputs))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"cpims-national-{_period_label([t.id for t in targets])}.xlsx"
    partial = path.with_name(path.name + ".partial")
    book = _Book(partial, catalogue)
    try:
        _about(book, [t.id for t in targets], moment, n_subs)
        _indicators_sheet(book, table)
        for domain in catalogue.domains:
            _domain_sheet(book, table, domain)
        _completeness_sheet(book, complete)
        _quality_sheet(book, quality)
        _sources_sheet(book, sources)
        _charts_sheet(book, table, [t.id for t in targets])
        book.close()
    except BaseException:
        # Nothing half-written is left where a reader would take it for the national workbook.
        with contextlib.suppress(Exception):
            book.close()
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    reported = table[table["value"].notna()]
    return NationalResult(
        workbook=path,
        periods=tuple(t.id for t in targets),
        indicators=int(reported["indicator"].nunique()),
        values=len(reported),
        submissions=n_subs,
    )


_STATUS_TEXT: Final = (
    (REPORTED, "status_reported",
     "Reported: every province and return it needs was received on time."),
    (LATE, "status_late",
     "Late: complete, but at least one return it uses arrived after its due date."),
    (PARTLY_REPORTED, "status_partly_reported",
     "Partly reported: some provinces or returns are missing; 'Missing from' names them."),
    (NOT_REPORTED, "status_not_reported",
     "Not reported: nothing was received; the cell is left empty, never 0."),
)  # fmt: skip


def _about(book: _Book, periods: Sequence[str], built_at: datetime, submissions: int) -> None:
    cat = book.cat
    ws = book.sheet("About")
    ws.set_column(0, 0, 28)
    ws.set_column(1, 2, 70)
    en, km = book.label("title_national", "National child protection figures")
    ws.write_string(0, 0, en, book.title)
    ws.write_string(1, 0, km, book.title)
    lines: list[tuple[str, str, str, str]] = [
        ("catalogue", "Catalogue", f"{cat.title.en} (version {cat.version})", cat.title.km),
        ("period", "Reporting period", ", ".join(periods), ", ".join(periods)),
        ("generated_on", "Prepared on", built_at.isoformat(timespec="seconds"), ""),
        ("submissions", "Submissions used", str(submissions), ""),
    ]
    row = 3
    for key, label, value_en, value_km in lines:
        l_en, l_km = book.label(key, label)
        ws.write_string(row, 0, f"{l_en} / {l_km}" if l_km != l_en else l_en, book.bold)
        ws.write_string(row, 1, value_en, book.wrap)
        if value_km and value_km != value_en:
            ws.write_string(row, 2, value_km, book.wrap)
        row += 1
    row += 1
    ws.write_string(row, 0, "What this workbook holds", book.bold)
    row += 1
    for name, text in (
        ("Indicators", "Each indicator per period, national and per province, with its status."),
        ("One sheet per area", "The breakdown by province, disaggregation and period."),
        ("Completeness", "Returns expected, received, accepted, on time; cells filled; "
         "WHO thresholds: completeness 90 %, timeliness 75 %."),
        ("Missing returns", "Who has not sent a usable return yet."),
        ("Data quality", "Outliers, consistency over time and between indicators, warnings."),
        ("Sources", "For every national value: the files, sheets and cells it was built from."),
        ("Charts", "Trend of key indicators; provinces compared."),
    ):  # fmt: skip
        ws.write_string(row, 0, name)
        ws.write_string(row, 1, text, book.wrap)
        row += 1
    row += 1
    ws.write_string(row, 0, "How to read the status", book.bold)
    row += 1
    for code, key, text in _STATUS_TEXT:
        t_en, t_km = book.label(key, text)
        ws.write_string(row, 0, code)
        ws.write_string(row, 1, t_en, book.wrap)
        if t_km != t_en:
            ws.write_string(row, 2, t_km, book.wrap)
        row += 1


_INDICATOR_SHEET: Final = (
    _Col("indicator", "indicator", "Indicator", width=11),
    _Col("name_en", "name", "Name", width=48),
    _Col("name_km", "name_km", "Name (Khmer)", width=40),
    _Col("provenance", "provenance", "Provenance", width=16),
    _Col("period", "period", "Reporting period", width=10),
    _Col("area", "code", "Code", width=6),
    _Col("area_en", "capital_or_province", "Capital / province", width=18),
    _Col("area_km", "capital_or_province_km", "Capital / province (Khmer)", width=18),
    _Col("numerator", "numerator", "Numerator", "number"),
    _Col("denominator", "denominator", "Denominator", "number"),
    _Col("value", "value", "Value", "number"),
    _Col("unit", "unit", "Unit", width=16),
    _Col("status", "status", "Status", width=15),
    _Col("missing_from", "missing_from", "Missing from", width=40),
    _Col("denominator_year", "denominator_year", "Population year", width=10),
    _Col("survey_year", "survey_year", "Survey year", width=10),
    _Col("sources", "sources", "Cells used", "int", width=8),
)


def _area_names(catalogue: Catalogue) -> tuple[dict[str, str], dict[str, str]]:
    en = {catalogue.national.code: catalogue.national.name_en}
    km = {catalogue.national.code: catalogue.national.name_km}
    en |= {p.code: p.name_en for p in catalogue.provinces}
    km |= {p.code: p.name_km for p in catalogue.provinces}
    return en, km


def _indicators_sheet(book: _Book, table: pd.DataFrame) -> None:
    cat = book.cat
    ws = book.sheet(book.label("sheet_indicators", "Indicators")[0])
    totals = table[table["dimension"] == ""]
    meta = {i.id: i for i in cat.indicators}
    en, km = _area_names(cat)
    frame = totals.assign(
        name_en=totals["indicator"].map({k: v.name_en for k, v in meta.items()}),
        name_km=totals["indicator"].map({k: v.name_km for k, v in meta.items()}),
        provenance=totals["indicator"].map({k: v.provenance for k, v in meta.items()}),
        area_en=totals["area"].map(en),
        area_km=totals["area"].map(km),
    )
    last = book.table(ws, _INDICATOR_SHEET, frame)
    status_col = next(j for j, c in enumerate(_INDICATOR_SHEET) if c.field == "status")
    for value, fmt in (
        (NOT_REPORTED, book.grey),
        (PARTLY_REPORTED, book.amber),
        (LATE, book.amber),
    ):
        ws.conditional_format(
            2, status_col, max(last, 2), status_col,
            {"type": "cell", "criteria": "==", "value": f'"{value}"', "format": fmt},
        )  # fmt: skip


def _domain_sheet(book: _Book, table: pd.DataFrame, domain: str) -> None:
    """Breakdown of one domain's indicators: province x disaggregation rows, period columns."""
    cat = book.cat
    ids = [i.id for i in cat.indicators if i.domain == domain]
    term = cat.domains[domain]
    ws = book.sheet(f"{domain} {term.en}")
    part = table[table["indicator"].isin(ids)]
    periods = list(dict.fromkeys(part["period"].tolist()))
    order = {k: i for i, k in enumerate(ids)}
    keys = ["indicator", "area", "dimension", "option"]
    part = part.assign(_o=part["indicator"].map(order)).sort_values(["_o", "area"], kind="stable")
    wide = part.set_index([*keys, "period"])["value"].unstack("period")
    rows = part[keys].drop_duplicates()
    wide = wide.reindex(pd.MultiIndex.from_frame(rows)).reset_index()
    en, _km = _area_names(cat)
    dim_label = {d.code: d.label_en for d in cat.dimensions.values()}
    opt_label = {(d.code, o.code): o.label_en for d in cat.dimensions.values() for o in d.options}
    total_en = book.label("total", "Total")[0]
    names = {i.id: i.name_en for i in cat.indicators}
    units = {i.id: i.unit for i in cat.indicators}
    wide = wide.assign(
        name=wide["indicator"].map(names),
        unit=wide["indicator"].map(units),
        area_en=wide["area"].map(en),
        dim_en=[dim_label.get(d, d) if d else total_en for d in wide["dimension"]],
        opt_en=[opt_label.get((d, o), o) if d else total_en for d, o in
                zip(wide["dimension"], wide["option"], strict=True)],
    )  # fmt: skip
    cols = [
        _Col("indicator", "indicator", "Indicator", width=11),
        _Col("name", "name", "Name", width=40),
        _Col("unit", "unit", "Unit", width=14),
        _Col("area", "code", "Code", width=6),
        _Col("area_en", "capital_or_province", "Capital / province", width=18),
        _Col("dim_en", "disaggregated_by", "Disaggregated by", width=18),
        _Col("opt_en", "option", "Option", width=22),
    ] + [_Col(p, f"period_{p}", p, "number", width=11) for p in periods]
    book.table(ws, cols, wide)


_COMPLETENESS_SHEET: Final = (
    _Col("ministry", "ministry", "Ministry", width=10),
    _Col("period", "period", "Reporting period", width=10),
    _Col("area", "code", "Code", width=6),
    _Col("area_en", "capital_or_province", "Capital / province", width=18),
    _Col("expected", "returns_expected", "Returns expected", "int", 10),
    _Col("expected_so_far", "expected_so_far", "Due or received so far", "int", 10),
    _Col("not_yet_due", "not_yet_due", "Not yet due", "int", 8),
    _Col("received", "returns_received", "Returns received", "int", 10),
    _Col("accepted", "accepted", "Accepted", "int", 9),
    _Col("on_time", "on_time", "On time", "int", 8),
    _Col("late", "late", "Late", "int", 8),
    _Col("missing", "missing", "Missing", "int", 8),
    _Col("needs_correction", "needs_correction", "Needs correction", "int", 10),
    _Col("missing_returns", "missing_returns", "Who is missing", width=40),
    _Col("values_expected", "values_expected", "Cells expected", "int", 10),
    _Col("values_present", "values_present", "Cells filled", "int", 10),
    _Col("completeness_rate", "completeness", "Completeness %", "number", 12),
    _Col("timeliness_rate", "timeliness", "Timeliness %", "number", 12),
    _Col("cell_completeness", "cell_completeness", "Cells filled %", "number", 12),
    _Col("meets_completeness", "meets_completeness", "Completeness >= 90 %", "bool", 12),
    _Col("meets_timeliness", "meets_timeliness", "Timeliness >= 75 %", "bool", 12),
)


def _completeness_sheet(book: _Book, frame: pd.DataFrame) -> None:
    cat = book.cat
    en, _km = _area_names(cat)
    frame = frame.assign(area_en=frame["area"].map(en))
    ws = book.sheet(book.label("sheet_completeness", "Completeness")[0])
    last = book.table(ws, _COMPLETENESS_SHEET, frame)
    for j, c in enumerate(_COMPLETENESS_SHEET):
        if c.field in ("completeness_rate", "timeliness_rate", "cell_completeness"):
            mid = TIMELINESS_TARGET if c.field == "timeliness_rate" else COMPLETENESS_TARGET
            ws.conditional_format(
                2, j, max(last, 2), j,
                {"type": "3_color_scale", "min_type": "num", "min_value": 0,
                 "mid_type": "num", "mid_value": mid, "max_type": "num", "max_value": 100,
                 "min_color": "#F8696B", "mid_color": "#FFEB84", "max_color": "#63BE7B"},
            )  # fmt: skip
    missing = frame[frame["missing"] > 0]
    ws2 = book.sheet("Missing returns")
    cols = [
        _Col("ministry", "ministry", "Ministry", width=10),
        _Col("ministry_en", "name", "Name", width=40),
        _Col("period", "period", "Reporting period", width=10),
        _Col("area", "code", "Code", width=6),
        _Col("area_en", "capital_or_province", "Capital / province", width=18),
        _Col("missing", "missing", "Missing", "int", 8),
        _Col("missing_returns", "missing_returns", "Who is missing", width=60),
    ]
    names = {k: m.name_en for k, m in cat.ministries.items()}
    book.table(ws2, cols, missing.assign(ministry_en=missing["ministry"].map(names)))


def _quality_sheet(book: _Book, frame: pd.DataFrame) -> None:
    en, _km = _area_names(book.cat)
    frame = frame.assign(area_en=frame["area"].map(en))
    cols = [
        _Col("indicator", "indicator", "Indicator", width=11),
        _Col("period", "period", "Reporting period", width=10),
        _Col("area", "code", "Code", width=6),
        _Col("area_en", "capital_or_province", "Capital / province", width=18),
        _Col("value", "value", "Value", "number"),
        _Col("status", "status", "Status", width=15),
        _Col("z_provinces", "z_provinces", "z over provinces", "number", 10),
        _Col("outlier_provinces", "outlier_provinces", "Outlier among provinces", width=12),
        _Col("z_series", "z_series", "z over the periods", "number", 10),
        _Col("outlier_series", "outlier_series", "Outlier over time", width=12),
        _Col("modified_z", "modified_z", "Modified z", "number", 10),
        _Col("modified_z_outlier", "modified_z_outlier", "Modified z > 3.5", "bool", 10),
        _Col("previous_mean", "previous_mean", "Mean of 3 earlier periods", "number", 12),
        _Col("previous_periods", "previous_periods", "Earlier periods", "int", 8),
        _Col("change_ratio", "change_ratio", "Value / earlier mean", "number", 10),
        _Col("change_flag", "change_flag", "Change beyond 33 %", "bool", 10),
        _Col("compare_rules", "compare_rules", "Related checks", width=30),
        _Col("compare_failed", "compare_failed", "Checks failing here", width=30),
        _Col("compare_fail_pct", "compare_fail_pct", "Provinces failing %", "number", 10),
        _Col("open_warnings", "warnings_count", "Number of warnings", "int", 10),
        _Col("explained_warnings", "explained_warnings", "Warnings explained", "int", 10),
        _Col("explanations", "explanation", "Explanation", width=60),
    ]
    ws = book.sheet("Data quality")
    last = book.table(ws, cols, frame)
    for j, c in enumerate(cols):
        if c.field in ("outlier_provinces", "outlier_series"):
            for value, fmt in (("extreme", book.red), ("moderate", book.amber)):
                ws.conditional_format(
                    2, j, max(last, 2), j,
                    {"type": "cell", "criteria": "==", "value": f'"{value}"', "format": fmt},
                )  # fmt: skip


def _sources_sheet(book: _Book, frame: pd.DataFrame) -> None:
    cols = [
        _Col("indicator", "indicator", "Indicator", width=11),
        _Col("period", "period", "Reporting period", width=10),
        _Col("dimension", "disaggregated_by", "Disaggregated by", width=16),
        _Col("option", "option", "Option", width=16),
        _Col("file", "file", "File", width=36),
        _Col("sha256", "sha256", "SHA-256", width=20),
        _Col("sheet", "sheet", "Sheet", width=20),
        _Col("cells", "cell", "Cells", width=40),
    ]
    book.table(book.sheet("Sources"), cols, frame)


def _key_indicators(table: pd.DataFrame, catalogue: Catalogue) -> list[str]:
    """Up to four indicators of one unit with national values: rates first, then percents."""
    national = table[(table["area"] == catalogue.national.code) & (table["dimension"] == "")]
    with_values = set(national.loc[national["value"].notna(), "indicator"])
    for unit in (RATE, "percent", "count"):
        ids = [i.id for i in catalogue.indicators if i.unit == unit and i.id in with_values]
        if ids:
            return ids[:4]
    return []


def _charts_sheet(book: _Book, table: pd.DataFrame, periods: Sequence[str]) -> None:
    """Native charts: a trend line of key indicators, and the provinces compared."""
    cat = book.cat
    ws = book.sheet("Charts")
    keys = _key_indicators(table, cat)
    national = table[(table["area"] == cat.national.code) & (table["dimension"] == "")]
    value = {(i, p): v for i, p, v in national[["indicator", "period", "value"]].itertuples(False)}
    ws.write_string(0, 0, book.label("period", "Reporting period")[0], book.bold)
    for j, ind in enumerate(keys, start=1):
        ws.write_string(0, j, ind, book.bold)
    for i, p in enumerate(periods, start=1):
        ws.write_string(i, 0, p)
        for j, ind in enumerate(keys, start=1):
            v = value.get((ind, p), np.nan)
            if v == v:
                ws.write_number(i, j, float(v))
    names = {i.id: i.name_en for i in cat.indicators}
    if keys:
        line = book.wb.add_chart({"type": "line"})
        for j in range(1, len(keys) + 1):
            line.add_series(
                {
                    "name": ["Charts", 0, j],
                    "categories": ["Charts", 1, 0, len(periods), 0],
                    "values": ["Charts", 1, j, len(periods), j],
                    "marker": {"type": "circle"},
                }
            )
        line.set_title({"name": "Key indicators, national"})
        line.set_x_axis({"name": book.label("period", "Reporting period")[0]})
        line.set_size({"width": 760, "height": 360})
        ws.insert_chart(0, len(keys) + 2, line)
    provinces = table[(table["area"] != cat.national.code) & (table["dimension"] == "")]
    provinces = provinces[provinces["period"] == periods[-1]]
    candidates = [*keys, *(i.id for i in cat.indicators)]
    chosen = next(
        (
            i
            for i in candidates
            if provinces.loc[provinces["indicator"] == i, "value"].notna().any()
        ),
        None,
    )
    if chosen is None:
        return
    start = len(periods) + 3
    rows = provinces[provinces["indicator"] == chosen]
    en, _km = _area_names(cat)
    ws.write_string(start, 0, book.label("province", "Province")[0], book.bold)
    ws.write_string(start, 1, f"{chosen} {periods[-1]}", book.bold)
    for k, (area, v) in enumerate(rows[["area", "value"]].itertuples(False), start=1):
        ws.write_string(start + k, 0, en.get(area, area))
        if v == v:
            ws.write_number(start + k, 1, float(v))
    bar = book.wb.add_chart({"type": "bar"})
    bar.add_series(
        {
            "name": f"{chosen} {names.get(chosen, '')}"[:120],
            "categories": ["Charts", start + 1, 0, start + len(rows), 0],
            "values": ["Charts", start + 1, 1, start + len(rows), 1],
        }
    )
    bar.set_title({"name": f"{chosen}, {periods[-1]}, by province"})
    bar.set_legend({"none": True})
    bar.set_size({"width": 760, "height": 620})
    ws.insert_chart(start, 3, bar)
