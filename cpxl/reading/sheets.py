"""Reading one data sheet by key: rows by province code, columns by the hidden key row.

Deleted rows and columns, reordered rows and a renamed sheet are realigned and reported as
information; what cannot be matched is a finding at its cell. A row or column the sender
inserted carries no key: anything typed in it is an error at its cell, never dropped unsaid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from cpxl.catalogue import Catalogue
from cpxl.findings import Code, Finding, Location, Severity, Text, Value, cell_name, cell_position
from cpxl.numbers import INVISIBLE, parse_cell
from cpxl.reading.grids import COL_SLACK, ROW_SLACK, Grid, PartInfo, openpyxl_grid
from cpxl.reading.identity import cell_text
from cpxl.reading.types import Explanation
from cpxl.templates import (
    FINDINGS_SHEET,
    FIRST_DATA_ROW,
    FIRST_INPUT_COL,
    IDENTITY_SHEET,
    KEY_COL,
    KEY_MARKER,
    Column,
    FindingsColumn,
    Layout,
    SheetLayout,
)


@dataclass
class _SheetResult:
    values: list[Value] = field(default_factory=list)
    explanations: list[Explanation] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    actual_name: str = ""


class SheetReader:
    """Finds a layout sheet in a workbook and realigns its rows and columns by key."""

    def __init__(
        self,
        path: Path,
        file: str,
        wb: CalamineWorkbook,
        catalogue: Catalogue,
        parts: Mapping[str, PartInfo],
        layout_names: frozenset[str],
    ) -> None:
        self.path, self.file, self.wb, self.catalogue = path, file, wb, catalogue
        self.parts, self.layout_names = parts, layout_names
        self.missing_codes = frozenset(catalogue.missing_reasons)

    def _grid(self, name: str, layout: SheetLayout) -> Grid:
        nrows = FIRST_DATA_ROW + len(layout.areas) + ROW_SLACK
        ncols = layout.explanation_col + 1 + COL_SLACK
        info = self.parts.get(name)
        if info is not None and (info.huge or info.formulas):
            return openpyxl_grid(self.path, name, nrows, ncols, formulas=info.formulas)
        rows = self.wb.get_sheet_by_name(name).to_python(skip_empty_area=False, nrows=nrows)
        return Grid([list(r[:ncols]) for r in rows])

    def _find_sheet(self, layout: SheetLayout, res: _SheetResult) -> tuple[str, Grid] | None:
        if layout.name in self.wb.sheet_names:
            return layout.name, self._grid(layout.name, layout)
        wanted = {c.key for c in layout.columns}
        for other in self.wb.sheet_names:
            if other == IDENTITY_SHEET or other in self.layout_names:
                continue
            grid = self._grid(other, layout)
            found = _find_marker(grid)
            if found and wanted <= set(map(cell_text, grid.rows[found[0]])):
                res.findings.append(
                    Finding.make(
                        Code.RENAMED_SHEET,
                        Severity.INFO,
                        Location(file=self.file, sheet=other),
                        expected=layout.name,
                    )
                )
                return other, grid
        visible = [n for n in self.wb.sheet_names if not n.startswith("_")]
        res.findings.append(
            Finding.make(
                Code.MISSING_SHEET,
                Severity.ERROR,
                Location(file=self.file, sheet=layout.name),
                found=", ".join(visible),
            )
        )
        return None

    def read(self, layout: SheetLayout) -> _SheetResult:
        res = _SheetResult()
        found = self._find_sheet(layout, res)
        if found is None:
            return res
        name, grid = found
        res.actual_name = name
        info = self.parts.get(name)
        if info is not None and info.last_cell:
            # Something was typed far outside the template (the sheet reaches that cell):
            # it is not read, and the sender is told where it is.
            res.findings.append(
                Finding.make(
                    Code.STRAY_VALUE,
                    Severity.INFO,
                    Location(file=self.file, sheet=name, cell=info.last_cell),
                    seen=info.last_value,
                )
            )
        marker = _find_marker(grid)
        loc = Location(file=self.file, sheet=name)
        if marker is None:
            res.findings.append(
                Finding.make(Code.MISSING_COLUMN, Severity.ERROR, loc, expected="key row")
            )
            return res
        key_row, key_col = marker
        cols = self._columns(layout, grid, key_row, name, res)
        rows = self._rows(layout, grid, key_row, key_col, name, res)
        expl_col = cols.pop("explanation", None)
        placed = [(column, cols[column.key]) for column in layout.columns if column.key in cols]
        heading = self.catalogue.term("column_headings")
        inserted = _Inserted(self.file, name, layout, grid, (key_row, key_col), self.catalogue)
        res.findings.extend(inserted.findings(rows, placed, expl_col, heading))
        plain = not grid.special
        for area in layout.areas:
            r = rows.get(area.code)
            if r is None:
                continue
            row = grid.rows[r] if r < len(grid.rows) else []
            for column, c in placed:
                raw: Any = row[c] if c < len(row) else None
                blank = raw is None or raw == ""
                # The common case, a number or nothing, inline: no parsing and no finding.
                if plain and (blank or (type(raw) in (int, float) and raw == raw)):
                    number = None if blank else float(raw)
                    el, dim, opt, cell = (
                        column.element,
                        column.dimension,
                        column.option,
                        cell_name(r, c),
                    )
                    res.values.append(Value(el, area.code, dim, opt, number, "", name, cell))
                    continue
                value, finding = self._value(grid, r, c, area.code, column, name)
                res.values.append(value)
                if finding is not None:
                    res.findings.append(finding)
            if expl_col is not None:
                text = cell_text(grid.get(r, expl_col))
                if text:
                    res.explanations.append(
                        Explanation(
                            name, cell_name(r, expl_col), area.code, text.translate(INVISIBLE)
                        )
                    )
        return res

    def _columns(
        self, layout: SheetLayout, grid: Grid, key_row: int, name: str, res: _SheetResult
    ) -> dict[str, int]:
        row = grid.rows[key_row] if key_row < len(grid.rows) else []
        where: dict[str, int] = {}
        for c, v in enumerate(row):
            key = cell_text(v)
            if key and key not in where:
                where[key] = c
        out: dict[str, int] = {}
        for column in layout.columns:
            found = where.get(column.key)
            expected_cell = cell_name(key_row - 1, column.col)
            if found is None:
                res.findings.append(
                    Finding.make(
                        Code.MISSING_COLUMN,
                        Severity.ERROR,
                        Location(file=self.file, sheet=name, cell=expected_cell),
                        expected=f"{column.label.en} ({column.element})",
                    )
                )
                continue
            out[column.key] = found
            if found != column.col:
                label = _column_label(self.catalogue, column)
                res.findings.append(
                    Finding.make(
                        Code.MOVED_COLUMN,
                        Severity.INFO,
                        Location(file=self.file, sheet=name, cell=cell_name(key_row - 1, found)),
                        expected=cell_name(key_row - 1, column.col),
                        name_en=label.en,
                        name_km=label.km,
                    )
                )
        if "explanation" in where:
            out["explanation"] = where["explanation"]
        return out

    def _rows(
        self,
        layout: SheetLayout,
        grid: Grid,
        key_row: int,
        key_col: int,
        name: str,
        res: _SheetResult,
    ) -> dict[str, int]:
        wanted = {a.code for a in layout.areas}
        out: dict[str, int] = {}
        for r in range(key_row + 1, len(grid.rows)):
            code = _area_code(grid.get(r, key_col))
            if not code:
                continue
            if code in wanted and code not in out:
                out[code] = r
                continue
            loc = Location(file=self.file, sheet=name, cell=cell_name(r, key_col + 1), row=r + 1)
            wrong = Code.UNKNOWN_ROW if code not in wanted else Code.DUPLICATE_ROW
            res.findings.append(Finding.make(wrong, Severity.ERROR, loc, seen=code))
        offset = key_row - (FIRST_DATA_ROW - 1)
        for area in layout.areas:
            expected = layout.row_of(area.code) + offset
            at = out.get(area.code)
            if at is None:
                res.findings.append(
                    Finding.make(
                        Code.MISSING_ROW,
                        Severity.ERROR,
                        Location(file=self.file, sheet=name, cell=cell_name(expected, key_col + 1)),
                        expected=f"{area.code} {area.name.en}",
                    )
                )
            elif at != layout.row_of(area.code):
                res.findings.append(
                    Finding.make(
                        Code.MOVED_ROW,
                        Severity.INFO,
                        Location(
                            file=self.file, sheet=name, cell=cell_name(at, key_col + 1), row=at + 1
                        ),
                        expected=str(layout.row_of(area.code) + 1),
                        name_en=area.name.en,
                        name_km=area.name.km,
                    )
                )
        return out

    def _value(
        self, grid: Grid, r: int, c: int, area: str, column: Column, sheet: str
    ) -> tuple[Value, Finding | None]:
        """The value of one input cell, and the finding its reading raised, if any."""
        raw = grid.get(r, c)
        cell = cell_name(r, c)
        if not grid.special and (raw is None or raw == "" or type(raw) in (int, float)):
            # The common case, a number or nothing, costs no parsing (NaN is not a number).
            number = float(raw) if type(raw) in (int, float) and raw == raw else None
            if number is not None or raw is None or raw == "":
                value = Value(
                    column.element, area, column.dimension, column.option, number, "", sheet, cell
                )
                return value, None
        loc = Location(file=self.file, sheet=sheet, cell=cell, row=r + 1, column=c + 1)
        vt = self.catalogue.elements[column.element].value_type
        number, missing, finding = None, "", None
        if (r, c) in grid.errors:
            finding = Finding.make(Code.ERROR_VALUE, Severity.ERROR, loc, seen=cell_text(raw))
        elif (r, c) in grid.formulas and not grid.formulas[(r, c)]:
            finding = Finding.make(Code.FORMULA_WITHOUT_RESULT, Severity.ERROR, loc)
        else:
            parsed = parse_cell(raw, vt, self.missing_codes)
            number, missing = parsed.value, parsed.missing
            if (r, c) in grid.formulas:
                finding = Finding.make(Code.FORMULA_RESULT, Severity.INFO, loc, seen=cell_text(raw))
            elif parsed.code is not None:
                finding = Finding.make(
                    parsed.code,
                    parsed.severity,
                    loc,
                    seen=cell_text(raw),
                    expected=parsed.converted,
                )
        empty = number is None and not missing and finding is None
        original = "" if empty or raw is None or isinstance(raw, int | float) else str(raw)
        value = Value(
            column.element,
            area,
            column.dimension,
            column.option,
            number,
            missing,
            sheet,
            cell,
            original,
        )
        return value, finding


def feedback_explanations(
    wb: CalamineWorkbook, layout: Layout, names: Mapping[str, str]
) -> list[Explanation]:
    """Explanations a sender wrote in a feedback workbook's Findings sheet, sent back as a return.

    The feedback copy lays the data out exactly as the template does, so a finding's cell names
    its row and area directly.
    """
    if FINDINGS_SHEET not in wb.sheet_names:
        return []
    rows = wb.get_sheet_by_name(FINDINGS_SHEET).to_python(skip_empty_area=False, nrows=5000)
    by_name = {s.name: s for s in layout.sheets}
    out: list[Explanation] = []
    for row in rows[1:]:
        if len(row) <= FindingsColumn.EXPLANATION:
            continue
        text = cell_text(row[FindingsColumn.EXPLANATION]).translate(INVISIBLE).strip()
        sheet = by_name.get(cell_text(row[FindingsColumn.SHEET]))
        at = cell_position(cell_text(row[FindingsColumn.CELL]))
        if not text or sheet is None or at is None:
            continue
        r = at[0] - FIRST_DATA_ROW
        if 0 <= r < len(sheet.areas):
            actual = names.get(sheet.name, sheet.name)
            out.append(Explanation(actual, cell_name(*at), sheet.areas[r].code, text))
    return out


def _column_label(catalogue: Catalogue, column: Column) -> Text:
    """A column as the template heads it: the element's name, then the option (or Total)."""
    element = catalogue.elements[column.element]
    return Text(f"{element.name.en}: {column.label.en}", f"{element.name.km}: {column.label.km}")


