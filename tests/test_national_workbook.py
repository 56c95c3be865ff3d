"""The national workbook reads and prints well: numbers, statuses in words, A4 pages.

Behaviours covered (on the hand-made store of test_consolidation):
- counts are whole numbers with thousands separators, rates and percentages have one
  decimal, whatever sheet they are on, and each row says its unit in words;
- every status is written in words, English and Khmer, and each status has one colour on
  every sheet and in the About sheet's legend;
- every sheet prints on A4 landscape, fitted to one page wide; the About sheet wraps its text
  in columns that fit the page;
- every indicator with a value has its national trend and its provinces charted, each chart
  titled in English and Khmer, on a grid where no chart covers another or a cell of a table;
- each domain sheet has a tile-grid map of the 25 provinces beside its table, coloured by
  value, with a legend.
"""

from __future__ import annotations

import re
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import defusedxml.ElementTree as DET
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
def path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("national")
    with Store.open(tmp / "s.sqlite") as store:
        _build(store)
        result = write_national_workbook(
            _catalogue(), store, ["2023", "2024", "2025"], tmp / "out",
            built_at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC), today=TODAY,
        )  # fmt: skip
    return result.workbook


@pytest.fixture(scope="module")
def workbook(path: Path) -> Iterator[openpyxl.Workbook]:
    yield openpyxl.load_workbook(path)


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


_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
    "xdr": "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing",
    "c": "http://schemas.openxmlformats.org/drawingml/2006/chart",
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
}
Box = tuple[int, int, int, int]  # first column, first row, last column, last row (0-based)


def _target(base: str, target: str) -> str:
    parts = base.split("/")[:-1]
    for piece in target.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


def _rels(z: zipfile.ZipFile, part: str) -> dict[str, str]:
    folder, name = part.rsplit("/", 1)
    rels = f"{folder}/_rels/{name}.rels"
    if rels not in z.namelist():
        return {}
    root = DET.fromstring(z.read(rels))
    return {
        r.get("Id"): _target(part, r.get("Target")) for r in root.findall("rel:Relationship", _NS)
    }


def _charts(path: Path) -> dict[str, list[tuple[Box, str]]]:
    """Sheet name -> each chart's anchor box and title text, read from the file's XML."""
    out: dict[str, list[tuple[Box, str]]] = defaultdict(list)
    with zipfile.ZipFile(path) as z:
        book = DET.fromstring(z.read("xl/workbook.xml"))
        sheets = _rels(z, "xl/workbook.xml")
        for sheet in book.findall("m:sheets/m:sheet", _NS):
            part = sheets[sheet.get(f"{{{_NS['r']}}}id")]
            for drawing in _rels(z, part).values():
                if "/drawings/" not in drawing:
                    continue
                charts = _rels(z, drawing)
                root = DET.fromstring(z.read(drawing))
                for anchor in root.findall("xdr:twoCellAnchor", _NS):
                    ends = [anchor.find(f"xdr:{e}", _NS) for e in ("from", "to")]
                    box = tuple(
                        int(end.find(f"xdr:{k}", _NS).text) for end in ends for k in ("col", "row")
                    )
                    ref = anchor.find(".//c:chart", _NS).get(f"{{{_NS['r']}}}id")
                    chart = DET.fromstring(z.read(charts[ref]))
                    title = "".join(
                        t.text or "" for t in chart.findall("c:chart/c:title//a:t", _NS)
                    )
                    out[sheet.get("name")].append((box, title))  # type: ignore[arg-type]
    return out


def _overlap(a: Box, b: Box) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def test_charts_answer_per_indicator_on_a_grid_nothing_covered(
    path: Path, workbook: openpyxl.Workbook
) -> None:
    charts = _charts(path)
    on_sheet = charts["Charts"]
    titles = [t for _b, t in on_sheet]
    assert any(t.startswith("CP-AC-02 ") for t in titles)
    assert sum(t.startswith("CP-AC-02 ") for t in titles) == 2  # its trend and its provinces
    khmer = re.compile("[\u1780-\u17ff]")
    assert all(khmer.search(t) and re.search("[A-Za-z]{4}", t) for t in titles), titles
    boxes = [b for b, _t in on_sheet]
    assert len(boxes) >= 4
    assert [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if _overlap(a, b)] == []
    ws = workbook["Charts"]
    cells = [
        (c.column - 1, c.row - 1) for row in ws.iter_rows() for c in row if c.value is not None
    ]
    covered = [(x, y) for x, y in cells for b in boxes if _overlap(b, (x, y, x, y))]
    assert covered == []


def test_each_domain_sheet_has_a_map_of_the_provinces_with_a_legend(
    workbook: openpyxl.Workbook,
) -> None:
    domain = next(s for s in workbook.sheetnames if s.startswith("AC "))
    ws = workbook[domain]
    names = {p.name.en for p in _catalogue().provinces}
    table_width = len(_columns(ws))
    tiles = {
        str(c.value).split("\n")[0]: (c.column, c.row, str(c.fill.fgColor.rgb))
        for row in ws.iter_rows(max_row=10)
        for c in row
        if isinstance(c.value, str) and c.value.split("\n")[0] in names and c.column > table_width
    }
    assert set(tiles) == names
    assert len({(x, y) for x, y, _c in tiles.values()}) == 25
    north, south = tiles["Preah Vihear"], tiles["Kep"]
    west, east = tiles["Pailin"], tiles["Svay Rieng"]
    assert north[1] < south[1] and west[0] < east[0]
    # Pailin reported no children in care: grey, like "not reported" in the legend
    legend = {
        str(c.value): str(c.fill.fgColor.rgb)
        for row in ws.iter_rows(min_row=9, max_row=20)
        for c in row
        if isinstance(c.value, str) and c.column > table_width
    }
    assert legend["Not reported / មិនបានរាយការណ៍"] == west[2] != south[2]
    assert len({v for k, v in legend.items() if " - " in k}) == 5
    assert len({c for _x, _y, c in tiles.values()}) >= 3


def test_the_about_sheet_names_each_areas_framework_sectors(workbook: openpyxl.Workbook) -> None:
    """Each cpxl area (a sheet of its own) is listed beside the framework's sectors it holds,
    in English and Khmer, as the catalogue declares them."""
    cat = _catalogue()
    rows = {
        str(r[0]): r
        for r in workbook["About"].iter_rows(min_col=1, max_col=3, values_only=True)
        if r[0]
    }
    for domain, term in cat.domains.items():
        codes = cat.domain_sectors.get(domain, ())
        _, en, km = rows[f"{domain} {term.en}"]
        if codes:
            assert en == "; ".join(cat.framework_sectors[c].en for c in codes)
            assert km == "; ".join(cat.framework_sectors[c].km for c in codes)
        else:
            assert en == "-"
