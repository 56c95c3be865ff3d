"""The national workbook reads and prints well: numbers, statuses in words, A4 pages.

Behaviours covered (on the hand-made store of test_consolidation):
- counts are whole numbers with thousands separators, rates and percentages have one
  decimal, whatever sheet they are on, and each row says its unit in words;
- every status is written in words, English and Khmer, and each status has one colour on
  every sheet and in the About sheet's legend;
- every sheet prints on A4 landscape, fitted to one page wide; the About sheet wraps its text
  in columns that fit the page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet
from test_consolidation import TODAY, _build, _catalogue

from cpxl.consolidation import write_national_workbook
from cpxl.store import Store

WORDS = {
    "Reported / បានរាយការណ៍",
    "Late / យឺត",
    "Partly reported / បានរាយការណ៍មួយផ្នែក",
    "Not reported / មិនបានរាយការណ៍",
}


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[openpyxl.Workbook]:
    tmp = tmp_path_factory.mktemp("national")
    with Store.open(tmp / "s.sqlite") as store:
        _build(store)
        result = write_national_workbook(
            _catalogue(), store, ["2024", "2025"], tmp / "out",
            built_at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC), today=TODAY,
        )  # fmt: skip
    yield openpyxl.load_workbook(result.workbook)


def _columns(ws: Worksheet) -> dict[str, int]:
    return {str(c.value): c.column for c in ws[1] if c.value}


def test_counts_are_whole_and_rates_have_one_decimal(workbook: openpyxl.Workbook) -> None:
    ws = workbook["Indicators"]
    at = _columns(ws)
    formats: dict[str, set[str]] = defaultdict(set)
    for row in ws.iter_rows(min_row=3):
        unit = str(row[at["Unit"] - 1].value).split(" / ")[0]
        cell = row[at["Value"] - 1]
        if cell.value is not None:
            formats[unit].add(cell.number_format)
    assert formats == {
        "Number": {"#,##0"},
        "Percent": {"#,##0.0"},
        "Per 100,000 children": {"#,##0.0"},
    }
    key = (at["Indicator"] - 1, at["Code"] - 1, at["Reporting period"] - 1)
    rows = {tuple(r[k].value for k in key): r for r in ws.iter_rows(min_row=3)}
    rate = rows[("CP-AC-03", "01", "2025")]
    assert rate[at["Numerator"] - 1].number_format == "#,##0"  # children: a count
    assert rate[at["Value"] - 1].number_format == "#,##0.0"
    done = workbook["Completeness"]
    cols = _columns(done)
    third = done.cell(3, cols["Completeness %"])
    assert third.number_format == "#,##0.0"
    assert done.cell(3, cols["Cells expected"]).number_format == "#,##0"
    domain = next(s for s in workbook.sheetnames if s.startswith("AC "))
    ws = workbook[domain]
    at = _columns(ws)
    units = {
        str(r[at["Unit"] - 1].value).split(" / ")[0]: r[at["2025"] - 1].number_format
        for r in ws.iter_rows(min_row=3)
        if r[at["2025"] - 1].value is not None
    }
    assert units == {"Number": "#,##0", "Percent": "#,##0.0", "Per 100,000 children": "#,##0.0"}


def test_statuses_are_words_in_both_languages_coloured_alike(
    workbook: openpyxl.Workbook,
) -> None:
    colours: dict[str, set[str]] = defaultdict(set)
    for name in ("Indicators", "Data quality"):
        ws = workbook[name]
        col = _columns(ws)["Status"]
        for row in ws.iter_rows(min_row=3, min_col=col, max_col=col):
            colours[str(row[0].value)].add(str(row[0].fill.fgColor.rgb))
    assert set(colours) <= WORDS
    assert {"Reported / បានរាយការណ៍", "Not reported / មិនបានរាយការណ៍"} <= set(colours)
    about = workbook["About"]
    legend = {
        str(c.value): str(c.fill.fgColor.rgb)
        for row in about.iter_rows(max_col=1)
        for c in row
        if c.value in WORDS
    }
    assert set(legend) == WORDS
    assert {w: {legend[w]} for w in colours} == dict(colours)
    assert len(set(legend.values())) == 4


def test_every_sheet_prints_on_a4_one_page_wide(workbook: openpyxl.Workbook) -> None:
    for ws in workbook.worksheets:
        setup = ws.page_setup
        assert (ws.title, setup.paperSize, setup.orientation) == (ws.title, 9, "landscape")
        assert (setup.fitToWidth or 1, setup.fitToHeight) == (1, 0), ws.title  # 1: the default
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
    about = workbook["About"]
    widths = [about.column_dimensions[c].width for c in "ABC"]
    assert sum(widths) <= 140  # a readable scale on A4 landscape once fitted to the width
    texts = [c for row in about.iter_rows(min_row=4) for c in row if isinstance(c.value, str)]
    assert texts
    assert all(c.alignment.wrap_text for c in texts), [c.coordinate for c in texts]


def test_the_workbook_file_is_where_it_says(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.sqlite") as store:
        _build(store)
        result = write_national_workbook(_catalogue(), store, ["2025"], tmp_path, today=TODAY)
    assert result.workbook.exists()
    assert not list(tmp_path.glob("*.partial"))
