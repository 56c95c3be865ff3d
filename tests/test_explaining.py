"""Every warned cell is listed, and every one can be explained, however many there are.

Behaviours covered:
- a return with more than five warnings in one column lists each warned cell in its feedback
  workbook, every one with an open Explanation cell, and the store holds every warning;
- explaining each of them in the feedback workbook's Explanation column and sending it back
  makes the return accepted (not with warnings), and the store holds each as explained.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
from builders import SEED, catalogue, copy_in, layout, returned, workspace

from cpxl.findings import Code, Severity, Status
from cpxl.intake import run_inbox
from cpxl.simulate import plan
from cpxl.store import Store
from cpxl.templates import FINDINGS_SHEET, FindingsColumn
from cpxl.validation.order import PER_COLUMN

MOSVY = "MOSVY"
ELEMENT = "children_reintegrated"  # more reintegrated than in care or admitted: a warning


def _too_many_reintegrated(areas: int) -> dict[str, dict[str, object]]:
    """A hundred times the plausible figures for reintegration in the first ``areas`` rows."""
    lay = layout(MOSVY)
    values = dict(plan(catalogue(), lay, SEED))
    cells: dict[str, dict[str, object]] = {}
    for sheet in lay.sheets:
        for area in sheet.areas[:areas]:
            for column in sheet.columns:
                value = values.get((sheet.name, sheet.cell(area.code, column)))
                if column.element == ELEMENT and isinstance(value, int | float):
                    cells.setdefault(sheet.name, {})[sheet.cell(area.code, column)] = value * 100
    return cells


def test_every_warning_beyond_the_fifth_is_listed_explained_and_accepted(tmp_path: Path) -> None:
    """Thirteen warnings down one column are each listed with an Explanation cell; explaining
    every one in the feedback workbook and sending it back makes the return accepted."""
    ws = workspace(tmp_path)
    returned(ws, MOSVY, cells=_too_many_reintegrated(14))
    first = run_inbox(ws, workers=1)
    (result,) = first.files
    assert result.status == Status.ACCEPTED_WITH_WARNINGS
    warned = [f for f in result.findings if f.severity == Severity.WARNING]
    cells = sorted({f.location.cell for f in warned}, key=lambda c: int(c[1:]))
    assert len(cells) > PER_COLUMN
    assert {(f.code, f.location.cell[0]) for f in warned} == {(Code.COMPARE_FAILED, "U")}
    assert not [f for f in result.findings if f.code == Code.MORE_FINDINGS]
    assert result.counts()["warning"] == len(warned)
    with Store.open(ws.store_url(), create=False) as store:
        current = store.current(MOSVY, "2025")
        assert current is not None
        stored = store.findings_of(current.id)
    assert sorted(f.location.cell for f in stored if f.severity == Severity.WARNING) == sorted(
        f.location.cell for f in warned
    )

    assert result.feedback is not None
    feedback = Path(result.feedback)
    book = openpyxl.load_workbook(feedback)
    listed = book[FINDINGS_SHEET]
    open_cells = []
    for row in listed.iter_rows(min_row=2):
        if row[FindingsColumn.CELL].value in cells and row[0].value.startswith("Warning"):
            assert row[FindingsColumn.EXPLANATION].value is None  # open, waiting for the sender
            row[FindingsColumn.EXPLANATION].value = f"Checked {row[FindingsColumn.CELL].value}"
            open_cells.append(row[FindingsColumn.CELL].value)
    assert sorted(open_cells, key=lambda c: int(c[1:])) == cells
    book.save(feedback)
    for old in ws.inbox.iterdir():
        old.unlink()
    copy_in(ws, feedback, "MOSVY_2025_explained.xlsx")

    again = run_inbox(ws, workers=1)
    (second,) = again.files
    assert second.status == Status.ACCEPTED
    explained = [f for f in second.findings if f.code == Code.COMPARE_FAILED]
    assert sorted(
        (f.location.cell, f.severity, f.params["explanation"]) for f in explained
    ) == sorted((c, Severity.INFO, f"Checked {c}") for c in cells)
    with Store.open(ws.store_url(), create=False) as store:
        current = store.current(MOSVY, "2025")
        assert current is not None
        kept = store.findings_of(current.id)
    assert sorted(f.location.cell for f in kept if f.code == Code.COMPARE_FAILED) == sorted(cells)
