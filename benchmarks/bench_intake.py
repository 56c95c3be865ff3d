"""The headline: how fast an inbox of returns goes through cpxl, against naive pipelines.

Simulates N returns (default 1,000; --quick 100) across every ministry and every open period
(2020-2025; annual, semiannual and quarterly templates), written with the fast path
(``simulate.write_return``) and dated a few weeks before their due dates. About 10 % carry
the typical mistakes of ``simulate.add_mistakes``; once every (ministry, period) has a return,
later ones are clean corrected resubmissions (one province's figures of one element changed).
Then, side by side in one run:

(a) ``run_inbox(ws, workers=2)`` end to end (archive, guard, read, validate, store, feedback,
    run summary) in a fresh process per size, at N=100 and N: wall time, ms per return, and
    peak RSS of the parent and of the largest worker (getrusage SELF / CHILDREN);
(b) cpxl on one core, per return: ``check_file`` + ``write_feedback`` in this process, split
    into clean returns and returns whose feedback is a marked-up copy;
(c) a naive pipeline: ``openpyxl.load_workbook(data_only=True)``, read every input cell, colour
    the cells that are not numbers >= 0, save the workbook as the feedback;
(d) a raw python-calamine read: ``CalamineWorkbook.from_path`` + ``to_python`` of every sheet.

(b)-(d) run on the same sample of the inbox (--sample, default 200). Last, the guard is timed
on a 1 GiB zip bomb whose headers are honest and on one whose headers lie.

    .venv/bin/python benchmarks/bench_intake.py [--quick] [--count N] [--sample K] [--profile]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from _shared import (
    ROOT,
    catalogue,
    clean_values,
    clock,
    corrected,
    current_rss_mib,
    fmt,
    issue,
    layout,
    load_note,
    peak_rss_mib,
    periods,
    print_table,
    profile,
    ratio,
    result_of,
    save,
    set_received,
    slots,
    stats,
    target,
    timed,
    timed_cpu,
    wait_for_quiet,
    with_mistakes,
    write,
)

from cpxl.templates import Identity

MISTAKE_SHARE = 0.10
CLEAN_MS, MARKED_MS, GUARD_MS, NAIVE_RATIO = 40.0, 100.0, 50.0, 5.0


@dataclass(frozen=True, slots=True)
class Made:
    """One simulated return in the pool."""

    path: Path
    ministry: str
    period: str
    kind: str  # clean | resubmission | mistakes


# ---------------------------------------------------------------------------------------------
# The inbox


def make_pool(folder: Path, templates: Path, count: int) -> list[Made]:
    """Write ``count`` returns; file i is for slot i mod S, its round is i div S.

    About one file in ten gets mistakes; a template too small to take them passes its turn to
    the next file that can. Files are written by two processes.
    """
    cat = catalogue()
    period_ids = periods()
    identities = issue(cat, period_ids, templates)
    expected = slots(period_ids)
    rng = random.Random(42)
    folder.mkdir(parents=True, exist_ok=True)
    owed = 0
    specs: list[tuple[int, Made]] = []
    for i in range(count):
        ministry, period = expected[i % len(expected)]
        rnd = i // len(expected)
        owed += rng.random() < MISTAKE_SHARE
        if owed and mistakes_fit(ministry, period):
            owed -= 1
            kind = "mistakes"
        else:
            kind = "clean" if rnd == 0 else "resubmission"
        specs.append(
            (i, Made(folder / f"{ministry}_{period}_{i:05d}.xlsx", ministry, period, kind))
        )
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        pool.starmap(
            _write_one,
            [(i, m, identities[(m.ministry, m.period)], len(expected)) for i, m in specs],
        )
    return [m for _, m in specs]


@cache
def mistakes_fit(ministry: str, period: str) -> bool:
    """Whether a ministry's template has room for the typical mistakes."""
    return bool(with_mistakes(ministry, period, seed=0)[1])


