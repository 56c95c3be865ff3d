"""The run summary: one workbook and one JSON file per run, files needing attention first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cpxl.catalogue import Catalogue
from cpxl.feedback.sheets import RED, STATUS_COLOUR, SUMMARY_SHEET, Formats
from cpxl.feedback.words import status_text
from cpxl.findings import FileResult, RunReport, Status
from cpxl.templates import close_workbook, new_workbook, print_on_a4


def _attention_first(report: RunReport) -> list[FileResult]:
    return sorted(report.files, key=lambda f: f.status.ok)  # stable: receipt order within


# Narrow enough to print one page wide on A4 at 8 points or more (long names wrap).
_RUN_HEADS = (
    ("file", 30),
    ("status", 20),
    ("status", 20),
    ("problem", 26),
    ("ministry", 9),
    ("period", 8),
    ("errors_count", 8),
    ("warnings_count", 8),
    ("days_late", 7),
    ("sheet_feedback", 40),
)


def write_run_summary(run_dir: Path, report: RunReport, catalogue: Catalogue) -> tuple[Path, Path]:
    """Write summary.xlsx (totals, then the files, those needing attention first) and
    summary.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    xlsx, data = run_dir / "summary.xlsx", run_dir / "summary.json"
    t = catalogue.term
    wb = new_workbook(xlsx)
    try:
        fmt = Formats(wb)
        ws = wb.add_worksheet(SUMMARY_SHEET)
        ws.write_string(0, 0, t("title_run_summary").en, fmt.title)
        ws.write_string(0, 3, t("title_run_summary").km, fmt.title_km)
        ws.write_string(1, 0, f"{report.run_id}  {report.started} – {report.finished}", fmt.text)
        # The totals come first, so that they are on the first printed page however many
        # files the run had; the files follow, those needing attention first.
        r = 2
        for status in Status:
            n = report.totals.get(status.value, 0)
            if n:
                r += 1
                text, colour = status_text(catalogue, status), STATUS_COLOUR.get(status, RED)
                ws.write_string(r, 0, text.label.en, fmt.status[colour])
                ws.write_string(r, 1, text.label.km, fmt.status_km[colour])
                ws.write_number(r, 2, n, fmt.cell)
        r += 1
        ws.write_string(r, 0, t("total").en, fmt.label)
        ws.write_string(r, 1, t("total").km, fmt.label_km)
        ws.write_number(r, 2, len(report.files), fmt.cell)
        head = r + 2
        for c, (key, width) in enumerate(_RUN_HEADS):
            ws.set_column(c, c, width)
            ws.write_string(head, c, f"{t(key).en}\n{t(key).km}", fmt.head)
        # Wrapped headings need a row tall enough for them (Khmer takes more room per letter).
        ws.set_row(
            head,
            _tall(
                *((t(k).en, w) for k, w in _RUN_HEADS),
                *((t(k).km, w * 2 // 3) for k, w in _RUN_HEADS),
                lines_of=2,
            ),
        )
        print_on_a4(ws, [w for _, w in _RUN_HEADS], header=(head, head))
        r = head
        for r, f in enumerate(_attention_first(report), start=head + 1):
            _summary_row(ws, fmt, r, f, catalogue)
        if report.files:
            ws.autofilter(head, 0, r, len(_RUN_HEADS) - 1)
    finally:
        close_workbook(wb)
    tmp = data.with_name(data.name + ".tmp")
    tmp.write_text(
        json.dumps(report.to_dict(catalogue.messages), ensure_ascii=False, indent=2),
        encoding="utf-8",
    )
    tmp.replace(data)
    return xlsx, data


def _summary_row(ws: Any, fmt: Formats, r: int, f: FileResult, catalogue: Catalogue) -> None:
    status = status_text(catalogue, f.status)
    colour = STATUS_COLOUR.get(f.status, RED)
    reason = catalogue.messages.get(f.reason) if f.reason else None
    n = f.counts()
    ws.set_row(r, _tall((f.file, _RUN_HEADS[0][1]), (f.feedback or "", _RUN_HEADS[-1][1])))
    ws.write_string(r, 0, f.file, fmt.cell)
    ws.write_string(r, 1, status.label.en, fmt.status[colour])
    ws.write_string(r, 2, status.label.km, fmt.status_km[colour])
    ws.write_string(r, 3, reason.title.en if reason else "", fmt.cell)
    ws.write_string(r, 4, f.ministry, fmt.cell)
    ws.write_string(r, 5, f.period, fmt.cell)
    ws.write_number(r, 6, n["error"], fmt.cell)
    ws.write_number(r, 7, n["warning"], fmt.cell)
    if f.days_late:
        ws.write_number(r, 8, f.days_late, fmt.cell)
    else:
        ws.write_blank(r, 8, None, fmt.cell)
    ws.write_string(r, 9, f.feedback or "", fmt.cell)


def _tall(*texts: tuple[str, int], lines_of: int = 1) -> float:
    """The height of a row whose cells wrap: spreadsheets do not grow rows a program wrote.

    ``texts`` are (text, characters per line); ``lines_of`` how many texts share one cell.
    """
    lines = max((-(-len(text) // max(width, 1)) for text, width in texts), default=1)
    return 14.0 * max(1, lines) * lines_of + 4
