"""What every export shares: the column sets, chunked input, number and period texts, and
files that appear whole or not at all.

The national values and indicators arrive as an iterable of DataFrame chunks (a list holding one
DataFrame is fine); each writer takes one chunk at a time, so memory follows the chunk size and
not the store's size.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Self

import numpy as np
import pandas as pd

from cpxl.catalogue import Catalogue, parse_period

# A chunk of a table: a DataFrame, or plain rows in the table's column order (absent cells
# None), as the store reads them for the exports without building a frame.
Row = tuple[Any, ...]
Chunk = pd.DataFrame | list[Row]
Chunks = pd.DataFrame | Iterable[Chunk]

_ADX_DURATION: Final = {"annual": "P1Y", "semiannual": "P6M", "quarterly": "P3M", "monthly": "P1M"}
_SDMX_FREQ: Final = {"annual": "A", "semiannual": "S", "quarterly": "Q", "monthly": "M"}


def chunks(data: Chunks) -> Iterator[Chunk]:
    """The chunks of a table given whole or in pieces."""
    if isinstance(data, pd.DataFrame):
        yield data
    else:
        yield from data


def table_rows(
    chunk: Chunk, columns: Sequence[str], what: str, numeric: Sequence[str]
) -> list[Row]:
    """A chunk as plain rows in the order of ``columns``: ``numeric`` cells as floats, absent
    cells None. Rows pass as they are; a frame is converted column by column, not cell by cell."""
    if not isinstance(chunk, pd.DataFrame):
        return chunk
    require(chunk, columns, what)
    converted: list[list[Any]] = []
    for name in columns:
        column = chunk[name]
        if name in numeric:
            try:
                floats = pd.to_numeric(column, errors="raise").to_numpy("float64", na_value=np.nan)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"the {name} column holds text that is not a number") from exc
            converted.append([None if math.isnan(v) else v for v in floats.tolist()])
        elif column.hasnans:
            converted.append(column.astype(object).where(column.notna(), None).tolist())
        else:
            converted.append(column.tolist())
    return list(zip(*converted, strict=True))


def number_texts(values: Iterable[float | None]) -> dict[float, str]:
    """:func:`number_text` of each distinct number: long tables repeat the same few numbers."""
    return {v: number_text(v) for v in set(values) if v is not None}


def number_text(value: float) -> str:
    """A number as exchange formats want it: plain decimal, no exponent, no trailing ``.0``."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{value!r} is not a number an export can carry")
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    # repr is the shortest text that reads back as the same float; Decimal drops its exponent.
    shortest = repr(value)
    return format(Decimal(shortest), "f") if "e" in shortest else shortest


def adx_period(period_id: str) -> str:
    """A DHIS2 period id as ADX wants it: ISO 8601 start and duration (``2025-01-01/P1Y``)."""
    p = parse_period(period_id)
    return f"{p.start.isoformat()}/{_ADX_DURATION[p.type]}"


def sdmx_time_period(period_id: str) -> tuple[str, str]:
    """FREQ and TIME_PERIOD of a DHIS2 period id (``2025Q1`` -> ``("Q", "2025-Q1")``)."""
    p = parse_period(period_id)
    y, m = p.start.year, p.start.month
    text = {
        "annual": f"{y}",
        "semiannual": f"{y}-S{1 if m <= 6 else 2}",
        "quarterly": f"{y}-Q{(m - 1) // 3 + 1}",
        "monthly": f"{y}-{m:02d}",
    }[p.type]
    return _SDMX_FREQ[p.type], text


def periods_within(periods: Sequence[str]) -> list[str]:
    """The periods and every shorter period inside them (a year's half-years, quarters, months).

    DHIS2 and ADX carry each value at the period it was reported for, so a yearly export must
    also hold the quarterly and half-yearly returns of that year.
    """
    out: dict[str, None] = {}
    for text in periods:
        p = parse_period(text)
        out[p.id] = None
        y = p.year
        inner = [f"{y}S{h}" for h in (1, 2)] + [f"{y}Q{q}" for q in range(1, 5)]
        inner += [f"{y}{m:02d}" for m in range(1, 13)]
        for candidate in map(parse_period, inner):
            if p.contains(candidate):
                out[candidate.id] = None
    return list(out)


def area_iso(catalogue: Catalogue) -> dict[str, str]:
    """ISO 3166-2 code of every area code: ``{"00": "KH", "01": "KH-1", ...}``."""
    out = {catalogue.national.code: catalogue.national.iso}
    out.update({p.code: p.iso for p in catalogue.provinces})
    return out


def require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Stop with the names of the columns a table lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the {what} table lacks the column(s) {', '.join(missing)}")


