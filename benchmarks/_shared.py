"""What the benchmarks share: simulated returns, timing statistics, the table and the JSON file.

Not a benchmark itself. Each ``bench_*.py`` imports it (the scripts' folder is on ``sys.path``
when one is run as ``.venv/bin/python benchmarks/<name>.py``).
"""

from __future__ import annotations

import compileall
import cProfile
import json
import os
import platform
import pstats
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from functools import cache
from pathlib import Path
from typing import Any, TextIO, TypeVar

ROOT = Path(__file__).resolve().parent.parent
# The cpxl measured: this checkout's, or the one of CPXL_TREE (bench_intake --against's runs).
sys.path.insert(0, os.environ.get("CPXL_TREE") or str(ROOT))

from xlsxwriter.utility import xl_rowcol_to_cell  # noqa: E402

from cpxl.catalogue import Catalogue, builtin_rules, load, parse_period  # noqa: E402
from cpxl.findings import FileResult, Severity, Status, worst  # noqa: E402
from cpxl.intake import Checked  # noqa: E402
from cpxl.simulate import (  # noqa: E402
    Mistake,
    add_mistakes,
    plan,
    ruled_elements,
    write_return,
)
from cpxl.templates import (  # noqa: E402
    Identity,
    Layout,
    build_layout,
    generate_templates,
    read_register,
)
from cpxl.validation import finish  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ISSUED_AT = datetime(2019, 12, 1, tzinfo=UTC)
SEED = 0
FIRST_YEAR, LAST_YEAR = 2020, 2025
T = TypeVar("T")
Values = dict[tuple[str, str], float | str]


# ---------------------------------------------------------------------------------------------
# Timing


def clock() -> float:
    """Seconds from a monotonic, high-resolution clock."""
    return time.perf_counter()


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """Call ``fn`` once; its result and the milliseconds it took."""
    start = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - start) * 1000


def timed_cpu(fn: Callable[[], T]) -> tuple[T, float, float]:
    """Call ``fn`` once; its result, the wall milliseconds and this process's CPU milliseconds.

    CPU time leaves out waiting: for a core (other work on the machine) and for the disk.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def compiled(tree: Path) -> None:
    """Byte-compile a checkout's cpxl, as ``pip install`` does, before a command is timed: an
    editable install (or PYTHONDONTWRITEBYTECODE) leaves it uncompiled, and every command would
    then compile its sources again (0.2-0.3 s of each start on this machine)."""
    compileall.compile_dir(tree / "cpxl", quiet=1)


def wait_for_quiet(limit: float, timeout_s: float) -> float:
    """Wait (at most ``timeout_s``) until the 1-minute load average drops below ``limit``."""
    deadline = time.monotonic() + timeout_s
    load1 = os.getloadavg()[0]
    if load1 >= limit and timeout_s > 0:
        print(f"waiting up to {timeout_s:.0f} s for the load average ({load1:.2f}) to drop")
    while load1 >= limit and time.monotonic() < deadline:
        time.sleep(5)
        load1 = os.getloadavg()[0]
    return load1


def p90(samples: Sequence[float]) -> float:
    """The 90th percentile (the sample itself when there is only one)."""
    if len(samples) < 2:
        return samples[0] if samples else float("nan")
    return statistics.quantiles(samples, n=10, method="inclusive")[-1]


def stats(samples: Sequence[float]) -> dict[str, float]:
    """Median, p90, mean, min, max and count of millisecond samples."""
    if not samples:
        return {"n": 0}
    return {
        "n": len(samples),
        "median": statistics.median(samples),
        "p90": p90(samples),
        "mean": statistics.fmean(samples),
        "min": min(samples),
        "max": max(samples),
    }


def ratio(slow: float, fast: float) -> float:
    """How many times ``fast`` beats ``slow`` (> 1 means faster)."""
    return slow / fast if fast else float("inf")


def fmt(x: float | None, unit: str = "") -> str:
    """A number printed short: 3 significant figures, no scientific notation."""
    if x is None or x != x:
        return "-"
    if abs(x) >= 100:
        text = f"{x:,.0f}"
    elif abs(x) >= 10:
        text = f"{x:.1f}"
    else:
        text = f"{x:.2f}"
    return text + unit


def print_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A plain, aligned text table."""
    body = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print(
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    )
    print("  ".join("-" * w for w in widths))
    for r in body:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )


def target(value: float, limit: float, *, below: bool = True) -> str:
    """'met' or 'MISSED by x%' against a target (``below``: the value must stay under it)."""
    ok = value <= limit if below else value >= limit
    if ok:
        return "met"
    off = (value / limit - 1) * 100 if below else (1 - value / limit) * 100
    return f"MISSED by {off:.0f}%"


