"""The headline: one whole ``cpxl run`` over an inbox, against a naive script over the same inbox.

Simulates N returns (default 1,000; --quick 100) across every ministry and every open period
(2020-2025; annual, semiannual and quarterly templates), written with the fast path
(``simulate.write_return``) and dated a few weeks before their due dates. About 10 % carry
the typical mistakes of ``simulate.add_mistakes``; once every (ministry, period) has a return,
later ones are clean corrected resubmissions (one province's figures of one element changed).
Then, side by side in one run, over the same inbox:

(a) ``cpxl run --json --workers 2`` on a fresh workspace, in a fresh process: what an officer waits
    for, from starting the command to its last line (interpreter, imports, archive, guard, read,
    validate, store, feedback, run summary). Also the parent's CPU per file, the workers' CPU,
    and the peak memory of the parent and of the largest worker, at N=100 and N;
(b) a naive script, one process: ``openpyxl.load_workbook``, read every value of every sheet,
    save a copy;
(c) a raw python-calamine read, one process: open each file and read every sheet.

Last, the guard is timed on a 1 GiB zip bomb whose headers are honest and on one whose headers lie.

    .venv/bin/python benchmarks/bench_intake.py [--quick] [--count N] [--small N] [--profile]
        [--repeat R] [--against DIR]

``--repeat R`` runs (a) R times over the N returns and keeps the run of median wall time (each
run's time is printed): on a shared machine one run can be 30 % off. ``--against DIR`` runs the
cpxl of another checkout (an earlier release, e.g. a ``git worktree``) over the same inbox too,
alternating with this one run by run, and prints the two side by side.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from _shared import (
    ROOT,
    catalogue,
    clean_values,
    clock,
    compiled,
    corrected,
    fmt,
    issue,
    load_note,
    peak_rss_mib,
    periods,
    print_table,
    profile,
    ratio,
    save,
    set_received,
    slots,
    stats,
    target,
    timed,
    wait_for_quiet,
    with_mistakes,
    write,
)

from cpxl.templates import Identity

MISTAKE_SHARE = 0.10
GUARD_MS, NAIVE_RATIO, WHOLE_RUN_S, PARENT_CPU_MS, PEAK_MIB = 50.0, 4.0, 10.0, 4.0, 250.0


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
# (a) the whole cpxl run, in a fresh process


def child_run(root: Path, workers: int, profiled: bool) -> None:
    """Run ``cpxl run`` as the command line does and print its numbers as JSON (fresh process)."""
    started = clock()
    import contextlib
    import io

    from cpxl import api, cli

    # The parent's CPU between two files' progress ticks: deciding, recording and handing over
    # one file (the loop of the run, without the archive step before it or the summary after).
    ticks: list[float] = []
    whole_run = api.run

    def ticked(*args: Any, on_progress: Any = None, **kwargs: Any) -> Any:
        def tick(step: Any) -> None:
            ticks.append(time.process_time())
            if on_progress is not None:
                on_progress(step)

        return whole_run(*args, on_progress=tick, **kwargs)

    api.run = ticked

    def run() -> None:
        argv = ["run", "--json", "--workspace", str(root), "--workers", str(workers)]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            cli.main(argv, standalone_mode=False)

    cpu = time.process_time()
    profile(run, stream=sys.stderr) if profiled else run()
    wall = clock() - started
    cpu = time.process_time() - cpu
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = peak_rss_mib()
    print(
        json.dumps(
            {
                "wall_in_process_s": wall,
                "parent_cpu_s": cpu,
                "workers_cpu_s": children.ru_utime + children.ru_stime,
                "parent_peak_rss_mib": peak["self"],
                "worker_peak_rss_mib": peak["children"],
                "loop_cpu_ms": stats([(b - a) * 1000 for a, b in pairwise(ticks)]),
                "cpxl": str(Path(cli.__file__).resolve().parent.parent),
            }
        )
    )


def run_intake(
    root: Path, files: int, workers: int, profiled: bool, tree: Path | None = None
) -> dict[str, Any]:
    """(a) one ``cpxl run`` in a fresh process, timed from outside as the officer waits; with
    ``tree``, the cpxl of that checkout (an earlier release) instead of this one."""
    command = [sys.executable, __file__, "--child-run", str(root), "--workers", str(workers)]
    env = {**os.environ, "CPXL_TREE": str(tree)} if tree else None
    start = clock()
    out = subprocess.run(
        command + (["--profile"] if profiled else []),
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    wall = clock() - start
    numbers: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if Path(numbers["cpxl"]) != (tree or ROOT).resolve():  # a comparison with itself says nothing
        raise SystemExit(f"measured the cpxl of {numbers['cpxl']}, not of {tree or ROOT}")
    summary = json.loads(next((root / "outbox" / "runs").glob("*/summary.json")).read_text())
    numbers.update(
        files=files,
        wall_s=wall,
        ms_per_return=wall * 1000 / files,
        parent_cpu_ms_per_file=numbers["parent_cpu_s"] * 1000 / files,
        statuses=dict(Counter(f["status"] for f in summary["files"])),
    )
    return numbers


# ---------------------------------------------------------------------------------------------
# (b) a naive script and (c) a raw read, over the same inbox, in this process


def naive_run(files: list[Path], out: Path) -> float:
    """(b) openpyxl: load each workbook, read every value of every sheet, save a copy."""
    import openpyxl

    out.mkdir(parents=True, exist_ok=True)
    start = clock()
    for path in files:
        wb = openpyxl.load_workbook(path)
        for ws in wb.worksheets:
            for _row in ws.iter_rows(values_only=True):
                pass
        wb.save(out / path.name)
    return clock() - start


def calamine_run(files: list[Path]) -> float:
    """(c) python-calamine: open each file and read every sheet to Python values."""
    from python_calamine import CalamineWorkbook

    start = clock()
    for path in files:
        wb = CalamineWorkbook.from_path(str(path))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python()
    return clock() - start


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


def report(
    intake: dict[int, dict[str, Any]], baselines: dict[str, float], bombs: dict[str, Any]
) -> dict[str, Any]:
    """Print the tables; return the numbers for the JSON file."""
    count = max(intake)
    rows = []
    for n, a in sorted(intake.items()):
        rows.append(
            [
                n,
                fmt(a["wall_s"]),
                fmt(a["ms_per_return"]),
                fmt(a["parent_cpu_ms_per_file"]),
                fmt(a["workers_cpu_s"] * 1000 / n),
                fmt(a["parent_peak_rss_mib"]),
                fmt(a["worker_peak_rss_mib"]),
                " ".join(f"{k}={v}" for k, v in sorted(a["statuses"].items())),
            ]
        )
    print_table(
        "(a) cpxl run --workers 2, whole command, fresh workspace and process per size",
        [
            "N",
            "wall s",
            "ms/return",
            "parent CPU ms/file",
            "workers CPU ms/file",
            "parent peak MiB",
            "worker peak MiB",
            "statuses",
        ],
        rows,
    )
    whole = intake[count]["wall_s"]
    ratios = {
        "naive/cpxl": ratio(baselines["naive"], whole),
        "calamine/cpxl": ratio(baselines["calamine"], whole),
    }
    naive, raw = baselines["naive"], baselines["calamine"]
    per = 1000 / count
    goal = target(ratios["naive/cpxl"], NAIVE_RATIO, below=False)
    print_table(
        f"the same {count} returns, whole run, wall seconds",
        ["pipeline", "wall s", "ms/return", "naive / it", "target"],
        [
            [
                "(a) cpxl run, 2 workers",
                fmt(whole),
                fmt(whole * per),
                fmt(ratios["naive/cpxl"]),
                goal,
            ],
            ["(b) naive openpyxl script", fmt(naive), fmt(naive * per), "1", ""],
            ["(c) raw calamine read", fmt(raw), fmt(raw * per), fmt(ratio(naive, raw)), ""],
        ],
    )
    last = intake[count]
    peak = max(last["parent_peak_rss_mib"], last["worker_peak_rss_mib"])
    print(f"target 1,000 returns < {WHOLE_RUN_S:.0f} s: {target(whole * per, WHOLE_RUN_S)}")
    print(f"target parent CPU <= {PARENT_CPU_MS} ms/file: ", end="")
    print(target(last["parent_cpu_ms_per_file"], PARENT_CPU_MS))
    print(f"target peak memory < {PEAK_MIB} MiB: {target(peak, PEAK_MIB)}")
    loop = last["loop_cpu_ms"]
    print(
        f"parent CPU per file in the run's loop (decide, record, hand over): median (a typical"
        f" return) {fmt(loop.get('median', 0))} ms, p90 {fmt(loop.get('p90', 0))} ms"
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
    return {
        "count": count,
        "intake": intake,
        "baselines": baselines,
        "ratios": ratios,
        "bombs": bombs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 returns")
    parser.add_argument("--count", type=int, default=None, help="returns in the inbox (1000)")
    parser.add_argument("--small", type=int, default=100, help="the smaller intake size (100)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bomb-repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="profile the run's parent")
    parser.add_argument("--keep", type=Path, default=None, help="work in this new folder, keep it")
    parser.add_argument("--wait", type=float, default=0, help="wait up to S s for a quiet machine")
    parser.add_argument("--repeat", type=int, default=1, help="runs of N returns; the median")
    parser.add_argument(
        "--against", type=Path, default=None, help="also an earlier checkout's cpxl, alternated"
    )
    parser.add_argument("--child-run", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_run is not None:
        child_run(args.child_run, args.workers, args.profile)
        return
    count = args.count or (100 if args.quick else 1000)
    for tree in (ROOT, args.against):
        if tree is not None:  # each run imports cpxl as an installed one does
            compiled(tree)
    wait_for_quiet(1.0, args.wait)
    with tempfile.TemporaryDirectory(prefix="cpxl-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=args.keep is None)
        templates = work / "templates"
        pool, gen_ms = timed(lambda: make_pool(work / "pool", templates, count))
        kinds = Counter(m.kind for m in pool)
        print(f"{count} returns written in {gen_ms / 1000:.1f} s: {dict(kinds)}")
        load = load_note("the runs")
        intake: dict[int, dict[str, Any]] = {}
        small = min(args.small, count)
        if small < count:
            root = workspace_with(work / f"ws-{small}", templates, pool[:small])
            intake[small] = run_intake(root, small, args.workers, profiled=False)
            print(f"cpxl run over {small}: {intake[small]['wall_s']:.1f} s")
        trees: dict[str, Path | None] = {"this": None}
        if args.against:
            trees["earlier"] = args.against.resolve()
        runs: dict[str, list[dict[str, Any]]] = {label: [] for label in trees}
        for i in range(args.repeat):  # alternated, so a machine that slows down hits both
            for label, tree in trees.items():
                root = workspace_with(work / f"ws-{count}-{label}-{i}", templates, pool)
                got = run_intake(root, count, args.workers, args.profile and i == 0, tree)
                runs[label].append(got)
                print(f"cpxl run ({label}) over {count}: {got['wall_s']:.1f} s")
                if args.keep is None:
                    shutil.rmtree(root)
        intake[count] = median_run(runs["this"])
        earlier = median_run(runs["earlier"]) if args.against else None
        files = [m.path for m in pool]
        baselines = {"naive": naive_run(files, work / "naive"), "calamine": calamine_run(files)}
        print(
            f"naive script: {baselines['naive']:.1f} s; raw calamine: {baselines['calamine']:.1f} s"
        )
        bombs = guard_bombs(work, args.bomb_repeat)
    numbers = report(intake, baselines, bombs)
    if earlier is not None:
        numbers["earlier"] = side_by_side(intake[count], earlier, baselines["naive"], args.against)
    save("bench_intake", {**numbers, "load_average_1min": load, "generation_ms": gen_ms})


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time (the lower middle one of an even count), with every run's."""
    ordered = sorted(runs, key=lambda r: r["wall_s"])
    return {**ordered[(len(ordered) - 1) // 2], "walls_s": [r["wall_s"] for r in runs]}


def side_by_side(
    this: dict[str, Any], earlier: dict[str, Any], naive: float, tree: Path
) -> dict[str, Any]:
    """This cpxl and an earlier checkout's over the same inbox, runs alternated."""
    n = this["files"]
    rows = [
        [label, fmt(r["wall_s"]), ", ".join(fmt(w) for w in r["walls_s"]),
         fmt(ratio(naive, r["wall_s"])), fmt(r["parent_cpu_ms_per_file"]),
         fmt(r["workers_cpu_s"] * 1000 / n),
         fmt(r["loop_cpu_ms"].get("median", 0)),
         " ".join(f"{k}={v}" for k, v in sorted(r["statuses"].items()))]
        for label, r in (("this checkout", this), (f"earlier ({tree})", earlier))
    ]  # fmt: skip
    print_table(
        f"cpxl run over the same {n} returns, this checkout and an earlier one, alternated",
        ["cpxl", "median wall s", "every run s", "naive / it", "parent CPU ms/file",
         "workers CPU ms/file", "loop median ms", "statuses"],
        rows,
    )  # fmt: skip
    return {"tree": str(tree), "this": this, "earlier": earlier}


if __name__ == "__main__":
    main()
