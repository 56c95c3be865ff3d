"""How long the store takes to record one typical return (SQLite, durable commits).

Records 200 returns of about 500 values each into a fresh SQLite store: 25 provinces by 20
columns, with some missing-reason codes, some blank cells and a few findings; one return in
five replaces an earlier one for the same ministry and period (so it also writes audit rows).
Prints the median and 90th percentile milliseconds per ``Store.record()``.

    .venv/bin/python benchmarks/bench_store.py [--count 200] [--store path/to/new.sqlite]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--store", type=Path, default=None, help="a new SQLite file")
    args = parser.parse_args()
    rng = random.Random(42)
    with tempfile.TemporaryDirectory() as folder:
        path = args.store or Path(folder) / "bench.sqlite"
        timings: list[float] = []
        replacing: list[float] = []
        with Store.open(path) as store:
            run = store.start_run(
                user="bench", host="bench", cpxl_version="bench", catalogue_version="bench"
            )
            for i in range(args.count):
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
                start = time.perf_counter()
                store.record(run, sub, values, findings, accept=True)
                elapsed = (time.perf_counter() - start) * 1000
                timings.append(elapsed)
                if resubmit:
                    replacing.append(elapsed)
            counts = store.counts()
    stored = counts["values"] / counts["submissions"]
    print(f"{len(timings)} records of {len(COLUMNS) * len(PROVINCES)} values ({stored:.0f} stored)")
    print(f"median {statistics.median(timings):.1f} ms per record()")
    print(f"p90    {statistics.quantiles(timings, n=10)[-1]:.1f} ms per record()")
    if replacing:
        print(f"median {statistics.median(replacing):.1f} ms per replacing record() (with audit)")
    print(f"audit rows written: {counts['audit']}")


if __name__ == "__main__":
    main()
