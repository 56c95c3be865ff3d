"""Numbers over time that mean what they say: how a year is built from quarterly returns.

Behaviours covered:
- a flow (cases opened) over the year is the sum of its quarters;
- a stock on the last day (``aggregation: last``) over the year is the last quarter reported;
- children served in the year (4.11a, CP-SV-01) is the annual return's own distinct count, never
  the sum or the last of the quarterly counts, which stay in the quarterly return;
- every element says how it aggregates, and a quarterly distinct count cannot feed an indicator.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pytest
from builders import new_submission

from cpxl.catalogue import Catalogue, CatalogueError, builtin_rules, load
from cpxl.consolidation import indicator_table
from cpxl.findings import Code, Value
from cpxl.store import Store

QUARTERS = ("2025Q1", "2025Q2", "2025Q3", "2025Q4")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load(builtin_rules())


def _record(store: Store, run: int, ministry: str, period: str, values: Sequence[Value]) -> None:
    store.record(
        run,
        new_submission(f"{ministry}_{period}", ministry, period),
        values,
        (),
        accept=True,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """Four quarterly MoSVY returns for Banteay Meanchey and the annual return's year count."""
    with Store.open(tmp_path / "s.sqlite") as opened:
        run = opened.start_run(user="t", host="t", cpxl_version="0", catalogue_version="t")
        for quarter, new, open_ in zip(QUARTERS, (10, 20, 30, 40), (50, 60, 70, 80), strict=True):
            _record(opened, run, "MOSVY", quarter, [
                Value("new_cases", "01", "", "", float(new)),
                Value("children_with_open_case_primero", "01", "", "", float(open_)),
            ])  # fmt: skip
        # 140 distinct children in the year: fewer than 50+60+70+80, more than Q4's 80
        year = [Value("children_with_case_primero_in_year", "01", "", "", 140.0)]
        _record(opened, run, "MOSVY", "2025", year)
        yield opened


def _value(table: pd.DataFrame, indicator: str, period: str, area: str = "01") -> float:
    row = table[
        (table["indicator"] == indicator)
        & (table["period"] == period)
        & (table["area"] == area)
        & (table["dimension"] == "")
    ]
    assert len(row) == 1, (indicator, period, area)
    return float(row["value"].iloc[0])


def test_a_flow_is_the_sum_of_its_quarters(catalogue: Catalogue, store: Store) -> None:
    """Cases opened in 2025 are the cases opened in each quarter, added up."""
    table = indicator_table(catalogue, store, ["2025", "2025Q2"])
    assert (_value(table, "CP-SV-03", "2025"), _value(table, "CP-SV-03", "2025Q2")) == (100, 20)


def test_children_served_in_the_year_is_the_years_own_count(
    catalogue: Catalogue, store: Store
) -> None:
    """4.11a for 2025 is the annual return's 140, not 260 (sum) nor 80 (last quarter)."""
    table = indicator_table(catalogue, store, ["2025"])
    assert _value(table, "CP-SV-01", "2025") == 140.0
    assert _value(table, "CP-SV-01", "2025", "00") == 140.0


def test_a_stock_is_the_last_quarter(tmp_path: Path, store: Store) -> None:
    """Had the quarterly figure been an end-of-quarter stock, the year would be Q4's figure."""
    rules = tmp_path / "rules"
    shutil.copytree(builtin_rules(), rules)
    elements = (rules / "elements.yaml").read_text(encoding="utf-8")
    start = elements.index("  - code: children_with_open_case_primero\n")
    at = elements.index("aggregation: none", start)
    elements = elements[:at] + "aggregation: last" + elements[at + len("aggregation: none") :]
    (rules / "elements.yaml").write_text(elements, encoding="utf-8")
    indicators = (rules / "indicators.yaml").read_text(encoding="utf-8")
    indicators = indicators.replace(
        'numerator: "children_with_case_primero_in_year"',
        'numerator: "children_with_open_case_primero"',
    )
    (rules / "indicators.yaml").write_text(indicators, encoding="utf-8")
    table = indicator_table(load(rules), store, ["2025"])
    assert _value(table, "CP-SV-01", "2025") == 80.0


def test_a_quarterly_distinct_count_cannot_make_a_year(tmp_path: Path) -> None:
    """An indicator on a quarterly count of distinct children is refused where it is written."""
    rules = tmp_path / "rules"
    shutil.copytree(builtin_rules(), rules)
    text = (rules / "indicators.yaml").read_text(encoding="utf-8")
    line = text[: text.index('numerator: "children_with_case_primero_in_year"')].count("\n") + 1
    text = text.replace(
        'numerator: "children_with_case_primero_in_year"',
        'numerator: "children_with_open_case_primero"',
    )
    (rules / "indicators.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as exc:
        load(rules)
    assert [(f.code, f.location.file) for f in exc.value.findings] == [
        (Code.CATALOGUE_REFERENCE, f"indicators.yaml:{line}")
    ]


def test_every_element_says_how_it_aggregates(catalogue: Catalogue) -> None:
    """Flows sum, end-of-period stocks and surveys take the last, distinct counts never combine."""
    by = {e.code: e.aggregation for e in catalogue.elements.values()}
    assert {by[c] for c in by if c.endswith(("_pct", "_survey_year", "_n"))} == {"last"}
    assert by["children_in_residential_care"] == "last"
    assert by["children_in_residential_care_start_of_period"] == "first"
    assert by["new_cases"] == "sum"
    quarterly = {e for d in catalogue.data_sets if d.period_type != "annual" for e in d.elements}
    assert {c for c in quarterly if by[c] == "none"} == {
        "children_with_open_case_primero",
        "children_with_open_case_ngo",
        "children_receiving_services",
    }
    assert {c for c in quarterly if by[c] not in ("sum", "none")} == set()
