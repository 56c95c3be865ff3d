"""Feedback: one bilingual workbook per file received, and one summary per run.

Nothing a sender wrote can become active: every workbook is made by ``templates.new_workbook``
(or ``templates.write_template``), which never turns text into formulas, links or numbers, and
every sender text goes in with ``write_string``. A return with findings at cells comes back as a
marked-up, cleanly re-laid-out copy of its data sheets that the sender can correct and send again.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell

from cpxl.catalogue import Catalogue, StatusText, Term
from cpxl.findings import (
    Code,
    FileResult,
    Finding,
    Location,
    MessageText,
    Params,
    RunReport,
    Severity,
    Status,
    placeholders_of,
)
from cpxl.templates import (
    FINDINGS_EXPLANATION_COL,
    FINDINGS_SHEET,
    KHMER_FONT,
    LATIN_FONT,
    Layout,
    Mark,
    column_key,
    new_workbook,
    write_template,
)

if TYPE_CHECKING:
    from cpxl.reading import Submission

SUFFIX = ".feedback.xlsx"
SUMMARY_SHEET = "Summary"
# A name component may be 255 bytes on most file systems; Khmer letters take 3 bytes each.
MAX_STEM_BYTES = 150
_FORBIDDEN = frozenset('/\\:*?"<>|')
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
)
_RECEIVED_SUFFIXES = frozenset({"xlsx", "xlsm", "xlsb", "xls", "ods", "csv"})
# Statuses whose file's content is never echoed: only a Summary of what was wrong.
_NO_CONTENT = frozenset(
    {
        Status.UNREADABLE,
        Status.UNSAFE,
        Status.NOT_A_TEMPLATE,
        Status.DUPLICATE,
        Status.SKIPPED,
        Status.NOT_PROCESSED,
    }
)
# Placeholders computed by cpxl (names, sizes, dates), safe to show for a file never opened.
_SAFE_PLACEHOLDERS = frozenset(
    {"file", "size", "limit", "count", "first", "previous", "days", "due"}
)
_OMITTED = "…"
_GREEN, _AMBER, _RED = "#C6EFCE", "#FFEB9C", "#FFC7CE"
_STATUS_COLOUR = {
    Status.ACCEPTED: _GREEN,
    Status.ACCEPTED_WITH_WARNINGS: _AMBER,
    Status.UNCHANGED: _AMBER,
    Status.DUPLICATE: _AMBER,
}
_SEVERITY_COLOUR = {"error": "#FF9999", "warning": "#FFD966", "info": "#BDD7EE"}
_SEVERITY_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
_PERIOD = re.compile(r"^\d{4}(?:Q[1-4]|S[12]|\d{2})?$")
_A1 = re.compile(r"^\$?[A-Z]{1,3}\$?[1-9]\d{0,6}$")
_COMMENT_LIMIT = 2000


# ---------------------------------------------------------------------------------------------
# Where feedback goes


def safe_stem(received_name: str) -> str:
    """A file-name stem any file system accepts, from the name of the file received."""
    kept: list[str] = []
    for ch in unicodedata.normalize("NFC", received_name):
        category = unicodedata.category(ch)
        if ch in _FORBIDDEN:
            kept.append("_")
        elif category[0] == "C" or category in ("Zl", "Zp"):
            continue  # control, invisible format (incl. bidi overrides), unassigned, private use
        else:
            kept.append(" " if category == "Zs" else ch)
    text = re.sub(r" +", " ", "".join(kept))
    stem, dot, ext = text.rpartition(".")
    if dot and stem and ext.lower() in _RECEIVED_SUFFIXES:
        text = stem
    text = _cap_bytes(text.lstrip(" .-"), MAX_STEM_BYTES).rstrip(" .")
    if not text:
        return "file"
    if text.split(".")[0].upper() in _WINDOWS_DEVICES:
        return "_" + text
    return text


def _cap_bytes(text: str, limit: int) -> str:
    out: list[str] = []
    size = 0
    for ch in text:
        size += len(ch.encode("utf-8"))
        if size > limit:
            # a cut Khmer cluster must not end in a coeng or a dependent vowel
            while out and (unicodedata.category(out[-1])[0] == "M" or out[-1] == "\u17d2"):
                out.pop()
            break
        out.append(ch)
    return "".join(out)


def feedback_path(out_dir: Path, received_name: str) -> Path:
    """A new feedback file named after the file received; reserved, so it is never overwritten."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = safe_stem(received_name)
    for n in itertools.count(1):
        candidate = out_dir / (f"{stem}{SUFFIX}" if n == 1 else f"{stem}-{n}{SUFFIX}")
        try:
            with candidate.open("x"):
                return candidate
        except FileExistsError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# Words


