"""The demo workspace, checked as the national team would check it.

Covers: after ``cpxl demo`` every one of the 50 indicators has a national value for both years
(quarterly and half-yearly returns included); the demo looks like Cambodia (the child population
of the provinces adds up to the NIS figure, with nothing in the "not recorded" columns, and
children in residential care on 1 January are those of 31 December); and every indicator value
of the national workbook, for both years and every area, is recomputed from the long CSV export
by the small implementation below, which reads the catalogue's YAML and the CSV by their header
names and shares no code with cpxl.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml

from cpxl.demo import DemoResult, build_demo

RULES = Path(__file__).resolve().parent.parent / "rules"
YEARS = ("2024", "2025")
NATION = "00"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    """One demo workspace for the whole module (it takes about a minute to build)."""
    return build_demo(tmp_path_factory.mktemp("demo") / "demo")


def _national(demo: DemoResult, fmt: str, suffix: str) -> Path:
    return next(p for p in demo.national.written[fmt] if p.name.endswith(suffix))


@pytest.fixture(scope="module")
def long_rows(demo: DemoResult) -> list[dict[str, str]]:
    """The long CSV export, row by row, read by its header names."""
    path = _national(demo, "csv", ".values.csv")
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def workbook_values(demo: DemoResult) -> dict[tuple[str, str, str], float | None]:
    """(indicator, period, area) -> the value on the national workbook's Indicators sheet."""
    wb = openpyxl.load_workbook(_national(demo, "xlsx", ".xlsx"), read_only=True)
    rows: Iterator[tuple[Any, ...]] = wb["Indicators"].iter_rows(values_only=True)
    header = next(rows)
    at = {name: header.index(name) for name in ("Indicator", "Reporting period", "Code", "Value")}
    out: dict[tuple[str, str, str], float | None] = {}
    for row in rows:
        if row[at["Indicator"]] is None or not str(row[at["Indicator"]]).startswith("CP-"):
            continue  # the Khmer header row
        key = (str(row[at["Indicator"]]), str(row[at["Reporting period"]]), str(row[at["Code"]]))
        value = row[at["Value"]]
        out[key] = None if value is None else float(value)
    wb.close()
    return out


def test_the_summary_says_what_happened_and_what_to_open(demo: DemoResult) -> None:
    """The demo's screen gives both years' reach, this year's inbox file by file and every
    national output; --json holds the same, and every output it names exists."""
    text = demo.render()
    lines = text.splitlines()
    assert lines[1:3] == [
        "Indicators with a national value for 2024: 50 of 50",
        "Indicators with a national value for 2025: 50 of 50",
    ]
    shown = json.loads(json.dumps(demo.to_dict()))
    start = lines.index("This year's inbox, file by file:") + 1
    files = shown["runs"][-1]["files"]
    assert lines[start : start + len(files)] == [f"  {s:<26} {name}" for name, s, _ in files]
    assert "  unsafe" in text and "  needs-correction" in text
    written = [Path(p) for paths in shown["national"]["written"].values() for p in paths]
    assert written and all(p.is_file() and str(p) in text for p in written)


def test_every_indicator_has_a_national_value_for_both_years(
    demo: DemoResult, workbook_values: dict[tuple[str, str, str], float | None]
) -> None:
    """After the demo, all 50 indicators have a national value in 2024 and in 2025."""
    assert demo.reported == {"2024": 50, "2025": 50}
    ids = [i["id"] for i in _yaml("indicators")["indicators"]]
    for year in YEARS:
        valued = {
            i
            for (i, p, a), v in workbook_values.items()
            if (p, a, v is None) == (year, NATION, False)
        }
        assert sorted(valued) == sorted(ids), year


def test_the_demo_child_population_is_cambodias(long_rows: list[dict[str, str]]) -> None:
    """The provinces' children add up to the NIS 6.11 million, none of unrecorded sex or age."""
    for year in YEARS:
        rows = [
            r for r in long_rows if (r["element"], r["period"]) == ("child_population_0_17", year)
        ]
        totals = [float(r["value"]) for r in rows if not r["dimension"] and r["value"]]
        assert len(totals) >= 24 and 5_190_000 < sum(totals) < 7_030_000, year
        unknown = {float(r["value"]) for r in rows if r["option"] in ("unknown", "age_unknown")}
        assert unknown == {0.0}, year


def test_children_in_care_continue_from_one_year_to_the_next(
    long_rows: list[dict[str, str]],
) -> None:
    """In every province, children in care on 1 January 2025 are those of 31 December 2024."""

    def totals(element: str, period: str) -> dict[str, float]:
        return {
            r["area"]: float(r["value"])
            for r in long_rows
            if (r["element"], r["period"], r["dimension"]) == (element, period, "") and r["value"]
        }

    closing = totals("children_in_residential_care", "2024")
    opening = totals("children_in_residential_care_start_of_period", "2025")
    both = sorted(set(closing) & set(opening))
    assert len(both) >= 23
    assert [opening[a] for a in both] == [closing[a] for a in both]


# ---------------------------------------------------------------------------------------------
# An independent recomputation of the national indicators from the long CSV export


