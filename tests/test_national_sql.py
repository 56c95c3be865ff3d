"""The database's figures are the figures: consolidation by SQL against a plain recomputation.

Behaviours covered (SQLite always; PostgreSQL too when CPXL_TEST_POSTGRES is set):
- on a small store of two years of simulated returns (annual, semiannual and quarterly; some
  quarters never sent, some cells a missing-reason code, some returns late), every value of
  every count indicator built from one element, per province, nationally and per option, and
  the total of every percent built from two elements, equal a recomputation written here from
  the values as recorded: a year of quarters summed for flows and the last quarter sent for
  stocks, national counts summed over the provinces that reported, national percents
  recomputed from the summed parts; nothing reported stays empty;
- a share or rate is never given for a "not recorded" option, while counts keep it;
- completeness counts, per ministry and year, the numbers recorded in its returns;
- the national long table read in chunks of periods is the long table, row for row, and the
  indicators computed a few periods at a time are the indicator table;
- the Sources sheet names exactly the cells a national value was built from.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import replace
from datetime import date
from functools import cache
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from builders import new_submission

from cpxl.catalogue import Catalogue, builtin_rules, load, parse_period
from cpxl.consolidation import (
    completeness,
    indicator_chunks,
    indicator_table,
    national_values,
    write_national_workbook,
)
from cpxl.consolidation.inputs import load_inputs, target_periods
from cpxl.consolidation.values import element_values, used_elements
from cpxl.exports import NATIONAL_VALUE_COLUMNS
from cpxl.findings import Value
from cpxl.simulate import World
from cpxl.store import Store
from cpxl.templates import build_layout

YEARS = ("2024", "2025")
NATION = "00"

Recorded = list[tuple[str, str, Value]]  # ministry, period, value


@cache
def _catalogue() -> Catalogue:
    return load(builtin_rules())


def _periods() -> list[str]:
    out = []
    for y in YEARS:
        out += [y, f"{y}S1", f"{y}S2", *(f"{y}Q{q}" for q in range(1, 5))]
    return out


def _record(store: Store) -> Recorded:
    """Simulated returns for two years, with gaps, missing-reason codes and late arrivals."""
    cat = _catalogue()
    rng = random.Random(20)
    run = store.start_run(user="t", host="t", cpxl_version="0", catalogue_version=cat.version)
    kept: Recorded = []
    for period in _periods():
        p = parse_period(period)
        world = World(cat, p, 5)
        for ministry in cat.reporting_ministries(p):
            if p.type == "quarterly" and rng.random() < 0.3:
                continue  # this quarter never came
            layout = build_layout(cat, ministry, p)
            values: list[Value] = []
            for sheet in layout.sheets:
                for area in sheet.areas:
                    for code in dict.fromkeys(c.element for c in sheet.columns):
                        for key, number in world.cells(cat.elements[code], area.code).items():
                            col = sheet.column(key)
                            blank = rng.random() < 0.1
                            values.append(
                                Value(
                                    col.element, area.code, col.dimension, col.option,
                                    None if blank else number, "NC" if blank else "",
                                    sheet.name, sheet.cell(area.code, col), "",
                                )
                            )  # fmt: skip
            store.record(
                run,
                new_submission(
                    f"{ministry}_{period}",
                    ministry,
                    period,
                    days_late=rng.choice([None, 0, 3]),
                    template_id=layout.template_id,
                    template_version=layout.template_version,
                ),
                values,
                (),
                accept=True,
            )
            kept += [(ministry, period, v) for v in values]
    return kept


def _returns_of_year(year: str, kind: str) -> list[str]:
    return {
        "annual": [year],
        "semiannual": [f"{year}S1", f"{year}S2"],
        "quarterly": [f"{year}Q{q}" for q in range(1, 5)],
    }[kind]


def _cells_by_year(
    recorded: Recorded, cat: Catalogue | None = None
) -> dict[tuple[str, str, str, str, str], float]:
    """(element, year, area, dimension, option) -> the year's value, as the framework says."""
    cat = cat or _catalogue()
    kind = {e: d.period_type for d in cat.data_sets for e in d.elements}
    by_period: dict[tuple[str, str, str, str], dict[str, float]] = defaultdict(dict)
    for _m, period, v in recorded:
        if v.value is not None:
            by_period[(v.element, v.area, v.dimension, v.option)][period] = v.value
    out: dict[tuple[str, str, str, str, str], float] = {}
    for (element, area, dim, opt), got in by_period.items():
        for year in YEARS:
            sent = [got[p] for p in _returns_of_year(year, kind[element]) if p in got]
            if not sent:
                continue
            how = cat.elements[element].aggregation
            if how == "none" and kind[element] != "annual":
                continue  # a distinct count is never built from shorter periods
            built = {"last": sent[-1], "first": sent[0]}.get(how, sum(sent))
            out[(element, year, area, dim, opt)] = built
    return out


