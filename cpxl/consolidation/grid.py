"""Element values as arrays, and catalogue expressions summed over whole columns of them.

Computation is vectorised: values are pivoted once into (period x area) x (element, dimension,
option) arrays, and each indicator view or compare rule is a handful of numpy operations on whole
columns, instead of a loop over provinces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from cpxl.catalogue import Ref
from cpxl.consolidation.inputs import RATE

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]

_SEP: Final = "\x1f"


class Grid:
    """Element cells pivoted to arrays: one row per (target, area), one column per cell key."""

    def __init__(self, frame: pd.DataFrame, targets: Sequence[str], areas: Sequence[str]) -> None:
        self.n_areas = len(areas)
        n_rows = len(targets) * len(areas)
        t_index = {t: i for i, t in enumerate(targets)}
        a_index = {a: i for i, a in enumerate(areas)}
        frame = frame[frame["target"].isin(t_index) & frame["area"].isin(a_index)]
        rows = frame["target"].map(t_index).to_numpy("int64") * len(areas) + frame["area"].map(
            a_index
        ).to_numpy("int64")
        combined = np.zeros(len(frame), dtype=np.int64)
        for c in ("element", "dimension", "option"):
            part_codes, part_uniques = pd.factorize(frame[c])
            combined = combined * (len(part_uniques) + 1) + part_codes
        _u, first, codes = np.unique(combined, return_index=True, return_inverse=True)
        keys = frame[["element", "dimension", "option"]].to_numpy(dtype=object)[first]
        self.columns: dict[str, int] = {
            f"{e}{_SEP}{d}{_SEP}{o}": i for i, (e, d, o) in enumerate(keys.tolist())
        }
        shape = (n_rows, len(self.columns) + 1)  # the last column stays empty: "no such cell"
        self.value: Floats = np.full(shape, np.nan)
        self.src: Ints = np.zeros(shape, dtype=np.int64)
        self.late: Bools = np.zeros(shape, dtype=bool)
        self.partial: Bools = np.zeros(shape, dtype=bool)
        self.year: Floats = np.full(shape, np.nan)
        self.value[rows, codes] = frame["value"].to_numpy(float)
        self.src[rows, codes] = frame["src"].to_numpy("int64")
        self.late[rows, codes] = frame["late"].to_numpy(bool)
        self.partial[rows, codes] = frame["partial"].to_numpy(bool)
        if "year" in frame:
            self.year[rows, codes] = frame["year"].to_numpy(float)

    def column(self, ref: Ref) -> int:
        """The array column of a reference (the empty column when nothing was stored)."""
        key = f"{ref.element}{_SEP}{ref.dimension}{_SEP}{ref.option}"
        return self.columns.get(key, int(self.value.shape[1]) - 1)


@dataclass(frozen=True, slots=True)
class Term:
    sign: float
    ref: Ref | None
    constant: float


@dataclass(frozen=True, slots=True)
class Side:
    """An expression evaluated over every (target, area) row."""

    value: Floats
    has: Bools
    complete: Bools
    missing_bits: Ints
    partial_bits: Ints
    late: Bools
    src: Ints
    year: Floats


def side_sum(terms: Sequence[Term], grid: Grid, bit: int) -> Side:
    """Sum of signed terms; a value where at least one reference was reported."""
    n = grid.value.shape[0]
    total = np.zeros(n)
    has = np.zeros(n, dtype=bool)
    complete = np.ones(n, dtype=bool)
    missing = np.zeros(n, dtype=np.int64)
    partial = np.zeros(n, dtype=np.int64)
    late = np.zeros(n, dtype=bool)
    src = np.zeros(n, dtype=np.int64)
    year = np.full(n, np.nan)
    refs = 0
    for t in terms:
        if t.ref is None:
            total += t.sign * t.constant
            continue
        col = grid.column(t.ref)
        v = grid.value[:, col]
        present = ~np.isnan(v)
        total += t.sign * np.where(present, v, 0.0)
        has |= present
        complete &= present
        missing |= np.where(present, 0, 1 << (bit + refs))
        partial |= np.where(present & grid.partial[:, col], 1 << (bit + refs), 0)
        late |= present & grid.late[:, col]
        src += np.where(present, grid.src[:, col], 0)
        if refs == 0:
            year = grid.year[:, col]
        refs += 1
    if refs == 0:
        has[:] = True
    return Side(np.where(has, total, np.nan), has, complete, missing, partial, late, src, year)


def ratio(unit: str, num: Floats, den: Floats | None) -> Floats:
    """The indicator's value from numerator and denominator, by unit."""
    if den is None:
        return num
    scale = {"percent": 100.0, RATE: 100_000.0}.get(unit, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: Floats = np.where(den != 0, scale * num / np.where(den != 0, den, 1.0), np.nan)
    return out
