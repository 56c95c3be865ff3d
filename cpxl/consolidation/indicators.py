"""National indicators from the store: a row per indicator, period, area and option.

Absence of a stored row means "not reported" and is never turned into 0: a value that cannot be
built is NaN with status ``not-reported``, and ``missing_from`` says who is missing.

How an indicator value is built (see /work/notes/national.md):

- an element's value for a period is the stored value for that period; a longer period built
  from shorter returns (a year from quarters) uses the element's aggregation (sum for flows,
  last or first for stocks, mean; never for distinct counts); a return period longer than the
  period asked for (a year for a quarter) cannot be split, so the indicator has no row for
  that period;
- a disaggregated value replaces each numerator reference by the same option of the same
  dimension (margins, like the store); a denominator element that lacks that dimension keeps
  its total, so the parts of a share add up to the whole;
- the national value of a province indicator is built from the provinces that reported both
  numerator and denominator: counts are summed, percents and rates recomputed from the sums;
- rates per 100,000 divide by the child population of the same year, or of the nearest earlier
  year the province has one, and ``denominator_year`` says which;
- a survey indicator shows the survey's estimate as reported for the period and its survey year.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from cpxl.catalogue import Catalogue, Indicator, Ref
from cpxl.consolidation.grid import Bools, Floats, Grid, Ints, ratio, side_sum
from cpxl.consolidation.inputs import (
    RATE,
    Inputs,
    load_inputs,
    period_types_of,
    sub_periods,
    target_periods,
)
from cpxl.consolidation.values import element_values, population_values
from cpxl.consolidation.views import Both, View, ViewContext, combine, views_of
from cpxl.findings import INDICATOR_COLUMNS
from cpxl.store import Store, national

REPORTED: Final = "reported"
LATE: Final = "late"
PARTLY_REPORTED: Final = "partly-reported"
NOT_REPORTED: Final = "not-reported"
STATUSES: Final = (REPORTED, LATE, PARTLY_REPORTED, NOT_REPORTED)


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

    def __init__(self, inputs: Inputs, totals_only: bool) -> None:
        self.inputs = inputs
        self.cat = inputs.catalogue
        self.totals_only = totals_only
        self.targets = [t.id for t in inputs.targets]
        self.areas = inputs.areas
        self.grid = Grid(element_values(inputs), self.targets, self.areas)
        self.rates = Grid(population_values(inputs), self.targets, self.areas)
        self.kinds = period_types_of(self.cat)
        self.ministry = {e: d.ministry for d in self.cat.data_sets for e in d.elements}
        self.gaps = _sub_period_gaps(inputs)
        self.names = [p.name.en for p in self.cat.provinces]
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
        for v, view in enumerate(views_of(self.cat, ind, self.totals_only)):
            num = side_sum(view.numerator, self.grid, 0)
            den = None
            if view.denominator is not None:
                grid = self.rates if ind.unit == RATE else self.grid
                den = side_sum(view.denominator, grid, len(view.numerator))
            ctx = ViewContext(i, ind, v, view, num, den, applicable, survey_year)
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

    def _ministries(self, view: View) -> list[str]:
        terms = list(view.numerator) + list(view.denominator or ())
        return [self.ministry.get(t.ref.element, "") for t in terms if t.ref is not None]

    def _missing_text(self, view: View, target: int, missing: int, partial: int) -> str:
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
        ctx: ViewContext,
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

    def _province_rows(self, ctx: ViewContext) -> None:
        """Province values, and the national value built from the provinces that reported."""
        both = combine(ctx)
        n_t, n_a = len(self.targets), self.grid.n_areas
        if "province" in ctx.ind.disaggregations:
            prov = np.zeros((n_t, n_a), dtype=bool)
            prov[:, 1:] = True
            rows = np.flatnonzero((prov & ctx.applicable[:, None]).ravel())
            self._emit_rows(ctx, both, rows)
        self._national_from_provinces(ctx, both)

    def _emit_rows(self, ctx: ViewContext, both: Both, rows: Ints) -> None:
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

    def _national_from_provinces(self, ctx: ViewContext, both: Both) -> None:
        """Sum the provinces that reported everything the value needs; name the others."""
        shape = (len(self.targets), self.grid.n_areas)
        prov = np.zeros(shape, dtype=bool)
        prov[:, 1:] = True
        inc = both.has.reshape(shape) & prov
        any_inc: Bools = np.asarray(inc.any(axis=1), dtype=bool)
        nat_num = np.where(inc, both.num.reshape(shape), 0.0).sum(axis=1)
        nat_den = np.where(inc, both.den.reshape(shape), 0.0).sum(axis=1)
        has_den = ctx.den is not None
        value = ratio(ctx.ind.unit, nat_num, nat_den if has_den else None)
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

    def _national_text(self, view: View, t: int, inc: Bools, missing: Ints, partial: Ints) -> str:
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

    def _national_rows(self, ctx: ViewContext) -> None:
        """Indicators of national elements: the national row only."""
        both = combine(ctx)
        t_rows = np.flatnonzero(ctx.applicable)
        rows = t_rows * self.grid.n_areas
        self._emit_rows(ctx, both, rows)
        for t, r in zip(t_rows.tolist(), rows.tolist(), strict=True):
            if both.has[r]:
                self._remember_refs(ctx, t)

    def _remember_refs(self, ctx: ViewContext, t: int) -> None:
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


def _sub_period_gaps(inputs: Inputs) -> dict[tuple[str, str], tuple[str, ...]]:
    """(ministry, target) -> the shorter returns in the target that sent no value at all."""
    cat = inputs.catalogue
    periods = inputs.stored
    sent = set(inputs.store.read(lambda c: national.sent_returns(c, periods)))
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for t in inputs.targets:
        for ministry in cat.ministries:
            kinds = {d.period_type for d in cat.data_sets if d.ministry == ministry}
            expected = [s for k in sorted(kinds) for s in sub_periods(t, k) if s != t.id]
            gaps = tuple(s for s in expected if (ministry, s) not in sent)
            if gaps:
                out[(ministry, t.id)] = gaps
    return out


def indicator_frames(
    inputs: Inputs, *, totals_only: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _IndicatorBuilder(inputs, totals_only).build()


def indicator_table(catalogue: Catalogue, store: Store, periods: Sequence[str]) -> pd.DataFrame:
    """National indicators: a row per indicator, period, area and option; never 0 for absence."""
    inputs = load_inputs(catalogue, store, target_periods(periods))
    return indicator_frames(inputs)[0]
