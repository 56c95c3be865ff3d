"""Validation: catalogue rules compiled to pandera schemas, each failure a finding at its cell.

One ``DataFrameSchema`` per template layout (cached), with one ``Check`` per catalogue rule
named by the rule's id. A return's rules are judged in one lazy ``validate``, so pandera collects
every rule's failures in its ``failure_cases``; each failing row is mapped back to its (sheet,
cell) through the layout, and pandera's own words never reach a user.
Change rules compare with the province's history in the store, in plain Python; continuity,
share and reference rules (``plausible``) are one named pandera check each.
"""

from __future__ import annotations

from collections.abc import Sequence

from cpxl.catalogue import Catalogue
from cpxl.findings import Finding, Stored
from cpxl.reading import Submission
from cpxl.validation.change import MAD_FLOOR, change_findings
from cpxl.validation.located import (
    cell_findings,
    compare_finding,
    compare_findings,
    other_values,
    sum_finding,
)
from cpxl.validation.order import PER_COLUMN, PER_SHEET, cap, finish
from cpxl.validation.plausible import check_over_time, check_references, history_elements
from cpxl.validation.tables import (
    Compiled,
    Wide,
    compile_layout,
    failures,
    judgements,
    place,
    ref_key,
    rule_refs,
    wide,
)

__all__ = [
    "MAD_FLOOR",
    "PER_COLUMN",
    "PER_SHEET",
    "Compiled",
    "Wide",
    "cap",
    "check_against_store",
    "check_alone",
    "compile_layout",
    "finish",
    "history_elements",
    "ref_key",
    "validate",
    "wide",
]


def validate(
    submission: Submission,
    catalogue: Catalogue,
    history: Sequence[Stored] = (),
) -> tuple[Finding, ...]:
    """Every finding for a return: reading, rules alone, and rules against the store.

    ``history`` is what the store holds for other periods and ministries (element, period,
    area, dimension, option, value,
    missing, ministry); cross-workbook compare rules use its rows for this period, change rules
    its earlier periods.
    """
    found = [
        *submission.findings,
        *check_alone(submission, catalogue),
        *check_against_store(submission, catalogue, history),
    ]
    return finish(found, submission.explanations)


def check_alone(submission: Submission, catalogue: Catalogue) -> list[Finding]:
    """Type, range, required, sum and compare rules a return can answer by itself."""
    compiled = compile_layout(catalogue, submission.layout)
    placed = place(submission.values)
    w = placed.wide
    judged = judgements(submission, catalogue, compiled, placed)
    out: list[Finding] = []
    file = submission.file
    for number, row in failures(compiled.alone, judged.table):
        at = int(judged.subject[row])
        if number < compiled.first_sum:
            name = str(compiled.alone.checks[number].name)
            out.extend(cell_findings(compiled, name, submission.values[at], file))
        elif number < compiled.first_compare:
            area, group = judged.sums[at]
            out.append(sum_finding(group, area, w, file))
        else:
            area, rule = judged.compares[at]
            out.append(compare_finding(rule, area, w, file))
    out.extend(check_references(submission, catalogue, w))
    return out


def check_against_store(
    submission: Submission, catalogue: Catalogue, history: Sequence[Stored]
) -> list[Finding]:
    """Compare rules across ministries' returns; change, continuity and share over time.

    ``history`` holds the totals of :func:`history_elements` for earlier periods (at least
    the one before) and other ministries' figures named by compare rules for this period.
    """
    if not history:
        return []
    out: list[Finding] = []
    compiled = compile_layout(catalogue, submission.layout)
    others = other_values(submission, compiled, history)
    if compiled.cross and others:
        named = set().union(*(rule_refs(rule) for rule in compiled.cross))
        w = wide([*(v for v in submission.values if v.element in named), *others])
        own = {a.code for s in submission.layout.sheets for a in s.areas}
        w = w.only(own)
        out.extend(compare_findings(w, compiled.cross, compiled.cross_compares, submission.file))
    out.extend(change_findings(submission, catalogue, history))
    out.extend(check_over_time(submission, catalogue, history))
    return out
