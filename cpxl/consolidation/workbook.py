"""The national workbook: indicators, completeness, data quality, sources and charts in one file.

It shows at most the latest twelve periods asked for, so that it stays a
workbook a person reads and prints however long the series; the exports carry every period. The
workbook is written under a temporary name and moved into place only when complete, so a
reader never opens a half-written national workbook.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

from cpxl.catalogue import Catalogue
from cpxl.consolidation.charts import charts_sheet
from cpxl.consolidation.completeness import completeness_table
from cpxl.consolidation.indicators import indicator_frames
from cpxl.consolidation.inputs import Inputs, load_inputs, restrict, target_periods, with_history
from cpxl.consolidation.quality import quality_table
from cpxl.consolidation.sheets import (
    about,
    completeness_sheet,
    domain_sheet,
    indicators_sheet,
    quality_sheet,
    sources_sheet,
)
from cpxl.consolidation.sources import sources_table
from cpxl.consolidation.values import element_values, population_values
from cpxl.consolidation.writer import Book
from cpxl.store import Store

WORKBOOK_PERIODS: Final = 12  # periods a national workbook shows; exports hold every period


@dataclass(frozen=True, slots=True)
class NationalResult:
    """What the national workbook holds, for the command line and the run summary.

    ``indicators``: indicators with at least one value; ``values``: indicator values (all rows
    of indicator_table with a value); ``submissions``: files whose values were read.
    """

    workbook: Path
    periods: tuple[str, ...]
    indicators: int
    values: int
    submissions: int

    def to_dict(self) -> dict[str, Any]:
        """The machine shape printed by ``--json``."""
        return {
            "workbook": str(self.workbook),
            "periods": list(self.periods),
            "indicators": self.indicators,
            "values": self.values,
            "submissions": self.submissions,
        }


def _submissions_used(inputs: Inputs) -> set[int]:
    """The submissions whose values a consolidation reads (population years included)."""
    own = inputs.counts()["submission_id"]
    pop = inputs.population["submission_id"]
    return {int(x) for x in own.unique()} | {int(x) for x in pop.unique()}


def _period_label(periods: Sequence[str]) -> str:
    return periods[0] + (f"-{periods[-1]}" if len(periods) > 1 else "")


def write_national_workbook(
    catalogue: Catalogue,
    store: Store,
    periods: Sequence[str],
    out_dir: Path,
    *,
    built_at: datetime | None = None,
    today: date | None = None,
) -> NationalResult:
    """Write the national workbook (indicators, completeness, data quality, sources, charts).

    The workbook is for reading and printing: it holds the latest ``WORKBOOK_PERIODS`` of the
    periods asked for, and its About sheet says so; the exports hold every period.
    """
    asked = target_periods(periods)
    targets = asked[-WORKBOOK_PERIODS:]
    moment = built_at or datetime.now(UTC)
    inputs_all = load_inputs(catalogue, store, with_history(targets))
    element_values(inputs_all)
    population_values(inputs_all)
    inputs = restrict(inputs_all, targets)
    table, refs = indicator_frames(inputs)
    totals = indicator_frames(inputs_all, totals_only=True)[0]
    quality = quality_table(inputs, totals, store)
    complete = completeness_table(inputs, store.submissions(), today or moment.date())
    sources = sources_table(inputs, refs)
    n_subs = len(_submissions_used(inputs))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"cpims-national-{_period_label([t.id for t in targets])}.xlsx"
    partial = path.with_name(path.name + ".partial")
    book = Book(partial, catalogue)
    try:
        about(book, [t.id for t in targets], moment, n_subs, asked=[t.id for t in asked])
        indicators_sheet(book, table)
        for domain in catalogue.domains:
            domain_sheet(book, table, domain)
        completeness_sheet(book, complete)
        quality_sheet(book, quality)
        sources_sheet(book, sources)
        charts_sheet(book, table, [t.id for t in targets])
        book.close()
    except BaseException:
        # Nothing half-written is left where a reader would take it for the national workbook.
        with contextlib.suppress(Exception):
            book.close()
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    reported = table[table["value"].notna()]
    return NationalResult(
        workbook=path,
        periods=tuple(t.id for t in targets),
        indicators=int(reported["indicator"].nunique()),
        values=len(reported),
        submissions=n_subs,
    )
