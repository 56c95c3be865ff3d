"""Reading a return: identity first, then values by key, never by position.

Covers: a clean return reads back exactly what was typed; conversions are reported at their
cell; inserted rows and columns and renamed sheets are realigned; a missing sheet is named with
the sheets found; deleted or edited identities, retired versions and foreign workbooks are not
templates; formulas use their cached result or are an error; a re-save by real LibreOffice (xlsx,
ods, xls) keeps identity, values and keys.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from builders import catalogue, cell_of, issue, layout, returned, where, workspace

from cpxl.findings import Code
from cpxl.guard import inspect
from cpxl.reading import ReadFailure, read_workbook
from cpxl.simulate import plan
from cpxl.templates import IDENTITY_SHEET, read_register

MOJ = "MOJ"


def _values(path: Path, kind: str = "xlsx") -> dict[tuple[str, str, str, str], object]:
    sub = read_workbook(path, catalogue(), kind=kind)
    return {v.key: v.missing or v.value for v in sub.values if not v.blank}


def test_clean_return_reads_back_what_was_typed(tmp_path: Path) -> None:
    """Every typed number comes back at its element, area and option, with no findings."""
    ws = workspace(tmp_path)
    path = returned(ws, MOJ)
    sub = read_workbook(path, catalogue())
    expected = plan(catalogue(), layout(MOJ), 7)
    assert sub.findings == ()
    assert len(sub.values) == len(expected)
    for v in sub.values:
        assert expected[(v.sheet, v.cell)] == (v.missing or v.value)


def test_blank_stays_blank_and_codes_stay_codes(tmp_path: Path) -> None:
    """A blank cell is not 0 and a missing-reason code is kept as the code."""
    ws = workspace(tmp_path)
    sheet, blank = cell_of(MOJ, "children_in_detention", "01")
    _, coded = cell_of(MOJ, "children_in_detention", "02")
    sub = read_workbook(returned(ws, MOJ, cells={sheet: {blank: "", coded: "na"}}), catalogue())
    got = {v.cell: (v.value, v.missing) for v in sub.values if v.sheet == sheet}
    assert got[blank] == (None, "")
    assert got[coded] == (None, "NA")


def test_conversions_are_reported_at_their_cells(tmp_path: Path) -> None:
    """Khmer digits and numbers typed as text are converted and noted; words are errors."""
    ws = workspace(tmp_path)
    sheet, a = cell_of(MOJ, "children_in_detention", "01", "sex", "male")
    _, b = cell_of(MOJ, "children_in_detention", "02", "sex", "male")
    _, c = cell_of(MOJ, "children_in_detention", "03", "sex", "male")
    path = returned(ws, MOJ, cells={sheet: {a: "១២", b: " 12 ", c: "twelve"}})
    sub = read_workbook(path, catalogue())
    assert where(sub.findings) == {
        (sheet, a, "khmer-digits"),
        (sheet, b, "number-as-text"),
        (sheet, c, "not-a-number"),
    }
    got = {v.cell: v.value for v in sub.values if v.sheet == sheet}
    assert (got[a], got[b], got[c]) == (12.0, 12.0, None)
    khmer = next(f for f in sub.findings if f.code == Code.KHMER_DIGITS)
    assert (khmer.seen, khmer.expected) == ("១២", "12")


def test_inserted_rows_and_columns_are_realigned(tmp_path: Path) -> None:
    """A row inserted above the provinces and a column inserted before the inputs move nothing."""
    ws = workspace(tmp_path)
    path = returned(ws, MOJ)
    before = _values(path)
    name = layout(MOJ).sheets[0].name
    wb = openpyxl.load_workbook(path)
    wb[name].insert_rows(8)
    wb[name].insert_cols(5)
    wb.save(path)
    sub = read_workbook(path, catalogue())
    assert _values(path) == before
    codes = {f.code for f in sub.findings}
    assert codes == {Code.MOVED_ROW, Code.MOVED_COLUMN}


def test_renamed_sheet_is_found_by_its_keys(tmp_path: Path) -> None:
    """A data sheet renamed by the sender is matched by its key row and reported as info."""
    ws = workspace(tmp_path)
    path = returned(ws, MOJ)
    before = _values(path)
    name = layout(MOJ).sheets[0].name
    wb = openpyxl.load_workbook(path)
    wb[name].title = "Detention 2025"
    wb.save(path)
    sub = read_workbook(path, catalogue())
    assert where(sub.findings) == {("Detention 2025", "", "renamed-sheet")}
    assert _values(path) == before


def test_missing_sheet_names_the_sheets_found(tmp_path: Path) -> None:
    """A deleted data sheet is an error that lists the sheets that were there."""
    ws = workspace(tmp_path)
    path = returned(ws, MOJ)
    first, second = (s.name for s in layout(MOJ).sheets)
    wb = openpyxl.load_workbook(path)
    del wb[first]
    wb.save(path)
    sub = read_workbook(path, catalogue())
    assert where(sub.findings) == {(first, "", "missing-sheet")}
    assert sub.findings[0].params["found"] == f"Instructions, {second}"


def test_deleted_identity_is_not_a_template(tmp_path: Path) -> None:
    """Without its identity sheet and properties a workbook is not a template."""
    ws = workspace(tmp_path)
    path = returned(ws, MOJ)
    wb = openpyxl.load_workbook(path)
    del wb[IDENTITY_SHEET]
    wb.custom_doc_props.props.clear()
    wb.save(path)
    with pytest.raises(ReadFailure) as failure:
        read_workbook(path, catalogue())
    assert failure.value.finding.code == Code.NO_IDENTITY


def test_edited_identity_is_detected(tmp_path: Path) -> None:
    """Changing the ministry in the identity sheet breaks the checksum."""
    ws = workspace(tmp_path)
    path = returned(ws, MOJ)
    wb = openpyxl.load_workbook(path)
    sheet = wb[IDENTITY_SHEET]
    row = next(r for r in range(1, 10) if sheet.cell(r, 1).value == "ministry")
    sheet.cell(row, 2).value = "MOSVY"
    wb.save(path)
    with pytest.raises(ReadFailure) as failure:
        read_workbook(path, catalogue())
    assert failure.value.finding.code == Code.IDENTITY_TAMPERED


def test_foreign_workbook_is_not_a_template(tmp_path: Path) -> None:
    """A workbook cpxl did not issue has no identity."""
    path = tmp_path / "budget.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "Budget"  # type: ignore[index]
    wb.save(path)
    with pytest.raises(ReadFailure) as failure:
        read_workbook(path, catalogue())
    assert failure.value.finding.code == Code.NO_IDENTITY


def test_template_not_in_the_register_is_unknown(tmp_path: Path) -> None:
    """A genuine-looking template that this workspace never issued is not accepted."""
    ws = workspace(tmp_path)
    path = returned(ws, MOJ)
    register = read_register(issue(ws))
    assert read_workbook(path, catalogue(), register=register).ministry == MOJ
    stranger = {k: v for k, v in register.items() if v.ministry != MOJ}
    with pytest.raises(ReadFailure) as failure:
        read_workbook(path, catalogue(), register=stranger)
    assert failure.value.finding.code == Code.UNKNOWN_TEMPLATE


def test_formulas_without_a_result_are_errors(tmp_path: Path) -> None:
    """A formula saved without a computed result is an error, never read as 0 or blank."""
    ws = workspace(tmp_path)
    sheet, cell = cell_of(MOJ, "children_in_detention", "01", "sex", "male")
    path = returned(ws, MOJ)
    wb = openpyxl.load_workbook(path)
    wb[sheet][cell] = "=1+1"
    wb.save(path)
    sub = read_workbook(path, catalogue())
    assert where(sub.findings) == {(sheet, cell, "formula-without-result")}
    assert next(v for v in sub.values if (v.sheet, v.cell) == (sheet, cell)).value is None


def test_text_that_looks_like_a_formula_is_text(tmp_path: Path) -> None:
    """A sender's text starting with = is read as text (not a number), never evaluated."""
    ws = workspace(tmp_path)
    sheet, cell = cell_of(MOJ, "children_in_detention", "01", "sex", "male")
    path = returned(ws, MOJ, cells={sheet: {cell: '=HYPERLINK("http://127.0.0.1/","x")'}})
    sub = read_workbook(path, catalogue())
    assert where(sub.findings) == {(sheet, cell, "not-a-number")}


