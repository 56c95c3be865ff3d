"""Sources of national values: the files, sheets and cells each one was built from.

A national figure can be traced back to the returns it came from, so a reader who doubts it
knows which workbook and which cells to open.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Final

import pandas as pd

from cpxl.consolidation.inputs import Inputs
from cpxl.findings import cell_position, column_name
from cpxl.store import national

SOURCE_COLUMNS: Final = (
    "indicator", "period", "dimension", "option", "file", "sha256", "sheet", "cells",
)  # fmt: skip


def _cell_ranges(cells: Iterable[str]) -> str:
    """``D5, D6, D7, F9`` -> ``D5:D7, F9``: the cells a value came from, compactly."""
    by_col: dict[str, list[int]] = defaultdict(list)
    for cell in cells:
        at = cell_position(cell)
        if at is not None:
            by_col[column_name(at[1])].append(at[0] + 1)
    out: list[str] = []
    for col in sorted(by_col, key=lambda c: (len(c), c)):
        rows = sorted(set(by_col[col]))
        start = prev = rows[0]
        for r in [*rows[1:], None]:
            if r is not None and r == prev + 1:
                prev = r
                continue
            out.append(f"{col}{start}" if start == prev else f"{col}{start}:{col}{prev}")
            if r is not None:
                start = prev = r
    return ", ".join(out)


def sources_table(inputs: Inputs, refs: pd.DataFrame) -> pd.DataFrame:
    """Every national value with the files, sheets and cells it was built from."""
    if refs.empty:
        return pd.DataFrame(columns=list(SOURCE_COLUMNS))
    files = ["name_received", "sha256", "sheet", "cells"]
    keys = ["element", "target", "dimension", "option", "rate"]
    stored_periods = inputs.stored
    elements = sorted(set(refs["element"]))
    # The database joins each return's cells per element cell key; Python writes the ranges.
    lists = inputs.store.read(lambda c: national.cell_lists(c, stored_periods, elements))
    plain = lists.merge(inputs.period_map, left_on="period", right_on="stored")
    plain = plain.assign(rate=False)
    population = inputs.population
    pop_periods = sorted(set(population["period"]))
    pop_elements = sorted(set(population["element"]))
    pop_cells = inputs.store.read(lambda c: national.cells(c, pop_periods, pop_elements))
    pop = (
        population[["target", "element", "period", "area", "dimension", "option"]]
        .merge(pop_cells, on=["element", "period", "area", "dimension", "option"])
        .rename(columns={"cell": "cells"})
        .assign(rate=True)
    )
    both = pd.concat([plain[[*keys, *files]], pop[[*keys, *files]]], ignore_index=True)
    needed = refs[["element", "target", "rdim", "ropt", "rate"]].drop_duplicates()
    both = both.merge(needed.rename(columns={"rdim": "dimension", "ropt": "option"}), on=keys)
    if both.empty:
        return pd.DataFrame(columns=list(SOURCE_COLUMNS))
    # One group per referenced cell key, file and sheet; its cells written as ranges once.
    by = [*keys, "name_received", "sha256", "sheet"]
    grouped = (
        both.groupby(by, sort=False)["cells"]
        .agg(lambda joined: _cell_ranges(",".join(joined).split(",")))
        .reset_index()
    )
    merged = refs.merge(
        grouped.rename(columns={"dimension": "rdim", "option": "ropt"}),
        on=["element", "target", "rdim", "ropt", "rate"],
    )
    out = (
        merged.groupby(
            ["indicator", "target", "dimension", "option", "name_received", "sha256", "sheet"],
            sort=False,
        )["cells"]
        .agg(", ".join)
        .reset_index()
        .rename(columns={"target": "period", "name_received": "file"})
    )
    return out[list(SOURCE_COLUMNS)]
