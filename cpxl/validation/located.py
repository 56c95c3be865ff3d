"""Pandera's failure cases turned into findings at the sender's own cells."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandera.pandas as pa

from cpxl.catalogue import Rule
from cpxl.findings import Code, Finding, Location, Stored, Value
from cpxl.numbers import format_number
from cpxl.reading import Submission
from cpxl.validation.tables import (
    Compiled,
    Group,
    Wide,
    compare_judgements,
    failures,
    judgement_table,
    ref_key,
    rule_refs,
    side_sums,
    within,
)


def compare_findings(
    w: Wide, rules: Sequence[Rule], schema: pa.DataFrameSchema, file: str
) -> list[Finding]:
    block, rows = compare_judgements(w, rules, 0)
    return [
        compare_finding(rows[row][1], rows[row][0], w, file)
        for _, row in failures(schema, judgement_table(*block))
    ]


def other_values(
    submission: Submission, compiled: Compiled, history: Sequence[Stored]
) -> list[Value]:
    """Stored values of other ministries' elements that this return's compare rules name."""
    own = {c.element for s in submission.layout.sheets for c in s.columns}
    needed: set[str] = set()
    for rule in compiled.cross:
        needed |= rule_refs(rule) - own
    if not needed:
        return []
    return [
        Value(h.element, h.area, h.dimension, h.option, _num(h.value), h.missing)
        for h in history
        if h.period == submission.period and h.element in needed
    ]


def _num(v: object) -> float | None:
    if v is None:
        return None
    x = float(v)  # type: ignore[arg-type]
    return None if math.isnan(x) else x


def cell_findings(compiled: Compiled, name: str, v: Value, file: str) -> list[Finding]:
    """One finding per bound of the rule this cell breaks (a required cell: its blank)."""
    rule = next(r for r in (*compiled.range_rules, compiled.required) if r and r.id == name)
    out = []
    for part, code in compiled.codes[name]:
        if code != Code.REQUIRED_BLANK and bool(within(rule, part, np.array([v.value]))[0]):
            continue
        seen = "" if code == Code.REQUIRED_BLANK or v.value is None else format_number(v.value)
        out.append(
            Finding.make(
                code,
                rule.severity,
                Location(file=file, sheet=v.sheet, cell=v.cell),
                rule=rule.id,
                seen=seen,
                min="" if rule.min is None else format_number(rule.min),
                max="" if rule.max is None else format_number(rule.max),
            )
        )
    return out


def sum_finding(group: Group, area: str, w: Wide, file: str) -> Finding:
    """One breakdown that disagrees with its total, in the template's own words and cells:
    "Male + Female (E10 + F10) = 140, but the Total (J10) is 148"."""
    one = w.only({area})
    part_sum = float(np.nansum([one.column(k)[0] for k in group.parts]))
    total = float(np.nan_to_num(one.column(group.total)[0]))
    placed = [
        (label, w.cells[(area, k)][1])
        for k, label in zip(group.parts, group.labels, strict=True)
        if (area, k) in w.cells
    ]
    sheet, cell = w.cells.get((area, group.total), ("", ""))
    return Finding.make(
        Code.SUM_MISMATCH,
        group.rule.severity,
        Location(file=file, sheet=sheet, cell=cell),
        rule=group.rule.id,
        seen=format_number(total),
        expected=format_number(part_sum),
        parts=format_number(part_sum),
        total=format_number(total),
        cells=", ".join([*(c for _, c in placed), cell] if cell else [c for _, c in placed]),
        part_cells=" + ".join(c for _, c in placed),
        parts_en=" + ".join(label[0] for label, _ in placed),
        parts_km=" + ".join(label[1] for label, _ in placed),
        total_en=group.total_label[0],
        total_km=group.total_label[1],
        difference=format_number(abs(part_sum - total)),
        dimension=group.dimension,
    )


def compare_finding(rule: Rule, area: str, w: Wide, file: str) -> Finding:
    assert rule.left is not None and rule.right is not None
    one = w.only({area})
    left = float(side_sums(rule.left, one)[0][0])
    right = float(side_sums(rule.right, one)[0][0])
    refs = [*rule.left.refs, *rule.right.refs]
    own = [w.cells[(area, ref_key(r))] for r in refs if (area, ref_key(r)) in w.cells]
    sheet, cell = own[0] if own else ("", "")
    return Finding.make(
        Code.COMPARE_FAILED,
        rule.severity,
        Location(file=file, sheet=sheet, cell=cell),
        rule=rule.id,
        seen=format_number(left),
        expected=f"{rule.op} {format_number(right)}",
        left=str(rule.left),
        right=str(rule.right),
        left_value=format_number(left),
        right_value=format_number(right),
        op=rule.op,
        area=area,
        cells=", ".join(c for s, c in own if s == sheet),
        detail_en=rule.message.en,
        detail_km=rule.message.km,
    )