def _write_one(i: int, m: Made, identity: Identity, n_slots: int) -> None:
    rnd = i // n_slots
    if m.kind == "mistakes":
        values = with_mistakes(m.ministry, m.period, seed=i)[0]
    elif m.kind == "clean":
        values = clean_values(m.ministry, m.period)
    else:
        values = corrected(m.ministry, m.period, rnd)
    write(m.path, m.ministry, m.period, identity, values)
    # A later round arrives later; within a round the order is the slot order.
    set_received(m.path, m.ministry, m.period, 25 - 0.4 * rnd - (i % n_slots) / 1e4)


def workspace_with(root: Path, templates: Path, files: list[Made]) -> Path:
    """A fresh workspace holding the issued templates and these files in its inbox."""
    (root / "outbox").mkdir(parents=True)
    shutil.copytree(templates, root / "templates_xlsx")
    inbox = root / "inbox"
    inbox.mkdir()
    for m in files:
        os.link(m.path, inbox / m.path.name)  # a hard link keeps the date received
    return root


# ---------------------------------------------------------------------------------------------
# (a) the full intake, in a fresh process


def child_run(root: Path, workers: int, profiled: bool) -> None:
    """Run one intake and print its numbers as JSON (called in a fresh process)."""
    from cpxl.findings import RunReport
    from cpxl.intake import Progress, run_inbox
    from cpxl.workspace import Workspace

    import_rss = peak_rss_mib()["self"]
    marks: list[float] = []
    rss: list[tuple[int, float]] = []
    start = clock()

    def progress(p: Progress) -> None:
        marks.append(clock())
        if p.done % max(1, p.total // 10) == 0 or p.done == p.total:
            rss.append((p.done, current_rss_mib()))

    def run() -> RunReport:
        return run_inbox(Workspace(root), workers=workers, on_progress=progress)

    cpu = time.process_time()
    report = profile(run, stream=sys.stderr) if profiled else run()
    wall = clock() - start
    cpu = time.process_time() - cpu
    peak = peak_rss_mib()
    statuses = Counter(f.status.value for f in report.files)
    steady = (marks[-1] - marks[0]) / (len(marks) - 1) * 1000 if len(marks) > 1 else None
    print(
        json.dumps(
            {
                "files": len(report.files),
                "wall_s": wall,
                "parent_cpu_s": cpu,
                "first_result_s": (marks[0] - start) if marks else None,
                "steady_ms_per_return": steady,
                "parent_rss_after_import_mib": import_rss,
                "parent_peak_rss_mib": peak["self"],
                "worker_peak_rss_mib": peak["children"],
                "parent_rss_by_files_done_mib": rss,
                "statuses": dict(statuses),
            }
        )
    )


def run_intake(root: Path, workers: int, profiled: bool) -> dict[str, Any]:
    """(a) one intake in a fresh process, so that peak memory belongs to this run alone."""
    command = [sys.executable, __file__, "--child-run", str(root), "--workers", str(workers)]
    out = subprocess.run(
        command + (["--profile"] if profiled else []),
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    numbers: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    numbers["ms_per_return"] = numbers["wall_s"] * 1000 / numbers["files"]
    return numbers


# ---------------------------------------------------------------------------------------------
# (b) (c) (d) per return, in this process


def cpxl_one(m: Made, register: dict[str, object], feedback: Path) -> dict[str, Any]:
    """A worker's part of one return on one core, timed apart: check_file, then write_feedback.

    The feedback name is reserved first, untimed, as the run's parent reserves it (its cost is
    in the intake timings of (a)); the worker then writes to it.
    """
    from cpxl.feedback import Receipts, write_feedback
    from cpxl.intake import check_file

    cat = catalogue()
    to = Receipts(feedback).reserve("", m.path.name)
    checked, check_ms, check_cpu = timed_cpu(lambda: check_file(m.path, m.path.name, cat, register))
    result = result_of(m.path.name, checked)
    _, fb_ms, fb_cpu = timed_cpu(
        lambda: write_feedback(feedback, result, cat, checked.submission, to=to)
    )
    return {
        "check_ms": check_ms,
        "check_cpu_ms": check_cpu,
        "feedback_ms": fb_ms,
        "feedback_cpu_ms": fb_cpu,
        "status": result.status.value,
    }


@cache
def _input_cells(ministry: str, period: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(
        (s.name, tuple(cell for _, _, cell in s.inputs())) for s in layout(ministry, period).sheets
    )


def naive_one(m: Made, out: Path) -> tuple[float, float]:
    """(c) openpyxl: load (data_only), read every input cell, colour odd cells, save."""
    import openpyxl
    from openpyxl.styles import PatternFill

    cells = _input_cells(m.ministry, m.period)  # computed once per layout, outside the timing

    def run() -> None:
        wb = openpyxl.load_workbook(m.path, data_only=True)
        red = PatternFill("solid", fgColor="FF9999")
        for sheet, addresses in cells:
            ws = wb[sheet]
            for a in addresses:
                v = ws[a].value
                if v is not None and (not isinstance(v, int | float) or v < 0):
                    ws[a].fill = red
        wb.save(out / f"{m.path.stem}.naive.xlsx")

    return timed_cpu(run)[1:]


def calamine_one(m: Made) -> tuple[float, float]:
    """(d) python-calamine: open and read every sheet to Python values."""
    from python_calamine import CalamineWorkbook

    def run() -> None:
        wb = CalamineWorkbook.from_path(str(m.path))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python()

    return timed_cpu(run)[1:]


def per_return(
    sample: list[Made], templates: Path, work: Path, repeat: int, interleave: bool = False
) -> dict[str, Any]:
    """(b), (c) and (d) on the same files, one file after another; each the fastest of ``repeat``.

    Taking the fastest try of each file keeps out the noise of other work on the machine. The
    tries of one pipeline run back to back, as a worker runs file after file: a cpxl try run
    straight after an openpyxl try of the same file (``--interleave``) starts with the caches
    and the memory allocator as openpyxl left them, and takes about 15 % longer.
    """
    from cpxl.templates import read_register

    register: dict[str, object] = dict(read_register(templates))
    feedback, naive_out = work / "feedback", work / "naive"
    naive_out.mkdir(parents=True)
    # Warm up: compile each layout's validation schemas once, as a worker does on its first file.
    for m in {(m.ministry, m.period): m for m in sample}.values():
        cpxl_one(m, register, work / "warmup")
    rows: list[dict[str, Any]] = []
    for m in sample:
        tries: list[dict[str, Any]] = [{} for _ in range(repeat)]
        for step in _steps(tries, interleave):
            for t in step:
                t.update(cpxl_one(m, register, feedback))
            for t in step:
                t["naive_ms"], t["naive_cpu_ms"] = naive_one(m, naive_out)
            for t in step:
                t["calamine_ms"], t["calamine_cpu_ms"] = calamine_one(m)
        best = {k: min(t[k] for t in tries) for k in tries[0] if k.endswith("_ms")}
        best["total_ms"] = best["check_ms"] + best["feedback_ms"]
        best["total_cpu_ms"] = best["check_cpu_ms"] + best["feedback_cpu_ms"]
        rows.append({**best, "status": tries[0]["status"], "kind": m.kind, "ministry": m.ministry})
    return {"rows": rows}


def _steps(tries: list[dict[str, Any]], interleave: bool) -> list[list[dict[str, Any]]]:
    """All tries of a pipeline in one step, or (interleaved) one try of each per step."""
    return [[t] for t in tries] if interleave else [tries]


# ---------------------------------------------------------------------------------------------
# The guard against zip bombs


def guard_bombs(work: Path, repeat: int) -> dict[str, Any]:
    """guard.inspect on a 1 GiB bomb with honest headers and on one with lying headers."""
    sys.path.insert(0, str(ROOT / "tests"))
    import hostile

    from cpxl.guard import inspect

    out: dict[str, Any] = {}
    for label, build in (("honest", hostile.honest_bomb), ("lying", hostile.lying_bomb)):
        path = build(work)
        times = []
        codes: list[str] = []
        for _ in range(repeat):
            found, ms = timed(lambda p=path: inspect(p))
            times.append(ms)
            codes = [f.code.value for f in found.findings]
        out[label] = {**stats(times), "bytes": path.stat().st_size, "codes": codes}
    return out


# ---------------------------------------------------------------------------------------------
# Report


def group(rows: list[dict[str, Any]], key: str, kinds: set[str]) -> list[float]:
    return [r[key] for r in rows if r["kind"] in kinds]


def report(
    count: int,
    intake: dict[int, dict[str, Any]],
    rows: list[dict[str, Any]],
    bombs: dict[str, Any],
    interleave: bool = False,
) -> dict[str, Any]:
    """Print the tables; return the numbers for the JSON file."""
    print_table(
        "(a) run_inbox(ws, workers=2), end to end, fresh process per size",
        [
            "N",
            "wall s",
            "ms/return",
            "steady ms/return",
            "parent peak MiB",
            "worker peak MiB",
            "statuses",
        ],
        [
            [
                n,
                fmt(a["wall_s"]),
                fmt(a["ms_per_return"]),
                fmt(a["steady_ms_per_return"]),
                fmt(a["parent_peak_rss_mib"]),
                fmt(a["worker_peak_rss_mib"]),
                " ".join(f"{k}={v}" for k, v in sorted(a["statuses"].items())),
            ]
            for n, a in sorted(intake.items())
        ],
    )
    for n, a in sorted(intake.items()):
        curve = ", ".join(f"{done}: {mib:.0f}" for done, mib in a["parent_rss_by_files_done_mib"])
        print(f"parent RSS (MiB) by returns done, N={n}: {curve}")
    clean, marked = {"clean", "resubmission"}, {"mistakes"}
    summary: dict[str, Any] = {}
    table = []
    for label, kinds, limit in (("clean", clean, CLEAN_MS), ("marked-up copy", marked, MARKED_MS)):
        for key, what in (
            ("total", "(b) cpxl check+feedback"),
            ("check", "    check_file"),
            ("feedback", "    write_feedback"),
            ("naive", "(c) naive openpyxl"),
            ("calamine", "(d) raw calamine read"),
        ):
            s = stats(group(rows, f"{key}_ms", kinds))
            c = stats(group(rows, f"{key}_cpu_ms", kinds))
            summary[f"{label}/{key}"] = {"wall": s, "cpu": c}
            goal = target(s["median"], limit) if key == "total" and s["n"] else ""
            table.append(
                [
                    what,
                    label,
                    s["n"],
                    fmt(s.get("median")),
                    fmt(s.get("p90")),
                    fmt(s.get("mean")),
                    fmt(c.get("median")),
                    goal,
                ]
            )
    print_table(
        f"(b)-(d) per return, one core, same {len(rows)} files (best of --repeat tries each, "
        + ("one try of each pipeline in turn)" if interleave else "each pipeline's back to back)"),
        ["pipeline", "returns", "n", "median ms", "p90 ms", "mean ms", "median CPU ms", "target"],
        table,
    )
    everything = {"clean", "resubmission", "mistakes"}

    def both(key: str, what: str) -> float:
        return float(stats(group(rows, key, everything))[what])

    ratios = {}
    for clock_name, suffix in (("wall", "_ms"), ("cpu", "_cpu_ms")):
        for what in ("median", "mean"):
            ratios[f"naive/cpxl {clock_name} {what}"] = ratio(
                both("naive" + suffix, what), both("total" + suffix, what)
            )
            ratios[f"cpxl check_file/raw calamine {clock_name} {what}"] = ratio(
                both("check" + suffix, what), both("calamine" + suffix, what)
            )
            ratios[f"cpxl check+feedback/raw calamine {clock_name} {what}"] = ratio(
                both("total" + suffix, what), both("calamine" + suffix, what)
            )
    print_table(
        "ratios, all sampled returns (> 1: the first is slower)",
        ["ratio", "wall, median", "wall, mean", "CPU, median", "CPU, mean", "target"],
        [
            [
                name,
                *(
                    fmt(ratios[f"{name} {c} {w}"])
                    for c in ("wall", "cpu")
                    for w in ("median", "mean")
                ),
                target(ratios[f"{name} wall median"], NAIVE_RATIO, below=False)
                if name.startswith("naive")
                else "",
            ]
            for name in (
                "naive/cpxl",
                "cpxl check_file/raw calamine",
                "cpxl check+feedback/raw calamine",
            )
        ],
    )
    biggest = [r for r in rows if r["ministry"] == "MOSVY"]
    columns = ("total_ms", "total_cpu_ms", "check_ms", "feedback_ms", "naive_ms", "naive_cpu_ms")
    print_table(
        "largest templates alone (MOSVY annual and quarterly), medians",
        [
            "returns",
            "n",
            "total ms",
            "total CPU ms",
            "check ms",
            "feedback ms",
            "naive ms",
            "naive CPU ms",
        ],
        [
            [label, len(sel), *(fmt(statistics.median(r[c] for r in sel)) for c in columns)]
            for label, kinds in (("clean", clean), ("marked-up copy", marked))
            if (sel := [r for r in biggest if r["kind"] in kinds])
        ],
    )
    print_table(
        "guard.inspect on a 1 GiB zip bomb",
        ["bomb", "file bytes", "median ms", "p90 ms", "codes", "target"],
        [
            [
                k,
                f"{v['bytes']:,}",
                fmt(v["median"]),
                fmt(v["p90"]),
                ",".join(v["codes"]),
                target(v["median"], GUARD_MS),
            ]
            for k, v in bombs.items()
        ],
    )
    wrong = [r for r in rows if (r["status"] == "needs-correction") != (r["kind"] == "mistakes")]
    if wrong:
        seen = Counter(r["status"] for r in wrong)
        print(f"\nnote: {len(wrong)} sampled returns were not judged as simulated: {dict(seen)}")
    return {
        "count": count,
        "intake": intake,
        "per_return": summary,
        "ratios": ratios,
        "bombs": bombs,
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 returns")
    parser.add_argument("--count", type=int, default=None, help="returns in the inbox (1000)")
    parser.add_argument("--small", type=int, default=100, help="the smaller intake size (100)")
    parser.add_argument("--sample", type=int, default=None, help="returns timed one by one (200)")
    parser.add_argument("--repeat", type=int, default=3, help="tries per sampled return (3)")
    parser.add_argument(
        "--interleave",
        action="store_true",
        help="(b)-(d): one try of each pipeline in turn, not each pipeline's tries back to back",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bomb-repeat", type=int, default=5)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the intake's parent and (b); print hot spots",
    )
    parser.add_argument("--keep", type=Path, default=None, help="work in this new folder, keep it")
    parser.add_argument("--wait", type=float, default=0, help="wait up to S s for a quiet machine")
    parser.add_argument("--child-run", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_run is not None:
        child_run(args.child_run, args.workers, args.profile)
        return
    count = args.count or (100 if args.quick else 1000)
    wait_for_quiet(1.0, args.wait)
    sample_size = min(count, args.sample or (100 if args.quick else 200))
    loads: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="cpxl-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=args.keep is None)
        templates = work / "templates"
        pool, gen_ms = timed(lambda: make_pool(work / "pool", templates, count))
        kinds = Counter(m.kind for m in pool)
        print(f"{count} returns written in {gen_ms / 1000:.1f} s: {dict(kinds)}")
        intake: dict[int, dict[str, Any]] = {}
        for n in sorted({min(args.small, count), count}):
            root = workspace_with(work / f"ws-{n}", templates, pool[:n])
            loads[f"intake {n}"] = load_note(f"intake of {n}")
            intake[n] = run_intake(root, args.workers, args.profile and n == count)
            print(f"intake of {n}: {intake[n]['wall_s']:.1f} s")
        step = max(1, len(pool) // sample_size)
        sample = pool[::step][:sample_size]
        loads["per return"] = load_note("per return")
        per = per_return(sample, templates, work / "per-return", args.repeat, args.interleave)
        rows = per["rows"]
        if args.profile:  # after the timed pass, so that every layout's schemas are compiled
            from cpxl.templates import read_register

            register: dict[str, object] = dict(read_register(templates))
            profile(lambda: [cpxl_one(m, register, work / "profiled") for m in sample])
        (work / "bombs").mkdir()
        bombs = guard_bombs(work / "bombs", args.bomb_repeat)
    numbers = report(count, intake, rows, bombs, args.interleave)
    numbers["interleave"] = args.interleave
    numbers["generate_s"] = gen_ms / 1000
    numbers["kinds"] = dict(kinds)
    numbers["load_average_1min"] = loads
    save("bench_intake", numbers)


if __name__ == "__main__":
    main()
