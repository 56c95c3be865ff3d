"""Reading a return: its identity, then its values by key, never by position.

Values come through python-calamine (fast); openpyxl in read-only mode is used only where a
sheet holds formulas or error values, or claims an area so large that calamine would try to
allocate all of it. The identity is read from the hidden identity sheet and from the document's
custom properties with defusedxml.
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from defusedxml import ElementTree
from python_calamine import CalamineWorkbook

from cpxl.catalogue import Catalogue, parse_period
from cpxl.findings import Code, Finding, Location, Severity, Value
from cpxl.numbers import INVISIBLE, parse_cell
from cpxl.templates import (
    FINDINGS_CELL_COL,
    FINDINGS_EXPLANATION_COL,
    FINDINGS_SHEET,
    FINDINGS_SHEET_COL,
    FIRST_DATA_ROW,
    IDENTITY_FIELDS,
    IDENTITY_SHEET,
    KEY_MARKER,
    Column,
    Identity,
    IssuedTemplate,
    Layout,
    SheetLayout,
    build_layout,
)

# How far past the template's own area we look for inserted rows and columns.
ROW_SLACK, COL_SLACK = 60, 40
# A sheet whose declared area is larger than this is read row by row with openpyxl instead.
MAX_DENSE_CELLS = 2_000_000
_CELL = re.compile(r"^([A-Z]{1,3})(\d+)$")


class ReadFailure(Exception):
    """A file that cannot be read as a cpxl return; carries the finding to report."""

    def __init__(self, finding: Finding) -> None:
        self.finding = finding
        super().__init__(finding.code.value)


@dataclass(frozen=True, slots=True)
class Explanation:
    """What a sender wrote to explain a warning on one row of a data sheet."""

    sheet: str
    cell: str
    area: str
    text: str


@dataclass(frozen=True, slots=True)
class Submission:
    """A return as read: identity, layout, every input value, explanations and reading findings."""

    file: str
    identity: Identity
    layout: Layout
    values: tuple[Value, ...]
    explanations: tuple[Explanation, ...] = ()
    findings: tuple[Finding, ...] = ()
    sheet_names: Mapping[str, str] = field(default_factory=dict)

    @property
    def ministry(self) -> str:
        """The ministry whose template this is."""
        return self.layout.ministry

    @property
    def period(self) -> str:
        """The reporting period of the template."""
        return self.layout.period


# ---------------------------------------------------------------------------------------------
# Identity


def _custom_properties(path: Path, kind: str) -> dict[str, str]:
    """cpxl_* custom document properties (xlsx: docProps/custom.xml, ods: meta.xml)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if kind == "xlsx" and "docProps/custom.xml" in names:
                root = ElementTree.fromstring(zf.read("docProps/custom.xml"))
                out = {}
                for prop in root:
                    name = prop.get("name", "")
                    if name.startswith("cpxl_") and len(prop):
                        out[name[5:]] = (prop[0].text or "").strip()
                return out
            if kind == "ods" and "meta.xml" in names:
                root = ElementTree.fromstring(zf.read("meta.xml"))
                out = {}
                for el in root.iter():
                    if el.tag.endswith("user-defined"):
                        name = next((v for k, v in el.attrib.items() if k.endswith("name")), "")
                        if name.startswith("cpxl_"):
                            out[name[5:]] = (el.text or "").strip()
                return out
    except (zipfile.BadZipFile, ElementTree.ParseError, KeyError, OSError):
        return {}
    return {}


def _identity_sheet(wb: CalamineWorkbook) -> dict[str, str]:
    if IDENTITY_SHEET not in wb.sheet_names:
        return {}
    rows = wb.get_sheet_by_name(IDENTITY_SHEET).to_python(skip_empty_area=False, nrows=20)
    out: dict[str, str] = {}
    for row in rows:
        if len(row) >= 2 and isinstance(row[0], str) and row[0]:
            out[row[0].strip()] = _text(row[1])
    return out


def _text(raw: object) -> str:
    if isinstance(raw, float) and math.isfinite(raw) and raw == int(raw):
        return str(int(raw))
    return "" if raw is None else str(raw).strip()