def test_each_element_builds_its_year_as_the_catalogue_says(location: str) -> None:
    """Sum, last, first (the earliest return that holds a value) and none (never built from
    shorter returns) over the quarters and half-years of a year, per province and option."""
    base = _catalogue()
    kind = {e: d.period_type for d in base.data_sets for e in d.elements}
    used = used_elements(base)
    shorter = [e for e in used if kind.get(e) in ("quarterly", "semiannual")]
    # The framework reports no stock quarterly: three quarterly flows become one of each kind.
    sums = [e for e in shorter if base.elements[e].aggregation == "sum"]
    changed = {sums[0]: "first", sums[1]: "none", sums[2]: "last"}
    elements = {
        code: replace(el, aggregation=changed.get(code, el.aggregation))
        for code, el in base.elements.items()
    }
    cat = replace(base, elements=elements)
    hows = {cat.elements[e].aggregation for e in shorter}
    assert {"sum", "last", "first", "none"} <= hows
    with Store.open(location) as store:
        recorded = _record(store)
        built = element_values(load_inputs(cat, store, target_periods(list(YEARS))))

    # As stored: province elements per province (national sums are checked elsewhere).
    def stored(k: tuple[str, ...]) -> bool:
        return k[0] in shorter and (k[2] != NATION or cat.elements[k[0]].scope != "province")

    want = {k: v for k, v in _cells_by_year(recorded, cat).items() if stored(k)}
    got = {
        key: value
        for key, value in zip(
            built[["element", "target", "area", "dimension", "option"]].itertuples(
                index=False, name=None
            ),
            built["value"].tolist(),
            strict=True,
        )
        if stored(key) and not math.isnan(value)
    }
    # Totals built from a margin (elements without a Total column) are not stored cells.
    got = {k: v for k, v in got.items() if k in want or k[3]}
    assert got == pytest.approx(want)
    assert not [k for k in got if k[0] == sums[1]]
    assert [k for k in got if k[0] == sums[0]]


def _national(cells: dict[tuple[str, str, str, str, str], float]) -> None:
    """Add national sums of province cells: the provinces that reported."""
    sums: dict[tuple[str, str, str, str, str], float] = defaultdict(float)
    for (element, year, area, dim, opt), value in cells.items():
        if area != NATION:
            sums[(element, year, NATION, dim, opt)] += value
    for key, value in sums.items():
        cells.setdefault(key, value)


def test_sql_consolidation_equals_a_plain_recomputation(location: str) -> None:
    cat = _catalogue()
    with Store.open(location) as store:
        recorded = _record(store)
        table = indicator_table(cat, store, list(YEARS))
        done = completeness(cat, store, list(YEARS), today=date(2027, 1, 1))
    cells = _cells_by_year(recorded)
    province_cells = {k: v for k, v in cells.items() if k[2] != NATION}
    _national(cells)
    checked = 0
    for ind in cat.indicators:
        refs = ind.numerator.refs
        if len(ind.numerator.terms) != 1 or refs[0].dimension:
            continue
        element = refs[0].element
        if cat.elements[element].scope != "province":
            continue
        rows = table[table["indicator"] == ind.id]
        if ind.denominator is None and ind.unit == "count":
            for r in rows.itertuples():
                want = cells.get((element, r.period, r.area, r.dimension, r.option), math.nan)
                assert r.value == want or (math.isnan(r.value) and math.isnan(want)), (
                    ind.id, r.period, r.area, r.dimension, r.option, r.value, want,
                )  # fmt: skip
                checked += 1
        elif ind.unit == "percent" and ind.denominator is not None:
            den_refs = ind.denominator.refs
            if len(ind.denominator.terms) != 1 or den_refs[0].dimension:
                continue
            den_el = den_refs[0].element
            for r in rows[rows["dimension"] == ""].itertuples():
                want = _percent(province_cells, element, den_el, r.period, r.area)
                assert r.value == pytest.approx(want, rel=1e-12, nan_ok=True), (
                    ind.id, r.period, r.area, r.value, want,
                )  # fmt: skip
                checked += 1
    assert checked > 1000
    counted: dict[tuple[str, str], int] = defaultdict(int)
    kinds: dict[str, set[str]] = defaultdict(set)
    for d in cat.data_sets:
        kinds[d.ministry].add(d.period_type)
    for ministry, period, v in recorded:
        year = period[:4]
        expected = {p for k in kinds[ministry] for p in _returns_of_year(year, k)}
        if v.value is not None and period in expected:
            counted[(ministry, year)] += 1
    nation = done[done["area"] == NATION]
    got = {(r.ministry, r.period): int(r.values_present) for r in nation.itertuples()}
    assert got == {k: counted.get(k, 0) for k in got}
    assert any(v > 0 for v in got.values())


