"""The marked-up copy: a return's values and findings placed on its template's own cells.

The sender's cells are mapped by keys (element, options, province), never by position, so
a moved or renamed sheet still comes back cleanly re-laid-out and marked.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cpxl.feedback.words import OMITTED, message_title, split_text
from cpxl.findings import (
    Code,
    Finding,
    Location,
    MessageText,
    Severity,
    cell_name,
    cell_position,
    worst,
)
from cpxl.templates import Layout, Mark, column_key

if TYPE_CHECKING:
    from cpxl.reading import Submission


_COMMENT_LIMIT = 2000


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
        at = cell_position(location.cell) if location.sheet else None
        if at is None:
            return None
        row, col = at
        direct = self.cells.get((location.sheet, cell_name(row, col)))
        if direct is not None:
            return direct
        sheet = self.sheets.get(location.sheet)
        r, c = self.rows.get((location.sheet, row)), self.cols.get((location.sheet, col))
        if sheet is None or r is None or c is None:
            return None
        target = (sheet, cell_name(r, c))
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
        at = cell_position(v.cell) if v.sheet else None
        if at is not None:
            row, col = at
            cells[(v.sheet, cell_name(row, col))] = target
            sheets.setdefault(v.sheet, sheet.name)
            rows[(v.sheet, row)] = sheet.row_of(v.area)
            cols[(v.sheet, col)] = column.col
    for e in submission.explanations:
        name = sheets.get(e.sheet)
        if name is None:
            continue
        sheet = layout.sheet(name)
        with contextlib.suppress(KeyError):
            fill[(name, cell_name(sheet.row_of(e.area), sheet.explanation_col))] = e.text
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
        colour = worst(group) or Severity.INFO  # a group is never empty
        notes = []
        for f in group:
            heading, (problem, fix) = message_title(f, messages), split_text(f, messages)
            notes.append(
                f"{heading.en}: {problem.en} {fix.en}\n{heading.km}: {problem.km} {fix.km}"
            )
        comment = "\n\n".join(notes)
        if len(comment) > _COMMENT_LIMIT:
            comment = comment[: _COMMENT_LIMIT - 1] + OMITTED
        out[target] = Mark(colour.value, comment)
    return out
