"""Templates: the Layout (where every input lives) and the bilingual workbook written from it.

Layout is the hinge of cpxl: the template writer, the simulator, the reader and the feedback
writer all take cell positions from it and never re-derive them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from cpxl.catalogue import Area, Catalogue, Element, Period, parse_period

IDENTITY_SHEET = "_cpxl"
LISTS_SHEET = "_lists"
INSTRUCTIONS_SHEET = "Instructions"
IDENTITY_NAME = "cpxl_identity"
KEY_MARKER = "#cpxl-keys"
# A feedback workbook's list of findings: a sender may explain a warning in its last column and
# send the feedback workbook back as the return, so the reader looks there too.
FINDINGS_SHEET = "Findings"
FINDINGS_SHEET_COL, FINDINGS_CELL_COL, FINDINGS_EXPLANATION_COL = 1, 2, 9
IDENTITY_FIELDS = (
    "template_id",
    "ministry",
    "period",
    "catalogue_version",
    "template_version",
    "fingerprint",
    "issued_at",
)
# Rows of a data sheet (0-based). Row 5 holds the hidden keys; provinces start at row 6.
TITLE_ROW, ELEMENT_ROW, ELEMENT_KM_ROW, OPTION_ROW, OPTION_KM_ROW, KEY_ROW = range(6)
FIRST_DATA_ROW = 6
KEY_COL, CODE_COL, NAME_EN_COL, NAME_KM_COL = range(4)
FIRST_INPUT_COL = 4
KHMER_FONT = "Khmer OS Siemreap"
LATIN_FONT = "Calibri"
PASSWORD_FREE = ""  # sheets are protected without a password: protection guides, it does not secure


@dataclass(frozen=True, slots=True)
class Column:
    """One input column: an element's total, or one option of one of its dimensions."""

    key: str
    element: str
    dimension: str
    option: str
    label_en: str
    label_km: str
    col: int

    @property
    def letter(self) -> str:
        """The column's letter as printed in the template (E, F, ...)."""
        return str(xl_col_to_name(self.col))