def _percent(cells: dict[tuple[str, str, str, str, str], float], num: str, den: str,
             year: str, area: str) -> float:  # fmt: skip
    """100 x numerator / denominator; nationally, over provinces that reported both."""
    areas = [a for (e, y, a, d, o) in cells if e == num and y == year and not d and not o]
    if area != NATION:
        areas = [area] if area in areas else []
    pairs = [
        (cells[(num, year, a, "", "")], cells[(den, year, a, "", "")])
        for a in areas
        if (den, year, a, "", "") in cells
    ]
    n, d = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
    return 100.0 * n / d if pairs and d != 0 else math.nan


def test_the_values_streamed_for_the_exports_are_the_long_table(location: str) -> None:
    with Store.open(location) as store:
        _record(store)
        periods = _periods()
        whole = store.long_table(periods)
        chunks = list(national_values(store, periods, per_chunk=3))
    assert len(chunks) == 5
    rows = [row for chunk in chunks for row in chunk]
    # Each chunk comes by period, element, ministry and the rest of the key (by code point).
    for chunk in chunks:
        keys = [(r[1], r[0], r[7], r[2], r[3], r[4]) for r in chunk]
        assert keys == sorted(keys)
    streamed = pd.DataFrame(rows, columns=list(NATIONAL_VALUE_COLUMNS))[list(whole.columns)]
    streamed["received_at"] = pd.to_datetime(streamed["received_at"], utc=True)
    streamed["days_late"] = streamed["days_late"].astype("Int64")
    streamed["value"] = streamed["value"].astype("float64")
    keys = ["element", "period", "area", "dimension", "option", "ministry"]
    streamed = streamed.sort_values(keys, kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(streamed, whole, check_dtype=False)


def test_not_recorded_is_never_a_share_or_a_rate(location: str) -> None:
    cat = _catalogue()
    with Store.open(location) as store:
        _record(store)
        table = indicator_table(cat, store, ["2025"])
    unknown = {(d.code, d.unknown) for d in cat.dimensions.values() if d.unknown}
    is_unknown = [
        (d, o) in unknown for d, o in zip(table["dimension"], table["option"], strict=True)
    ]
    marked = table[is_unknown]
    assert set(marked["unit"]) == {"count"}
    assert marked["value"].notna().any()
    with_den = {i.id for i in cat.indicators if i.denominator is not None}
    by_sex = table[table["indicator"].isin(with_den) & (table["dimension"] == "sex")]
    assert set(by_sex["option"]) == {"male", "female"}


def test_indicators_in_chunks_are_the_indicator_table(location: str) -> None:
    cat = _catalogue()
    with Store.open(location) as store:
        _record(store)
        whole = indicator_table(cat, store, list(YEARS))
        chunks = list(indicator_chunks(cat, store, list(YEARS), per_chunk=1))
        again = list(indicator_chunks(cat, store, list(YEARS), per_chunk=1))
    assert [len(c) for c in chunks] == [len(c) for c in again]
    assert len(chunks) == 2
    keys = ["indicator", "period", "area", "dimension", "option"]
    together = pd.concat(chunks, ignore_index=True).sort_values(keys, ignore_index=True)
    pd.testing.assert_frame_equal(together, whole.sort_values(keys, ignore_index=True))


def _expand(ranges: str) -> set[str]:
    """``C5:C7, D9`` -> {C5, C6, C7, D9}."""
    out: set[str] = set()
    for part in ranges.split(", "):
        first, _, last = part.partition(":")
        col = first.rstrip("0123456789")
        low, high = int(first[len(col) :]), int((last or first)[len(col) :])
        out |= {f"{col}{r}" for r in range(low, high + 1)}
    return out


def test_sources_name_exactly_the_cells_a_national_value_was_built_from(
    location: str, tmp_path: Path
) -> None:
    cat = _catalogue()
    with Store.open(location) as store:
        recorded = _record(store)
        result = write_national_workbook(cat, store, ["2025"], tmp_path)
    sheet = openpyxl.load_workbook(result.workbook)["Sources"]
    rows = [r for r in sheet.iter_rows(min_row=3, values_only=True) if r[0] == "CP-AC-02"]
    totals = [r for r in rows if not r[2]]
    assert len(totals) == 1
    file, cells = totals[0][4], totals[0][7]
    want = {
        v.cell
        for m, p, v in recorded
        if p == "2025"
        and v.element == "children_in_residential_care"
        and not v.dimension
        and v.value is not None
    }
    assert file == "MOSVY_2025.xlsx"
    assert _expand(str(cells)) == want
    assert len(want) > 10
