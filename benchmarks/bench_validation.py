"""What validation adds to a typical return, and, apart, what reading it costs.

One clean return per ministry and period type of 2025 (every annual template, NCCT's 2025S1
and MOSVY's 2025Q1), written with the fast path. A store holds the three earlier years of
every ministry (recorded directly), so that cross-ministry compare rules and change rules have
history, as in a real run. Each step is timed --repeat times per return (medians):

- raw read (baseline): python-calamine, every sheet to Python values;
- guard: ``guard.inspect``; reading: ``reading.read_workbook``;
- validation alone: ``validation.check_alone`` (types, ranges, required, sums, compares);
- with the store: the query intake runs (``intake.deciding.before_for``: the totals of the
  return's change-checked elements for the three periods before, and other ministries'
  elements its compare rules name for its own period), then ``check_against_store``
  (cross-ministry compares, change rules) and ``finish``.

The first ``check_alone`` of each layout compiles its pandera schema (one named check per rule)
and works out where its cells go; that is reported apart (once per layout and worker process).
Target: validation adds at most 15 ms per return.

    .venv/bin/python benchmarks/bench_validation.py [--quick] [--repeat 20] [--profile]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from _shared import (
    catalogue,
    clean_values,
    fmt,
    issue,
    load_note,
    print_table,
    profile,
    ratio,
    record_world,
    save,
    stats,
    target,
    timed,
    timed_cpu,
    wait_for_quiet,
    write,
)

from cpxl.catalogue import parse_period
from cpxl.guard import inspect
from cpxl.intake.deciding import before_for
from cpxl.reading import Submission, read_workbook
from cpxl.store import Store
from cpxl.templates import read_register
from cpxl.validation import check_against_store, check_alone, finish

PERIODS = ("2025", "2025S1", "2025Q1")
HISTORY = ("2022", "2023", "2024", "2022S1", "2022S2", "2023S1", "2023S2", "2024S1", "2024S2")
HISTORY += tuple(f"{y}Q{q}" for y in (2022, 2023, 2024) for q in (1, 2, 3, 4))
ADDED_MS = 15.0
T = TypeVar("T")


def calamine_read(path: Path) -> None:
    """The baseline: open and read every sheet, nothing else."""
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    for name in wb.sheet_names:
        wb.get_sheet_by_name(name).to_python()


class _Steps:
    """Wall and CPU milliseconds of named steps."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}

    def run(self, key: str, fn: Callable[[], T]) -> T:
        out, wall, cpu = timed_cpu(fn)
        self.times.setdefault(key, []).append(wall)
        self.times.setdefault(f"{key}_cpu", []).append(cpu)
        return out


def measure(
    files: dict[str, Path], register: dict[str, Any], store: Store, repeat: int
) -> dict[str, dict[str, Any]]:
    """Every step on every return, ``repeat`` rounds over all returns.

    Rounds go over every return in turn, so that a burst of other work on the machine spreads
    over all returns instead of spoiling one.
    """
    cat = catalogue()
    steps = {name: _Steps() for name in files}
    first = {name: _Steps() for name in files}
    last: dict[str, tuple[Submission, tuple[Any, ...]]] = {}
    for i in range(repeat):
        for name, path in files.items():
            at = steps[name]
            at.run("raw_read", partial(calamine_read, path))
            seen = at.run("guard", partial(inspect, path))
            read = partial(read_workbook, path, cat, register=register, inspection=seen)
            sub = at.run("read", read)
            # The first check of a layout compiles its schemas (cached afterwards): kept apart.
            checking = first[name] if i == 0 else at
            alone = checking.run("check_alone", partial(check_alone, sub, cat))
            query = partial(before_for, store, cat, sub)
            history = at.run("history_query", query).history
            against = at.run("check_against_store", partial(check_against_store, sub, cat, history))
            everything = [*sub.findings, *alone, *against]
            last[name] = (sub, at.run("finish", partial(finish, everything, sub.explanations)))
    out: dict[str, dict[str, Any]] = {}
    for name in files:
        sub, found = last[name]
        out[name] = {k: stats(v) for k, v in steps[name].times.items()}
        out[name]["first_check_alone_ms"] = first[name].times["check_alone"][0]
        out[name]["cells"] = len(sub.values)
        out[name]["findings"] = sorted({f.code.value for f in found})
        out[name]["n_findings"] = len(found)
    return out


