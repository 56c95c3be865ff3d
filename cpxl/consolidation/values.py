"""Element values per target period: stored, built up from shorter returns, and summed nationally.

A longer period built from shorter returns (a year from quarters) uses the element's aggregation
(sum for flows, last for end-of-period stocks, first for start-of-period stocks, mean; never
for distinct counts, ``none``); an element with margins but no Total column gets its
total from its first dimension; national rows of additive province elements are the sum of the
provinces that reported. Computed once per read and kept in the inputs' cache.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from cpxl.catalogue import Catalogue, parse_period
from cpxl.consolidation.inputs import Inputs
from cpxl.store import national

_KEYS: Final = ["element", "target", "area", "dimension", "option"]


def element_values(inputs: Inputs) -> pd.DataFrame:
    """(element, target, area, dimension, option) -> value, src, late, partial."""
    if "elements" not in inputs.cache:
        inputs.cache["elements"] = _compute_element_values(inputs)
    return inputs.cache["elements"]


def _compute_element_values(inputs: Inputs) -> pd.DataFrame:
    cat = inputs.catalogue
    period_map = list(inputs.period_map.itertuples(index=False, name=None))
    used = used_elements(cat)
    res = inputs.store.read(lambda c: national.element_aggregates(c, period_map, used))
    how = res["element"].map({k: e.aggregation for k, e in cat.elements.items()})
    is_last = (how == "last").to_numpy()
    is_first = (how == "first").to_numpy()
    value = np.select(
        [is_last, is_first, (how == "mean").to_numpy()],
        [res["last"].to_numpy(float), res["first"].to_numpy(float), res["mean"].to_numpy(float)],
        res["total"].to_numpy(float),
    )
    n = res["n"].to_numpy("int64")
    n_sub = res["n_sub"].to_numpy("int64")
    value = np.where(n > 0, value, np.nan)
    partial = (n > 0) & np.select(
        [is_last, is_first],
        [res["top"].to_numpy("int64") < n_sub - 1, res["bottom"].to_numpy("int64") > 0],
        n < n_sub,
    )
    one = is_last | is_first
    out = res[_KEYS].assign(
        value=value,
        src=np.where(one, (n > 0).astype("int64"), n),
        late=res["late"].to_numpy("int64") > 0,
        partial=partial,
    )
    # A distinct count ("none": children counted once in the period) is never built from
    # shorter periods: it is shown for the periods it is reported for, and only for those.
    out = out[~((how == "none").to_numpy() & (n_sub > 1))]
    return _with_national(cat, _with_totals(cat, out))


def used_elements(catalogue: Catalogue) -> list[str]:
    """The elements national figures read: indicators' terms, compare rules, survey years."""
    refs = [r for i in catalogue.indicators for r in i.numerator.refs]
    refs += [r for i in catalogue.indicators if i.denominator for r in i.denominator.refs]
    for rule in catalogue.rules_of("compare"):
        refs += [r for side in (rule.left, rule.right) if side is not None for r in side.refs]
    names = {r.element for r in refs}
    names |= {n.removesuffix("_pct") + "_survey_year" for n in names if n.endswith("_pct")}
    return sorted(n for n in names if n in catalogue.elements)


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


def population_values(inputs: Inputs) -> pd.DataFrame:
    """Rate denominators per target: the chosen population cells, with their year."""
    if "population" not in inputs.cache:
        inputs.cache["population"] = _compute_population_values(inputs)
    return inputs.cache["population"]


def _compute_population_values(inputs: Inputs) -> pd.DataFrame:
    chosen = inputs.population
    years = {p: parse_period(p).year for p in chosen["period"].unique()}
    out = chosen.assign(
        value=chosen["value"].astype("float64"),
        src=chosen["value"].notna().astype("int64"),
        late=chosen["days_late"].fillna(0).astype("int64") > 0,
        partial=False,
        year=chosen["period"].map(years).astype("float64"),
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