@dataclass(frozen=True, slots=True)
class SheetLayout:
    """One data sheet: its name, its rows (areas) and its input columns."""

    name: str
    group: str
    title_km: str
    areas: tuple[Area, ...]
    columns: tuple[Column, ...]
    explanation_col: int

    def row_of(self, area: str) -> int:
        """0-based row of an area."""
        for i, a in enumerate(self.areas):
            if a.code == area:
                return FIRST_DATA_ROW + i
        raise KeyError(area)

    def cell(self, area: str, column: Column) -> str:
        """A1 address of an input cell."""
        return str(xl_rowcol_to_cell(self.row_of(area), column.col))

    def column(self, key: str) -> Column:
        """The column with this key."""
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(key)

    def inputs(self) -> Iterable[tuple[Area, Column, str]]:
        """Every input cell: (area, column, A1 address)."""
        for area in self.areas:
            for column in self.columns:
                yield area, column, self.cell(area.code, column)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where every input of one ministry's template lives."""

    ministry: str
    period: str
    template_version: int
    catalogue_version: str
    sheets: tuple[SheetLayout, ...]

    @property
    def fingerprint(self) -> str:
        """A hash of the structure (sheets, keys, rows, cells) that a genuine return shares."""
        shape = [
            [s.name, [a.code for a in s.areas], [(c.key, c.col) for c in s.columns]]
            for s in self.sheets
        ]
        blob = json.dumps([self.ministry, self.template_version, shape], ensure_ascii=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def template_id(self) -> str:
        """A stable id: the same catalogue and period give the same id."""
        return f"{self.ministry}-{self.period}-v{self.template_version}-{self.fingerprint[:8]}"

    def sheet(self, name: str) -> SheetLayout:
        """The data sheet with this name."""
        for s in self.sheets:
            if s.name == name:
                return s
        raise KeyError(name)


def column_key(element: str, dimension: str = "", option: str = "") -> str:
    """The key written in the hidden key row: ``element`` or ``element:dimension=option``."""
    return f"{element}:{dimension}={option}" if dimension else element


def parse_key(key: str) -> tuple[str, str, str]:
    """(element, dimension, option) of a key-row entry."""
    element, _, rest = key.partition(":")
    dimension, _, option = rest.partition("=")
    return element, dimension, option


def element_columns(catalogue: Catalogue, element: Element) -> list[tuple[str, str, str, str]]:
    """(dimension, option, label_en, label_km) of an element's columns, margins then total."""
    out: list[tuple[str, str, str, str]] = []
    for dim_code in element.by:
        dim = catalogue.dimensions[dim_code]
        out.extend((dim.code, o.code, o.label_en, o.label_km) for o in dim.options)
    if element.total or not element.by:
        total = catalogue.term("total")
        out.append(("", "", total.en, total.km))
    return out


def build_layout(catalogue: Catalogue, ministry: str, period: Period | str) -> Layout:
    """Compute the layout of a ministry's template for a period from the catalogue."""
    p = parse_period(period) if isinstance(period, str) else period
    elements = [
        catalogue.elements[code]
        for ds in catalogue.data_sets_for(ministry, p)
        for code in ds.elements
    ]
    groups: dict[str, list[Element]] = {}
    for el in elements:
        groups.setdefault(el.sheet, []).append(el)
    sheets: list[SheetLayout] = []
    for group_id in catalogue.sheets:
        els = groups.get(group_id)
        if not els:
            continue
        group = catalogue.sheets[group_id]
        cols: list[Column] = []
        col = FIRST_INPUT_COL
        for el in els:
            for dim, opt, en, km in element_columns(catalogue, el):
                cols.append(Column(column_key(el.code, dim, opt), el.code, dim, opt, en, km, col))
                col += 1
        sheets.append(
            SheetLayout(
                name=group.title_en,
                group=group.id,
                title_km=group.title_km,
                areas=catalogue.areas(els[0]),
                columns=tuple(cols),
                explanation_col=col,
            )
        )
    return Layout(ministry, p.id, catalogue.template_version, catalogue.version, tuple(sheets))


# ---------------------------------------------------------------------------------------------
# Identity


@dataclass(frozen=True, slots=True)
class Identity:
    """What makes a workbook a genuine cpxl template, covered by a checksum."""

    template_id: str
    ministry: str
    period: str
    catalogue_version: str
    template_version: str
    fingerprint: str
    issued_at: str
    checksum: str = ""

    def fields(self) -> dict[str, str]:
        """The identity fields without the checksum."""
        d = asdict(self)
        d.pop("checksum")
        return {k: str(v) for k, v in d.items()}

    def expected_checksum(self) -> str:
        """The checksum these fields should carry; an edited field breaks it."""
        blob = "\n".join(f"{k}={v}" for k, v in sorted(self.fields().items()))
        return hashlib.sha256(("cpxl-identity-v1\n" + blob).encode("utf-8")).hexdigest()[:24]

    @property
    def intact(self) -> bool:
        """True when the checksum matches the fields."""
        return self.checksum == self.expected_checksum()

    @classmethod
    def of(cls, layout: Layout, issued_at: str) -> Identity:
        """The identity of a template issued from a layout."""
        ident = cls(
            layout.template_id,
            layout.ministry,
            layout.period,
            layout.catalogue_version,
            str(layout.template_version),
            layout.fingerprint,
            issued_at,
        )
        return cls(**{**ident.fields(), "checksum": ident.expected_checksum()})

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Identity | None:
        """Rebuild an identity from key/value pairs; None when any field is absent."""
        try:
            return cls(**{k: str(values[k]) for k in (*IDENTITY_FIELDS, "checksum")})
        except KeyError:
            return None


# ---------------------------------------------------------------------------------------------
# The register of issued templates


@dataclass(frozen=True, slots=True)
class IssuedTemplate:
    """One line of the register: a template that was sent out."""

    template_id: str
    ministry: str
    period: str
    template_version: int
    fingerprint: str
    issued_at: str
    file: str


def register_path(folder: Path) -> Path:
    """Where the register of issued templates lives in a templates folder."""
    return folder / "register.json"


def read_register(folder: Path) -> dict[str, IssuedTemplate]:
    """Issued templates by id; empty when nothing was issued from this workspace."""
    path = register_path(folder)
    if not path.is_file():
        return {}
    rows = json.loads(path.read_text(encoding="utf-8"))
    return {r["template_id"]: IssuedTemplate(**r) for r in rows}


def _write_register(folder: Path, entries: Mapping[str, IssuedTemplate]) -> None:
    path = register_path(folder)
    tmp = path.with_suffix(".json.tmp")
    rows = [asdict(e) for e in sorted(entries.values(), key=lambda e: e.template_id)]
    tmp.write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


# ---------------------------------------------------------------------------------------------
# Writing


@dataclass(frozen=True, slots=True)
class TemplateResult:
    """What one ``generate_templates`` call wrote."""

    period: str
    files: tuple[Path, ...]
    ministries: tuple[str, ...]
    register: Path

    def to_dict(self) -> dict[str, Any]:
        """The machine shape printed by ``--json``."""
        return {
            "period": self.period,
            "files": [str(f) for f in self.files],
            "ministries": list(self.ministries),
            "register": str(self.register),
        }


def generate_templates(
    catalogue: Catalogue,
    period: str,
    out_dir: Path,
    ministries: Sequence[str] = (),
    *,
    issued_at: datetime | None = None,
    previous: Mapping[str, Reference] | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> TemplateResult:
    """Write one template per reporting ministry for a period, and record them in the register.

    ``previous`` gives, per ministry, last period's accepted values to print in grey beside
    each input block, as a reference for the sender (``--prefill-previous``).
    """
    p = parse_period(period)
    wanted = list(ministries) or list(catalogue.reporting_ministries(p))
    unknown = [m for m in wanted if m not in catalogue.ministries]
    if unknown:
        raise ValueError(f"unknown ministry: {', '.join(unknown)}")
    stamp = (issued_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out_dir.mkdir(parents=True, exist_ok=True)
    register = read_register(out_dir)
    files: list[Path] = []
    done: list[str] = []
    for ministry in wanted:
        layout = build_layout(catalogue, ministry, p)
        if not layout.sheets:
            continue
        path = out_dir / f"{ministry}_{p.id}.xlsx"
        identity = Identity.of(layout, stamp)
        reference = (previous or {}).get(ministry)
        write_template(path, catalogue, layout, identity, reference=reference)
        register[identity.template_id] = IssuedTemplate(
            identity.template_id,
            ministry,
            p.id,
            layout.template_version,
            layout.fingerprint,
            stamp,
            path.name,
        )
        files.append(path)
        done.append(ministry)
        if on_progress:
            on_progress(ministry)
    _write_register(out_dir, register)
    return TemplateResult(p.id, tuple(files), tuple(done), register_path(out_dir))


class _Formats:
    """The workbook's cell formats, made once per workbook."""

    def __init__(self, wb: Any) -> None:
        base = {"font_name": LATIN_FONT, "font_size": 10, "valign": "top", "text_wrap": True}
        km = {**base, "font_name": KHMER_FONT}
        self.title = wb.add_format({**base, "bold": True, "font_size": 14, "text_wrap": False})
        self.title_km = wb.add_format({**km, "bold": True, "font_size": 13, "text_wrap": False})
        self.head = wb.add_format({**base, "bold": True, "bg_color": "#D9E1F2", "border": 1})
        self.head_km = wb.add_format({**km, "bold": True, "bg_color": "#D9E1F2", "border": 1})
        self.label = wb.add_format({**base, "border": 1, "locked": True})
        self.label_km = wb.add_format({**km, "border": 1, "locked": True})
        self.key = wb.add_format({**base, "font_color": "#808080", "locked": True})
        self.input = wb.add_format(
            {**base, "bg_color": "#FFF2CC", "border": 1, "locked": False, "num_format": "#,##0"}
        )
        self.input_pct = wb.add_format(
            {**base, "bg_color": "#FFF2CC", "border": 1, "locked": False, "num_format": "0.0"}
        )
        self.explain = wb.add_format({**base, "bg_color": "#E2EFDA", "border": 1, "locked": False})
        self.text = wb.add_format(base)
        self.text_km = wb.add_format(km)
        self.bold = wb.add_format({**base, "bold": True})
        self.sign = wb.add_format({**base, "bg_color": "#FFF2CC", "border": 1, "locked": False})
        grey = {**base, "font_color": "#808080", "bg_color": "#F2F2F2", "border": 1}
        self.reference = wb.add_format({**grey, "num_format": "#,##0.##"})
        self.reference_head = wb.add_format({**grey, "bold": True})


@dataclass(frozen=True, slots=True)
class Reference:
    """Last period's accepted values of one ministry, shown beside the inputs for reference."""

    period: str
    values: Mapping[tuple[str, str], float | str]  # (area, column key) -> number or code


def _write_reference(
    ws: Any, fmt: _Formats, catalogue: Catalogue, sheet: SheetLayout, ref: Reference
) -> None:
    """A grey, locked copy of last period's figures to the right of the Explanation column.

    It has no keys in the key row, so the reader never takes it for input.
    """
    first = sheet.explanation_col + 2
    term = catalogue.term("previous_value")
    title = f"{term.en} ({ref.period}) / {term.km}"
    last = first + len(sheet.columns) - 1
    if last > first:
        ws.merge_range(ELEMENT_ROW, first, ELEMENT_KM_ROW, last, "", fmt.reference_head)
    ws.write_string(ELEMENT_ROW, first, title, fmt.reference_head)
    for i, column in enumerate(sheet.columns):
        ws.write_string(OPTION_ROW, first + i, column.label_en, fmt.reference_head)
        ws.write_string(OPTION_KM_ROW, first + i, column.label_km, fmt.reference_head)
        for area in sheet.areas:
            value = ref.values.get((area.code, column.key))
            row = sheet.row_of(area.code)
            if isinstance(value, int | float):
                ws.write_number(row, first + i, value, fmt.reference)
            elif value:
                ws.write_string(row, first + i, str(value), fmt.reference)
    ws.set_column(first, last, 9)


@dataclass(frozen=True, slots=True)
class Mark:
    """A cell of a marked-up copy: filled red (error) or amber (warning), with a comment."""

    severity: str
    comment: str


def new_workbook(path: Path) -> Any:
    """An xlsxwriter workbook that never turns text into formulas, links or numbers."""
    return xlsxwriter.Workbook(
        str(path),
        {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )


def write_template(
    path: Path,
    catalogue: Catalogue,
    layout: Layout,
    identity: Identity,
    *,
    fill: Mapping[tuple[str, str], object] | None = None,
    marks: Mapping[tuple[str, str], Mark] | None = None,
    before: Callable[[Any], None] | None = None,
    reference: Reference | None = None,
) -> None:
    """Write the template workbook for a layout; every text goes in with write_string.

    ``fill`` puts values (numbers, or text written as text) into (sheet, cell) of the data
    sheets, ``marks`` colours and comments cells, and ``before`` adds sheets in front: this is
    how a feedback workbook becomes a corrected-return-ready copy of the sender's data.
    """
    wb = new_workbook(path)
    try:
        fmt = _Formats(wb)
        if before is not None:
            before(wb)
        else:
            _write_instructions(wb, fmt, catalogue, layout)
        for sheet in layout.sheets:
            ws = _write_data_sheet(wb, fmt, catalogue, layout, sheet)
            _fill_sheet(ws, wb, sheet, fill or {}, marks or {})
            if reference is not None:
                _write_reference(ws, fmt, catalogue, sheet, reference)
        _write_lists(wb, catalogue)
        _write_identity(wb, identity)
    finally:
        wb.close()


def _write_instructions(wb: Any, fmt: _Formats, catalogue: Catalogue, layout: Layout) -> None:
    ws = wb.add_worksheet(INSTRUCTIONS_SHEET)
    ministry = catalogue.ministries[layout.ministry]
    period = parse_period(layout.period)
    due = catalogue.due_date(layout.ministry, period).isoformat()
    codes = ", ".join(f"{c} = {t.en}" for c, t in catalogue.missing_reasons.items())
    codes_km = ", ".join(f"{c} = {t.km}" for c, t in catalogue.missing_reasons.items())
    values_en = {
        "ministry": ministry.name_en,
        "period": layout.period,
        "due": due,
        "send_to": ministry.send_to_en,
        "missing_codes": codes,
    }
    values_km = {**values_en, "ministry": ministry.name_km, "send_to": ministry.send_to_km}
    values_km["missing_codes"] = codes_km
    ws.set_column(0, 0, 22)
    ws.set_column(1, 2, 70)
    ws.write_string(0, 0, catalogue.title.en, fmt.title)
    ws.write_string(1, 0, catalogue.title.km, fmt.title_km)
    rows = [
        ("ministry", ministry.name_en, ministry.name_km),
        ("period", layout.period, layout.period),
        ("due_date", due, due),
        ("send_to", ministry.send_to_en, ministry.send_to_km),
    ]
    r = 3
    for key, en, km in rows:
        t = catalogue.term(key)
        ws.write_string(r, 0, f"{t.en} / {t.km}", fmt.bold)
        ws.write_string(r, 1, en, fmt.text)
        ws.write_string(r, 2, km, fmt.text_km)
        r += 1
    r += 1
    ws.write_string(r, 1, "English", fmt.head)
    ws.write_string(r, 2, "ភាសាខ្មែរ", fmt.head_km)
    r += 1
    for i, para in enumerate(catalogue.instructions, start=1):
        ws.write_string(r, 0, str(i), fmt.text)
        ws.write_string(r, 1, _fill(para.en, values_en), fmt.text)
        ws.write_string(r, 2, _fill(para.km, values_km), fmt.text_km)
        r += 1
    r += 1
    for key in ("prepared_by", "position", "date", "signature"):
        t = catalogue.term(key)
        ws.write_string(r, 0, f"{t.en} / {t.km}", fmt.bold)
        ws.write_blank(r, 1, None, fmt.sign)
        r += 1
    ws.protect(PASSWORD_FREE, {"select_locked_cells": True, "select_unlocked_cells": True})
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.activate()


def _fill(text: str, values: Mapping[str, str]) -> str:
    out = text
    for k, v in values.items():
        out = out.replace("{" + k + "}", v)
    return out


def _fill_sheet(
    ws: Any,
    wb: Any,
    sheet: SheetLayout,
    fill: Mapping[tuple[str, str], object],
    marks: Mapping[tuple[str, str], Mark],
) -> None:
    if not fill and not marks:
        return
    colours = {"error": "#FF9999", "warning": "#FFD966", "info": "#BDD7EE"}
    formats = {
        sev: wb.add_format(
            {"bg_color": c, "border": 1, "locked": False, "font_name": LATIN_FONT, "font_size": 10}
        )
        for sev, c in colours.items()
    }
    plain = wb.add_format(
        {"bg_color": "#FFF2CC", "border": 1, "locked": False, "font_name": LATIN_FONT}
    )
    cells = {cell for (name, cell) in (*fill, *marks) if name == sheet.name}
    for cell in sorted(cells):
        mark = marks.get((sheet.name, cell))
        cell_fmt = formats.get(mark.severity, plain) if mark else plain
        value = fill.get((sheet.name, cell))
        if isinstance(value, int | float) and not isinstance(value, bool):
            ws.write_number(cell, value, cell_fmt)
        elif value is None or value == "":
            ws.write_blank(cell, None, cell_fmt)
        else:
            ws.write_string(cell, str(value), cell_fmt)
        if mark and mark.comment:
            ws.write_comment(cell, mark.comment, {"x_scale": 2.5, "y_scale": 2.5})


def _write_data_sheet(
    wb: Any, fmt: _Formats, catalogue: Catalogue, layout: Layout, sheet: SheetLayout
) -> Any:
    ws = wb.add_worksheet(sheet.name)
    last = sheet.explanation_col
    ws.write_string(
        TITLE_ROW, CODE_COL, f"{sheet.name} — {layout.ministry} {layout.period}", fmt.title
    )
    ws.write_string(TITLE_ROW, FIRST_INPUT_COL + 2, sheet.title_km, fmt.title_km)
    area_t, code_t = catalogue.term("province"), catalogue.term("code")
    if sheet.areas and sheet.areas[0].code == catalogue.national.code:
        area_t = catalogue.term("national")
    for row, fmt_en, fmt_km in ((ELEMENT_ROW, fmt.head, fmt.head_km),):
        ws.merge_range(row, CODE_COL, row + 1, CODE_COL, "", fmt_en)
        ws.write_string(row, CODE_COL, f"{code_t.en}\n{code_t.km}", fmt_en)
        ws.merge_range(row, NAME_EN_COL, row + 3, NAME_EN_COL, "", fmt_en)
        ws.write_string(row, NAME_EN_COL, area_t.en, fmt_en)
        ws.merge_range(row, NAME_KM_COL, row + 3, NAME_KM_COL, "", fmt_km)
        ws.write_string(row, NAME_KM_COL, area_t.km, fmt_km)
    ws.write_blank(OPTION_ROW, CODE_COL, None, fmt.head)
    ws.write_blank(OPTION_KM_ROW, CODE_COL, None, fmt.head)
    by_element: dict[str, list[Column]] = {}
    for c in sheet.columns:
        by_element.setdefault(c.element, []).append(c)
    for code, cols in by_element.items():
        el = catalogue.elements[code]
        first, end = cols[0].col, cols[-1].col
        if end > first:
            ws.merge_range(ELEMENT_ROW, first, ELEMENT_ROW, end, "", fmt.head)
            ws.merge_range(ELEMENT_KM_ROW, first, ELEMENT_KM_ROW, end, "", fmt.head_km)
        ws.write_string(ELEMENT_ROW, first, el.name_en, fmt.head)
        ws.write_string(ELEMENT_KM_ROW, first, el.name_km, fmt.head_km)
        for c in cols:
            ws.write_string(OPTION_ROW, c.col, c.label_en, fmt.head)
            ws.write_string(OPTION_KM_ROW, c.col, c.label_km, fmt.head_km)
    explain = catalogue.term("explanation")
    ws.merge_range(ELEMENT_ROW, last, OPTION_KM_ROW, last, "", fmt.head)
    ws.write_string(ELEMENT_ROW, last, f"{explain.en}\n{explain.km}", fmt.head)
    ws.write_string(KEY_ROW, KEY_COL, KEY_MARKER, fmt.key)
    for c in sheet.columns:
        ws.write_string(KEY_ROW, c.col, c.key, fmt.key)
    ws.write_string(KEY_ROW, last, "explanation", fmt.key)
    for area in sheet.areas:
        r = sheet.row_of(area.code)
        ws.write_string(r, KEY_COL, area.code, fmt.key)
        ws.write_string(r, CODE_COL, area.code, fmt.label)
        ws.write_string(r, NAME_EN_COL, area.name_en, fmt.label)
        ws.write_string(r, NAME_KM_COL, area.name_km, fmt.label_km)
        for c in sheet.columns:
            pct = catalogue.elements[c.element].value_type == "percent"
            ws.write_blank(r, c.col, None, fmt.input_pct if pct else fmt.input)
        ws.write_blank(r, last, None, fmt.explain)
    _validations(ws, catalogue, sheet)
    ws.set_row(KEY_ROW, None, None, {"hidden": True})
    ws.set_column(KEY_COL, KEY_COL, 6, None, {"hidden": True})
    ws.set_column(CODE_COL, CODE_COL, 6)
    ws.set_column(NAME_EN_COL, NAME_KM_COL, 18)
    ws.set_column(FIRST_INPUT_COL, last - 1, 11)
    ws.set_column(last, last, 40)
    ws.set_row(ELEMENT_ROW, 45)
    ws.set_row(ELEMENT_KM_ROW, 45)
    ws.set_row(OPTION_ROW, 30)
    ws.set_row(OPTION_KM_ROW, 30)
    ws.freeze_panes(FIRST_DATA_ROW, FIRST_INPUT_COL)
    ws.protect(PASSWORD_FREE, {"select_locked_cells": True, "select_unlocked_cells": True})
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(ELEMENT_ROW, OPTION_KM_ROW)
    return ws


def _validations(ws: Any, catalogue: Catalogue, sheet: SheetLayout) -> None:
    """Data validation as a hint: a warning the sender may override, never a hard stop."""
    first_row, last_row = FIRST_DATA_ROW, FIRST_DATA_ROW + len(sheet.areas) - 1
    n_codes = len(catalogue.missing_reasons)
    codes = "/".join(catalogue.missing_reasons)
    for c in sheet.columns:
        vt = catalogue.elements[c.element].value_type
        top = xl_rowcol_to_cell(first_row, c.col)
        in_list = f"COUNTIF({LISTS_SHEET}!$A$1:$A${n_codes},{top})>0"
        if vt in ("count", "year"):
            rule = f"AND(ISNUMBER({top}),{top}>=0,INT({top})={top})"
            hint_en = f"Whole number ≥ 0, or {codes}"
            hint_km = f"ចំនួនគត់ ≥ 0 ឬ {codes}"
        elif vt == "percent":
            rule = f"AND(ISNUMBER({top}),{top}>=0,{top}<=100)"
            hint_en = f"Percent 0–100, or {codes}"
            hint_km = f"ភាគរយ 0–100 ឬ {codes}"
        else:
            rule = f"ISNUMBER({top})"
            hint_en = f"A number, or {codes}"
            hint_km = f"លេខ ឬ {codes}"
        title = f"{c.label_en}"[:32]
        ws.data_validation(
            first_row,
            c.col,
            last_row,
            c.col,
            {
                "validate": "custom",
                "value": f"=OR({rule},{in_list})",
                "ignore_blank": True,
                "error_type": "warning",
                "input_title": title,
                "input_message": f"{hint_en}\n{hint_km}"[:255],
                "error_title": title,
                "error_message": f"{hint_en}\n{hint_km}"[:255],
            },
        )


def _write_lists(wb: Any, catalogue: Catalogue) -> None:
    ws = wb.add_worksheet(LISTS_SHEET)
    for i, (code, term) in enumerate(catalogue.missing_reasons.items()):
        ws.write_string(i, 0, code)
        ws.write_string(i, 1, term.en)
        ws.write_string(i, 2, term.km)
    ws.hide()


def _write_identity(wb: Any, identity: Identity) -> None:
    ws = wb.add_worksheet(IDENTITY_SHEET)
    rows = [*identity.fields().items(), ("checksum", identity.checksum)]
    for i, (k, v) in enumerate(rows):
        ws.write_string(i, 0, k)
        ws.write_string(i, 1, v)
        wb.set_custom_property(f"cpxl_{k}", v)
    wb.define_name(IDENTITY_NAME, f"={IDENTITY_SHEET}!$A$1:$B${len(rows)}")
    ws.protect(PASSWORD_FREE)
    ws.hide()