def report(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Print the tables; return the headline numbers."""
    med = {
        name: {k: v["median"] for k, v in r.items() if isinstance(v, dict)}
        for name, r in results.items()
    }
    rows = []
    for name, m in med.items():
        validation = m["check_alone"] + m["check_against_store"] + m["finish"]
        r = results[name]
        rows.append(
            [
                name,
                r["cells"],
                fmt(m["raw_read"]),
                fmt(m["guard"]),
                fmt(m["read"]),
                fmt(m["check_alone"]),
                fmt(m["history_query"]),
                fmt(m["check_against_store"]),
                fmt(validation),
                fmt(r["first_check_alone_ms"]),
                f"{r['n_findings']} {','.join(r['findings'])}",
            ]
        )
    print_table(
        "per return, medians in ms",
        [
            "return",
            "cells",
            "raw read",
            "guard",
            "read",
            "alone",
            "history query",
            "vs store",
            "validation",
            "compile (1st)",
            "findings",
        ],
        rows,
    )

    def over(key: str) -> float:
        return statistics.median(m[key] for m in med.values())

    def validation(m: dict[str, float], cpu: str = "", query: bool = False) -> float:
        parts = ["check_alone", "check_against_store", "finish"] + (
            ["history_query"] if query else []
        )
        return sum(m[p + cpu] for p in parts)

    largest = max(results, key=lambda n: results[n]["cells"])
    big = med[largest]
    headline: dict[str, Any] = {"largest": largest}
    lines = []
    for label, get, limit in (
        ("raw calamine read (baseline)", lambda m, c: m["raw_read" + c], None),
        ("guard.inspect", lambda m, c: m["guard" + c], None),
        ("read_workbook", lambda m, c: m["read" + c], None),
        ("validation alone (check_alone)", lambda m, c: m["check_alone" + c], ADDED_MS),
        ("validation (alone + vs store + finish)", lambda m, c: validation(m, c), ADDED_MS),
        ("  + the history query", lambda m, c: validation(m, c, query=True), None),
        (f"largest ({largest}): read", None, None),
        (f"largest ({largest}): validation", None, ADDED_MS),
    ):
        if get is None:
            key = "read" if label.endswith("read") else None
            wall = big["read"] if key else validation(big)
            cpu = big["read_cpu"] if key else validation(big, "_cpu")
        else:
            wall = statistics.median(get(m, "") for m in med.values())
            cpu = statistics.median(get(m, "_cpu") for m in med.values())
        headline[label.strip()] = {"wall_ms": wall, "cpu_ms": cpu}
        lines.append([label, fmt(wall), fmt(cpu), target(wall, limit) if limit else ""])
    headline["read/raw_read"] = ratio(over("read"), over("raw_read"))
    lines.insert(3, ["  read / raw read", fmt(headline["read/raw_read"]) + "x", "", ""])
    print_table(
        f"median over the {len(results)} returns",
        ["step", "median ms", "median CPU ms", "target"],
        lines,
    )
    return headline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 repeats instead of 20")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--profile", action="store_true", help="profile validation of every return")
    parser.add_argument("--wait", type=float, default=0, help="wait up to S s for a quiet machine")
    args = parser.parse_args()
    repeat = args.repeat or (5 if args.quick else 20)
    wait_for_quiet(1.0, args.wait)
    cat = catalogue()
    with tempfile.TemporaryDirectory(prefix="cpxl-bench-") as tmp:
        work = Path(tmp)
        identities = issue(cat, PERIODS, work / "templates")
        register: dict[str, Any] = dict(read_register(work / "templates"))
        store = Store.open(work / "history.sqlite")
        recorded, build_ms = timed(lambda: record_world(store, HISTORY))
        print(f"store: {recorded} earlier returns recorded in {build_ms / 1000:.1f} s")
        files = {}
        for p in PERIODS:
            for m in cat.reporting_ministries(parse_period(p)):
                name = f"{m} {p}"
                files[name] = write(
                    work / f"{m}_{p}.xlsx", m, p, identities[(m, p)], clean_values(m, p)
                )
        load1 = load_note("start")
        results = measure(files, register, store, repeat)
        if args.profile:

            def validate_all() -> None:
                for path in files.values():
                    sub = read_workbook(path, cat, register=register)
                    history = before_for(store, cat, sub).history
                    finish([*check_alone(sub, cat), *check_against_store(sub, cat, history)], ())

            profile(validate_all)
        store.close()
    headline = report(results)
    save(
        "bench_validation",
        {"repeat": repeat, "load_average_1min": load1, "headline": headline, "returns": results},
    )


if __name__ == "__main__":
    main()
