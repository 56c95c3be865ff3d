"""How long the national outputs take from a store holding ten years of every ministry's returns.

Builds an SQLite store with every ministry's clean return for every period of 2016-2025
(annual, semiannual and quarterly; figures from ``simulate.World(...).cells``, recorded straight
into ``Store.record``, without intake). Then times what ``cpxl consolidate --from 2016 --to
2025`` does, --repeat times: ``consolidation.write_national_workbook`` for the ten annual
periods, then ``Store.long_table`` and ``consolidation.indicator_table`` and
``exports.write_exports`` (CSV, DHIS2 dataValueSets, ADX, SDMX-CSV). Target: under 10 s in all.

Baseline (the floor of any consolidation): read the long table and write it as it is to CSV.

    .venv/bin/python benchmarks/bench_consolidation.py [--quick] [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from _shared import (
    fmt,
    load_note,
    periods,
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
)

from cpxl.store import Store

FIRST, LAST = 2016, 2025
TOTAL_S = 10.0


def floor(store: Store, years: list[str], out: Path) -> None:
    """The baseline: read the long table and write it as it is to CSV."""
    store.long_table(years).to_csv(out / "floor.csv", index=False)


def consolidate(store: Store, years: list[str], out: Path, times: dict[str, list[float]]) -> None:
    """What ``cpxl consolidate`` does, step by step, each step timed (wall and CPU)."""
    from _shared import catalogue

    from cpxl.consolidation import indicator_table, write_national_workbook
    from cpxl.exports import write_exports

    cat = catalogue()

    def step(key: str, fn: Any) -> Any:
        result, wall, cpu = timed_cpu(fn)
        times.setdefault(key, []).append(wall)
        times.setdefault(f"{key}_cpu", []).append(cpu)
        return result

    step("write_national_workbook", lambda: write_national_workbook(cat, store, years, out))
    values = step("long_table", lambda: store.long_table(years))
    indicators = step("indicator_table", lambda: indicator_table(cat, store, years))
    stem = f"cpims-national-{years[0]}-{years[-1]}"
    step("write_exports", lambda: write_exports(cat, values, indicators, out, stem))
    parts = ("write_national_workbook", "long_table", "indicator_table", "write_exports")
    times.setdefault("total", []).append(sum(times[k][-1] for k in parts))
    times.setdefault("total_cpu", []).append(sum(times[f"{k}_cpu"][-1] for k in parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat instead of three")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--profile", action="store_true", help="profile one consolidation")
    parser.add_argument("--wait", type=float, default=0, help="wait up to S s for a quiet machine")
    args = parser.parse_args()
    repeat = args.repeat or (1 if args.quick else 3)
    years = [str(y) for y in range(FIRST, LAST + 1)]
    with tempfile.TemporaryDirectory(prefix="cpxl-bench-") as tmp:
        work = Path(tmp)
        store = Store.open(work / "national.sqlite")
        recorded, build_ms = timed(lambda: record_world(store, periods(FIRST, LAST)))
        counts = store.counts()
        built = f"built in {build_ms / 1000:.1f} s"
        print(f"store: {recorded} returns, {counts['values']:,} values, {built}")
        wait_for_quiet(1.0, args.wait)
        load1 = load_note("start")
        times: dict[str, list[float]] = {}
        for i in range(repeat):
            out = work / f"out-{i}"
            out.mkdir()
            consolidate(store, years, out, times)
            _, wall, cpu = timed_cpu(lambda o=out: floor(store, years, o))
            times.setdefault("floor", []).append(wall)
            times.setdefault("floor_cpu", []).append(cpu)
        sizes = {p.name: p.stat().st_size for p in (work / "out-0").iterdir()}
        if args.profile:
            (work / "profiled").mkdir()
            profile(lambda: consolidate(store, years, work / "profiled", {}))
        store.close()
    s = {k: stats(v) for k, v in times.items()}
    rows = []
    for key in (
        "write_national_workbook",
        "long_table",
        "indicator_table",
        "write_exports",
        "total",
        "floor",
    ):
        goal = target(s[key]["median"], TOTAL_S * 1000) if key == "total" else ""
        cpu = s.get(f"{key}_cpu", {}).get("median")
        rows.append([key, fmt(s[key]["median"]), fmt(s[key]["p90"]), fmt(cpu), goal])
    print_table(
        f"consolidation of {FIRST}-{LAST} ({repeat} runs)",
        ["step", "median ms", "p90 ms", "median CPU ms", "target"],
        rows,
    )
    over_floor = ratio(s["total"]["median"], s["floor"]["median"])
    print(f"\ntotal / floor (long table read and written to CSV as is): {over_floor:.1f}x")
    print("outputs: " + ", ".join(f"{n} {b / 1024:,.0f} KiB" for n, b in sorted(sizes.items())))
    save(
        "bench_consolidation",
        {
            "years": years,
            "repeat": repeat,
            "returns": recorded,
            "store_counts": counts,
            "build_s": build_ms / 1000,
            "load_average_1min": load1,
            "steps": s,
            "total/floor": over_floor,
            "outputs_bytes": sizes,
        },
    )


if __name__ == "__main__":
    main()
