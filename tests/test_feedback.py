"""Feedback workbooks and run summaries, opened as the sender and the data officer open them.

Behaviours covered:
- a return with findings at cells comes back as a re-laid-out copy of its data sheets whose
  coloured cells are exactly the findings' cells, even where the sender renamed a sheet and
  inserted rows; each finding's link leads to its cell in that copy;
- the copy holds every value the sender entered at the template's own cell, and reads back as
  the same return (so it can be corrected and sent again);
- the Summary counts equal the findings; a resubmission lists changes, blanked cells and fixes;
- each warning leaves an empty, editable Explanation cell; the status is coloured;
- no output ever holds a formula or a link built from a sender's text;
- a clean return gets no data sheets; an unsafe or duplicate file gets only a Summary that never
  repeats the file's content;
- feedback files are named safely after the file received and never overwrite one another;
- the run summary lists files needing attention first and its JSON is the report's;
- LibreOffice opens a feedback workbook (when installed).
"""

from __future__ import annotations

import json
import shutil
import string
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell

from cpxl.catalogue import Catalogue, load, parse_period
from cpxl.feedback import feedback_path, write_feedback, write_run_summary
from cpxl.findings import (
    Change,
    Code,
    FileResult,
    Finding,
    Location,
    Params,
    RunReport,
    Severity,
    Status,
    Value,
)
from cpxl.reading import Explanation, Submission, read_workbook
from cpxl.templates import Identity, Layout, SheetLayout, build_layout

RULES = Path(__file__).resolve().parents[1] / "rules"
PERIOD = "2025"
RENAMED = "Data entered"  # the sender renamed the first data sheet ...
SHIFT = 2  # ... and inserted two rows above its provinces
LINK_TEXT = '=HYPERLINK("http://x","y")'
MARK_COLOURS = {"FFFF9999": "error", "FFFFD966": "warning", "FFBDD7EE": "info"}
SECRET = "SECRET-CELL-TEXT"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load(RULES)


def _layout(catalogue: Catalogue) -> Layout:
    """The first annual layout with two province sheets (the shape every test needs)."""
    for ministry in catalogue.reporting_ministries(parse_period(PERIOD)):
        layout = build_layout(catalogue, ministry, PERIOD)
        province_sheets = [s for s in layout.sheets if len(s.areas) > 10 and len(s.columns) > 3]
        if len(province_sheets) >= 2 and layout.sheets[0] is province_sheets[0]:
            return layout
    raise AssertionError("the catalogue has no ministry with two province sheets")


class Return:
    """A hand-built return: where the sender put each value, and findings at chosen cells."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.layout = _layout(catalogue)
        self.first, self.second = self.layout.sheets[0], self.layout.sheets[1]
        self.identity = Identity.of(self.layout, "2026-01-05T00:00:00Z")
        self.values: dict[tuple[str, str], Value] = {}  # template (sheet, cell) -> value
        for sheet in self.layout.sheets:
            for i, (area, column, cell) in enumerate(sheet.inputs()):
                self.values[(sheet.name, cell)] = Value(
                    column.element,
                    area.code,
                    column.dimension,
                    column.option,
                    float(i % 40),
                    "",
                    self.sender_sheet(sheet),
                    self.sender_cell(sheet, cell),
                    "",
                )

    def sender_sheet(self, sheet: SheetLayout) -> str:
        return RENAMED if sheet is self.first else sheet.name

    def sender_cell(self, sheet: SheetLayout, cell: str) -> str:
        row, col = xl_cell_to_rowcol(cell)
        return str(xl_rowcol_to_cell(row + (SHIFT if sheet is self.first else 0), col))

    def at(self, sheet: SheetLayout, area: int, column: int) -> tuple[str, str]:
        """The template (sheet, cell) of an area and column, by position."""
        return sheet.name, sheet.cell(sheet.areas[area].code, sheet.columns[column])

    def set(self, where: tuple[str, str], **changes: Any) -> Value:
        old = self.values[where]
        new = old._replace(**changes)
        self.values[where] = new
        return new

    def finding(
        self,
        code: Code,
        severity: Severity,
        where: tuple[str, str],
        rule: str = "",
        expected: str = "",
        **params: object,
    ) -> Finding:
        """A finding at the sender's own cell for a template cell, as the reader reports it."""
        v = self.values[where]
        loc = Location(file="ret.xlsx", sheet=v.sheet, cell=v.cell)
        texts = Params({k: str(x) for k, x in params.items()})
        return Finding(code, severity, loc, rule, v.original, expected, texts)

    def submission(self, explanations: tuple[Explanation, ...] = ()) -> Submission:
        return Submission(
            "ret.xlsx",
            self.identity,
            self.layout,
            tuple(self.values.values()),
            explanations,
            (),
            {self.first.name: RENAMED},
        )


