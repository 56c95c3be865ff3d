"""National exports: CSV for people; DHIS2 metadata, dataValueSets and ADX; SDMX structure and data.

Every format is built from the two national tables, given in chunks (one DataFrame, or any
iterable of DataFrames or lists of plain rows) so that memory stays flat however large the
store: ``values`` (one row per stored cell, :data:`NATIONAL_VALUE_COLUMNS`) and ``indicators``
(:data:`INDICATOR_COLUMNS`). A row
that is absent was not reported and stays absent in every format: nothing is ever turned into 0.
The metadata (DHIS2 package, SDMX structure) comes from the catalogue alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Final, Protocol

from cpxl.catalogue import Catalogue
from cpxl.exports.common import (
    Chunks,
    Row,
    adx_period,
    area_iso,
    chunks,
    number_text,
    periods_within,
    sdmx_time_period,
    table_rows,
)
from cpxl.exports.dhis2 import (
    ADX_NAMESPACE,
    AdxWriter,
    DataValueSetWriter,
    data_element_code,
    dhis2_metadata,
    option_code,
    target,
    uid,
    write_dhis2_metadata,
)
from cpxl.exports.sdmx import (
    SDMX_STRUCTURE_ID,
    SdmxCsvWriter,
    csv_columns,
    structure_message,
    write_structure,
)
from cpxl.exports.tables import CsvWriter, csv_safe
from cpxl.findings import INDICATOR_COLUMNS, NATIONAL_VALUE_COLUMNS

__all__ = [
    "ADX_NAMESPACE",
    "EXPORT_FORMATS",
    "INDICATOR_COLUMNS",
    "NATIONAL_VALUE_COLUMNS",
    "SDMX_STRUCTURE_ID",
    "adx_period",
    "area_iso",
    "csv_columns",
    "csv_safe",
    "data_element_code",
    "dhis2_metadata",
    "merge_written",
    "number_text",
    "option_code",
    "periods_within",
    "sdmx_time_period",
    "structure_message",
    "target",
    "uid",
    "write_exports",
    "write_indicator_exports",
    "write_value_exports",
]

EXPORT_FORMATS: Final = ("csv", "dhis2", "adx", "sdmx")


class _Writer(Protocol):
    def add(self, rows: list[Row]) -> None: ...
    def close(self) -> Path: ...
    def abandon(self) -> None: ...


def write_exports(
    catalogue: Catalogue,
    values: Chunks,
    indicators: Chunks,
    out_dir: Path,
    stem: str,
    formats: Sequence[str] = EXPORT_FORMATS,
    *,
    exported: datetime | None = None,
) -> dict[str, list[Path]]:
    """Every requested export in ``out_dir``, by format; one call for the national run.

    ``values`` and ``indicators`` are each read once, chunk by chunk, so a generator will do.
    csv: ``<stem>.values.csv`` and ``<stem>.indicators.csv``; dhis2: ``<stem>.dhis2-metadata.json``
    and ``<stem>.dhis2.json``; adx: ``<stem>.adx.xml`` (and the metadata); sdmx:
    ``<stem>.sdmx-structure.xml`` and ``<stem>.sdmx.csv``. The values' files, then the
    indicators' (:func:`write_value_exports`, :func:`write_indicator_exports`).
    """
    out = write_value_exports(catalogue, values, out_dir, stem, formats, exported=exported)
    more = write_indicator_exports(catalogue, indicators, out_dir, stem, formats, exported=exported)
    merged = merge_written(out, more)
    return {f: merged[f] for f in _wanted(formats)}


def merge_written(
    first: dict[str, list[Path]], then: dict[str, list[Path]]
) -> dict[str, list[Path]]:
    """The files of two halves of an export, by format, the first half's first."""
    return {f: first.get(f, []) + then.get(f, []) for f in dict.fromkeys([*first, *then])}


def _wanted(formats: Sequence[str]) -> list[str]:
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown:
        raise ValueError(f"unknown export format(s) {', '.join(unknown)}: use {EXPORT_FORMATS}")
    return list(dict.fromkeys(formats))


def write_value_exports(
    catalogue: Catalogue,
    values: Chunks,
    out_dir: Path,
    stem: str,
    formats: Sequence[str] = EXPORT_FORMATS,
    *,
    exported: datetime | None = None,
) -> dict[str, list[Path]]:
    """The requested exports of the national values: CSV values, DHIS2 (metadata and
    dataValueSets) and ADX, from one pass over ``values``."""
    wanted = _wanted(formats)
    out: dict[str, list[Path]] = {f: [] for f in wanted if f != "sdmx"}
    if "dhis2" in wanted or "adx" in wanted:
        meta = write_dhis2_metadata(catalogue, out_dir, stem)
        out["dhis2" if "dhis2" in wanted else "adx"].append(meta)
    opened: list[tuple[str, Callable[[], _Writer]]] = []
    if "csv" in wanted:
        path = out_dir / f"{stem}.values.csv"
        opened.append(("csv", lambda: CsvWriter(path, NATIONAL_VALUE_COLUMNS)))
    if "dhis2" in wanted:
        opened.append(
            ("dhis2", lambda: DataValueSetWriter(catalogue, out_dir / f"{stem}.dhis2.json"))
        )
    if "adx" in wanted:
        opened.append(("adx", lambda: AdxWriter(catalogue, out_dir / f"{stem}.adx.xml", exported)))
    return merge_written(out, _write(values, NATIONAL_VALUE_COLUMNS, "values", ("value",), opened))


def write_indicator_exports(
    catalogue: Catalogue,
    indicators: Chunks,
    out_dir: Path,
    stem: str,
    formats: Sequence[str] = EXPORT_FORMATS,
    *,
    exported: datetime | None = None,
) -> dict[str, list[Path]]:
    """The requested exports of the national indicators: CSV indicators and SDMX (structure and
    data), from one pass over ``indicators``."""
    wanted = _wanted(formats)
    out: dict[str, list[Path]] = {f: [] for f in wanted if f in ("csv", "sdmx")}
    if "sdmx" in wanted:
        out["sdmx"].append(write_structure(catalogue, out_dir, stem, prepared=exported))
    opened: list[tuple[str, Callable[[], _Writer]]] = []
    if "csv" in wanted:
        path = out_dir / f"{stem}.indicators.csv"
        opened.append(("csv", lambda: CsvWriter(path, INDICATOR_COLUMNS)))
    if "sdmx" in wanted:
        opened.append(("sdmx", lambda: SdmxCsvWriter(catalogue, out_dir / f"{stem}.sdmx.csv")))
    numbers = ("numerator", "denominator", "value")
    return merge_written(out, _write(indicators, INDICATOR_COLUMNS, "indicators", numbers, opened))


def _write(
    data: Chunks,
    columns: Sequence[str],
    what: str,
    numeric: Sequence[str],
    opened: Sequence[tuple[str, Callable[[], _Writer]]],
) -> dict[str, list[Path]]:
    """Open the writers, give every chunk to each in one pass, then put their files in place."""
    writers: list[tuple[str, _Writer]] = []
    out: dict[str, list[Path]] = {}
    if not opened:
        return out
    try:
        for fmt, open_writer in opened:
            writers.append((fmt, open_writer()))
        for chunk in chunks(data):
            rows = table_rows(chunk, columns, what, numeric)
            for _, w in writers:
                w.add(rows)
        for fmt, w in writers:
            out.setdefault(fmt, []).append(w.close())
    except BaseException:
        # Nothing half-written stays behind; earlier exports of the same name are untouched.
        for _, w in writers:
            w.abandon()
        raise
    return out