def absent(value: object) -> bool:
    """None, pandas' NA and NaT, and NaN: a cell with nothing in it."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, numbers.Real) and math.isnan(float(value))


def text(value: object) -> str:
    """A cell as text, empty when absent."""
    return "" if absent(value) else str(value)


def as_float(value: object) -> float | None:
    """A cell as a number, None when absent."""
    if absent(value):
        return None
    if not isinstance(value, numbers.Real):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


def iso_of(isos: Mapping[str, str], area: str) -> str:
    """The ISO code of an area code, or a clear stop."""
    try:
        return isos[area]
    except KeyError:
        raise ValueError(f"area {area!r} is neither the nation nor a province") from None


def check_elements(catalogue: Catalogue, rows: Sequence[Row]) -> None:
    """Stop on an element the catalogue does not know (rows of the values table)."""
    unknown = sorted({str(r[0]) for r in rows} - set(catalogue.elements))
    if unknown:
        raise ValueError(f"element(s) not in the catalogue: {', '.join(unknown)}")


def write_whole(path: Path, data: bytes) -> Path:
    """Write whole or not at all, so a reader never sees half an export."""
    with AtomicFile(path, "wb") as out:
        out.write(data)
    return path


class AtomicFile:
    """A file written beside its final name and moved there only when complete.

    Writers stream into it chunk by chunk; if anything fails the partial file is removed and
    the previous export, if any, stays as it was.
    """

    def __init__(self, path: Path, mode: str = "w", *, encoding: str = "utf-8") -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.mode = mode
        self.encoding = encoding
        self.handle: IO[Any] | None = None

    def __enter__(self) -> IO[Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if "b" in self.mode:
            self.handle = self.partial.open(self.mode)
        else:
            self.handle = self.partial.open(self.mode, encoding=self.encoding, newline="")
        return self.handle

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.handle is None or self.handle.closed:
            return  # already finished or abandoned
        self.handle.close()
        if kind is None:
            self.partial.replace(self.path)
        else:
            self.partial.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class SurveyTopic:
    """A survey's elements: the estimate(s) and the element that says the survey's year."""

    year_element: str
    elements: frozenset[str]


@dataclass(frozen=True, slots=True)
class Surveys:
    """Which elements and indicators are survey results, read from the catalogue.

    A survey topic is the elements sharing a sheet and a code prefix with a
    ``<topic>_survey_year`` element; a survey indicator is one with ``survey`` metadata.
    """

    topic_of: Mapping[str, SurveyTopic]
    indicators: frozenset[str]

    @classmethod
    def of(cls, catalogue: Catalogue) -> Self:
        """The survey elements and indicators of a catalogue."""
        topic_of: dict[str, SurveyTopic] = {}
        for year in catalogue.elements.values():
            if not year.code.endswith("_survey_year"):
                continue
            prefix = year.code.removesuffix("survey_year")
            members = frozenset(
                e.code
                for e in catalogue.elements.values()
                if e.sheet == year.sheet and e.code.startswith(prefix)
            )
            topic = SurveyTopic(year.code, members)
            topic_of.update(dict.fromkeys(members, topic))
        indicators = frozenset(i.id for i in catalogue.indicators if i.survey)
        return cls(topic_of, indicators)


@dataclass(frozen=True, slots=True)
class ValueRow:
    """One stored cell as the DHIS2 exports carry it.

    ``reported`` names the reporting periods a survey value was sent for when ``period`` is the
    survey's year; it is empty for every other value.
    """

    element: str
    period: str
    area: str
    dimension: str
    option: str
    value: float | None
    missing: str
    reported: tuple[str, ...] = ()


class SurveyPlacer:
    """Holds survey values until the end and gives each survey result once, at its survey year.

    Survey elements repeat the latest survey every reporting year; a consumer must see the 2013
    survey once, as 2013's figure, not as a 2024 and a 2025 observation. The later report wins
    if two reports disagree (a number over a missing-reason code). A survey value whose year was
    not reported stays at its reporting period. Only survey rows are held, a few per period.
    """

    def __init__(self, surveys: Surveys) -> None:
        self.surveys = surveys
        self.rows: list[ValueRow] = []

    def take(self, row: ValueRow) -> bool:
        """Keep a survey row for later (True), or leave an ordinary one to the caller (False)."""
        if row.element not in self.surveys.topic_of:
            return False
        self.rows.append(row)
        return True

    def placed(self) -> list[ValueRow]:
        """Every held survey result once, at its survey year, in a stable order."""
        years: dict[tuple[str, str, str], str] = {}
        for r in self.rows:
            topic = self.surveys.topic_of[r.element]
            if r.element == topic.year_element and r.value is not None and r.value.is_integer():
                years[(topic.year_element, r.period, r.area)] = str(int(r.value))
        # A value whose survey year is unknown stays at its reporting period, where it meets
        # any survey placed at that year: one value per key either way.
        kept: dict[tuple[str, str, str, str, str], list[tuple[ValueRow, bool]]] = {}
        for r in self.rows:
            year = years.get((self.surveys.topic_of[r.element].year_element, r.period, r.area))
            key = (r.element, year or r.period, r.area, r.dimension, r.option)
            kept.setdefault(key, []).append((r, year is not None))
        out: list[ValueRow] = []
        for (element, year, area, dimension, option), reports in kept.items():
            reports.sort(key=lambda rd: (rd[0].value is not None, parse_period(rd[0].period)))
            best = reports[-1][0]
            periods = sorted({r.period for r, dated in reports if dated}, key=parse_period)
            out.append(
                ValueRow(
                    element, year, area, dimension, option, best.value, best.missing, tuple(periods)
                )
            )
        out.sort(key=lambda r: (r.element, r.area, parse_period(r.period), r.dimension, r.option))
        return out