def peak_rss_mib() -> dict[str, float]:
    """Peak resident memory of this process and of its largest finished child, in MiB."""
    kib = 1024.0 if platform.system() == "Linux" else 1024.0 * 1024.0
    return {
        "self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / kib,
        "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / kib,
    }


def current_rss_mib() -> float:
    """This process's resident memory now, in MiB (Linux; NaN elsewhere)."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return float("nan")
    line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), "")
    return int(line.split()[1]) / 1024 if line else float("nan")


def machine() -> dict[str, Any]:
    """Where the numbers were measured."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def load_note(label: str) -> float:
    """Print the 1-minute load average: above the core count, other work skews the timings."""
    load1 = os.getloadavg()[0]
    print(f"[{label}] load average {load1:.2f} on {os.cpu_count()} cores")
    return load1


def save(name: str, data: Mapping[str, Any]) -> Path:
    """Write a benchmark's numbers to benchmarks/results/<name>.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), **data}
    path.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
    print(f"\nnumbers written to {path.relative_to(ROOT)}")
    return path


def profile(fn: Callable[[], T], top: int = 25, stream: TextIO | None = None) -> T:
    """Run ``fn`` under cProfile; print the functions that took the most time, by own time
    and by cumulative time (file:line), then return what ``fn`` returned."""
    out = stream or sys.stdout
    prof = cProfile.Profile()
    prof.enable()
    try:
        result = fn()
    finally:
        prof.disable()
    for sort in ("tottime", "cumulative"):
        print(f"\nprofile (top {top} by {sort}):", file=out)
        pstats.Stats(prof, stream=out).sort_stats(sort).print_stats(top)
    return result


# ---------------------------------------------------------------------------------------------
# Returns


@cache
def catalogue() -> Catalogue:
    """The built-in catalogue, loaded once."""
    return load(builtin_rules())


def periods(first: int = FIRST_YEAR, last: int = LAST_YEAR) -> list[str]:
    """Every period some ministry reports for, of every type, from ``first`` to ``last``."""
    cat = catalogue()
    out: list[str] = []
    for year in range(first, last + 1):
        candidates = [str(year), *(f"{year}S{h}" for h in (1, 2))]
        candidates += [f"{year}Q{q}" for q in range(1, 5)]
        candidates += [f"{year}{m:02d}" for m in range(1, 13)]
        out.extend(p for p in candidates if cat.reporting_ministries(parse_period(p)))
    return out


def slots(period_ids: Sequence[str]) -> list[tuple[str, str]]:
    """(ministry, period) of every return expected for these periods."""
    cat = catalogue()
    return [(m, p) for p in period_ids for m in cat.reporting_ministries(parse_period(p))]


def issue(
    cat: Catalogue, period_ids: Sequence[str], folder: Path
) -> dict[tuple[str, str], Identity]:
    """Issue the templates of these periods into ``folder``; the identity of each, by slot."""
    out: dict[tuple[str, str], Identity] = {}
    for p in period_ids:
        generate_templates(cat, p, folder, issued_at=ISSUED_AT)
    stamps = {(t.ministry, t.period): t.issued_at for t in read_register(folder).values()}
    for (ministry, p), stamp in stamps.items():
        out[(ministry, p)] = Identity.of(layout(ministry, p), stamp)
    return out


@cache
def layout(ministry: str, period: str) -> Layout:
    """A ministry's layout for a period, computed once."""
    return build_layout(catalogue(), ministry, period)


@cache
def _clean(
    ministry: str, period: str, seed: int
) -> tuple[tuple[tuple[str, str], float | str], ...]:
    return tuple(plan(catalogue(), layout(ministry, period), seed).items())


def clean_values(ministry: str, period: str, seed: int = SEED) -> Values:
    """A clean return's values (a fresh copy; planning is done once per slot)."""
    return dict(_clean(ministry, period, seed))


def with_mistakes(ministry: str, period: str, seed: int) -> tuple[Values, list[Mistake]]:
    """A return with one of each typical mistake typed in."""
    values = clean_values(ministry, period)
    made = add_mistakes(catalogue(), layout(ministry, period), values, seed)
    return values, made


@cache
def _safe_element(ministry: str, period: str) -> tuple[str, str] | None:
    """(sheet, element): a disaggregated count no compare or change rule names."""
    cat = catalogue()
    named = ruled_elements(cat)
    for sheet in layout(ministry, period).sheets:
        for col in sheet.columns:
            el = cat.elements[col.element]
            if el.value_type == "count" and el.by and col.element not in named:
                return sheet.name, col.element
    return None