@pytest.mark.libreoffice
def test_formula_results_computed_by_libreoffice_are_used(tmp_path: Path) -> None:
    """A formula whose result the spreadsheet computed is read as that result, and noted."""
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed")
    ws = workspace(tmp_path)
    sheet, cell = cell_of(MOJ, "children_in_detention", "01", "sex", "male")
    path = returned(ws, MOJ)
    wb = openpyxl.load_workbook(path)
    wb[sheet][cell] = f"={wb[sheet][cell].value}+0"
    wb.save(path)
    saved = _libreoffice(soffice, path, tmp_path, "xlsx")
    sub = read_workbook(saved, catalogue())
    assert where(sub.findings) == {(sheet, cell, "formula-result")}
    assert _values(saved) == _values(returned(workspace(tmp_path / "b"), MOJ))


def _libreoffice(soffice: str, path: Path, tmp_path: Path, fmt: str) -> Path:
    out = tmp_path / f"lo-{fmt}"
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path / ('profile-' + fmt)}",
            "--headless",
            "--convert-to",
            fmt,
            "--outdir",
            str(out),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return out / f"{path.stem}.{fmt}"


@pytest.mark.libreoffice
@pytest.mark.parametrize("fmt", ["xlsx", "ods", "xls"])
def test_libreoffice_resave_keeps_identity_values_and_keys(tmp_path: Path, fmt: str) -> None:
    """A return re-saved by LibreOffice as xlsx, ods or xls reads exactly like the original."""
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed")
    ws = workspace(tmp_path)
    sheet, cell = cell_of(MOJ, "children_in_detention", "01", "sex", "male")
    path = returned(ws, MOJ, cells={sheet: {cell: "NC"}})
    saved = _libreoffice(soffice, path, tmp_path, fmt)
    kind = inspect(saved).kind
    assert kind == fmt
    resaved = read_workbook(saved, catalogue(), kind=kind)
    original = read_workbook(path, catalogue())
    assert resaved.identity == original.identity
    assert resaved.values == original.values
    assert resaved.findings == ()


def test_a_value_far_outside_the_template_costs_nothing_and_is_reported(tmp_path: Path) -> None:
    """A stray value in the sheet's very last cell is not read, and the sender is told where."""
    ws = workspace(tmp_path)
    path = returned(ws, MOJ)
    before = _values(path)
    name = layout(MOJ).sheets[0].name
    wb = openpyxl.load_workbook(path)
    wb[name]["XFD1048576"] = 5
    wb.save(path)
    sub = read_workbook(path, catalogue())
    assert where(sub.findings) == {(name, "XFD1048576", "stray-value")}
    assert _values(path) == before
