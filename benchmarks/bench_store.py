"""How long the store takes to record one typical return, and to read the national long table.

``record``: records 200 returns of about 500 values each into a fresh SQLite store: 25 provinces by
20 columns, with some missing-reason codes, some blank cells and a few findings; one return in
five replaces an earlier one for the same ministry and period (so it also writes audit rows).
Prints the median and 90th percentile milliseconds per ``Store.record()``, and the CPU time
(which leaves out waiting for the disk). Target: median <= 5 ms. Measured on 2 shared cores:
median 1.4 ms, 3.8 ms when replacing (with synchronous=NORMAL in WAL mode, no index by element;
3.5-4.3 and 6.0-6.7 ms with a synced commit and that index). Values and audit rows reach SQLite
as prepared tuples (no per-row parameter processing in SQLAlchemy) and the new submission is not
read back.

``--long-table``: builds a store with every ministry's clean return for every period of
2016-2025 (169,810 values, figures from ``simulate.World``), then times ``Store.long_table``
(all 70 periods, and the ten years), ``Store.history`` (40 elements) and
``Store.findings_of_many`` (every submission). Measured: long_table 0.9 s for all 170k values
(1.4-1.5 s when rows were sorted and their dates converted one by one in Python), 0.32-0.36 s for
the ten years, history 0.26 s (every period of 40 elements: the current submissions first, then
their values by primary key).

    .venv/bin/python benchmarks/bench_store.py [--count 200] [--store path/to/new.sqlite]
    .venv/bin/python benchmarks/bench_store.py --profile      # where record() spends its time
    .venv/bin/python benchmarks/bench_store.py --long-table [--repeat 5]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cpxl.findings import Code, Finding, Location, Severity, Value
from cpxl.store import NewSubmission, Store

PROVINCES = [f"{i:02d}" for i in range(1, 26)]
COLUMNS = [("children_in_care", "", "")] + [
    (f"element_{e}", "sex", option) for e in range(1, 7) for option in ("male", "female", "")
]
COLUMNS += [("element_7", "", "")]


def _values(rng: random.Random) -> list[Value]:
    values = []
    for c, (element, dimension, option) in enumerate(COLUMNS):
        for r, area in enumerate(PROVINCES):
            roll = rng.random()
            number = None if roll < 0.15 else float(rng.randint(0, 900))
            missing = "NC" if roll < 0.05 else ""
            cell = f"{chr(ord('C') + c)}{r + 5}"
            text = "" if number is None else str(int(number))
            values.append(
                Value(element, area, dimension, option, number, missing, "Care", cell, text)
            )
    return values


def _findings(rng: random.Random) -> list[Finding]:
    return [
        Finding.make(
            Code.SUM_MISMATCH,
            Severity.WARNING,
            Location(sheet="Care", cell=f"D{rng.randint(5, 29)}"),
            rule="SUM-element_1",
            parts="12",
            total="13",
            cells="D5:E5",
            difference="1",
        )
        for _ in range(3)
    ]


def record_returns(store: Store, count: int) -> tuple[list[float], list[float], list[float]]:
    """Record ``count`` returns; wall milliseconds per record() (all, replacing) and CPU ones."""
    rng = random.Random(42)
    timings: list[float] = []
    replacing: list[float] = []
    cpu: list[float] = []
    run = store.start_run(
        user="bench", host="bench", cpxl_version="bench", catalogue_version="bench"
    )
    for i in range(count):
        resubmit = i % 5 == 4
        key = i - 1 if resubmit else i
        sha = hashlib.sha256(f"return-{i}".encode()).hexdigest()
        sub = NewSubmission(
            sha256=sha,
            name_received=f"return-{i}.xlsx",
            archive_path=f"archive/{sha[:2]}/{sha}.xlsx",
            ministry=f"M{key % 20:02d}",
            period=str(2000 + key // 20),
            template_id="bench",
            template_version=1,
            received_at=datetime(2026, 2, 1, tzinfo=UTC),
            status="accepted-with-warnings",
            reason="",
            days_late=0,
        )
        values, findings = _values(rng), _findings(rng)
        start, start_cpu = time.perf_counter(), time.process_time()
        store.record(run, sub, values, findings, accept=True)
        elapsed = (time.perf_counter() - start) * 1000
        cpu.append((time.process_time() - start_cpu) * 1000)
        timings.append(elapsed)
        if resubmit:
            replacing.append(elapsed)
    return timings, replacing, cpu


def bench_record(count: int, path: Path, profiled: bool) -> None:
    """Time (or profile) record() on a fresh SQLite store at ``path``."""
    with Store.open(path) as store:
        if profiled:
            from _shared import profile

            profile(lambda: record_returns(store, count), top=30)
            return
        timings, replacing, cpu = record_returns(store, count)
        counts = store.counts()
    stored = counts["values"] / counts["submissions"]
    print(f"{len(timings)} records of {len(COLUMNS) * len(PROVINCES)} values ({stored:.0f} stored)")
    print(f"median {statistics.median(timings):.1f} ms per record() (target <= 5 ms)")
    print(f"p90    {statistics.quantiles(timings, n=10)[-1]:.1f} ms per record()")
    # CPU time leaves out waiting for the disk (each commit is synced) and for a busy core.
    print(f"median {statistics.median(cpu):.1f} ms of CPU per record()")
    if replacing:
        print(f"median {statistics.median(replacing):.1f} ms per replacing record() (with audit)")
    print(f"audit rows written: {counts['audit']}")


def bench_long_table(path: Path, repeat: int) -> None:
    """Time the bulk reads on a store holding ten years of every ministry's returns."""
    from _shared import periods, record_world

    every = periods(2016, 2025)
    years = [str(y) for y in range(2016, 2026)]
    with Store.open(path) as store:
        start = time.perf_counter()
        files = record_world(store, every)
        print(f"built: {files} returns, {time.perf_counter() - start:.1f} s")
        ids = [s.id for s in store.submissions()]
        elements = sorted(set(store.long_table(years[-1:])["element"]))[:40]
        steps = {
            f"long_table({len(every)} periods)": lambda: store.long_table(every),
            "long_table(10 years)": lambda: store.long_table(years),
            "history(40 elements)": lambda: store.history(elements),
            f"findings_of_many({len(ids)})": lambda: store.findings_of_many(ids),
        }
        print(f"values: {len(store.long_table(every))}")
        for label, step in steps.items():
            samples = []
            for _ in range(repeat):
                start = time.perf_counter()
                step()
                samples.append((time.perf_counter() - start) * 1000)
            middle, best = statistics.median(samples), min(samples)
            print(f"{label:28} median {middle:7.0f} ms  min {best:7.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--store", type=Path, default=None, help="a new SQLite file")
    parser.add_argument("--profile", action="store_true", help="profile record() instead")
    parser.add_argument("--long-table", action="store_true", help="time the bulk reads instead")
    parser.add_argument("--repeat", type=int, default=5, help="timings per bulk read")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = args.store or Path(folder) / "bench.sqlite"
        if args.long_table:
            bench_long_table(path, args.repeat)
        else:
            bench_record(args.count, path, args.profile)


if __name__ == "__main__":
    main()
