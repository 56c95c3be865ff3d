"""Which periods a consolidation reads, and the one read of the store every table starts from.

A period asked for (a target) is built from the stored returns of the same or shorter periods
inside it (a year from its quarters); a rate's denominator is the latest child population up to
the target's year. Indicators, completeness and data quality all read one :class:`Inputs`; what
it reads from the store is aggregated there (:mod:`cpxl.store.national`) and read once per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

import pandas as pd

from cpxl.catalogue import Catalogue, Period, parse_period, period_containing
from cpxl.store import Store, national

HISTORY_PERIODS: Final = 3  # earlier periods a value is compared with (data quality)
RATE: Final = "rate_per_100000"  # the unit whose denominator is the child population


def target_periods(periods: Sequence[str]) -> tuple[Period, ...]:
    """The periods asked for, parsed; misuse (none, a duplicate, a typo) raises ValueError."""
    if isinstance(periods, str) or not periods:
        raise ValueError("name at least one period, as a list such as ['2025']")
    out = tuple(parse_period(p) for p in periods)
    ids = [p.id for p in out]
    if len(set(ids)) != len(ids):
        raise ValueError(f"a period is named twice in {ids}")
    return out


def sub_periods(target: Period, kind: str) -> tuple[str, ...]:
    """The periods of type ``kind`` that make up ``target`` (none when ``kind`` is longer)."""
    current = period_containing(target.start, kind)
    if not target.contains(current):
        return ()
    out: list[str] = []
    while True:
        out.append(current.id)
        if current.end >= target.end:
            return tuple(out)
        current = period_containing(current.end + timedelta(days=1), kind)


def periods_before(target: Period, count: int) -> list[Period]:
    out: list[Period] = []
    current = target
    for _ in range(count):
        current = current.previous()
        out.append(current)
    return out


def period_types_of(catalogue: Catalogue) -> dict[str, str]:
    """Element -> the period type of the data set it is reported in."""
    return {e: d.period_type for d in catalogue.data_sets for e in d.elements}


@dataclass(frozen=True, slots=True, eq=False)
class Inputs:
    """What every table is computed from: the store, and how its periods map to targets."""

    catalogue: Catalogue
    targets: tuple[Period, ...]
    store: Store
    period_map: pd.DataFrame  # stored, target, sub_index, n_sub
    population: pd.DataFrame  # target, element, area, dimension, option, period, value, ...
    cache: dict[str, pd.DataFrame] = field(default_factory=dict)  # computed once per read

    @property
    def areas(self) -> tuple[str, ...]:
        """The national area first, then the provinces in catalogue order."""
        return (self.catalogue.national.code, *(p.code for p in self.catalogue.provinces))

    @property
    def stored(self) -> list[str]:
        """The stored periods the targets are built from."""
        return sorted(set(self.period_map["stored"]))

    def counts(self) -> pd.DataFrame:
        """Per current return and area of the stored periods: numbers and cells stored."""
        if "counts" not in self.cache:
            periods = self.stored
            self.cache["counts"] = self.store.read(lambda c: national.return_counts(c, periods))
        return self.cache["counts"]


def _period_map(catalogue: Catalogue, targets: Sequence[Period]) -> pd.DataFrame:
    kinds = sorted({d.period_type for d in catalogue.data_sets})
    rows: list[tuple[str, str, int, int]] = []
    for t in targets:
        for kind in kinds:
            subs = sub_periods(t, kind)
            rows += [(s, t.id, i, len(subs)) for i, s in enumerate(subs)]
    return pd.DataFrame(rows, columns=["stored", "target", "sub_index", "n_sub"])


def _rate_elements(catalogue: Catalogue) -> list[str]:
    return sorted(
        {
            r.element
            for ind in catalogue.indicators
            if ind.unit == RATE and ind.denominator is not None
            for r in ind.denominator.refs
        }
    )


_POPULATION_COLUMNS: Final = [
    "target", "element", "area", "dimension", "option", "period", "value", "submission_id",
    "days_late",
]  # fmt: skip


def rate_history(catalogue: Catalogue, store: Store) -> pd.DataFrame:
    """Every stored child population (rate denominators), with its year and lateness."""
    columns = [*_POPULATION_COLUMNS[1:], "year", "start"]
    elements = _rate_elements(catalogue)
    if not elements:
        return pd.DataFrame(columns=columns)
    hist = store.history(elements)
    hist = hist[hist["value"].notna()]
    if hist.empty:
        return pd.DataFrame(columns=columns)
    parsed = {p: parse_period(p) for p in hist["period"].unique()}
    late = {s.id: s.days_late or 0 for s in store.submissions()}
    return hist.assign(
        year=hist["period"].map({k: v.year for k, v in parsed.items()}),
        start=hist["period"].map({k: v.start for k, v in parsed.items()}),
        days_late=hist["submission_id"].map(late).fillna(0).astype("int64"),
    ).sort_values("start", kind="stable")[columns]


def _population_choice(targets: Sequence[Period], hist: pd.DataFrame) -> pd.DataFrame:
    """For each target and cell of a rate denominator: the latest period up to its year."""
    if hist.empty:
        return pd.DataFrame(columns=_POPULATION_COLUMNS)
    parts = []
    for t in targets:
        chosen = hist[hist["year"] <= t.year]
        chosen = chosen.groupby(["element", "area", "dimension", "option"], sort=False).tail(1)
        parts.append(chosen.assign(target=t.id)[_POPULATION_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def load_inputs(
    catalogue: Catalogue,
    store: Store,
    targets: Sequence[Period],
    rates: pd.DataFrame | None = None,
) -> Inputs:
    """What a consolidation of these target periods reads; the store aggregates it on demand.

    ``rates``: the child populations already read (:func:`rate_history`), when loading
    several groups of periods in turn.
    """
    period_map = _period_map(catalogue, targets)
    hist = rate_history(catalogue, store) if rates is None else rates
    population = _population_choice(targets, hist)
    return Inputs(catalogue, tuple(targets), store, period_map, population)


def with_history(targets: Sequence[Period]) -> tuple[Period, ...]:
    """The targets plus the earlier periods that consistency over time compares them with."""
    ids = {t.id for t in targets}
    extra: dict[str, Period] = {}
    for t in targets:
        for p in periods_before(t, HISTORY_PERIODS):
            if p.id not in ids:
                extra[p.id] = p
    return (*targets, *sorted(extra.values()))


def restrict(inputs: Inputs, targets: Sequence[Period]) -> Inputs:
    ids = [t.id for t in targets]
    cache = {k: v[v["target"].isin(ids)] if "target" in v else v for k, v in inputs.cache.items()}
    return Inputs(
        inputs.catalogue,
        tuple(targets),
        inputs.store,
        inputs.period_map[inputs.period_map["target"].isin(ids)],
        inputs.population[inputs.population["target"].isin(ids)],
        cache,
    )
