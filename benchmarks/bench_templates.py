"""How long issuing a period's templates takes, and simulating the returns officials send back.

Times ``generate_templates`` for every reporting ministry of one period (default 2025: the
annual templates) into a fresh folder, --repeat times (target: under 2 s for all of them).
Then, per ministry, times the three steps of a simulated return: ``simulate.plan`` (the
values), ``simulate.fill_return`` (openpyxl types them into a copy of the issued template, as
a user's Excel edit would: the realistic path) and ``simulate.write_return`` (xlsxwriter
writes the filled workbook directly: the fast path the other benchmarks use).

    .venv/bin/python benchmarks/bench_templates.py [--quick] [--period 2025] [--repeat 10]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from _shared import (
    ISSUED_AT,
    catalogue,
    clock,
    fmt,
    issue,
    layout,
    load_note,
    print_table,
    profile,
    ratio,
    save,
    stats,
    target,
    timed,
    timed_cpu,
    wait_for_quiet,
)

from cpxl.catalogue import parse_period
from cpxl.simulate import fill_return, plan, write_return
from cpxl.templates import generate_templates

TEMPLATES_S = 2.0


def time_generation(period: str, work: Path, repeat: int) -> dict[str, Any]:
    """generate_templates for every ministry, ``repeat`` times, each into a new folder."""
    cat = catalogue()
    totals: list[float] = []
    cpu: list[float] = []
    each: dict[str, list[float]] = {}
    for i in range(repeat):
        stamps: list[tuple[str, float]] = []
        cpu_start = time.process_time()
        start = clock()
        generate_templates(
            cat,
            period,
            work / f"gen-{i}",
            issued_at=ISSUED_AT,
            on_progress=lambda m, done=stamps: done.append((m, clock())),
        )
        totals.append((clock() - start) * 1000)
        cpu.append((time.process_time() - cpu_start) * 1000)
        previous = start
        for ministry, at in stamps:
            each.setdefault(ministry, []).append((at - previous) * 1000)
            previous = at
    return {
        "total_ms": stats(totals),
        "total_cpu_ms": stats(cpu),
        "per_template_ms": {m: stats(v) for m, v in each.items()},
    }


def time_simulation(period: str, work: Path, repeat: int) -> dict[str, dict[str, Any]]:
    """plan, fill_return (openpyxl) and write_return (xlsxwriter) per ministry."""
    cat = catalogue()
    templates = work / "issued"
    identities = issue(cat, [period], templates)
    out: dict[str, dict[str, Any]] = {}
    for ministry in cat.reporting_ministries(parse_period(period)):
        lay = layout(ministry, period)
        identity = identities[(ministry, period)]
        template = templates / f"{ministry}_{period}.xlsx"
        plans, fills, writes, fills_cpu, writes_cpu = [], [], [], [], []
        values: dict[tuple[str, str], float | str] = {}
        for i in range(repeat):
            values, ms = timed(partial(plan, cat, lay, 0))
            plans.append(ms)
            filled = work / "filled" / f"{ministry}-{i}.xlsx"
            _, wall, cpu = timed_cpu(partial(fill_return, template, filled, values))
            fills.append(wall)
            fills_cpu.append(cpu)
            fast = work / "fast" / f"{ministry}-{i}.xlsx"
            _, wall, cpu = timed_cpu(partial(write_return, fast, cat, lay, identity, values))
            writes.append(wall)
            writes_cpu.append(cpu)
        out[ministry] = {
            "cells": len(values),
            "plan_ms": stats(plans),
            "fill_return_ms": stats(fills),
            "write_return_ms": stats(writes),
            "fill_return_cpu_ms": stats(fills_cpu),
            "write_return_cpu_ms": stats(writes_cpu),
        }
    return out


def report(period: str, gen: dict[str, Any], sim: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Print the tables; return the headline numbers."""
    total = gen["total_ms"]
    per = gen["per_template_ms"]
    print_table(
        f"generate_templates, period {period}: {len(per)} templates",
        ["what", "median ms", "p90 ms", "median CPU ms", "target"],
        [
            [
                "all templates",
                fmt(total["median"]),
                fmt(total["p90"]),
                fmt(gen["total_cpu_ms"]["median"]),
                target(total["median"], TEMPLATES_S * 1000),
            ]
        ]
        + [[f"  {m}", fmt(s["median"]), fmt(s["p90"]), "", ""] for m, s in per.items()],
    )
    rows = []
    for m, s in sim.items():
        f, w = s["fill_return_ms"]["median"], s["write_return_ms"]["median"]
        rows.append(
            [
                m,
                s["cells"],
                fmt(s["plan_ms"]["median"]),
                fmt(f),
                fmt(s["fill_return_ms"]["p90"]),
                fmt(w),
                fmt(s["write_return_ms"]["p90"]),
                fmt(ratio(f, w)),
                fmt(ratio(s["fill_return_cpu_ms"]["median"], s["write_return_cpu_ms"]["median"])),
            ]
        )
    plan_all = [s["plan_ms"]["median"] for s in sim.values()]
    fill_all = [s["fill_return_ms"]["median"] for s in sim.values()]
    write_all = [s["write_return_ms"]["median"] for s in sim.values()]
    headline = {
        "templates_total_ms": total["median"],
        "templates_total_cpu_ms": gen["total_cpu_ms"]["median"],
        "templates_per_template_ms": total["median"] / max(1, len(per)),
        "plan_median_of_ministries_ms": statistics.median(plan_all),
        "fill_return_median_of_ministries_ms": statistics.median(fill_all),
        "write_return_median_of_ministries_ms": statistics.median(write_all),
        "fill_return_one_period_ms": sum(fill_all),
        "write_return_one_period_ms": sum(write_all),
        "fill/write": ratio(sum(fill_all), sum(write_all)),
    }
    rows.append(
        [
            "all (median of ministries)",
            "",
            fmt(headline["plan_median_of_ministries_ms"]),
            fmt(headline["fill_return_median_of_ministries_ms"]),
            "",
            fmt(headline["write_return_median_of_ministries_ms"]),
            "",
            "",
            "",
        ]
    )
    rows.append(
        [
            "one return per ministry (sum)",
            "",
            fmt(sum(plan_all)),
            fmt(sum(fill_all)),
            "",
            fmt(sum(write_all)),
            "",
            fmt(headline["fill/write"]),
            "",
        ]
    )
    print_table(
        "simulated returns, per return (medians unless p90)",
        [
            "ministry",
            "cells",
            "plan ms",
            "openpyxl fill ms",
            "p90",
            "xlsxwriter ms",
            "p90",
            "fill/fast x",
            "CPU x",
        ],
        rows,
    )
    return headline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 10")
    parser.add_argument("--period", default="2025")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--profile", action="store_true", help="profile one generation")
    parser.add_argument("--wait", type=float, default=0, help="wait up to S s for a quiet machine")
    args = parser.parse_args()
    repeat = args.repeat or (3 if args.quick else 10)
    catalogue()  # loaded once, outside the timings
    wait_for_quiet(1.0, args.wait)
    load1 = load_note("start")
    with tempfile.TemporaryDirectory(prefix="cpxl-bench-") as tmp:
        work = Path(tmp)
        gen = time_generation(args.period, work, repeat)
        sim = time_simulation(args.period, work, repeat)
        if args.profile:
            profile(lambda: generate_templates(catalogue(), args.period, work / "profiled"))
    headline = report(args.period, gen, sim)
    save(
        "bench_templates",
        {
            "period": args.period,
            "repeat": repeat,
            "load_average_1min": load1,
            "headline": headline,
            "generate": gen,
            "simulate": sim,
        },
    )


if __name__ == "__main__":
    main()
