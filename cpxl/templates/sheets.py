"""The sheets of a template workbook: instructions, data sheets, lists and the identity.

Every label and text goes in with ``write_string``, so nothing a template holds is a formula.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cpxl.catalogue import Catalogue, parse_period
from cpxl.findings import cell_name
from cpxl.templates.identity import Identity
from cpxl.templates.layout import (
    CODE_COL,
    ELEMENT_KM_ROW,
    ELEMENT_ROW,
    FIRST_DATA_ROW,
    FIRST_INPUT_COL,
    IDENTITY_NAME,
    IDENTITY_SHEET,
    INSTRUCTIONS_SHEET,
    KEY_COL,
    KEY_MARKER,
    KEY_ROW,
    KHMER_FONT,
    LATIN_FONT,
    LISTS_SHEET,
    NAME_EN_COL,
    NAME_KM_COL,
    OPTION_KM_ROW,
    OPTION_ROW,
    PASSWORD_FREE,
    TITLE_ROW,
    Column,
    Layout,
    SheetLayout,
)
from cpxl.templates.printing import print_on_a4


class Formats:
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


def write_reference(
    ws: Any, fmt: Formats, catalogue: Catalogue, sheet: SheetLayout, ref: Reference
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
        ws.write_string(OPTION_ROW, first + i, column.label.en, fmt.reference_head)
        ws.write_string(OPTION_KM_ROW, first + i, column.label.km, fmt.reference_head)
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


def write_instructions(wb: Any, fmt: Formats, catalogue: Catalogue, layout: Layout) -> None:
    ws = wb.add_worksheet(INSTRUCTIONS_SHEET)
    ministry = catalogue.ministries[layout.ministry]
    period = parse_period(layout.period)
    due = catalogue.due_date(layout.ministry, period).isoformat()
    codes = ", ".join(f"{c} = {t.en}" for c, t in catalogue.missing_reasons.items())
    codes_km = ", ".join(f"{c} = {t.km}" for c, t in catalogue.missing_reasons.items())
    values_en = {
        "ministry": ministry.name.en,
        "period": layout.period,
        "due": due,
        "send_to": ministry.send_to.en,
        "missing_codes": codes,
    }
    values_km = {**values_en, "ministry": ministry.name.km, "send_to": ministry.send_to.km}
    values_km["missing_codes"] = codes_km
    ws.set_column(0, 0, 30)
    ws.set_column(1, 2, 70)
    # The template names itself as a return of this ministry for this period, not the catalogue.
    title = catalogue.term("template_title")
    ws.write_string(0, 0, f"{title.en}: {ministry.name.en}, {layout.period}", fmt.title)
    ws.write_string(1, 0, f"{title.km}៖ {ministry.name.km} {layout.period}", fmt.title_km)
    rows = [
        ("ministry", ministry.name.en, ministry.name.km),
        ("period", layout.period, layout.period),
        ("due_date", due, due),
        ("send_to", ministry.send_to.en, ministry.send_to.km),
    ]
    r = 3
    for key, en, km in rows:
        t = catalogue.term(key)
        ws.write_string(r, 0, f"{t.en} / {t.km}", fmt.bold)
        ws.write_string(r, 1, en, fmt.text)
        ws.write_string(r, 2, km, fmt.text_km)
        ws.set_row(r, _height(f"{t.en} / {t.km}", 30, en, 70, km, 45))
        r += 1
    r += 1
    ws.write_string(r, 1, "English", fmt.head)
    ws.write_string(r, 2, "ភាសាខ្មែរ", fmt.head_km)
    r += 1
    for i, para in enumerate(catalogue.instructions, start=1):
        en, km = _fill(para.en, values_en), _fill(para.km, values_km)
        ws.write_string(r, 0, str(i), fmt.text)
        ws.write_string(r, 1, en, fmt.text)
        ws.write_string(r, 2, km, fmt.text_km)
        ws.set_row(r, _height(en, 70, km, 45))
        r += 1
    r += 1
    for key in ("prepared_by", "position", "date", "signature"):
        t = catalogue.term(key)
        ws.write_string(r, 0, f"{t.en} / {t.km}", fmt.bold)
        ws.write_blank(r, 1, None, fmt.sign)
        r += 1
    ws.protect(PASSWORD_FREE, {"select_locked_cells": True, "select_unlocked_cells": True})
    print_on_a4(ws, (30, 70, 70))
    ws.activate()


def _height(*texts_and_widths: object) -> float:
    """A row tall enough for wrapped text: spreadsheets do not grow rows written by a program.

    Takes (text, characters per line) pairs; Khmer runs need more room per character.
    """
    pairs = zip(texts_and_widths[::2], texts_and_widths[1::2], strict=True)
    lines = max(-(-len(str(text)) // int(str(width))) for text, width in pairs)
    return 15.0 * max(1, lines) + 3


def _fill(text: str, values: Mapping[str, str]) -> str:
    out = text
    for k, v in values.items():
        out = out.replace("{" + k + "}", v)
    return out


def fill_sheet(
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


def write_data_sheet(
    wb: Any, fmt: Formats, catalogue: Catalogue, layout: Layout, sheet: SheetLayout
) -> Any:
    ws = wb.add_worksheet(sheet.name)
    last = sheet.explanation_col
    ws.write_string(
        TITLE_ROW, CODE_COL, f"{sheet.name} — {layout.ministry} {layout.period}", fmt.title
    )
    ws.write_string(TITLE_ROW, FIRST_INPUT_COL + 2, sheet.title.km, fmt.title_km)
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
        ws.write_string(ELEMENT_ROW, first, el.name.en, fmt.head)
        ws.write_string(ELEMENT_KM_ROW, first, el.name.km, fmt.head_km)
        for c in cols:
            ws.write_string(OPTION_ROW, c.col, c.label.en, fmt.head)
            ws.write_string(OPTION_KM_ROW, c.col, c.label.km, fmt.head_km)
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
        ws.write_string(r, NAME_EN_COL, area.name.en, fmt.label)
        ws.write_string(r, NAME_KM_COL, area.name.km, fmt.label_km)
        for c in sheet.columns:
            pct = catalogue.elements[c.element].value_type == "percent"
            ws.write_blank(r, c.col, None, fmt.input_pct if pct else fmt.input)
        ws.write_blank(r, last, None, fmt.explain)
    validations(ws, catalogue, sheet)
    ws.set_row(KEY_ROW, None, None, {"hidden": True})
    ws.set_column(KEY_COL, KEY_COL, 6, None, {"hidden": True})
    ws.set_column(CODE_COL, CODE_COL, 6)
    ws.set_column(NAME_EN_COL, NAME_KM_COL, 18)
    ws.set_column(FIRST_INPUT_COL, last - 1, 11)
    ws.set_column(last, last, 40)
    widest = max((len(c.label.en) for c in sheet.columns), default=10)
    widest_km = max((len(c.label.km) for c in sheet.columns), default=10)
    ws.set_row(TITLE_ROW, 26)  # a 14-point title and its 13-point Khmer, never clipped
    ws.set_row(ELEMENT_ROW, 45)
    ws.set_row(ELEMENT_KM_ROW, 45)
    ws.set_row(OPTION_ROW, _height("x" * widest, 11))
    ws.set_row(OPTION_KM_ROW, _height("x" * widest_km, 9))
    ws.freeze_panes(FIRST_DATA_ROW, FIRST_INPUT_COL)
    ws.protect(PASSWORD_FREE, {"select_locked_cells": True, "select_unlocked_cells": True})
    widths = [0.0, 6.0, 18.0, 18.0] + [11.0] * (last - FIRST_INPUT_COL) + [40.0]
    print_on_a4(ws, widths, header=(ELEMENT_ROW, OPTION_KM_ROW), labels=(CODE_COL, NAME_KM_COL))
    return ws


_TITLE_MAX = 32  # what Excel keeps of a data validation's title


def validations(ws: Any, catalogue: Catalogue, sheet: SheetLayout) -> None:
    """Data validation as a hint: a warning the sender may override, never a hard stop."""
    first_row, last_row = FIRST_DATA_ROW, FIRST_DATA_ROW + len(sheet.areas) - 1
    n_codes = len(catalogue.missing_reasons)
    codes = "/".join(catalogue.missing_reasons)
    for c in sheet.columns:
        vt = catalogue.elements[c.element].value_type
        top = cell_name(first_row, c.col)
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
        # Excel allows a title of 32 characters: a longer label goes whole into the message.
        hint = f"{hint_en}\n{hint_km}"
        if len(c.label.en) <= _TITLE_MAX:
            title = c.label.en
        else:
            title = catalogue.term("value").en
            hint = f"{c.label.en}\n{hint}"
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
                "input_message": hint,
                "error_title": title,
                "error_message": hint,
            },
        )


def write_lists(wb: Any, catalogue: Catalogue) -> None:
    ws = wb.add_worksheet(LISTS_SHEET)
    for i, (code, term) in enumerate(catalogue.missing_reasons.items()):
        ws.write_string(i, 0, code)
        ws.write_string(i, 1, term.en)
        ws.write_string(i, 2, term.km)
    ws.hide()


def write_identity(wb: Any, identity: Identity) -> None:
    ws = wb.add_worksheet(IDENTITY_SHEET)
    rows = [*identity.fields().items(), ("checksum", identity.checksum)]
    for i, (k, v) in enumerate(rows):
        ws.write_string(i, 0, k)
        ws.write_string(i, 1, v)
        wb.set_custom_property(f"cpxl_{k}", v)
    wb.define_name(IDENTITY_NAME, f"={IDENTITY_SHEET}!$A$1:$B${len(rows)}")
    ws.protect(PASSWORD_FREE)
    ws.hide()