@dataclass(frozen=True, slots=True)
class IdentityCheck:
    """The outcome of checking a workbook's identity: a layout to read by, or why not."""

    identity: Identity | None
    layout: Layout | None
    finding: Finding | None


def check_identity(
    path: Path,
    kind: str,
    wb: CalamineWorkbook,
    catalogue: Catalogue,
    register: Mapping[str, IssuedTemplate] | None = None,
) -> IdentityCheck:
    """Match a workbook to an issued template through its embedded identity alone."""
    where = Location(file=path.name, sheet=IDENTITY_SHEET)
    sheet = _identity_sheet(wb)
    props = _custom_properties(path, kind)
    values = sheet or props
    identity = Identity.from_mapping(values) if values else None
    if identity is None:
        return IdentityCheck(None, None, Finding.make(Code.NO_IDENTITY, Severity.ERROR, where))
    mismatch = props and sheet and any(props.get(k) != sheet.get(k) for k in IDENTITY_FIELDS)
    if not identity.intact or mismatch:
        finding = Finding.make(Code.IDENTITY_TAMPERED, Severity.ERROR, where)
        return IdentityCheck(identity, None, finding)
    if identity.ministry not in catalogue.ministries:
        finding = Finding.make(
            Code.UNKNOWN_MINISTRY, Severity.ERROR, where, ministry=identity.ministry
        )
        return IdentityCheck(identity, None, finding)
    try:
        period = parse_period(identity.period)
    except ValueError:
        finding = Finding.make(Code.UNKNOWN_PERIOD, Severity.ERROR, where, period=identity.period)
        return IdentityCheck(identity, None, finding)
    if int(identity.template_version) not in catalogue.accepted_versions:
        finding = Finding.make(
            Code.RETIRED_TEMPLATE, Severity.ERROR, where, version=identity.template_version
        )
        return IdentityCheck(identity, None, finding)
    layout = build_layout(catalogue, identity.ministry, period)
    issued = register.get(identity.template_id) if register else None
    genuine = layout.fingerprint == identity.fingerprint and (
        not register or (issued is not None and issued.fingerprint == identity.fingerprint)
    )
    if not genuine:
        finding = Finding.make(Code.UNKNOWN_TEMPLATE, Severity.ERROR, where)
        return IdentityCheck(identity, None, finding)
    return IdentityCheck(identity, layout, None)


# ---------------------------------------------------------------------------------------------
# Grids


def _sheet_parts(path: Path) -> dict[str, str]:
    """xlsx sheet name -> worksheet part name, from workbook.xml and its relationships."""
    with zipfile.ZipFile(path) as zf:
        wb = ElementTree.fromstring(zf.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    out: dict[str, str] = {}
    for el in wb.iter():
        if el.tag.endswith("}sheet"):
            rid = next((v for k, v in el.attrib.items() if k.endswith("}id")), "")
            target = targets.get(rid, "")
            target = target.lstrip("/")
            out[el.get("name", "")] = target if target.startswith("xl/") else f"xl/{target}"
    return out


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension ref="([A-Z]+\d+)(?::([A-Z]+)(\d+))?"')
_FORMULA_OR_ERROR = re.compile(rb'<(?:\w+:)?f[ >/]|t="e"')


def _cell_value(sheet_xml: bytes, cell: str) -> str:
    """What a far-away cell holds, as far as the sheet's own XML says (text stays unnamed)."""
    m = re.search(
        rb'<(?:\w+:)?c r="' + cell.encode() + rb'"([^>]*)>(.*?)</(?:\w+:)?c>', sheet_xml[-65536:]
    )
    if not m:
        return ""
    v = re.search(rb"<(?:\w+:)?v>([^<]{0,40})</", m.group(2))
    if v is None or b't="s"' in m.group(1):
        return "…"
    return v.group(1).decode("utf-8", "replace")


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


@dataclass(frozen=True, slots=True)
class _PartInfo:
    huge: bool
    formulas: bool
    last_cell: str = ""  # the sheet's declared bottom-right cell, when far outside the template
    last_value: str = ""


def _inspect_parts(path: Path) -> dict[str, _PartInfo]:
    """Which xlsx sheets declare a huge area, and which hold formulas or error values."""
    out: dict[str, _PartInfo] = {}
    try:
        parts = _sheet_parts(path)
        with zipfile.ZipFile(path) as zf:
            for name, part in parts.items():
                data = zf.read(part)
                m = _DIMENSION.search(data[:4096])
                huge, last = False, ""
                if m and m.group(2):
                    cells = _column_number(m.group(2).decode()) * int(m.group(3))
                    huge = cells > MAX_DENSE_CELLS
                    last = f"{m.group(2).decode()}{m.group(3).decode()}" if huge else ""
                seen = _cell_value(data, last) if last else ""
                out[name] = _PartInfo(huge, bool(_FORMULA_OR_ERROR.search(data)), last, seen)
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError, OSError):
        return {}
    return out