def split_text(finding: Finding, messages: Mapping[Code, MessageText]) -> tuple[str, ...]:
    """(problem EN, what to do EN, problem KM, what to do KM), filled as Finding.render fills."""
    text = messages.get(finding.code)
    if text is None:
        return (finding.code.value, "", finding.code.value, "")
    problem_en, problem_km = finding.render({finding.code: replace(text, fix_en="", fix_km="")})
    fix_en, fix_km = finding.render({finding.code: replace(text, message_en="", message_km="")})
    return problem_en, fix_en, problem_km, fix_km


def _titles(finding: Finding, messages: Mapping[Code, MessageText]) -> tuple[str, str]:
    text = messages.get(finding.code)
    return (text.title_en, text.title_km) if text else (finding.code.value, finding.code.value)


def _status_text(catalogue: Catalogue, status: Status) -> StatusText:
    return catalogue.statuses.get(status) or StatusText(status.value, status.value, "", "")


def counts(result: FileResult) -> dict[str, int]:
    """Problems by severity, counting each grouped "more findings" entry as the cells it holds."""
    out = {s.value: 0 for s in Severity}
    for f in result.findings:
        more = f.params.get("count", "") if f.code == Code.MORE_FINDINGS else ""
        out[f.severity.value] += int(more) if more.isdigit() else 1
    return out


def _safe_reason(result: FileResult, messages: Mapping[Code, MessageText]) -> Finding | None:
    """The reason's finding with every placeholder cpxl did not compute itself left out."""
    if result.reason is None:
        return None
    found = next((f for f in result.findings if f.code == result.reason), None)
    known = dict(found.params) if found else {}
    known.update(first=result.first, previous=result.previous, file=result.file)
    text = messages.get(result.reason)
    used: set[str] = set()
    if text is not None:
        for template in (text.message_en, text.message_km, text.fix_en, text.fix_km):
            used |= placeholders_of(template)
    params = {n: (known.get(n) if n in _SAFE_PLACEHOLDERS else "") or _OMITTED for n in used}
    severity = found.severity if found else Severity.ERROR
    return Finding(result.reason, severity, Location(file=result.file), params=Params(params))


# ---------------------------------------------------------------------------------------------
# The marked-up copy: sender cells -> template cells


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a return's values and findings go in the re-laid-out copy of its template."""

    fill: Mapping[tuple[str, str], object]  # (template sheet, cell) -> what the sender entered
    cells: Mapping[tuple[str, str], tuple[str, str]]  # sender (sheet, cell) -> template's
    sheets: Mapping[str, str]  # sender sheet -> template sheet
    rows: Mapping[tuple[str, int], int]
    cols: Mapping[tuple[str, int], int]
    inputs: frozenset[tuple[str, str]]

    def place(self, location: Location) -> tuple[str, str] | None:
        """The template input cell a finding's sender cell maps to, or None."""
        cell = location.cell.upper()
        if not location.sheet or not _A1.match(cell):
            return None
        direct = self.cells.get((location.sheet, cell.replace("$", "")))
        if direct is not None:
            return direct
        sheet = self.sheets.get(location.sheet)
        row, col = xl_cell_to_rowcol(cell)
        r, c = self.rows.get((location.sheet, row)), self.cols.get((location.sheet, col))
        if sheet is None or r is None or c is None:
            return None
        target = (sheet, str(xl_rowcol_to_cell(r, c)))
        return target if target in self.inputs else None