class Marked:
    """A return with findings of every kind, and where each must land in the copy."""

    def __init__(self, catalogue: Catalogue) -> None:
        r = self.ret = Return(catalogue)
        first, second = r.first, r.second
        self.link_cell = r.at(first, 0, 0)
        self.sum_cell = r.at(first, 1, 1)
        r.set(self.link_cell, value=None, original=LINK_TEXT)
        r.set(self.sum_cell, value=None, original="=1+1")
        self.nc_cell = r.at(first, 2, 0)
        r.set(self.nc_cell, value=None, missing="NC", original="nc")
        self.blank_cell = r.at(first, 8, 0)
        r.set(self.blank_cell, value=None)
        self.khmer_cell = r.at(second, 3, 2)
        r.set(self.khmer_cell, value=12.0, original="១២")
        both = r.at(first, 4, len(first.columns) - 1)
        warn, explained, more = r.at(second, 5, 0), r.at(second, 6, 1), r.at(first, 7, 3)
        area6 = second.areas[6].code
        self.explanation_text = "=1+1 a flood closed two centres"
        self.explanation_cell = (
            second.name,
            str(xl_rowcol_to_cell(second.row_of(area6), second.explanation_col)),
        )
        self.explanations = (Explanation(second.name, "Z99", area6, self.explanation_text),)
        unknown_row = Location(file="ret.xlsx", sheet=RENAMED, cell="B90", row=90)
        self.findings = (
            Finding.make(
                Code.LATE_SUBMISSION,
                Severity.WARNING,
                Location("ret.xlsx"),
                days=3,
                due="2026-02-14",
            ),
            r.finding(Code.NOT_A_NUMBER, Severity.ERROR, self.link_cell),
            r.finding(Code.NOT_A_NUMBER, Severity.ERROR, self.sum_cell),
            r.finding(Code.REQUIRED_BLANK, Severity.ERROR, self.blank_cell, rule="REQ-all"),
            r.finding(Code.SUM_MISMATCH, Severity.ERROR, both, rule="SUM-x", parts=3, total=4),
            r.finding(Code.COMPARE_FAILED, Severity.WARNING, both, rule="CMP-x"),
            Finding.make(Code.UNKNOWN_ROW, Severity.ERROR, unknown_row, seen="99"),
            r.finding(Code.KHMER_DIGITS, Severity.INFO, self.khmer_cell, expected="12"),
            r.finding(Code.COMPARE_FAILED, Severity.WARNING, warn, rule="CMP-y"),
            r.finding(
                Code.COMPARE_FAILED,
                Severity.INFO,
                explained,
                rule="CMP-y",
                explanation=self.explanation_text,
            ),
            r.finding(Code.MORE_FINDINGS, Severity.ERROR, more, count=7, column="H"),
        )
        # where each finding lands in the copy (None: no cell there)
        self.targets = [
            None,
            self.link_cell,
            self.sum_cell,
            self.blank_cell,
            both,
            both,
            None,
            self.khmer_cell,
            warn,
            explained,
            more,
        ]
        self.colours = {
            self.link_cell: "error",
            self.sum_cell: "error",
            self.blank_cell: "error",
            both: "error",
            self.khmer_cell: "info",
            warn: "warning",
            explained: "info",
            more: "error",
        }
        self.submission = r.submission(self.explanations)
        self.result = FileResult(
            file="ret.xlsx",
            sha256="ab" * 32,
            status=Status.NEEDS_CORRECTION,
            reason=Code.NOT_A_NUMBER,
            ministry=r.layout.ministry,
            period=PERIOD,
            findings=self.findings,
            received_at="2026-02-17T09:00:00Z",
            days_late=3,
            due="2026-02-14",
        )


def _rows(ws: Any) -> list[tuple[Any, ...]]:
    return [tuple(c.value for c in row) for row in ws.iter_rows()]


def _form(ws: Any) -> dict[str, Any]:
    """A Summary sheet as {English label: English value}."""
    return {row[0]: row[1] for row in _rows(ws) if row and isinstance(row[0], str)}