@dataclass
class _Grid:
    """A bounded window of one sheet: values, and where openpyxl saw formulas or errors."""

    rows: list[list[Any]]
    formulas: dict[tuple[int, int], bool] = field(default_factory=dict)  # True = has a result
    errors: set[tuple[int, int]] = field(default_factory=set)
    clipped: bool = False

    @property
    def special(self) -> bool:
        """The window holds formulas or error values, which need a closer look per cell."""
        return bool(self.formulas or self.errors)

    def get(self, r: int, c: int) -> Any:
        if r < len(self.rows) and c < len(self.rows[r]):
            return self.rows[r][c]
        return None


def _openpyxl_grid(path: Path, sheet: str, nrows: int, ncols: int, *, formulas: bool) -> _Grid:
    import openpyxl  # imported here: only a few returns need it

    values = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
    try:
        ws = values[sheet]
        rows = [
            list(r) for r in ws.iter_rows(min_row=1, max_row=nrows, max_col=ncols, values_only=True)
        ]
    finally:
        values.close()
    grid = _Grid(rows)
    if not formulas:
        grid.clipped = True
        return grid
    raw = openpyxl.load_workbook(path, read_only=True, data_only=False, keep_links=False)
    try:
        for r, row in enumerate(
            raw[sheet].iter_rows(min_row=1, max_row=nrows, max_col=ncols, values_only=True)
        ):
            for c, v in enumerate(row):
                if isinstance(v, str) and v.startswith("="):
                    cached = grid.get(r, c)
                    grid.formulas[(r, c)] = cached is not None and not _is_error_text(cached)
                elif _is_error_text(v):
                    grid.errors.add((r, c))
        for (r, c), _ok in list(grid.formulas.items()):
            if _is_error_text(grid.get(r, c)):
                grid.errors.add((r, c))
    finally:
        raw.close()
    return grid


_ERRORS = {"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!", "#GETTING_DATA"}


def _is_error_text(v: object) -> bool:
    return isinstance(v, str) and v.strip().upper() in _ERRORS


# ---------------------------------------------------------------------------------------------
# Reading values by key


def read_workbook(
    path: Path,
    catalogue: Catalogue,
    *,
    kind: str = "xlsx",
    register: Mapping[str, IssuedTemplate] | None = None,
    display_name: str | None = None,
) -> Submission:
    """Read a return against its template's layout; raise ReadFailure when it cannot be one."""
    name = display_name or path.name
    try:
        return _read(path, catalogue, kind, register, name)
    except ReadFailure:
        raise
    except Exception as exc:  # a damaged part the container checks let through: the readers'
        # own errors (missing sheet parts, broken XML, unparsable numbers) mean "unreadable".
        raise ReadFailure(
            Finding.make(Code.UNREADABLE_WORKBOOK, Severity.ERROR, Location(file=name))
        ) from exc