def placement(submission: Submission) -> Placement:
    """Map every value and explanation of a return onto its template's own cells."""
    layout = submission.layout
    by_key = {c.key: (s, c) for s in layout.sheets for c in s.columns}
    fill: dict[tuple[str, str], object] = {}
    cells: dict[tuple[str, str], tuple[str, str]] = {}
    sheets = {actual: name for name, actual in submission.sheet_names.items()}
    sheets.update({s.name: s.name for s in layout.sheets if s.name not in sheets.values()})
    rows: dict[tuple[str, int], int] = {}
    cols: dict[tuple[str, int], int] = {}
    for v in submission.values:
        found = by_key.get(column_key(v.element, v.dimension, v.option))
        if found is None:
            continue
        sheet, column = found
        try:
            target = (sheet.name, sheet.cell(v.area, column))
        except KeyError:
            continue
        content = _content(v.value, v.missing, v.original)
        if content is not None:
            fill[target] = content
        if v.sheet and v.cell and _A1.match(v.cell):
            cells[(v.sheet, v.cell)] = target
            sheets.setdefault(v.sheet, sheet.name)
            row, col = xl_cell_to_rowcol(v.cell)
            rows[(v.sheet, row)] = sheet.row_of(v.area)
            cols[(v.sheet, col)] = column.col
    for e in submission.explanations:
        name = sheets.get(e.sheet)
        if name is None:
            continue
        sheet = layout.sheet(name)
        with contextlib.suppress(KeyError):
            fill[(name, str(xl_rowcol_to_cell(sheet.row_of(e.area), sheet.explanation_col)))] = (
                e.text
            )
    return Placement(fill, cells, sheets, rows, cols, _inputs(layout))


def _content(value: float | None, missing: str, original: str) -> object:
    """What goes back in a cell: the number read, else the code or the text as typed."""
    if value is not None and math.isfinite(value):
        number = float(value)
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    return missing or original or None


def _inputs(layout: Layout) -> frozenset[tuple[str, str]]:
    return frozenset((s.name, cell) for s in layout.sheets for _, _, cell in s.inputs())


def marks(
    findings: Iterable[Finding], where: Placement, messages: Mapping[Code, MessageText]
) -> dict[tuple[str, str], Mark]:
    """One coloured, commented cell per template cell holding findings (the worst one colours)."""
    grouped: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        target = where.place(f.location)
        if target is not None:
            grouped.setdefault(target, []).append(f)
    out: dict[tuple[str, str], Mark] = {}
    for target, group in grouped.items():
        worst = min(group, key=lambda f: _SEVERITY_RANK[f.severity]).severity
        notes = []
        for f in group:
            (t_en, t_km), (p_en, x_en, p_km, x_km) = _titles(f, messages), split_text(f, messages)
            notes.append(f"{t_en}: {p_en} {x_en}\n{t_km}: {p_km} {x_km}")
        comment = "\n\n".join(notes)
        if len(comment) > _COMMENT_LIMIT:
            comment = comment[: _COMMENT_LIMIT - 1] + _OMITTED
        out[target] = Mark(worst.value, comment)
    return out


# ---------------------------------------------------------------------------------------------
# Writing