def _no_formulas(path: Path) -> None:
    wb = openpyxl.load_workbook(path)
    formulas = [
        (ws.title, c.coordinate) for ws in wb for row in ws.iter_rows() for c in row
        if c.data_type == "f"
    ]  # fmt: skip
    assert formulas == []


def _marked_cells(path: Path, data_sheets: list[str]) -> dict[tuple[str, str], str]:
    wb = openpyxl.load_workbook(path)
    out: dict[tuple[str, str], str] = {}
    for name in data_sheets:
        for row in wb[name].iter_rows():
            for c in row:
                rgb = c.fill.fgColor.rgb if c.fill and c.fill.fill_type == "solid" else None
                if rgb in MARK_COLOURS:
                    out[(name, c.coordinate)] = MARK_COLOURS[rgb]
    return out


def test_marked_cells_are_exactly_the_findings_cells(catalogue: Catalogue, tmp_path: Path) -> None:
    """The copy colours exactly the cells with findings, at the template's own addresses."""
    case = Marked(catalogue)
    path = write_feedback(tmp_path, case.result, catalogue, case.submission)
    sheets = [s.name for s in case.ret.layout.sheets]
    assert openpyxl.load_workbook(path).sheetnames[: 2 + len(sheets)] == [
        "Summary",
        "Findings",
        *sheets,
    ]
    assert _marked_cells(path, sheets) == case.colours


def test_links_lead_to_each_findings_cell_in_the_copy(catalogue: Catalogue, tmp_path: Path) -> None:
    """Each finding's cell in the Findings sheet links to that cell in the copy, or is plain."""
    case = Marked(catalogue)
    path = write_feedback(tmp_path, case.result, catalogue, case.submission)
    ws = openpyxl.load_workbook(path)["Findings"]
    got = [
        (ws.cell(r, 3).hyperlink.location if ws.cell(r, 3).hyperlink else None, ws.cell(r, 3).value)
        for r in range(2, 2 + len(case.findings))
    ]
    expected = [
        (f"'{t[0]}'!{t[1]}", t[1]) if t else (None, f.location.cell or None)
        for f, t in zip(case.findings, case.targets, strict=True)
    ]
    assert got == expected
    assert ws.max_row == 1 + len(case.findings)


def test_warnings_leave_an_open_explanation_cell(catalogue: Catalogue, tmp_path: Path) -> None:
    """Each warning gets an empty, editable Explanation cell; an explained one shows its text."""
    case = Marked(catalogue)
    path = write_feedback(tmp_path, case.result, catalogue, case.submission)
    ws = openpyxl.load_workbook(path)["Findings"]
    got = [
        (f.severity, ws.cell(r, 10).value, ws.cell(r, 10).protection.locked)
        for r, f in enumerate(case.findings, start=2)
        if f.severity != Severity.ERROR
    ]
    assert got == [
        (Severity.WARNING, None, False),
        (Severity.WARNING, None, False),
        (Severity.INFO, None, True),
        (Severity.WARNING, None, False),
        (Severity.INFO, case.explanation_text, False),
    ]
    assert ws.protection.sheet is True


def test_summary_counts_equal_the_findings(catalogue: Catalogue, tmp_path: Path) -> None:
    """The Summary counts errors, warnings and notes, a grouped entry counting its cells."""
    case = Marked(catalogue)
    path = write_feedback(tmp_path, case.result, catalogue, case.submission)
    form = _form(openpyxl.load_workbook(path)["Summary"])
    t = catalogue.term
    status = catalogue.statuses[Status.NEEDS_CORRECTION]
    assert {k: form[t(k).en] for k in ("errors_count", "warnings_count", "info_count")} == {
        "errors_count": 4 + 1 + 7,  # four at cells, the unknown row, and 7 grouped in one entry
        "warnings_count": 3,
        "info_count": 2,
    }
    assert form[t("days_late").en] == 3
    assert form[t("status").en] == status.label.en
    assert form[t("what_to_do").en] == status.action.en
    assert form[t("due_date").en] == "2026-02-14"
    assert form[t("sha256").en] == "ab" * 6
    assert form[t("ministry").en].startswith(catalogue.ministries[case.ret.layout.ministry].name.en)


