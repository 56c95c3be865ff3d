"""National values and indicators as chunks of rows, for exports that write as they read.

Each chunk covers a few periods and is read (values) or computed by SQL aggregation
(indicators) when it is asked for, so memory holds one chunk at a time however many periods
the store has. A :class:`Chunks` can be iterated more than once (one pass per export format):
each pass reads its chunks again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, Final

import pandas as pd

from cpxl.catalogue import Catalogue
from cpxl.consolidation.indicators import indicator_frames
from cpxl.consolidation.inputs import load_inputs, rate_history, target_periods
from cpxl.store import Store, national

PERIODS_PER_CHUNK: Final = 4
# A year's periods of every type are 19 (itself, 2 halves, 4 quarters, 12 months): about a
# year of stored values a chunk.
VALUE_PERIODS_PER_CHUNK: Final = 19


Row = tuple[Any, ...]


class Chunks:
    """Chunks of one table (DataFrames, or lists of plain rows), made one at a time on every
    pass."""

    def __init__(self, make: Callable[[], Iterator[pd.DataFrame | list[Row]]]) -> None:
        self._make = make

    def __iter__(self) -> Iterator[pd.DataFrame | list[Row]]:
        return self._make()


def national_values(
    store: Store, periods: Sequence[str], *, per_chunk: int = VALUE_PERIODS_PER_CHUNK
) -> Chunks:
    """The national long table of these periods, a few periods at a time, as plain rows in the
    order of :data:`cpxl.store.NATIONAL_VALUE_COLUMNS` (the exports' ``NATIONAL_VALUE_COLUMNS``).

    No frame is built: the exports write row by row, and a frame of every stored value would
    cost more than all of them together.
    """
    ordered = [t.id for t in target_periods(periods)]

    def make() -> Iterator[list[Row]]:
        for i in range(0, len(ordered), per_chunk):
            yield store.read(partial(national.long_rows, periods=ordered[i : i + per_chunk]))

    return Chunks(make)


def indicator_chunks(
    catalogue: Catalogue,
    store: Store,
    periods: Sequence[str],
    *,
    per_chunk: int = PERIODS_PER_CHUNK,
) -> Chunks:
    """The indicator table of these periods (as ``indicator_table``), a few periods at a time."""
    targets = target_periods(periods)

    def make() -> Iterator[pd.DataFrame]:
        rates = rate_history(catalogue, store)  # read once per pass, not once per chunk
        for i in range(0, len(targets), per_chunk):
            inputs = load_inputs(catalogue, store, targets[i : i + per_chunk], rates)
            yield indicator_frames(inputs)[0]

    return Chunks(make)