class _Formats:
    """The cell formats of one feedback workbook."""

    def __init__(self, wb: Any) -> None:
        base = {"font_name": LATIN_FONT, "font_size": 10, "valign": "top", "text_wrap": True}
        km = {**base, "font_name": KHMER_FONT}
        self.title = wb.add_format({**base, "bold": True, "font_size": 14, "text_wrap": False})
        self.title_km = wb.add_format({**km, "bold": True, "font_size": 13, "text_wrap": False})
        self.label = wb.add_format({**base, "bold": True})
        self.label_km = wb.add_format({**km, "bold": True})
        self.text = wb.add_format(base)
        self.text_km = wb.add_format(km)
        self.number = wb.add_format({**base, "align": "left"})
        self.head = wb.add_format({**base, "bold": True, "bg_color": "#D9E1F2", "border": 1})
        self.cell = wb.add_format({**base, "border": 1})
        self.cell_km = wb.add_format({**km, "border": 1})
        self.link = wb.add_format({**base, "border": 1, "font_color": "#0563C1", "underline": 1})
        self.explain = wb.add_format({**base, "border": 1, "bg_color": "#E2EFDA", "locked": False})
        self.status = {
            c: wb.add_format({**base, "bold": True, "bg_color": c, "border": 1})
            for c in (_GREEN, _AMBER, _RED)
        }
        self.status_km = {
            c: wb.add_format({**km, "bold": True, "bg_color": c, "border": 1})
            for c in (_GREEN, _AMBER, _RED)
        }
        self.severity = {
            s: wb.add_format({**base, "border": 1, "bg_color": c})
            for s, c in _SEVERITY_COLOUR.items()
        }