def _read(
    path: Path,
    catalogue: Catalogue,
    kind: str,
    register: Mapping[str, IssuedTemplate] | None,
    name: str,
) -> Submission:
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for every broken file
        raise ReadFailure(
            Finding.make(Code.UNREADABLE_WORKBOOK, Severity.ERROR, Location(file=name))
        ) from exc
    with wb:
        check = check_identity(path, kind, wb, catalogue, register)
        if check.finding is not None or check.layout is None or check.identity is None:
            assert check.finding is not None
            loc = check.finding.location
            raise ReadFailure(
                Finding(
                    check.finding.code,
                    check.finding.severity,
                    Location(file=name, sheet=loc.sheet),
                    params=check.finding.params,
                )
            )
        parts = _inspect_parts(path) if kind == "xlsx" else {}
        layout_names = frozenset(s.name for s in check.layout.sheets)
        reader = _SheetReader(path, name, wb, catalogue, parts, layout_names)
        values: list[Value] = []
        explanations: list[Explanation] = []
        findings: list[Finding] = []
        names: dict[str, str] = {}
        for sheet in check.layout.sheets:
            got = reader.read(sheet)
            values.extend(got.values)
            explanations.extend(got.explanations)
            findings.extend(got.findings)
            if got.actual_name:
                names[sheet.name] = got.actual_name
        have = {(e.sheet, e.area) for e in explanations}
        explanations.extend(
            e
            for e in _feedback_explanations(wb, check.layout, names)
            if (e.sheet, e.area) not in have  # the row's own Explanation cell comes first
        )
    return Submission(
        name,
        check.identity,
        check.layout,
        tuple(values),
        tuple(explanations),
        tuple(findings),
        names,
    )


@dataclass
class _SheetResult:
    values: list[Value] = field(default_factory=list)
    explanations: list[Explanation] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    actual_name: str = ""


@lru_cache(maxsize=65536)
def _a1(row: int, col: int) -> str:
    letters = ""
    n = col + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


