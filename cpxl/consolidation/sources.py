"""Sources of national values: the files, sheets and cells each one was built from.

A national figure can be traced back to the returns it came from, so a reader who doubts it
knows which workbook and which cells to open.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Final

import numpy as np
import pandas as pd

from cpxl.consolidation.inputs import _Inputs
from cpxl.store import national

SOURCE_COLUMNS: Final = (
    "indicator", "period", "dimension", "option", "file", "sha256", "sheet", "cells",
)  # fmt: skip


def _cell_ranges(cells: Iterable[str]) -> str:
    """``D5, D6, D7, F9`` -> ``D5:D7, F9``: the cells a value came from, compactly."""
    by_col: dict[str, list[int]] = defaultdict(list)
    for cell in cells:
        m = _CELL.match(cell)
        if m:
            by_col[m.group(1)].append(int(m.group(2)))
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


_CELL: Final = re.compile(r"^([A-Z]+)(\d+)$")


def _sources(inputs: _Inputs, refs: pd.DataFrame) -> pd.DataFrame:
    """Every national value with the files, sheets and cells it was built from."""
    if refs.empty:
        return pd.DataFrame(columns=list(SOURCE_COLUMNS))
    cols = ["element", "period", "area", "dimension", "option", "submission_id"]
    cols += ["name_received", "sha256", "sheet", "cell"]
    pop_keys = ["target", "element", "period", "area", "dimension", "option"]
    periods = sorted(set(inputs.stored) | set(inputs.population["period"]))
    elements = sorted(set(refs["element"]))
    stored = inputs.store.read(lambda c: national.cells(c, periods, elements))[cols]
    plain = stored.merge(inputs.period_map, left_on="period", right_on="stored")
    plain = plain.assign(rate=False)
    pop = (
        inputs.population[pop_keys]
        .merge(stored, on=["element", "period", "area", "dimension", "option"])
        .assign(rate=True)
    )
    keys = ["element", "target", "dimension", "option", "rate"]
    both = pd.concat([plain[[*keys, *cols[5:]]], pop[[*keys, *cols[5:]]]], ignore_index=True)
    needed = refs[["element", "target", "rdim", "ropt", "rate"]].drop_duplicates()
    both = both.merge(needed.rename(columns={"rdim": "dimension", "ropt": "option"}), on=keys)
    if both.empty:
        return pd.DataFrame(columns=list(SOURCE_COLUMNS))
    # One group per referenced cell key, file and sheet; its cells written as ranges once.
    by = [*keys, "name_received", "sha256", "sheet"]
    ids = both.groupby(by, sort=False).ngroup().to_numpy()
    order = np.argsort(ids, kind="stable")
    bounds = np.flatnonzero(np.diff(ids[order])) + 1
    cells = np.split(both["cell"].to_numpy(dtype=object)[order], bounds)
    firsts = order[np.concatenate([[0], bounds])]
    grouped = both.iloc[firsts][by].assign(cells=[_cell_ranges(c.tolist()) for c in cells])
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