class _Rows:
    """A bilingual two-column form: label and value in English, then label and value in Khmer."""

    def __init__(self, ws: Any, fmt: _Formats) -> None:
        self.ws, self.fmt, self.r = ws, fmt, 0

    def title(self, term: Term) -> None:
        self.ws.write_string(self.r, 0, term.en, self.fmt.title)
        self.ws.write_string(self.r, 2, term.km, self.fmt.title_km)
        self.r += 2

    def sentence(self, term: Term) -> None:
        self.ws.write_string(self.r, 1, term.en, self.fmt.text)
        self.ws.write_string(self.r, 3, term.km, self.fmt.text_km)
        self._tall(term.en, term.km)
        self.r += 2

    def _tall(self, en: str, km: str) -> None:
        """Make the row tall enough for its wrapped text; spreadsheets do not do it for us."""
        lines = max(-(-len(en) // 58), -(-len(km) // 40), 1)
        if lines > 1:
            self.ws.set_row(self.r, 15 * lines + 3)

    def pair(self, term: Term, en: str, km: str | None = None, colour: str | None = None) -> None:
        value_en = self.fmt.status[colour] if colour else self.fmt.text
        value_km = self.fmt.status_km[colour] if colour else self.fmt.text_km
        self.ws.write_string(self.r, 0, term.en, self.fmt.label)
        self.ws.write_string(self.r, 1, en, value_en)
        self.ws.write_string(self.r, 2, term.km, self.fmt.label_km)
        self.ws.write_string(self.r, 3, en if km is None else km, value_km)
        self._tall(en, en if km is None else km)
        self.r += 1

    def number(self, term: Term, n: int) -> None:
        self.ws.write_string(self.r, 0, term.en, self.fmt.label)
        self.ws.write_number(self.r, 1, n, self.fmt.number)
        self.ws.write_string(self.r, 2, term.km, self.fmt.label_km)
        self.ws.write_number(self.r, 3, n, self.fmt.number)
        self.r += 1

    def table(self, heads: list[Term], rows: Iterable[list[str]], km_cols: frozenset[int]) -> None:
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
    wb: Any, fmt: _Formats, result: FileResult, catalogue: Catalogue, name: str, copy: bool
) -> None:
    ws = wb.add_worksheet(name)
    ws.activate()
    ws.set_first_sheet()
    ws.set_landscape()
    ws.fit_to_pages(1, 0)  # English and Khmer side by side on one printed page
    for c, width in enumerate((26, 60, 26, 60)):
        ws.set_column(c, c, width)
    t, rows = catalogue.term, _Rows(ws, fmt)
    status = _status_text(catalogue, result.status)
    no_content = result.status in _NO_CONTENT
    rows.title(t("title_feedback"))
    if copy:
        rows.sentence(t("feedback_intro"))
    elif not no_content and not result.findings:
        rows.sentence(t("no_findings"))
    colour = _STATUS_COLOUR.get(result.status, _RED)
    rows.pair(t("status"), status.label_en, status.label_km, colour)
    reason = _safe_reason(result, catalogue.messages) if no_content else None
    if reason is not None:
        p_en, x_en, p_km, x_km = split_text(reason, catalogue.messages)
        rows.pair(t("problem"), p_en, p_km)
        # the reason's own fix says what to send instead; the status's action is the fallback
        rows.pair(t("what_to_do"), x_en or status.action_en, x_km or status.action_km)
    else:
        if result.reason is not None and result.reason in catalogue.messages:
            text = catalogue.messages[result.reason]
            rows.pair(t("problem"), text.title_en, text.title_km)
        rows.pair(t("what_to_do"), status.action_en, status.action_km)
    if result.due:
        rows.pair(t("due_date"), result.due)
    if result.days_late:
        rows.number(t("days_late"), result.days_late)
    rows.r += 1
    rows.pair(t("file"), result.file)
    if result.received_at:
        rows.pair(t("date_received"), result.received_at)
    rows.pair(t("sha256"), result.sha256[:12])
    ministry = catalogue.ministries.get(result.ministry)
    if ministry is not None:
        rows.pair(t("ministry"), f"{ministry.name_en} ({ministry.code})", ministry.name_km)
    elif result.ministry and not no_content:
        rows.pair(t("ministry"), result.ministry)
    if result.period and (not no_content or _PERIOD.match(result.period)):
        rows.pair(t("period"), result.period)
    if not no_content:
        rows.r += 1
        n = counts(result)
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
    if result.fixed:
        rows.number(t("fixed"), len(result.fixed))
        heads = [t("sheet"), t("cell"), t("problem"), t("problem")]
        fixed = (
            [f.location.sheet, f.location.cell, *_titles(f, catalogue.messages)]
            for f in result.fixed
        )
        rows.table(heads, fixed, frozenset({3}))


_FINDING_HEADS = (
    "severity",
    "sheet",
    "cell",
    "seen",
    "problem",
    "what_to_do",
    "problem",
    "what_to_do",
    "rule",
    "explanation",
)


def _findings_sheet(
    wb: Any,
    fmt: _Formats,
    result: FileResult,
    catalogue: Catalogue,
    name: str,
    where: Placement | None,
) -> None:
    ws = wb.add_worksheet(name)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    widths = (16, 18, 9, 14, 45, 45, 45, 45, 14, 40)
    for c, width in enumerate(widths):
        ws.set_column(c, c, width)
    for c, key in enumerate(_FINDING_HEADS):
        term = catalogue.term(key)
        lang = " (EN)" if c in (4, 5) else " (KM)" if c in (6, 7) else ""
        ws.write_string(0, c, f"{term.en}{lang}\n{term.km}", fmt.head)
    ws.set_row(0, 42)
    ws.freeze_panes(1, 0)
    for r, f in enumerate(result.findings, start=1):
        sev = catalogue.term(f.severity.value)
        ws.write_string(r, 0, f"{sev.en} / {sev.km}", fmt.severity[f.severity.value])
        target = where.place(f.location) if where is not None else None
        if target is not None:
            sheet, cell = target
            ws.write_string(r, 1, sheet, fmt.cell)
            link = "internal:'" + sheet.replace("'", "''") + "'!" + cell
            ws.write_url(r, 2, link, fmt.link, cell)
        else:
            _text(ws, r, 1, f.location.sheet, fmt.cell)
            _text(ws, r, 2, f.location.cell, fmt.cell)
        _text(ws, r, 3, f.seen, fmt.cell)
        p_en, x_en, p_km, x_km = split_text(f, catalogue.messages)
        ws.write_string(r, 4, p_en, fmt.cell)
        ws.write_string(r, 5, x_en, fmt.cell)
        ws.write_string(r, 6, p_km, fmt.cell_km)
        ws.write_string(r, 7, x_km, fmt.cell_km)
        lines = max(-(-len(p_en) // 42), -(-len(x_en) // 42), -(-max(len(p_km), len(x_km)) // 30))
        ws.set_row(r, 15 * max(lines, 1) + 3)  # wrapped text needs a row tall enough for it
        _text(ws, r, 8, f.rule, fmt.cell)
        explanation = f.params.get("explanation", "")
        if explanation:
            ws.write_string(r, FINDINGS_EXPLANATION_COL, explanation, fmt.explain)
        elif f.severity == Severity.WARNING:
            ws.write_blank(r, FINDINGS_EXPLANATION_COL, None, fmt.explain)
    if result.findings:
        ws.autofilter(0, 0, len(result.findings), len(_FINDING_HEADS) - 1)
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


def _front_sheets(
    result: FileResult, catalogue: Catalogue, taken: Iterable[str], where: Placement | None
) -> Callable[[Any], None]:
    """The sheets a feedback workbook opens with: Summary, then Findings when content was read."""
    names = {n.casefold() for n in taken}
    summary = _free_name(SUMMARY_SHEET, names)
    findings = _free_name(FINDINGS_SHEET, names | {summary.casefold()})

    def add(wb: Any) -> None:
        fmt = _Formats(wb)
        _summary_sheet(wb, fmt, result, catalogue, summary, where is not None)
        if result.status not in _NO_CONTENT:
            _findings_sheet(wb, fmt, result, catalogue, findings, where)

    return add


def _free_name(wanted: str, taken: set[str]) -> str:
    for n in itertools.count(1):
        name = wanted if n == 1 else f"{wanted} ({n})"
        if name.casefold() not in taken:
            return name
    raise AssertionError("unreachable")  # pragma: no cover


RECEIPTS = ".receipts"


def _receipt_key(result: FileResult) -> str:
    return f"{result.sha256}|{result.file}"


def _receipts(out_dir: Path) -> dict[str, str]:
    """Which feedback file each receipt got: one line per write, the last one counts.

    Appending a line is cheap however long the outbox grows; a line cut short by a crash is
    simply not read.
    """
    try:
        text = (out_dir / RECEIPTS).read_text(encoding="utf-8")
    except OSError:
        return {}
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, tab, name = line.partition("\t")
        if tab and name.endswith(SUFFIX):
            out[key] = name
    return out


def existing_feedback(out_dir: Path, result: FileResult) -> Path | None:
    """The feedback already written for this very receipt (same bytes, same name), if any.

    A run that was interrupted and run again, or an inbox run twice, then finds the feedback it
    wrote before instead of writing a second one.
    """
    name = _receipts(out_dir).get(_receipt_key(result))
    path = out_dir / name if name else None
    return path if path is not None and path.is_file() else None


def _remember(out_dir: Path, result: FileResult, path: Path) -> None:
    with (out_dir / RECEIPTS).open("a", encoding="utf-8") as handle:
        handle.write(f"{_receipt_key(result)}\t{path.name}\n")


def write_feedback(
    out_dir: Path,
    result: FileResult,
    catalogue: Catalogue,
    submission: Submission | None = None,
) -> Path:
    """Write the feedback workbook for one file received and return its path.

    A new receipt gets a new name that never overwrites another file's feedback; the same
    receipt checked again (after an interrupted run) gets its own earlier name back.
    """
    earlier = existing_feedback(out_dir, result) if result.sha256 else None
    path = earlier if earlier is not None else feedback_path(out_dir, result.file)
    final, path = path, path.with_name(path.name + ".partial")
    try:
        read = submission is not None and result.status not in _NO_CONTENT
        at_cells = any(f.location.cell for f in result.findings)
        where = placement(submission) if read and at_cells and submission is not None else None
        marked = marks(result.findings, where, catalogue.messages) if where is not None else {}
        if submission is not None and where is not None and marked:
            layout = submission.layout
            front = _front_sheets(result, catalogue, (s.name for s in layout.sheets), where)
            write_template(
                path,
                catalogue,
                layout,
                submission.identity,
                fill=where.fill,
                marks=marked,
                before=front,
            )
        else:
            wb = new_workbook(path)
            try:
                _front_sheets(result, catalogue, (), None)(wb)
            finally:
                wb.close()
    except BaseException:
        path.unlink(missing_ok=True)
        if earlier is None:
            final.unlink(missing_ok=True)  # the reserved name must not stay behind empty
        raise
    path.replace(final)  # a feedback workbook appears whole, or not at all
    if result.sha256:
        _remember(out_dir, result, final)
    return final


# ---------------------------------------------------------------------------------------------
# The run summary


def _attention_first(report: RunReport) -> list[FileResult]:
    return sorted(report.files, key=lambda f: f.status.ok)  # stable: receipt order within


_RUN_HEADS = (
    ("file", 36),
    ("status", 24),
    ("status", 24),
    ("problem", 30),
    ("ministry", 12),
    ("period", 10),
    ("errors_count", 10),
    ("warnings_count", 10),
    ("days_late", 9),
    ("sheet_feedback", 48),
)


def write_run_summary(run_dir: Path, report: RunReport, catalogue: Catalogue) -> tuple[Path, Path]:
    """Write summary.xlsx (files needing attention first, then totals) and summary.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    xlsx, data = run_dir / "summary.xlsx", run_dir / "summary.json"
    t = catalogue.term
    wb = new_workbook(xlsx)
    try:
        fmt = _Formats(wb)
        ws = wb.add_worksheet(SUMMARY_SHEET)
        ws.write_string(0, 0, t("title_run_summary").en, fmt.title)
        ws.write_string(0, 3, t("title_run_summary").km, fmt.title_km)
        ws.write_string(1, 0, f"{report.run_id}  {report.started} – {report.finished}", fmt.text)
        for c, (key, width) in enumerate(_RUN_HEADS):
            ws.set_column(c, c, width)
            ws.write_string(3, c, f"{t(key).en}\n{t(key).km}", fmt.head)
        ws.set_row(3, 32)
        ws.freeze_panes(4, 1)
        r = 3
        for r, f in enumerate(_attention_first(report), start=4):
            _summary_row(ws, fmt, r, f, catalogue)
        if report.files:
            ws.autofilter(3, 0, r, len(_RUN_HEADS) - 1)
        r += 1
        for status in Status:
            n = report.totals.get(status.value, 0)
            if n:
                r += 1
                text, colour = _status_text(catalogue, status), _STATUS_COLOUR.get(status, _RED)
                ws.write_string(r, 0, text.label_en, fmt.status[colour])
                ws.write_string(r, 1, text.label_km, fmt.status_km[colour])
                ws.write_number(r, 2, n, fmt.cell)
        ws.write_string(r + 1, 0, t("total").en, fmt.label)
        ws.write_string(r + 1, 1, t("total").km, fmt.label_km)
        ws.write_number(r + 1, 2, len(report.files), fmt.cell)
    finally:
        wb.close()
    tmp = data.with_name(data.name + ".tmp")
    tmp.write_text(
        json.dumps(report.to_dict(catalogue.messages), ensure_ascii=False, indent=2),
        encoding="utf-8",
    )
    tmp.replace(data)
    return xlsx, data


def _summary_row(ws: Any, fmt: _Formats, r: int, f: FileResult, catalogue: Catalogue) -> None:
    status = _status_text(catalogue, f.status)
    colour = _STATUS_COLOUR.get(f.status, _RED)
    reason = catalogue.messages.get(f.reason) if f.reason else None
    n = counts(f)
    ws.write_string(r, 0, f.file, fmt.cell)
    ws.write_string(r, 1, status.label_en, fmt.status[colour])
    ws.write_string(r, 2, status.label_km, fmt.status_km[colour])
    ws.write_string(r, 3, reason.title_en if reason else "", fmt.cell)
    ws.write_string(r, 4, f.ministry, fmt.cell)
    ws.write_string(r, 5, f.period, fmt.cell)
    ws.write_number(r, 6, n["error"], fmt.cell)
    ws.write_number(r, 7, n["warning"], fmt.cell)
    if f.days_late:
        ws.write_number(r, 8, f.days_late, fmt.cell)
    else:
        ws.write_blank(r, 8, None, fmt.cell)
    ws.write_string(r, 9, f.feedback or "", fmt.cell)