class _SheetReader:
    """Finds a layout sheet in a workbook and realigns its rows and columns by key."""

    def __init__(
        self,
        path: Path,
        file: str,
        wb: CalamineWorkbook,
        catalogue: Catalogue,
        parts: Mapping[str, _PartInfo],
        layout_names: frozenset[str],
    ) -> None:
        self.path, self.file, self.wb, self.catalogue = path, file, wb, catalogue
        self.parts, self.layout_names = parts, layout_names
        self.missing_codes = frozenset(catalogue.missing_reasons)

    def _grid(self, name: str, layout: SheetLayout) -> _Grid:
        nrows = FIRST_DATA_ROW + len(layout.areas) + ROW_SLACK
        ncols = layout.explanation_col + 1 + COL_SLACK
        info = self.parts.get(name)
        if info is not None and (info.huge or info.formulas):
            return _openpyxl_grid(self.path, name, nrows, ncols, formulas=info.formulas)
        rows = self.wb.get_sheet_by_name(name).to_python(skip_empty_area=False, nrows=nrows)
        return _Grid([list(r[:ncols]) for r in rows])

    def _find_sheet(self, layout: SheetLayout, res: _SheetResult) -> tuple[str, _Grid] | None:
        if layout.name in self.wb.sheet_names:
            return layout.name, self._grid(layout.name, layout)
        wanted = {c.key for c in layout.columns}
        for other in self.wb.sheet_names:
            if other == IDENTITY_SHEET or other in self.layout_names:
                continue
            grid = self._grid(other, layout)
            found = _find_marker(grid)
            if found and wanted <= set(map(_text, grid.rows[found[0]])):
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
        for area in layout.areas:
            r = rows.get(area.code)
            if r is None:
                continue
            for column in layout.columns:
                c = cols.get(column.key)
                if c is None:
                    continue
                value, finding = self._value(grid, r, c, area.code, column, name)
                res.values.append(value)
                if finding is not None:
                    res.findings.append(finding)
            if expl_col is not None:
                text = _text(grid.get(r, expl_col))
                if text:
                    res.explanations.append(
                        Explanation(name, _a1(r, expl_col), area.code, text.translate(INVISIBLE))
                    )
        return res

    def _columns(
        self, layout: SheetLayout, grid: _Grid, key_row: int, name: str, res: _SheetResult
    ) -> dict[str, int]:
        row = grid.rows[key_row] if key_row < len(grid.rows) else []
        where: dict[str, int] = {}
        for c, v in enumerate(row):
            key = _text(v)
            if key and key not in where:
                where[key] = c
        out: dict[str, int] = {}
        for column in layout.columns:
            found = where.get(column.key)
            expected_cell = _a1(key_row - 1, column.col)
            if found is None:
                res.findings.append(
                    Finding.make(
                        Code.MISSING_COLUMN,
                        Severity.ERROR,
                        Location(file=self.file, sheet=name, cell=expected_cell),
                        expected=f"{column.label_en} ({column.element})",
                    )
                )
                continue
            out[column.key] = found
            if found != column.col:
                res.findings.append(
                    Finding.make(
                        Code.MOVED_COLUMN,
                        Severity.INFO,
                        Location(file=self.file, sheet=name, cell=_a1(key_row - 1, found)),
                        expected=_a1(key_row - 1, column.col),
                    )
                )
        if "explanation" in where:
            out["explanation"] = where["explanation"]
        return out

    def _rows(
        self,
        layout: SheetLayout,
        grid: _Grid,
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
            loc = Location(file=self.file, sheet=name, cell=_a1(r, key_col + 1), row=r + 1)
            if code not in wanted:
                res.findings.append(Finding.make(Code.UNKNOWN_ROW, Severity.ERROR, loc, seen=code))
                continue
            if code in out:
                res.findings.append(
                    Finding.make(Code.DUPLICATE_ROW, Severity.ERROR, loc, seen=code)
                )
                continue
            out[code] = r
        offset = key_row - (FIRST_DATA_ROW - 1)
        for area in layout.areas:
            expected = layout.row_of(area.code) + offset
            at = out.get(area.code)
            if at is None:
                res.findings.append(
                    Finding.make(
                        Code.MISSING_ROW,
                        Severity.ERROR,
                        Location(file=self.file, sheet=name, cell=_a1(expected, key_col + 1)),
                        expected=f"{area.code} {area.name_en}",
                    )
                )
            elif at != layout.row_of(area.code):
                res.findings.append(
                    Finding.make(
                        Code.MOVED_ROW,
                        Severity.INFO,
                        Location(file=self.file, sheet=name, cell=_a1(at, key_col + 1), row=at + 1),
                        expected=str(layout.row_of(area.code) + 1),
                    )
                )
        return out

    def _value(
        self, grid: _Grid, r: int, c: int, area: str, column: Column, sheet: str
    ) -> tuple[Value, Finding | None]:
        """The value of one input cell, and the finding its reading raised, if any."""
        raw = grid.get(r, c)
        cell = _a1(r, c)
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
            finding = Finding.make(Code.ERROR_VALUE, Severity.ERROR, loc, seen=_text(raw))
        elif (r, c) in grid.formulas and not grid.formulas[(r, c)]:
            finding = Finding.make(Code.FORMULA_WITHOUT_RESULT, Severity.ERROR, loc)
        else:
            parsed = parse_cell(raw, vt, self.missing_codes)
            number, missing = parsed.value, parsed.missing
            if (r, c) in grid.formulas:
                finding = Finding.make(Code.FORMULA_RESULT, Severity.INFO, loc, seen=_text(raw))
            elif parsed.code is not None:
                finding = Finding.make(
                    parsed.code, parsed.severity, loc, seen=_text(raw), expected=parsed.converted
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


def _feedback_explanations(
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
        if len(row) <= FINDINGS_EXPLANATION_COL:
            continue
        text = _text(row[FINDINGS_EXPLANATION_COL]).translate(INVISIBLE).strip()
        sheet = by_name.get(_text(row[FINDINGS_SHEET_COL]))
        match = _CELL.match(_text(row[FINDINGS_CELL_COL]))
        if not text or sheet is None or match is None:
            continue
        r = int(match.group(2)) - 1 - FIRST_DATA_ROW
        if 0 <= r < len(sheet.areas):
            actual = names.get(sheet.name, sheet.name)
            out.append(Explanation(actual, match.group(0), sheet.areas[r].code, text))
    return out


def _find_marker(grid: _Grid) -> tuple[int, int] | None:
    for r, row in enumerate(grid.rows[: FIRST_DATA_ROW + ROW_SLACK]):
        for c, v in enumerate(row[:COL_SLACK]):
            if isinstance(v, str) and v.strip() == KEY_MARKER:
                return r, c
    return None


def _area_code(raw: object) -> str:
    text = _text(raw).translate(INVISIBLE)
    if text.isdigit() and len(text) < 2:
        text = text.zfill(2)  # a re-save may turn the text "01" into the number 1
    return text
