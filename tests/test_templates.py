"""Templates: what a ministry receives, opened the way Excel would open it (openpyxl).

Covers: one template per reporting ministry; every element once and nothing else; the hidden
key row and key column; locked labels and unlocked, shaded inputs; data validation within
Excel's limits; Khmer text and font; the identity in the identity sheet, in custom properties
and in a defined name, with a checksum; determinism; the register of issued templates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from builders import catalogue

from cpxl.catalogue import parse_period
from cpxl.templates import (
    FIRST_DATA_ROW,
    IDENTITY_FIELDS,
    IDENTITY_NAME,
    IDENTITY_SHEET,
    KEY_MARKER,
    KHMER_FONT,
    LISTS_SHEET,
    Identity,
    build_layout,
    generate_templates,
    read_register,
)

PERIOD = "2025"


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("templates")
    generate_templates(catalogue(), PERIOD, out, issued_at=datetime(2025, 1, 2, tzinfo=UTC))
    return out


def test_one_template_per_reporting_ministry(issued: Path) -> None:
    """Every ministry with an annual data set gets exactly one workbook, named MINISTRY_PERIOD."""
    expected = {
        f"{m}_{PERIOD}.xlsx" for m in catalogue().reporting_ministries(parse_period(PERIOD))
    }
    assert {p.name for p in issued.glob("*.xlsx")} == expected
    assert expected  # the catalogue has annual reporters


def test_every_element_once_and_nothing_else(issued: Path) -> None:
    """A template holds each element its ministry reports once, by key, and no other."""
    cat = catalogue()
    for path in issued.glob("*.xlsx"):
        ministry = path.stem.split("_")[0]
        wb = openpyxl.load_workbook(path)
        keys: list[str] = []
        for ws in wb.worksheets:
            if ws.title in ("Instructions", IDENTITY_SHEET, LISTS_SHEET):
                continue
            row = [c.value for c in ws[FIRST_DATA_ROW]]  # 1-based row 6 is the key row
            assert row[0] == KEY_MARKER
            keys.extend(str(v) for v in row[4:] if v and v != "explanation")
        elements = {k.split(":")[0] for k in keys}
        wanted = {e for d in cat.data_sets_for(ministry, parse_period(PERIOD)) for e in d.elements}
        assert elements == wanted
        assert len(keys) == len(set(keys))


def test_sheet_names_fit_excel(issued: Path) -> None:
    """Sheet names are at most 31 characters with none of : \\ / ? * [ ]."""
    for path in issued.glob("*.xlsx"):
        for name in openpyxl.load_workbook(path, read_only=True).sheetnames:
            assert len(name) <= 31
            assert not set(name) & set(":\\/?*[]")


def test_inputs_unlocked_labels_locked(issued: Path) -> None:
    """Only the input and explanation cells can be edited; sheets are protected."""
    cat = catalogue()
    layout = build_layout(cat, "MOJ", PERIOD)
    wb = openpyxl.load_workbook(issued / f"MOJ_{PERIOD}.xlsx")
    for sheet in layout.sheets:
        ws = wb[sheet.name]
        assert ws.protection.sheet is True
        for area, _column, cell in sheet.inputs():
            assert ws[cell].protection.locked is False, (sheet.name, cell, area.code)
            assert ws[cell].fill.fgColor.rgb.endswith("FFF2CC")
        first = FIRST_DATA_ROW + 1
        assert ws.cell(first, 3).protection.locked is True  # province code
        assert ws.cell(first, 4).protection.locked is True  # English name
        assert ws.cell(first, sheet.explanation_col + 1).protection.locked is False


def test_key_row_and_column_are_hidden(issued: Path) -> None:
    """The key row and the key column hold the codes the reader matches by, out of sight."""
    layout = build_layout(catalogue(), "MOJ", PERIOD)
    ws = openpyxl.load_workbook(issued / f"MOJ_{PERIOD}.xlsx")[layout.sheets[0].name]
    assert ws.row_dimensions[FIRST_DATA_ROW].hidden is True
    assert ws.column_dimensions["A"].hidden is True
    codes = [ws.cell(FIRST_DATA_ROW + 1 + i, 1).value for i in range(25)]
    assert codes == [p.code for p in catalogue().provinces]


def test_data_validation_hints_within_excel_limits(issued: Path) -> None:
    """Every input column has a validation hint with title ≤ 32 and prompt ≤ 255 characters."""
    layout = build_layout(catalogue(), "MOJ", PERIOD)
    ws = openpyxl.load_workbook(issued / f"MOJ_{PERIOD}.xlsx")[layout.sheets[0].name]
    rules = ws.data_validations.dataValidation
    covered = {str(r.sqref).split(":")[0] for r in rules}
    for column in layout.sheets[0].columns:
        assert f"{column.letter}{FIRST_DATA_ROW + 1}" in covered
    for r in rules:
        assert r.errorStyle == "warning"
        assert len(r.promptTitle or "") <= 32
        assert len(r.prompt or "") <= 255
        assert LISTS_SHEET in (r.formula1 or "")
    assert openpyxl.load_workbook(issued / f"MOJ_{PERIOD}.xlsx")[LISTS_SHEET]["A1"].value == "NC"


def test_khmer_labels_in_a_khmer_font(issued: Path) -> None:
    """Province names appear in Khmer, set in a Khmer-capable font."""
    layout = build_layout(catalogue(), "MOJ", PERIOD)
    ws = openpyxl.load_workbook(issued / f"MOJ_{PERIOD}.xlsx")[layout.sheets[0].name]
    cell = ws.cell(FIRST_DATA_ROW + 1, 4)  # D: the Khmer name
    assert cell.value == catalogue().provinces[0].name.km
    assert cell.font.name == KHMER_FONT


def test_identity_in_every_place(issued: Path) -> None:
    """The identity sits in the hidden sheet, in custom properties and behind a defined name."""
    layout = build_layout(catalogue(), "MOSVY", PERIOD)
    wb = openpyxl.load_workbook(issued / f"MOSVY_{PERIOD}.xlsx")
    ws = wb[IDENTITY_SHEET]
    assert ws.sheet_state == "hidden"
    sheet = {ws.cell(i, 1).value: ws.cell(i, 2).value for i in range(1, 9)}
    props = {p.name[5:]: p.value for p in wb.custom_doc_props.props}
    assert sheet == props
    identity = Identity.from_mapping(sheet)
    assert identity is not None and identity.intact
    assert (identity.ministry, identity.period, identity.fingerprint) == (
        "MOSVY",
        PERIOD,
        layout.fingerprint,
    )
    assert set(sheet) == {*IDENTITY_FIELDS, "checksum"}
    assert IDENTITY_NAME in wb.defined_names


def test_edited_identity_breaks_the_checksum() -> None:
    """Changing any identity field without the checksum is detected."""
    layout = build_layout(catalogue(), "MOSVY", PERIOD)
    genuine = Identity.of(layout, "2025-01-02T00:00:00Z")
    forged = Identity(**{**genuine.fields(), "ministry": "MOJ", "checksum": genuine.checksum})
    assert genuine.intact and not forged.intact


def test_same_catalogue_and_period_same_cells(tmp_path: Path) -> None:
    """Two issues of the same period differ only in the issued-at stamp."""
    a, b = tmp_path / "a", tmp_path / "b"
    generate_templates(catalogue(), PERIOD, a, ["MOJ"], issued_at=datetime(2025, 1, 1, tzinfo=UTC))
    generate_templates(catalogue(), PERIOD, b, ["MOJ"], issued_at=datetime(2025, 2, 1, tzinfo=UTC))

    def cells(path: Path) -> dict[tuple[str, str], object]:
        wb = openpyxl.load_workbook(path)
        return {
            (ws.title, c.coordinate): c.value
            for ws in wb.worksheets
            for row in ws.iter_rows()
            for c in row
            if c.value is not None
            and c.value not in ("2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z")
            and not (ws.title == IDENTITY_SHEET and c.row >= 7)
        }

    assert cells(a / f"MOJ_{PERIOD}.xlsx") == cells(b / f"MOJ_{PERIOD}.xlsx")


def test_register_lists_issued_templates(issued: Path) -> None:
    """The register records id, version and fingerprint of every issued template."""
    register = read_register(issued)
    layout = build_layout(catalogue(), "MOJ", PERIOD)
    entry = register[layout.template_id]
    assert (entry.ministry, entry.period, entry.fingerprint, entry.file) == (
        "MOJ",
        PERIOD,
        layout.fingerprint,
        f"MOJ_{PERIOD}.xlsx",
    )
    assert len(register) == len(list(issued.glob("*.xlsx")))


def test_labels_are_text_never_formulas(issued: Path) -> None:
    """No cell of a template is a formula."""
    for path in issued.glob("*.xlsx"):
        wb = openpyxl.load_workbook(path)
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for c in row:
                    assert c.data_type != "f", (path.name, ws.title, c.coordinate)


def test_prefill_previous_shows_last_period_in_grey(tmp_path: Path) -> None:
    """With --prefill-previous, last year's stored figures sit beside the inputs, never read."""
    from builders import returned, workspace

    from cpxl import api
    from cpxl.intake import run_inbox
    from cpxl.reading import read_workbook
    from cpxl.templates import FIRST_DATA_ROW as ROW0

    ws = workspace(tmp_path)
    last_year = returned(ws, "MOJ", period="2024")
    run_inbox(ws)
    api.templates(ws.root, "2025", ["MOJ"], prefill_previous=True)
    sheet = build_layout(catalogue(), "MOJ", "2025").sheets[0]
    first_input = sheet.columns[0]
    wb = openpyxl.load_workbook(ws.templates / "MOJ_2025.xlsx")
    grey = wb[sheet.name].cell(ROW0 + 1, sheet.explanation_col + 3)
    typed = openpyxl.load_workbook(last_year)[sheet.name][sheet.cell("01", first_input)].value
    assert grey.value == typed
    assert grey.protection.locked is True
    assert wb[sheet.name].cell(ROW0, sheet.explanation_col + 3).value is None  # no key: not input
    (ws.inbox / "MOJ_2024.xlsx").unlink()
    fresh = returned(ws, "MOJ")
    assert read_workbook(fresh, catalogue()).findings == ()