def test_copy_holds_what_the_sender_entered_and_reads_back(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    """The copy reads back as the same return: every value, code, text and explanation."""
    case = Marked(catalogue)
    path = write_feedback(tmp_path, case.result, catalogue, case.submission)
    again = read_workbook(path, catalogue)
    assert again.identity == case.ret.identity

    def shape(values: tuple[Value, ...]) -> dict[tuple[str, ...], tuple[Any, ...]]:
        return {v.key: (v.value, v.missing, v.original if v.value is None else "") for v in values}

    expected = shape(case.submission.values)
    expected[case.ret.values[case.nc_cell].key] = (None, "NC", "NC")
    assert shape(again.values) == expected
    assert [(e.sheet, e.area, e.text) for e in again.explanations] == [
        (case.explanation_cell[0], case.submission.explanations[0].area, case.explanation_text)
    ]
    wb = openpyxl.load_workbook(path)
    sheet, cell = case.explanation_cell
    assert wb[sheet][cell].value == case.explanation_text


def _unsafe(catalogue: Catalogue) -> list[tuple[FileResult, Submission | None]]:
    secret = Finding.make(
        Code.MACROS,
        Severity.ERROR,
        Location(file="evil.xlsm", sheet=SECRET, cell="A1"),
        seen=SECRET,
        ministry=SECRET,
        reason=SECRET,
    )
    dup = Finding.make(
        Code.DUPLICATE_FILE, Severity.INFO, Location(file="again.xlsx"), first="ret.xlsx"
    )
    case = Marked(catalogue)
    case.ret.set(case.link_cell, value=None, original=SECRET)
    return [
        (FileResult("evil.xlsm", "cd" * 32, Status.UNSAFE, Code.MACROS, findings=(secret,)), None),
        (
            FileResult(
                "again.xlsx",
                "ef" * 32,
                Status.DUPLICATE,
                Code.DUPLICATE_FILE,
                ministry=case.ret.layout.ministry,
                period=PERIOD,
                findings=(dup, *case.findings),
                first="ret.xlsx",
            ),
            case.ret.submission(),
        ),
    ]


def _expected_text(catalogue: Catalogue, code: Code, file: str, first: str) -> tuple[str, str]:
    """What the Summary says was wrong and what to send, with only cpxl's own values filled."""
    text = catalogue.messages[code]

    class Safe(dict[str, str]):
        def __missing__(self, key: str) -> str:
            return "…"

    values = Safe(file=file, first=first, previous="")
    fill = string.Formatter().vformat
    return fill(text.message.en, (), values).strip(), fill(text.fix.en, (), values).strip()


def test_unsafe_and_duplicate_files_get_a_summary_without_their_content(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    """An unsafe or duplicate file gets only a Summary of what was wrong, never its content."""
    t = catalogue.term
    for result, submission in _unsafe(catalogue):
        path = write_feedback(tmp_path, result, catalogue, submission)
        wb = openpyxl.load_workbook(path)
        assert wb.sheetnames == ["Summary"]
        texts = [str(v) for row in _rows(wb["Summary"]) for v in row if v is not None]
        assert [x for x in texts if SECRET in x or "HYPERLINK" in x] == []
        form = _form(wb["Summary"])
        assert result.reason is not None
        wrong, send = _expected_text(catalogue, result.reason, result.file, result.first)
        assert (form[t("problem").en], form[t("what_to_do").en]) == (wrong, send)
        assert form[t("file").en] == result.file
        _no_formulas(path)


def test_a_clean_return_gets_no_data_sheets(catalogue: Catalogue, tmp_path: Path) -> None:
    """A clean return's feedback is a Summary and an empty Findings sheet, nothing else."""
    ret = Return(catalogue)
    result = FileResult(
        "ret.xlsx",
        "01" * 32,
        Status.ACCEPTED,
        ministry=ret.layout.ministry,
        period=PERIOD,
        values_stored=len(ret.values),
    )
    path = write_feedback(tmp_path, result, catalogue, ret.submission())
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Summary", "Findings"]
    assert wb["Findings"].max_row == 1
    form = _form(wb["Summary"])
    t = catalogue.term
    keys = ("errors_count", "warnings_count", "info_count", "values_stored")
    assert [form[t(k).en] for k in keys] == [
        0,
        0,
        0,
        len(ret.values),
    ]


@pytest.mark.parametrize(
    ("status", "colour"),
    [
        (Status.ACCEPTED, "FFC6EFCE"),
        (Status.ACCEPTED_WITH_WARNINGS, "FFFFEB9C"),
        (Status.UNCHANGED, "FFFFEB9C"),
        (Status.NEEDS_CORRECTION, "FFFFC7CE"),
        (Status.PERIOD_CLOSED, "FFFFC7CE"),
    ],
)
def test_status_is_coloured(
    catalogue: Catalogue, tmp_path: Path, status: Status, colour: str
) -> None:
    """The status reads green when accepted, amber with warnings, red when it needs action."""
    result = FileResult("ret.xlsx", "01" * 32, status)
    ws = openpyxl.load_workbook(write_feedback(tmp_path, result, catalogue))["Summary"]
    cell = next(row[1] for row in ws.iter_rows() if row[0].value == catalogue.term("status").en)
    assert (cell.value, cell.fill.fgColor.rgb) == (catalogue.statuses[status].label.en, colour)


def test_a_resubmission_lists_changes_blanks_and_fixes(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    """A resubmission's Summary names the file it replaces, each change, blanked cell and fix."""
    ret = Return(catalogue)
    fixed = ret.finding(Code.NOT_A_NUMBER, Severity.ERROR, ret.at(ret.first, 0, 0))
    changes = (
        Change("Care", "E8", "children", "01", "5", "7"),
        Change("Care", "F9", "children", "02", "3", ""),
        Change("Care", "G10", "children", "03", LINK_TEXT, "4"),
    )
    result = FileResult(
        "ret-v2.xlsx",
        "02" * 32,
        Status.ACCEPTED,
        ministry=ret.layout.ministry,
        period=PERIOD,
        previous="ret.xlsx",
        changes=changes,
        fixed=(fixed,),
    )
    path = write_feedback(tmp_path, result, catalogue, ret.submission())
    rows = _rows(openpyxl.load_workbook(path)["Summary"])
    t = catalogue.term
    title = catalogue.messages[Code.NOT_A_NUMBER]
    assert _form(openpyxl.load_workbook(path)["Summary"])[t("replaces").en] == "ret.xlsx"
    assert [r[:4] for r in rows if r[0] == "Care"] == [
        ("Care", "E8", "5", "7"),
        ("Care", "F9", "3", ""),
        ("Care", "G10", LINK_TEXT, "4"),
        ("Care", "F9", "3", None),
    ]
    assert [r[:4] for r in rows if r[0] == RENAMED] == [
        (RENAMED, fixed.location.cell, title.title.en, title.title.km)
    ]
    _no_formulas(path)


def test_no_output_holds_a_formula(catalogue: Catalogue, tmp_path: Path) -> None:
    """A sender's "=HYPERLINK(...)" or "=1+1" stays visible text in every workbook written."""
    case = Marked(catalogue)
    path = write_feedback(tmp_path, case.result, catalogue, case.submission)
    _no_formulas(path)
    wb = openpyxl.load_workbook(path)
    for sheet, cell in (case.link_cell, case.sum_cell):
        assert (wb[sheet][cell].value, wb[sheet][cell].data_type) == (
            case.ret.values[(sheet, cell)].original,
            "s",
        )
    seen = [wb["Findings"].cell(r, 4).value for r in (3, 4)]
    assert seen == [LINK_TEXT, "=1+1"]
    odd = FileResult(LINK_TEXT, "03" * 32, Status.NEEDS_CORRECTION, findings=case.findings)
    _no_formulas(write_feedback(tmp_path, odd, catalogue))
    report = RunReport("run-1", "t0", "t1", (odd, case.result))
    xlsx, _ = write_run_summary(tmp_path / "run", report, catalogue)
    _no_formulas(xlsx)
    names = [c.value for c in openpyxl.load_workbook(xlsx)["Summary"]["A"]]
    assert LINK_TEXT in names  # written as the text it is


@pytest.mark.parametrize(
    ("received", "name"),
    [
        ("ret.xlsx", "ret.feedback.xlsx"),
        ("../x", "_x.feedback.xlsx"),
        ("a:b?.xlsx", "a_b_.feedback.xlsx"),
        ('C:\\in\\"r"<1>|*.xlsx', "C__in__r__1___.feedback.xlsx"),
        ("របាយការណ៍ ២០២៥.xlsx", "របាយការណ៍ ២០២៥.feedback.xlsx"),
        (".hidden.xlsx", "hidden.feedback.xlsx"),
        ("a\x00b\nc\u202eslx.xlsx", "abcslx.feedback.xlsx"),
        ("CON.xlsx", "_CON.feedback.xlsx"),
        ("...", "file.feedback.xlsx"),
        ("report.2025.ods", "report.2025.feedback.xlsx"),
    ],
)
def test_feedback_path_is_safe(tmp_path: Path, received: str, name: str) -> None:
    """A feedback file is named after the file received, with nothing a file system refuses."""
    path = feedback_path(tmp_path / "out", received)
    assert (path.parent, path.name) == (tmp_path / "out", name)


def test_feedback_path_caps_long_names(tmp_path: Path) -> None:
    """A very long Khmer name is cut to fit every file system, ending on a whole letter."""
    path = feedback_path(tmp_path, "ក្ក" * 200 + ".xlsx")
    assert len(path.name.encode("utf-8")) <= 255
    assert path.name.endswith("ក.feedback.xlsx")


def test_feedback_path_never_overwrites(catalogue: Catalogue, tmp_path: Path) -> None:
    """Feedback for a second file of the same name gets -2, -3, and the first stays as it was."""
    result = FileResult("ret.xlsx", "01" * 32, Status.ACCEPTED)
    first = write_feedback(tmp_path, result, catalogue)
    before = first.read_bytes()
    other = FileResult("ret.xlsx", "02" * 32, Status.ACCEPTED)  # another file, same name
    second = write_feedback(tmp_path, other, catalogue)
    third = feedback_path(tmp_path, "ret.xlsx")
    assert [p.name for p in (first, second, third)] == [
        "ret.feedback.xlsx",
        "ret-2.feedback.xlsx",
        "ret-3.feedback.xlsx",
    ]
    assert first.read_bytes() == before


def test_run_summary_puts_files_needing_attention_first(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    """The run summary opens with its totals, then lists files needing attention first; its
    JSON is the report."""
    case = Marked(catalogue)
    files = (
        FileResult("a.xlsx", "0a" * 32, Status.ACCEPTED, ministry="MOSVY", period=PERIOD),
        case.result,
        FileResult("b.xlsx", "0b" * 32, Status.DUPLICATE, Code.DUPLICATE_FILE, first="a.xlsx"),
        FileResult("c.xlsm", "0c" * 32, Status.UNSAFE, Code.MACROS),
    )
    report = RunReport("run-7", "2026-02-17T09:00:00Z", "2026-02-17T09:01:00Z", files)
    xlsx, data = write_run_summary(tmp_path / "runs" / "run-7", report, catalogue)
    assert json.loads(data.read_text(encoding="utf-8")) == json.loads(
        json.dumps(report.to_dict(catalogue.messages))
    )
    rows = _rows(openpyxl.load_workbook(xlsx)["Summary"])
    label = catalogue.statuses
    totals = [(r[0], r[2]) for r in rows[3:8]]
    assert totals == [
        (label[Status.ACCEPTED].label.en, 1),
        (label[Status.DUPLICATE].label.en, 1),
        (label[Status.NEEDS_CORRECTION].label.en, 1),
        (label[Status.UNSAFE].label.en, 1),
        (catalogue.term("total").en, 4),
    ]
    assert str(rows[9][0]).startswith(catalogue.term("file").en)
    assert [(r[0], r[1], r[6], r[7], r[8]) for r in rows[10:]] == [
        ("ret.xlsx", label[Status.NEEDS_CORRECTION].label.en, 12, 3, 3),
        ("c.xlsm", label[Status.UNSAFE].label.en, 0, 0, None),
        ("a.xlsx", label[Status.ACCEPTED].label.en, 0, 0, None),
        ("b.xlsx", label[Status.DUPLICATE].label.en, 0, 0, None),
    ]


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not on PATH")
def test_libreoffice_opens_a_feedback_workbook(catalogue: Catalogue, tmp_path: Path) -> None:
    """LibreOffice converts a marked-up feedback workbook, and the sender's text stays text."""
    case = Marked(catalogue)
    path = write_feedback(tmp_path / "fb", case.result, catalogue, case.submission)
    out = tmp_path / "converted"
    soffice = shutil.which("soffice")
    assert soffice is not None
    done = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(out),
            str(path),
        ],
        capture_output=True,
        timeout=300,
        check=False,
    )
    converted = out / path.name
    assert (done.returncode, converted.is_file()) == (0, True)
    sheet, cell = case.link_cell
    assert openpyxl.load_workbook(converted)[sheet][cell].value == LINK_TEXT
