"""Printouts: templates, feedback workbooks and run summaries print on A4, readably.

Covers: every visible sheet asks for A4, landscape when wide, fitted to the page width (or, for a
sheet too wide for that at 8 points, to as many pages across as keep it at 8 points with its
province columns repeated), header rows repeated; printed by real LibreOffice, every page is A4,
no word prints below 8 points, and a run summary (totals first) is one page.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from builders import SEED, catalogue, cell_of, layout, returned, workspace

from cpxl.findings import RunReport
from cpxl.intake import run_inbox
from cpxl.simulate import plan
from cpxl.templates import generate_templates

MOJ = "MOJ"
A4 = "9"
# Printable width of A4 with 0.4-inch side margins, in points; column-width units to points.
USABLE = {"landscape": 842 - 57.6, "portrait": 595 - 57.6}


def _printouts(tmp_path: Path) -> dict[str, Path]:
    """A template, the feedback on a return with errors and warnings, and the run summary."""
    generate_templates(catalogue(), "2025", tmp_path / "templates", ["MOSVY", MOJ])
    ws = workspace(tmp_path)
    sheet, total = cell_of(MOJ, "children_in_detention", "03")
    old = plan(catalogue(), layout(MOJ), SEED)[(sheet, total)]
    assert isinstance(old, float)
    returned(ws, MOJ, cells={sheet: {total: old + 4}}, mistakes=True)
    report: RunReport = run_inbox(ws, workers=1)
    assert report.files[0].feedback is not None and report.summary is not None
    return {
        "template": tmp_path / "templates" / "MOSVY_2025.xlsx",
        "feedback": Path(report.files[0].feedback),
        "summary": Path(report.summary),
    }


def _width_pt(ws: Any) -> float:
    """The printed width of a sheet's used columns, from the widths it declares."""
    total = 0.0
    for dim in ws.column_dimensions.values():
        if dim.hidden:
            continue
        span = (dim.max or 1) - (dim.min or 1) + 1
        # A stored width counts 7-pixel characters, padding included: 5.25 points each.
        total += span * (dim.width or 9.14) * 5.25
    return total


def test_every_sheet_asks_for_a4_fitted_and_readable(tmp_path: Path) -> None:
    """Each visible sheet: A4, fitted across, headers repeated, never shrunk below 80 %."""
    for kind, path in _printouts(tmp_path).items():
        book = openpyxl.load_workbook(path)
        for ws in book.worksheets:
            if ws.sheet_state != "visible":
                continue
            setup = ws.page_setup
            assert (kind, ws.title, setup.paperSize) == (kind, ws.title, int(A4))
            assert ws.sheet_properties.pageSetUpPr.fitToPage, (kind, ws.title)
            assert (setup.fitToHeight, setup.orientation is not None) == (0, True)
            across = setup.fitToWidth or 1
            repeated = 0.0
            if ws.print_title_cols:
                first, last = ws.print_title_cols.split(":")
                repeated = sum(ws.column_dimensions[c].width * 5.25 for c in _letters(first, last))
            # Spread over `across` pages, each repeating the row labels, the sheet prints at:
            scale = across * USABLE[setup.orientation] / (_width_pt(ws) + (across - 1) * repeated)
            assert min(scale, 1.0) >= 0.8, (kind, ws.title, scale)
            if ws.title not in ("Instructions", "Summary") or kind == "summary":
                assert ws.print_title_rows, (kind, ws.title)


def _letters(first: str, last: str) -> list[str]:
    return [chr(c) for c in range(ord(first.strip("$")), ord(last.strip("$")) + 1)]


@pytest.mark.libreoffice
def test_libreoffice_prints_on_a4_at_eight_points_or_more(tmp_path: Path) -> None:
    """Printed to PDF by LibreOffice: every page A4, no word below 8 points, and the run
    summary on one page with its totals."""
    soffice = shutil.which("soffice")
    if soffice is None or shutil.which("pdfinfo") is None or shutil.which("pdftotext") is None:
        pytest.skip("LibreOffice or poppler-utils not installed")
    out = tmp_path / "pdf"
    for kind, path in _printouts(tmp_path).items():
        subprocess.run(
            [
                soffice,
                f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                str(out / kind),
                str(path),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        pdf = out / kind / f"{path.stem}.pdf"
        info = subprocess.run(
            ["pdfinfo", "-f", "1", "-l", "999", str(pdf)], capture_output=True, text=True
        ).stdout
        sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info)
        assert sizes
        assert {tuple(sorted((round(float(w)), round(float(h))))) for w, h in sizes} == {
            (595, 842)
        }, kind
        words = subprocess.run(
            ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True
        ).stdout
        heights = [
            float(b) - float(a)
            for a, b in re.findall(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)"', words)
        ]
        # A word's box is about 1.09 times its font size: 8 points prints at 8.7.
        assert min(heights) >= 8.0, kind
        if kind == "summary":
            assert len(sizes) == 1
            assert "Total" in words


def _khmer(text: object) -> bool:
    return isinstance(text, str) and any("\u1780" <= ch <= "\u17ff" for ch in text)


def test_khmer_lines_and_titles_are_never_clipped(tmp_path: Path) -> None:
    """Every row of a feedback Summary that holds Khmer is tall enough for Khmer letters
    (20 points a line), and titles are tall enough for their 14-point type."""
    paths = _printouts(tmp_path)
    summary = openpyxl.load_workbook(paths["feedback"])["Summary"]
    rows = [r for r in summary.iter_rows() if any(_khmer(c.value) for c in r)]
    assert rows
    for row in rows:
        height = summary.row_dimensions[row[0].row].height
        assert height is not None and height >= 20, (row[0].row, height)
    template = openpyxl.load_workbook(paths["template"])
    for sheet in layout("MOSVY").sheets:
        assert (template[sheet.name].row_dimensions[1].height or 0) >= 24, sheet.name
