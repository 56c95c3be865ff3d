"""The findings as an official reads them: explained warnings kept, ordered, repeats grouped."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from cpxl.findings import Code, Finding, Location, Severity, cell_position, column_name
from cpxl.reading import Explanation

PER_COLUMN = 5
PER_SHEET = 200


def finish(findings: Sequence[Finding], explanations: Sequence[Explanation]) -> tuple[Finding, ...]:
    """Mark explained warnings, order the findings as an official reads them, cap repeats.

    A sum or compare that involves a cell which itself could not be read (or broke a cell
    rule) is left out: it cannot be judged until that cell is fixed, and saying so twice
    only confuses.
    """
    bad = {
        (f.location.sheet, f.location.cell)
        for f in findings
        if f.severity == Severity.ERROR and f.code not in _ROW_RULES and f.location.cell
    }
    kept: list[Finding] = []
    seen: set[tuple[Code, str, str, str]] = set()
    for f in findings:
        # A total that disagrees with two breakdowns (sex, age) is two findings at one cell.
        key = (f.code, f.location.sheet, f.location.cell, f.params.get("dimension", ""))
        if f.location.cell and key in seen:
            continue  # two rules saying the same thing of one cell: say it once
        if f.code in _ROW_RULES:
            cells = {c.strip() for c in f.params.get("cells", "").split(",") if c.strip()}
            if any((f.location.sheet, c) in bad for c in cells):
                continue
        seen.add(key)
        kept.append(f)
    return tuple(cap(sorted(_explain(kept, explanations), key=_order)))


_ROW_RULES = frozenset({Code.SUM_MISMATCH, Code.COMPARE_FAILED})


def _explain(findings: list[Finding], explanations: Sequence[Explanation]) -> list[Finding]:
    """A warning on a row whose Explanation cell is filled is kept, as explained information."""
    if not explanations:
        return findings
    by_row = {(e.sheet, _row_of(e.cell)): e.text for e in explanations}
    out: list[Finding] = []
    for f in findings:
        text = by_row.get((f.location.sheet, _row_of(f.location.cell)))
        if f.severity == Severity.WARNING and text:
            out.append(
                Finding(
                    f.code,
                    Severity.INFO,
                    f.location,
                    f.rule,
                    f.seen,
                    f.expected,
                    {**f.params, "explanation": text},
                )
            )
        else:
            out.append(f)
    return out


def _row_of(cell: str) -> str:
    at = cell_position(cell)
    return "" if at is None else str(at[0] + 1)


def _col_of(cell: str) -> str:
    at = cell_position(cell)
    return "" if at is None else column_name(at[1])


def _order(f: Finding) -> tuple[object, ...]:
    row = int(_row_of(f.location.cell) or 0)
    return (f.location.sheet, row, len(_col_of(f.location.cell)), _col_of(f.location.cell))


def cap(findings: Sequence[Finding]) -> list[Finding]:
    """Keep the first few errors and notes per column and code; group the rest into one finding.

    Grouping is for reading, never for hiding something the sender must act on alone: every
    warning (and every explained one) stays, each at its own cell, so that each can be
    explained; the group of errors counts them all and lists their cells.
    """
    seen: dict[tuple[str, Code, str], int] = defaultdict(int)
    per_sheet: dict[str, int] = defaultdict(int)
    extra: dict[tuple[str, Code, str], list[Finding]] = defaultdict(list)
    out: list[Finding] = []
    for f in findings:
        if _never_grouped(f):
            out.append(f)
            continue
        key = (f.location.sheet, f.code, _col_of(f.location.cell))
        seen[key] += 1
        if seen[key] > PER_COLUMN or per_sheet[f.location.sheet] >= PER_SHEET:
            extra[key].append(f)
            continue
        per_sheet[f.location.sheet] += 1
        out.append(f)
    for (sheet, code, column), rest in extra.items():
        first = rest[0]
        out.append(
            Finding.make(
                Code.MORE_FINDINGS,
                first.severity,
                Location(file=first.location.file, sheet=sheet, cell=first.location.cell),
                rule=first.rule,
                count=len(rest),
                column=column,
                of=code.value,
                cells=", ".join(x.location.cell for x in rest),
            )
        )
    return out


def _never_grouped(f: Finding) -> bool:
    """A warning, or a warning the sender explained: each needs (or got) its own answer."""
    return f.severity == Severity.WARNING or "explanation" in f.params
