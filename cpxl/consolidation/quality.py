"""Data quality per indicator, period and area: outliers, change over time, checks, warnings.

The measures follow the WHO data-quality review: outliers among the provinces and over an area's
series (z and modified z), consistency over time (the ratio to the mean of earlier periods),
consistency between indicators (the catalogue's compare rules) and the warnings on the cells an
indicator is built from, open or explained by the sender.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import numpy as np
import pandas as pd

from cpxl.catalogue import Catalogue, Expression, Period, parse_period
from cpxl.consolidation.grid import Bools, Floats, Grid, Term, side_sum
from cpxl.consolidation.indicators import indicator_frames
from cpxl.consolidation.inputs import (
    HISTORY_PERIODS,
    Inputs,
    load_inputs,
    periods_before,
    restrict,
    target_periods,
    with_history,
)
from cpxl.consolidation.values import element_values
from cpxl.findings import Severity, cell_position
from cpxl.store import Store, national

EXTREME_SD: Final = 3.0
MODERATE_SD: Final = 2.0
MODIFIED_Z_LIMIT: Final = 3.5
CHANGE_LIMIT: Final = 0.33


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


_OPS: Final[dict[str, Callable[[Floats, Floats, float], Bools]]] = {
    "<": lambda a, b, tol: a < b + tol,
    "<=": lambda a, b, tol: a <= b + tol,
    "==": lambda a, b, tol: np.abs(a - b) <= tol,
    "!=": lambda a, b, tol: np.abs(a - b) > tol,
    ">=": lambda a, b, tol: a + tol >= b,
    ">": lambda a, b, tol: a + tol > b,
}


def _plain(expr: Expression | None) -> list[Term]:
    if expr is None:
        return []
    return [Term(t.sign, t.ref, t.constant if t.ref is None else 0.0) for t in expr.terms]


def _compare_outcomes(inputs: Inputs, grid: Grid) -> dict[str, tuple[Bools, Bools, set[str]]]:
    """Compare rule id -> (evaluated, failed) over grid rows, and the elements it names."""
    out: dict[str, tuple[Bools, Bools, set[str]]] = {}
    for rule in inputs.catalogue.rules_of("compare"):
        op = _OPS.get(rule.op)
        if op is None or rule.left is None or rule.right is None:
            continue
        left, right = side_sum(_plain(rule.left), grid, 0), side_sum(_plain(rule.right), grid, 0)
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


def _warnings(inputs: Inputs, store: Store) -> pd.DataFrame:
    """(element, target, area) -> open warnings, explained warnings and their explanations."""
    columns = ["element", "target", "area", "open", "explained", "text"]
    records: list[tuple[int, str, str, int, int, str]] = []
    ids = sorted(int(s) for s in inputs.counts()["submission_id"].unique())
    for sid, of_file in store.findings_of_many(ids).items():
        for f in of_file:
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
    ids = [int(x) for x in found["submission_id"].unique()]
    cells = inputs.store.read(lambda c: national.cells_of(c, ids))[cols]
    exact = found.merge(cells, on=["submission_id", "sheet", "cell"])
    # A warning on a cell that holds nothing stored (a blank beside a total, say) is placed by
    # its row (the area) and its column (the element), read from the cells around it.
    rest = found.merge(exact[["submission_id", "sheet", "cell"]], how="left", indicator=True)
    rest = rest[rest["_merge"] == "left_only"].drop(columns="_merge")
    if not rest.empty:
        near = cells.merge(rest[["submission_id", "sheet"]].drop_duplicates())
        near = near.assign(**_row_and_column(near["cell"]))
        rest = rest.assign(**_row_and_column(rest["cell"]))
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


def quality_table(inputs: Inputs, totals: pd.DataFrame, store: Store) -> pd.DataFrame:
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
        [(t.id, p.id) for t in targets for p in periods_before(t, HISTORY_PERIODS)],
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


def _consistency(cur: pd.DataFrame, inputs: Inputs) -> None:
    """Compare rules naming an indicator's elements: which fail here; share of provinces."""
    cat = inputs.catalogue
    targets = [t.id for t in inputs.targets]
    areas = inputs.areas
    grid = Grid(element_values(inputs), targets, areas)
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


def _open_warnings(cur: pd.DataFrame, inputs: Inputs, store: Store) -> None:
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
    targets = target_periods(periods)
    inputs = load_inputs(catalogue, store, with_history(targets))
    totals = indicator_frames(inputs, totals_only=True)[0]  # also fills the cache
    return quality_table(restrict(inputs, targets), totals, store)


def _row_and_column(cells: pd.Series) -> dict[str, pd.Series]:
    """Each A1 address's 0-based row and column (NaN where a cell is not an address)."""
    at = cells.map(lambda c: cell_position(c) or (None, None))
    return {"row": at.str[0].astype(float), "col": at.str[1].astype(float)}