def _yaml(name: str) -> Any:
    return yaml.safe_load((RULES / f"{name}.yaml").read_text(encoding="utf-8"))


def _terms(expression: str | None) -> list[tuple[int, str, str, str]]:
    """(sign, element, dimension, option) of each term of ``a + b[dim=opt] - c``."""
    out = []
    for sign, name, dim, opt in re.findall(
        r"([+-]?)\s*([a-z0-9_]+)(?:\[(\w+)=(\w+)\])?", expression or ""
    ):
        out.append((-1 if sign == "-" else 1, name, dim, opt))
    return out


def _inside(period: str, year: str) -> bool:
    return period == year or (period.startswith(year) and len(period) > 4)


class _Recomputed:
    """Element values per (element, year, area, dimension, option), built the documented way."""

    def __init__(self, rows: list[dict[str, str]]) -> None:
        elements = {e["code"]: e for e in _yaml("elements")["elements"]}
        self.elements = elements
        by_cell: dict[tuple[str, str, str, str, str], list[tuple[str, float]]] = defaultdict(list)
        for r in rows:
            if not r["value"]:
                continue  # a missing-reason code: no figure, never 0
            for year in YEARS:
                if _inside(r["period"], year):
                    key = (r["element"], year, r["area"], r["dimension"], r["option"])
                    by_cell[key].append((r["period"], float(r["value"])))
        self.values: dict[tuple[str, str, str, str, str], float] = {}
        for key, seen in by_cell.items():
            how = elements[key[0]]["aggregation"]
            # "last": the latest sub-period reported; "sum" (and an annual figure): added up
            self.values[key] = max(seen)[1] if how == "last" else sum(x for _, x in seen)
        for (el, year, area, dim, _opt), x in list(self.values.items()):
            e = elements[el]
            if dim and not e["total"] and e["by"] and dim == e["by"][0]:
                total = (el, year, area, "", "")
                self.values[total] = self.values.get(total, 0.0) + x

    def get(self, el: str, year: str, area: str, dim: str = "", opt: str = "") -> float | None:
        return self.values.get((el, year, area, dim, opt))

    def side(self, expression: str | None, year: str, area: str) -> float | None:
        """A sum of terms: a value when at least one of its references was reported."""
        got = [(s, self.get(el, year, area, d, o)) for s, el, d, o in _terms(expression)]
        present = [s * x for s, x in got if x is not None]
        return sum(present) if present else None

    def population(self, element: str, year: str, area: str) -> float | None:
        """The same year's population, or the nearest earlier year's."""
        for y in sorted((y for y in YEARS if y <= year), reverse=True):
            x = self.get(element, y, area)
            if x is not None:
                return x
        return None


def _indicator_values(rows: list[dict[str, str]]) -> dict[tuple[str, str, str], float]:
    data = _Recomputed(rows)
    provinces = [p["code"] for p in _yaml("provinces")["provinces"]]
    scale = {"percent": 100.0, "rate_per_100000": 100_000.0}
    out: dict[tuple[str, str, str], float] = {}
    for ind in _yaml("indicators")["indicators"]:
        num_expr, den_expr, unit = ind["numerator"], ind["denominator"], ind["unit"]
        refs = [el for _, el, _, _ in _terms(num_expr)]
        national = data.elements[refs[0]]["scope"] == "national"
        den_ref = [el for _, el, _, _ in _terms(den_expr)]
        by_province = "province" in ind["disaggregations"]  # else only the national row is shown
        for year in YEARS:
            sums = [0.0, 0.0]
            any_area = False
            for area in [NATION] if national else provinces:
                num = data.side(num_expr, year, area)
                if den_expr is None:
                    den: float | None = 1.0
                elif unit == "rate_per_100000":
                    den = data.population(den_ref[0], year, area)
                else:
                    den = data.side(den_expr, year, area)
                if num is None or den is None:
                    continue
                if national or by_province:
                    if den_expr is None:
                        out[(ind["id"], year, area)] = num
                    elif den != 0:
                        out[(ind["id"], year, area)] = scale.get(unit, 1.0) * num / den
                sums[0] += num
                sums[1] += den
                any_area = True
            if national or not any_area:
                continue
            if den_expr is None:
                out[(ind["id"], year, NATION)] = sums[0]
            elif sums[1] != 0:
                out[(ind["id"], year, NATION)] = scale.get(unit, 1.0) * sums[0] / sums[1]
    return out


def test_every_indicator_is_recomputed_from_the_long_csv(
    long_rows: list[dict[str, str]], workbook_values: dict[tuple[str, str, str], float | None]
) -> None:
    """Each value of the national workbook for 2024 and 2025 equals an independent recomputation."""
    mine = _indicator_values(long_rows)
    theirs = {k: v for k, v in workbook_values.items() if k[1] in YEARS and v is not None}
    assert len(theirs) > 1_000
    assert sorted(set(theirs) ^ set(mine)) == []
    differ = [
        (k, theirs[k], mine[k])
        for k in sorted(theirs)
        if not math.isclose(theirs[k], mine[k], rel_tol=1e-9, abs_tol=1e-9)
    ]
    assert differ == []
