"""Reading a return: identity first, then values by key, never by position.

Covers: a clean return reads back exactly what was typed; conversions are reported at their
cell; inserted rows and columns and renamed sheets are realigned; a missing sheet is named with
the sheets found; deleted or edited identities, retired versions and foreign workbooks are not
templates; formulas use their cached result or are an error; a re-save by real LibreOffice (xlsx,
ods, xls) keeps identity, values and keys; figures typed in a row or column inserted in real
LibreOffice are errors at their cells, and moved rows and columns are named.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from builders import catalogue, cell_of, issue, layout, returned, where, workspace

from cpxl.findings import Code, Severity, Status
from cpxl.guard import inspect
from cpxl.intake import run_inbox
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


# A LibreOffice Basic macro, run headless, that does what a sender does by hand: unprotect the
# sheet, insert a row and a column, type figures, save as xlsx and as ods.
_GROW = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">
<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1"
 script:language="StarBasic">
Sub Grow(src, sheetName, rowAt, colAt, cells, outBase)
  Dim props(0) As New com.sun.star.beans.PropertyValue
  props(0).Name = &quot;Hidden&quot;
  props(0).Value = True
  doc = StarDesktop.loadComponentFromURL(ConvertToURL(src), &quot;_blank&quot;, 0, props())
  sh = doc.Sheets.getByName(sheetName)
  sh.unprotect(&quot;&quot;)
  sh.Rows.insertByIndex(CLng(rowAt), 1)
  sh.Columns.insertByIndex(CLng(colAt), 1)
  items = Split(cells, &quot;;&quot;)
  For i = LBound(items) To UBound(items)
    kv = Split(items(i), &quot;=&quot;)
    sh.getCellRangeByName(kv(0)).setValue(CDbl(kv(1)))
  Next i
  Dim filt(0) As New com.sun.star.beans.PropertyValue
  filt(0).Name = &quot;FilterName&quot;
  filt(0).Value = &quot;Calc MS Excel 2007 XML&quot;
  doc.storeToURL(ConvertToURL(outBase &amp; &quot;.xlsx&quot;), filt())
  filt(0).Value = &quot;calc8&quot;
  doc.storeToURL(ConvertToURL(outBase &amp; &quot;.ods&quot;), filt())
  doc.close(True)
End Sub
</script:module>
"""


def _libreoffice_insert(
    soffice: str, path: Path, tmp_path: Path, sheet: str, at: tuple[int, int], cells: str
) -> Path:
    """Insert a row and a column before 0-based ``at`` in LibreOffice, type ``cells``, save."""
    profile = tmp_path / "profile-grow"
    env = f"-env:UserInstallation=file://{profile}"
    run = {"check": True, "capture_output": True, "timeout": 180}
    subprocess.run([soffice, env, "--headless", "--terminate_after_init"], **run)  # type: ignore[call-overload]
    (profile / "user/basic/Standard/Module1.xba").write_text(_GROW, encoding="utf-8")
    out = tmp_path / "grown"
    # Every argument goes as text: LibreOffice does not call a macro given bare numbers here.
    args = ",".join(f'"{a}"' for a in (path, sheet, at[0], at[1], cells, out))
    subprocess.run([soffice, env, "--headless", f"macro:///Standard.Module1.Grow({args})"], **run)  # type: ignore[call-overload]
    return out


@pytest.mark.libreoffice
@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_figures_in_a_row_and_column_inserted_in_libreoffice_are_errors(
    tmp_path: Path, fmt: str
) -> None:
    """Figures typed in a row and a column inserted in LibreOffice are errors at their cells,
    quoted and placed; the return needs correction even when its other figures are unchanged,
    and every moved row and column is named by province and by column label."""
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed")
    ws = workspace(tmp_path)
    path = returned(ws, MOJ)
    first = run_inbox(ws, workers=1)
    assert [f.status for f in first.files] == [Status.ACCEPTED]
    sheet = layout(MOJ).sheets[0]
    # A row inserted below the first province (row 8) and a column before F.
    grown = _libreoffice_insert(soffice, path, tmp_path, sheet.name, (7, 5), "E8=25;F10=7;F12=0")
    path.unlink()
    shutil.copyfile(grown.with_suffix(f".{fmt}"), ws.inbox / f"MOJ_2025_grown.{fmt}")
    report = run_inbox(ws, workers=1)
    (result,) = report.files
    assert (result.status, result.reason) == (
        Status.NEEDS_CORRECTION,
        Code.FIGURE_IN_INSERTED_ROW,
    )
    errors = [f for f in result.findings if f.severity == Severity.ERROR]
    assert where(errors) == {
        (sheet.name, "E8", "figure-in-inserted-row"),
        (sheet.name, "F10", "figure-in-inserted-column"),
        (sheet.name, "F12", "figure-in-inserted-column"),
    }
    messages = catalogue().messages
    by_cell = {f.location.cell: f.render(messages) for f in errors}
    first_area, second_area = sheet.areas[0], sheet.areas[1]
    element = catalogue().elements[sheet.columns[0].element]
    assert by_cell["E8"].en.startswith(
        f'Sheet {sheet.name}, cell E8: "25" was typed in a row that is not one of the '
        f'template\'s rows (inserted below "{first_area.name.en}")'
    )
    assert f"«{first_area.name.km}»" in by_cell["E8"].km
    assert f'"{element.name.en}: {sheet.columns[0].label.en}"' in by_cell["F10"].en
    assert '"0" was typed' in by_cell["F12"].en
    moved = [f for f in result.findings if f.code == Code.MOVED_ROW]
    assert {f.params["name_en"] for f in moved} <= {a.name.en for a in sheet.areas[1:]}
    second = next(f for f in moved if f.location.cell == "B9")
    rendered = second.render(messages)
    en, km = rendered.en, rendered.km
    assert f'the row for "{second_area.name.en}" has moved from row 8 to row 9' in en
    assert f"«{second_area.name.km}»" in km
    columns = {
        f.location.cell: f.render(messages).en
        for f in result.findings
        if f.code == Code.MOVED_COLUMN
    }
    label = f"{element.name.en}: {sheet.columns[1].label.en}"
    assert f'the column "{label}" has moved from F5 to G5' in columns["G5"]
    assert len(columns) == len(sheet.columns) - 1
