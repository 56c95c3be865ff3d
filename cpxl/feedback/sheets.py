"""The sheets a feedback workbook opens with: a bilingual Summary, then the Findings.

Every sender text goes in with ``write_string``, so nothing a sender wrote becomes active.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any

from cpxl.catalogue import Catalogue
from cpxl.feedback.placement import Placement
from cpxl.feedback.words import NO_CONTENT, message_title, safe_reason, split_text, status_text
from cpxl.findings import FileResult, Severity, Status, Text
from cpxl.templates import (
    FINDINGS_SHEET,
    KHMER_FONT,
    LATIN_FONT,
    FindingsColumn,
    print_on_a4,
)

SUMMARY_SHEET = "Summary"
KHMER_LINE_PT = 20  # the height of one line of 10-point Khmer, its stacked letters included
TITLE_ROW_PT = 26  # a 14-point title (13-point Khmer) on one line
_GREEN, _AMBER, RED = "#C6EFCE", "#FFEB9C", "#FFC7CE"
STATUS_COLOUR = {
    Status.ACCEPTED: _GREEN,
    Status.ACCEPTED_WITH_WARNINGS: _AMBER,
    Status.UNCHANGED: _AMBER,
    Status.DUPLICATE: _AMBER,
}
_SEVERITY_COLOUR = {"error": "#FF9999", "warning": "#FFD966", "info": "#BDD7EE"}
_PERIOD = re.compile(r"^\d{4}(?:Q[1-4]|S[12]|\d{2})?$")


class Formats:
    """The cell formats of one feedback workbook, each added to it when first used.

    A workbook carries only the formats it uses: a clean return's feedback shows one status
    colour of three, and no severities, links or explanations at all.
    """

    def __init__(self, wb: Any) -> None:
        self.wb = wb
        self.base = {"font_name": LATIN_FONT, "font_size": 10, "valign": "top", "text_wrap": True}
        self.km = {**self.base, "font_name": KHMER_FONT}
        base, km = self.base, self.km
        self.status = _OnFirstUse(wb, lambda c: {**base, "bold": True, "bg_color": c, "border": 1})
        self.status_km = _OnFirstUse(wb, lambda c: {**km, "bold": True, "bg_color": c, "border": 1})
        self.severity = _OnFirstUse(
            wb, lambda s: {**base, "border": 1, "bg_color": _SEVERITY_COLOUR[s]}
        )

    @cached_property
    def title(self) -> Any:
        return self.wb.add_format({**self.base, "bold": True, "font_size": 14, "text_wrap": False})

    @cached_property
    def title_km(self) -> Any:
        return self.wb.add_format({**self.km, "bold": True, "font_size": 13, "text_wrap": False})

    @cached_property
    def label(self) -> Any:
        return self.wb.add_format({**self.base, "bold": True})

    @cached_property
    def label_km(self) -> Any:
        return self.wb.add_format({**self.km, "bold": True})

    @cached_property
    def text(self) -> Any:
        return self.wb.add_format(self.base)

    @cached_property
    def text_km(self) -> Any:
        return self.wb.add_format(self.km)

    @cached_property
    def number(self) -> Any:
        return self.wb.add_format({**self.base, "align": "left"})

    @cached_property
    def head(self) -> Any:
        return self.wb.add_format({**self.base, "bold": True, "bg_color": "#D9E1F2", "border": 1})

    @cached_property
    def cell(self) -> Any:
        return self.wb.add_format({**self.base, "border": 1})

    @cached_property
    def cell_km(self) -> Any:
        return self.wb.add_format({**self.km, "border": 1})

    @cached_property
    def link(self) -> Any:
        return self.wb.add_format(
            {**self.base, "border": 1, "font_color": "#0563C1", "underline": 1}
        )

    @cached_property
    def explain(self) -> Any:
        return self.wb.add_format(
            {**self.base, "border": 1, "bg_color": "#E2EFDA", "locked": False}
        )


class _OnFirstUse:
    """Formats by key, each added to the workbook when first used."""

    def __init__(self, wb: Any, properties: Callable[[str], dict[str, Any]]) -> None:
        self.wb, self.properties = wb, properties
        self.made: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self.made:
            self.made[key] = self.wb.add_format(self.properties(key))
        return self.made[key]


class _Rows:
    """A bilingual two-column form: label and value in English, then label and value in Khmer."""

    def __init__(self, ws: Any, fmt: Formats) -> None:
        self.ws, self.fmt, self.r = ws, fmt, 0

    def title(self, term: Text) -> None:
        self.ws.write_string(self.r, 0, term.en, self.fmt.title)
        self.ws.write_string(self.r, 2, term.km, self.fmt.title_km)
        self.ws.set_row(self.r, TITLE_ROW_PT)
        self.r += 2

    def sentence(self, term: Text) -> None:
        self.ws.write_string(self.r, 1, term.en, self.fmt.text)
        self.ws.write_string(self.r, 3, term.km, self.fmt.text_km)
        self._tall(term.en, term.km)
        self.r += 2

    def _tall(self, en: str, km: str) -> None:
        """Make the row tall enough for its wrapped text; spreadsheets do not do it for us.

        Khmer letters stack above and below the line: a Khmer line needs more height than a
        Latin one, or its tops and subscripts are clipped on screen and on paper.
        """
        lines_en, lines_km = max(-(-len(en) // 58), 1), max(-(-len(km) // 40), 1)
        self.ws.set_row(self.r, max(15 * lines_en, KHMER_LINE_PT * lines_km) + 3)

    def pair(self, term: Text, value: Text | str, colour: str | None = None) -> None:
        """A label and its value in both languages; a plain string (a name, a date) in both."""
        text = Text(value, value) if isinstance(value, str) else value
        value_en = self.fmt.status[colour] if colour else self.fmt.text
        value_km = self.fmt.status_km[colour] if colour else self.fmt.text_km
        self.ws.write_string(self.r, 0, term.en, self.fmt.label)
        self.ws.write_string(self.r, 1, text.en, value_en)
        self.ws.write_string(self.r, 2, term.km, self.fmt.label_km)
        self.ws.write_string(self.r, 3, text.km, value_km)
        self._tall(text.en, text.km)
        self.r += 1

    def number(self, term: Text, n: int) -> None:
        self.ws.set_row(self.r, KHMER_LINE_PT + 3)
        self.ws.write_string(self.r, 0, term.en, self.fmt.label)
        self.ws.write_number(self.r, 1, n, self.fmt.number)
        self.ws.write_string(self.r, 2, term.km, self.fmt.label_km)
        self.ws.write_number(self.r, 3, n, self.fmt.number)
        self.r += 1

    def table(self, heads: list[Text], rows: Iterable[list[str]], km_cols: frozenset[int]) -> None:
        self.r += 1
        for c, t in enumerate(heads):
            self.ws.write_string(self.r, c, f"{t.en}\n{t.km}", self.fmt.head)
        for row in rows:
            self.r += 1
            for c, text in enumerate(row):
                self.ws.write_string(
                    self.r, c, text, self.fmt.cell_km if c in km_cols else self.fmt.cell
                )
        self.r += 2


def _summary_sheet(
    wb: Any, fmt: Formats, result: FileResult, catalogue: Catalogue, name: str, copy: bool
) -> None:
    ws = wb.add_worksheet(name)
    ws.activate()
    ws.set_first_sheet()
    widths = (26, 60, 26, 60)
    print_on_a4(ws, widths)  # English and Khmer side by side on one printed page
    for c, width in enumerate(widths):
        ws.set_column(c, c, width)
    t, rows = catalogue.term, _Rows(ws, fmt)
    status = status_text(catalogue, result.status)
    no_content = result.status in NO_CONTENT
    rows.title(t("title_feedback"))
    if copy:
        rows.sentence(t("feedback_intro"))
    elif not no_content and not result.findings:
        rows.sentence(t("no_findings"))
    colour = STATUS_COLOUR.get(result.status, RED)
    rows.pair(t("status"), status.label, colour)
    reason = safe_reason(result, catalogue.messages) if no_content else None
    if reason is not None:
        problem, fix = split_text(reason, catalogue.messages)
        rows.pair(t("problem"), problem)
        # the reason's own fix says what to send instead; the status's action is the fallback
        rows.pair(t("what_to_do"), Text(fix.en or status.action.en, fix.km or status.action.km))
    else:
        if result.reason is not None and result.reason in catalogue.messages:
            rows.pair(t("problem"), catalogue.messages[result.reason].title)
        rows.pair(t("what_to_do"), status.action)
    if result.due:
        rows.pair(t("due_date"), result.due)
    if result.days_late:
        rows.number(t("days_late"), result.days_late)
    rows.r += 1
    rows.pair(t("file"), result.file)
    if result.received_at:
        how = t("received_stated" if result.received_stated else "received_file_time")
        received = Text(f"{result.received_at} ({how.en})", f"{result.received_at} ({how.km})")
        rows.pair(t("date_received"), received)
    rows.pair(t("sha256"), result.sha256[:12])
    ministry = catalogue.ministries.get(result.ministry)
    if ministry is not None:
        rows.pair(t("ministry"), Text(f"{ministry.name.en} ({ministry.code})", ministry.name.km))
    elif result.ministry and not no_content:
        rows.pair(t("ministry"), result.ministry)
    if result.period and (not no_content or _PERIOD.match(result.period)):
        rows.pair(t("period"), result.period)
    if not no_content:
        rows.r += 1
        n = result.counts()
        rows.number(t("errors_count"), n["error"])
        rows.number(t("warnings_count"), n["warning"])
        rows.number(t("info_count"), n["info"])
        rows.number(t("values_stored"), result.values_stored)
        _resubmission(rows, result, catalogue)


def _resubmission(rows: _Rows, result: FileResult, catalogue: Catalogue) -> None:
    t = catalogue.term
    if result.previous:
        rows.r += 1
        rows.pair(t("replaces"), result.previous)
    if result.changes:
        rows.r += 1
        rows.number(t("changes"), len(result.changes))
        heads = [t("sheet"), t("cell"), t("previous_value"), t("new_value")]
        rows.table(heads, ([c.sheet, c.cell, c.old, c.new] for c in result.changes), frozenset())
    blank = [c for c in result.changes if c.new == ""]
    if blank:
        rows.number(t("now_blank"), len(blank))
        heads = [t("sheet"), t("cell"), t("previous_value")]
        rows.table(heads, ([c.sheet, c.cell, c.old] for c in blank), frozenset())
    for key, found in (("fixed", result.fixed), ("still_open", result.still_open)):
        if found:
            rows.number(t(key), len(found))
            heads = [t("sheet"), t("cell"), t("problem"), t("problem")]
            named = ((f, message_title(f, catalogue.messages)) for f in found)
            listed = ([f.location.sheet, f.location.cell, h.en, h.km] for f, h in named)
            rows.table(heads, listed, frozenset({3}))


_C = FindingsColumn
# Each column's heading (a catalogue term, and the language of its text) and width.
_FINDING_HEADS = {
    _C.SEVERITY: ("severity", "", 10),
    _C.SHEET: ("sheet", "", 13),
    _C.CELL: ("cell", "", 6),
    _C.SEEN: ("seen", "", 9),
    _C.PROBLEM_EN: ("problem", " (EN)", 31),
    _C.WHAT_TO_DO_EN: ("what_to_do", " (EN)", 27),
    _C.PROBLEM_KM: ("problem", " (KM)", 31),
    _C.WHAT_TO_DO_KM: ("what_to_do", " (KM)", 27),
    _C.RULE: ("rule", "", 14),
    _C.EXPLANATION: ("explanation", "", 24),
}
_FINDING_WIDTHS = tuple(_FINDING_HEADS[c][2] for c in FindingsColumn)


def _findings_sheet(
    wb: Any,
    fmt: Formats,
    result: FileResult,
    catalogue: Catalogue,
    name: str,
    where: Placement | None,
) -> None:
    ws = wb.add_worksheet(name)
    for c, width in enumerate(_FINDING_WIDTHS):
        # The rule's id is for the data officer (who may unhide it), never for the sender.
        ws.set_column(c, c, width, None, {"hidden": c == _C.RULE})
    # One page wide on A4 at 8 points or more: the rule column is hidden, so not printed.
    print_on_a4(
        ws, [0 if c == _C.RULE else w for c, w in enumerate(_FINDING_WIDTHS)], header=(0, 0)
    )
    for c in FindingsColumn:
        key, lang, _ = _FINDING_HEADS[c]
        term = catalogue.term(key)
        ws.write_string(0, c, f"{term.en}{lang}\n{term.km}", fmt.head)
    ws.set_row(0, 42)
    ws.freeze_panes(1, 0)
    for r, f in enumerate(result.findings, start=1):
        sev = catalogue.term(f.severity.value)
        ws.write_string(r, _C.SEVERITY, f"{sev.en} / {sev.km}", fmt.severity[f.severity.value])
        target = where.place(f.location) if where is not None else None
        if target is not None:
            sheet, cell = target
            ws.write_string(r, _C.SHEET, sheet, fmt.cell)
            link = "internal:'" + sheet.replace("'", "''") + "'!" + cell
            ws.write_url(r, _C.CELL, link, fmt.link, cell)
        else:
            _text(ws, r, _C.SHEET, f.location.sheet, fmt.cell)
            _text(ws, r, _C.CELL, f.location.cell, fmt.cell)
        _text(ws, r, _C.SEEN, f.seen, fmt.cell)
        problem, fix = split_text(f, catalogue.messages)
        ws.write_string(r, _C.PROBLEM_EN, problem.en, fmt.cell)
        ws.write_string(r, _C.WHAT_TO_DO_EN, fix.en, fmt.cell)
        ws.write_string(r, _C.PROBLEM_KM, problem.km, fmt.cell_km)
        ws.write_string(r, _C.WHAT_TO_DO_KM, fix.km, fmt.cell_km)
        lines = max(
            -(-len(problem.en) // _FINDING_WIDTHS[_C.PROBLEM_EN]),
            -(-len(fix.en) // _FINDING_WIDTHS[_C.WHAT_TO_DO_EN]),
            # Khmer takes more room per letter
            -(-len(problem.km) // (_FINDING_WIDTHS[_C.PROBLEM_KM] * 2 // 3)),
            -(-len(fix.km) // (_FINDING_WIDTHS[_C.WHAT_TO_DO_KM] * 2 // 3)),
        )
        ws.set_row(r, 15 * max(lines, 1) + 3)  # wrapped text needs a row tall enough for it
        _text(ws, r, _C.RULE, f.rule, fmt.cell)
        explanation = f.params.get("explanation", "")
        if explanation:
            ws.write_string(r, _C.EXPLANATION, explanation, fmt.explain)
        elif f.severity == Severity.WARNING:
            ws.write_blank(r, _C.EXPLANATION, None, fmt.explain)
    if result.findings:
        ws.autofilter(0, 0, len(result.findings), len(FindingsColumn) - 1)
    ws.protect(
        "",
        {"autofilter": True, "sort": True, "format_columns": True, "format_rows": True},
    )


def _text(ws: Any, r: int, c: int, text: str, cell_format: Any) -> None:
    """Text as text; an empty text as a blank cell (with its border)."""
    if text:
        ws.write_string(r, c, text, cell_format)
    else:
        ws.write_blank(r, c, None, cell_format)


def front_sheets(
    result: FileResult, catalogue: Catalogue, taken: Iterable[str], where: Placement | None
) -> Callable[[Any], None]:
    """The sheets a feedback workbook opens with: Summary, then Findings when content was read."""
    names = {n.casefold() for n in taken}
    summary = _free_name(SUMMARY_SHEET, names)
    findings = _free_name(FINDINGS_SHEET, names | {summary.casefold()})

    def add(wb: Any) -> None:
        fmt = Formats(wb)
        _summary_sheet(wb, fmt, result, catalogue, summary, where is not None)
        if result.status not in NO_CONTENT:
            _findings_sheet(wb, fmt, result, catalogue, findings, where)

    return add


def _free_name(wanted: str, taken: set[str]) -> str:
    for n in itertools.count(1):
        name = wanted if n == 1 else f"{wanted} ({n})"
        if name.casefold() not in taken:
            return name
    raise AssertionError("unreachable")  # pragma: no cover
