"""How long the feedback workbook takes: a clean return's, and one with findings at cells.

For every ministry and period type of 2025 (as bench_validation), a clean return and the same
return with the typical mistakes of ``simulate.add_mistakes`` are written with the fast path,
checked once (``intake.check_file``) and given the status intake would give them without a
store. Then ``feedback.write_feedback`` is timed --repeat times for each: a clean return gets
a Summary only (target: 10 ms); one with findings gets a marked-up copy of its data sheets
(target: 60 ms). For the marked-up copy the parts are timed too: ``placement`` (sender cells to
template cells), ``marks`` (the bilingual comments) and the rest (writing the workbook).

Baseline: the naive feedback, openpyxl loading the return, colouring the cells with findings
and saving it.

    .venv/bin/python benchmarks/bench_feedback.py [--quick] [--repeat 20] [--profile]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from _shared import (
    catalogue,
    clean_values,
    fmt,
    issue,
    load_note,
    print_table,
    profile,
    ratio,
    result_of,
    save,
    stats,
    target,
    timed,
    timed_cpu,
    wait_for_quiet,
    with_mistakes,
    write,
)

from cpxl.catalogue import parse_period
from cpxl.feedback import marks, placement, write_feedback
from cpxl.findings import FileResult
from cpxl.intake import check_file
from cpxl.reading import Submission
from cpxl.templates import read_register

PERIODS = ("2025", "2025S1", "2025Q1")
CLEAN_MS, MARKED_MS = 10.0, 60.0


def naive_feedback(path: Path, result: FileResult, out: Path) -> None:
    """The baseline: openpyxl loads the return, colours the cells with findings, saves it."""
    import openpyxl
    from openpyxl.styles import PatternFill

    wb = openpyxl.load_workbook(path)
    red = PatternFill("solid", fgColor="FF9999")
    for f in result.findings:
        if f.location.sheet in wb.sheetnames and f.location.cell:
            wb[f.location.sheet][f.location.cell].fill = red
    wb.save(out)


@dataclass(frozen=True, slots=True)
class _Case:
    """One return, checked once, with what its feedback needs."""

    path: Path
    result: FileResult
    sub: Submission
    marked: int


def prepare(path: Path, register: dict[str, Any]) -> _Case:
    """Check a return once and give it the status intake would give it without a store."""
    cat = catalogue()
    checked = check_file(path, path.name, cat, register)
    result = result_of(path.name, checked)
    assert checked.submission is not None
    marked = marks(result.findings, placement(checked.submission), cat.messages)
    return _Case(path, result, checked.submission, len(marked))


def measure(cases: dict[str, _Case], out: Path, repeat: int) -> dict[str, dict[str, Any]]:
    """write_feedback (for a marked-up copy also its parts) and the baseline, in rounds.

    Rounds go over every return in turn, so that a burst of other work on the machine spreads
    over all returns instead of spoiling one.
    """
    cat = catalogue()
    times: dict[str, dict[str, list[float]]] = {name: {} for name in cases}

    def add(name: str, key: str, ms: float) -> None:
        times[name].setdefault(key, []).append(ms)

    for i in range(repeat):
        for name, c in cases.items():
            written, ms, cpu = timed_cpu(partial(write_feedback, out, c.result, cat, c.sub))
            add(name, "write_feedback", ms)
            add(name, "write_feedback_cpu", cpu)
            written.unlink()
            if c.marked:
                where, ms = timed(partial(placement, c.sub))
                add(name, "placement", ms)
                add(name, "marks", timed(partial(marks, c.result.findings, where, cat.messages))[1])
            naive = out / f"{name}-{i}.naive.xlsx"
            _, ms, cpu = timed_cpu(partial(naive_feedback, c.path, c.result, naive))
            add(name, "naive_openpyxl", ms)
            add(name, "naive_openpyxl_cpu", cpu)
    return {
        name: {
            "status": c.result.status.value,
            "findings": len(c.result.findings),
            "marked_cells": c.marked,
            "cells": len(c.sub.values),
            **{k: stats(v) for k, v in times[name].items()},
        }
        for name, c in cases.items()
    }


def report(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Print the tables; return the headline numbers."""
    rows = []
    for name, r in results.items():
        fb, nv = r["write_feedback"]["median"], r["naive_openpyxl"]["median"]
        parts = ("", "")
        if "placement" in r:
            parts = (fmt(r["placement"]["median"]), fmt(r["marks"]["median"]))
        rows.append(
            [
                name,
                r["status"],
                r["cells"],
                r["marked_cells"],
                fmt(fb),
                fmt(r["write_feedback"]["p90"]),
                fmt(r["write_feedback_cpu"]["median"]),
                *parts,
                fmt(nv),
                fmt(ratio(nv, fb)),
            ]
        )
    print_table(
        "write_feedback per return, medians in ms",
        [
            "return",
            "status",
            "cells",
            "marked",
            "feedback",
            "p90",
            "CPU",
            "placement",
            "marks",
            "naive openpyxl",
            "naive/cpxl x",
        ],
        rows,
    )
    headline: dict[str, Any] = {}
    table = []
    for label, kind, limit in (
        ("clean (Summary only)", "clean", CLEAN_MS),
        ("with findings (marked-up copy)", "marked", MARKED_MS),
    ):
        sel = [
            r
            for n, r in results.items()
            if n.endswith(kind) and (kind == "clean" or r["marked_cells"])
        ]
        if not sel:
            continue
        fb = statistics.median(r["write_feedback"]["median"] for r in sel)
        fb_cpu = statistics.median(r["write_feedback_cpu"]["median"] for r in sel)
        worst = max(r["write_feedback"]["median"] for r in sel)
        nv = statistics.median(r["naive_openpyxl"]["median"] for r in sel)
        nv_cpu = statistics.median(r["naive_openpyxl_cpu"]["median"] for r in sel)
        headline[kind] = {
            "returns": len(sel),
            "median_ms": fb,
            "median_cpu_ms": fb_cpu,
            "worst_ms": worst,
            "naive_median_ms": nv,
            "naive_median_cpu_ms": nv_cpu,
            "naive/cpxl": ratio(nv, fb),
            "naive/cpxl cpu": ratio(nv_cpu, fb_cpu),
        }
        table.append(
            [
                label,
                len(sel),
                fmt(fb),
                fmt(fb_cpu),
                target(fb, limit),
                fmt(worst),
                target(worst, limit),
                fmt(nv),
                fmt(ratio(nv, fb)),
                fmt(ratio(nv_cpu, fb_cpu)),
            ]
        )
    print_table(
        "median over returns",
        [
            "feedback",
            "returns",
            "median ms",
            "CPU ms",
            "target",
            "largest ms",
            "target",
            "naive ms",
            "naive/cpxl x",
            "CPU x",
        ],
        table,
    )
    return headline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 repeats instead of 20")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--profile", action="store_true", help="profile every feedback once")
    parser.add_argument("--wait", type=float, default=0, help="wait up to S s for a quiet machine")
    args = parser.parse_args()
    repeat = args.repeat or (5 if args.quick else 20)
    wait_for_quiet(1.0, args.wait)
    cat = catalogue()
    with tempfile.TemporaryDirectory(prefix="cpxl-bench-") as tmp:
        work = Path(tmp)
        identities = issue(cat, PERIODS, work / "templates")
        register: dict[str, Any] = dict(read_register(work / "templates"))
        files: dict[str, Path] = {}
        for p in PERIODS:
            for m in cat.reporting_ministries(parse_period(p)):
                ident = identities[(m, p)]
                files[f"{m} {p} clean"] = write(
                    work / f"{m}_{p}.xlsx", m, p, ident, clean_values(m, p)
                )
                values, made = with_mistakes(m, p, seed=1)
                if made:
                    files[f"{m} {p} marked"] = write(
                        work / f"{m}_{p}_mistakes.xlsx", m, p, ident, values
                    )
        out = work / "feedback"
        out.mkdir()
        load1 = load_note("start")
        cases = {name: prepare(path, register) for name, path in files.items()}
        results = measure(cases, out, repeat)
        if args.profile:

            def all_feedback() -> None:
                for _ in range(repeat):
                    for c in cases.values():
                        write_feedback(out / "profiled", c.result, cat, c.sub)

            profile(all_feedback)
    headline = report(results)
    save(
        "bench_feedback",
        {"repeat": repeat, "load_average_1min": load1, "headline": headline, "returns": results},
    )


if __name__ == "__main__":
    main()