def corrected(ministry: str, period: str, delta: int) -> Values:
    """A clean resubmission: one province's figures of one element raised by ``delta``.

    Where no element can change safely, the same figures come with a note instead.

    One option of each dimension and the total are raised together, so that the sums hold;
    the element is one no compare or change rule names, so that those hold too.
    """
    values = clean_values(ministry, period)
    found = _safe_element(ministry, period)
    if delta == 0:
        return values
    if found is None:
        # Nothing to change safely: the same figures sent again, with a note, so that the file
        # differs from the first (identical bytes would be a duplicate, never read).
        sheet = layout(ministry, period).sheets[0]
        note = xl_rowcol_to_cell(sheet.row_of(sheet.areas[0].code), sheet.explanation_col)
        values[(sheet.name, note)] = f"Sent again ({delta})"
        return values
    sheet_name, element = found
    sheet = layout(ministry, period).sheet(sheet_name)
    area = sheet.areas[delta % len(sheet.areas)].code
    touched: set[str] = set()
    for col in sheet.columns:
        if col.element != element or (col.dimension and col.dimension in touched):
            continue
        cell = (sheet_name, sheet.cell(area, col))
        old = values.get(cell)
        if not isinstance(old, float):
            continue
        touched.add(col.dimension)
        values[cell] = old + delta
    return values


def write(
    path: Path,
    ministry: str,
    period: str,
    identity: Identity,
    values: Mapping[tuple[str, str], float | str],
) -> Path:
    """Write a filled return with the fast path (xlsxwriter)."""
    write_return(path, catalogue(), layout(ministry, period), identity, values)
    return path


def due(ministry: str, period: str) -> date:
    """When a ministry's return for a period is due."""
    return catalogue().due_date(ministry, parse_period(period))


def set_received(path: Path, ministry: str, period: str, days_before_due: float) -> None:
    """Date a file as received some days before its due date (intake orders files by it)."""
    moment = datetime.combine(due(ministry, period), day_time(9), tzinfo=UTC)
    stamp = (moment - timedelta(days=days_before_due)).timestamp()
    os.utime(path, (stamp, stamp))


def result_of(name: str, checked: Checked) -> FileResult:
    """The file result intake would give a checked return, without a store (status by worst)."""
    sub = checked.submission
    if sub is None:
        return FileResult(
            name, "", checked.status or Status.UNREADABLE, checked.reason, findings=checked.findings
        )
    final = finish(checked.findings, sub.explanations)
    level = worst(list(final))
    status = {
        Severity.ERROR: Status.NEEDS_CORRECTION,
        Severity.WARNING: Status.ACCEPTED_WITH_WARNINGS,
    }.get(level or Severity.INFO, Status.ACCEPTED)
    return FileResult(name, "", status, ministry=sub.ministry, period=sub.period, findings=final)


# ---------------------------------------------------------------------------------------------
# A store filled directly (no intake)


def world_values(ministry: str, period: str, world: Any) -> list[Any]:
    """Every input value of a clean return, from ``simulate.World.cells``, as read."""
    from cpxl.findings import Value

    cat = catalogue()
    out: list[Value] = []
    for sheet in layout(ministry, period).sheets:
        elements = list(dict.fromkeys(c.element for c in sheet.columns))
        for area in sheet.areas:
            for code in elements:
                for key, number in world.cells(cat.elements[code], area.code).items():
                    col = sheet.column(key)
                    cell = sheet.cell(area.code, col)
                    out.append(
                        Value(
                            col.element,
                            area.code,
                            col.dimension,
                            col.option,
                            number,
                            "",
                            sheet.name,
                            cell,
                        )
                    )
    return out


def record_world(store: Any, period_ids: Sequence[str], seed: int = SEED) -> int:
    """Record every ministry's clean return for these periods straight into a store."""
    import hashlib

    from cpxl.simulate import World
    from cpxl.store import NewSubmission

    cat = catalogue()
    run = store.start_run(
        user="bench", host="bench", cpxl_version="bench", catalogue_version=cat.version
    )
    n = 0
    for p in period_ids:
        world = World(cat, parse_period(p), seed)
        for ministry in cat.reporting_ministries(parse_period(p)):
            lay = layout(ministry, p)
            received = datetime.combine(due(ministry, p), day_time(9), tzinfo=UTC) - timedelta(
                days=10
            )
            sha = hashlib.sha256(f"{ministry}|{p}|{seed}".encode()).hexdigest()
            sub = NewSubmission(
                sha256=sha,
                name_received=f"{ministry}_{p}.xlsx",
                archive_path=f"archive/{sha[:2]}/{sha}.xlsx",
                ministry=ministry,
                period=p,
                template_id=lay.template_id,
                template_version=lay.template_version,
                received_at=received,
                status="accepted",
                reason="",
                days_late=None,
            )
            store.record(run, sub, world_values(ministry, p, world), (), accept=True)
            n += 1
    return n