class _Inserted:
    """Rows and columns of a sheet that the template does not have: they carry no key."""

    def __init__(
        self,
        file: str,
        sheet: str,
        layout: SheetLayout,
        grid: Grid,
        marker: tuple[int, int],
        catalogue: Catalogue,
    ) -> None:
        self.file, self.sheet, self.layout, self.grid = file, sheet, layout, grid
        self.catalogue = catalogue
        self.key_row, self.key_col = marker
        self.first_input = self.key_col + (FIRST_INPUT_COL - KEY_COL)

    def findings(
        self,
        rows: Mapping[str, int],
        placed: list[tuple[Column, int]],
        expl_col: int | None,
        heading: Text,
    ) -> list[Finding]:
        """An error at every cell that holds something in an inserted row or column."""
        if not placed:
            return []
        grid, key_row = self.grid, self.key_row
        last = max(c for _, c in placed) if expl_col is None else expl_col - 1
        by_col = {c: column for column, c in placed}
        # Inserted (or copied) columns: between the first input column and the Explanation
        # column, and not where the reader took one of the template's columns from.
        inserted_cols: dict[int, Column | None] = {}
        before: Column | None = None
        for c in range(self.first_input, last + 1):
            if c in by_col:
                before = by_col[c]
            else:
                inserted_cols[c] = before
        names = {area.code: area for area in self.layout.areas}
        by_row = {r: names[code] for code, r in rows.items()}
        out: list[Finding] = []
        above = heading
        data_cols = sorted([*by_col, *inserted_cols])
        for r in range(key_row + 1, len(grid.rows)):
            if r in by_row:
                above = by_row[r].name
                for c, left in inserted_cols.items():
                    near = heading if left is None else _column_label(self.catalogue, left)
                    out.extend(self._finding(r, c, Code.FIGURE_IN_INSERTED_COLUMN, near))
            elif not _area_code(grid.get(r, self.key_col)):
                for c in data_cols:
                    out.extend(self._finding(r, c, Code.FIGURE_IN_INSERTED_ROW, above))
        return out

    def _finding(self, r: int, c: int, code: Code, label: Text) -> list[Finding]:
        raw = self.grid.get(r, c)
        seen = cell_text(raw).translate(INVISIBLE).strip()
        if not seen:
            return []
        loc = Location(
            file=self.file, sheet=self.sheet, cell=cell_name(r, c), row=r + 1, column=c + 1
        )
        finding = Finding.make(
            code, Severity.ERROR, loc, seen=seen, after_en=label.en, after_km=label.km
        )
        return [finding]


def _find_marker(grid: Grid) -> tuple[int, int] | None:
    for r, row in enumerate(grid.rows[: FIRST_DATA_ROW + ROW_SLACK]):
        for c, v in enumerate(row[:COL_SLACK]):
            if isinstance(v, str) and v.strip() == KEY_MARKER:
                return r, c
    return None


def _area_code(raw: object) -> str:
    text = cell_text(raw).translate(INVISIBLE)
    if text.isdigit() and len(text) < 2:
        text = text.zfill(2)  # a re-save may turn the text "01" into the number 1
    return text
