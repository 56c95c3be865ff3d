"""National exports: CSV for people; DHIS2 metadata, dataValueSets and ADX; SDMX structure and data.

Every format is built from the two national tables, given in chunks (one DataFrame, or any
iterable of DataFrames or lists of plain rows) so that memory stays flat however large the
store: ``values`` (one row per stored cell, :data:`NATIONAL_VALUE_COLUMNS`) and ``indicators``
(:data:`INDICATOR_COLUMNS`). A row
that is absent was not reported and stays absent in every format: nothing is ever turned into 0.
The metadata (DHIS2 package, SDMX structure) comes from the catalogue alone.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    "number_text",
    "option_code",
    "periods_within",
    "sdmx_time_period",
    "structure_message",
    "target",
    "uid",
    "write_exports",
]

EXPORT_FORMATS: Final = ("csv", "dhis2", "adx", "sdmx")


class _Writer(Protocol):
    def add(self, rows: list[Row]) -> None: ...
    def close(self) -> Path: ...
    def abandon(self) -> None: ...


def _feed(
    data: Chunks, columns: Sequence[str], what: str, numeric: Sequence[str], writers: list[_Writer]
) -> None:
    """Give every chunk, as plain rows, to every writer, in one pass over the chunks."""
    for chunk in chunks(data):
        rows = table_rows(chunk, columns, what, numeric)
        for w in writers:
            w.add(rows)


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
    ``<stem>.sdmx-structure.xml`` and ``<stem>.sdmx.csv``.
    """
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown:
        raise ValueError(f"unknown export format(s) {', '.join(unknown)}: use {EXPORT_FORMATS}")
    wanted = list(dict.fromkeys(formats))
    out: dict[str, list[Path]] = {f: [] for f in wanted}
    meta = out_dir / f"{stem}.dhis2-metadata.json"
    if "dhis2" in wanted or "adx" in wanted:
        write_dhis2_metadata(catalogue, out_dir, stem)
        out["dhis2" if "dhis2" in wanted else "adx"].append(meta)
    if "sdmx" in wanted:
        out["sdmx"].append(write_structure(catalogue, out_dir, stem, prepared=exported))

    value_writers: list[tuple[str, _Writer]] = []
    indicator_writers: list[tuple[str, _Writer]] = []
    try:
        if "csv" in wanted:
            value_writers.append(
                ("csv", CsvWriter(out_dir / f"{stem}.values.csv", NATIONAL_VALUE_COLUMNS))
            )
            indicator_writers.append(
                (
                    "csv",
                    CsvWriter(out_dir / f"{stem}.indicators.csv", INDICATOR_COLUMNS),
                )
            )
        if "dhis2" in wanted:
            value_writers.append(
                ("dhis2", DataValueSetWriter(catalogue, out_dir / f"{stem}.dhis2.json"))
            )
        if "adx" in wanted:
            adx = AdxWriter(catalogue, out_dir / f"{stem}.adx.xml", exported)
            value_writers.append(("adx", adx))
        if "sdmx" in wanted:
            indicator_writers.append(
                ("sdmx", SdmxCsvWriter(catalogue, out_dir / f"{stem}.sdmx.csv"))
            )
        if value_writers:
            _feed(
                values, NATIONAL_VALUE_COLUMNS, "values", ("value",), [w for _, w in value_writers]
            )
        if indicator_writers:
            numbers = ("numerator", "denominator", "value")
            writers = [w for _, w in indicator_writers]
            _feed(indicators, INDICATOR_COLUMNS, "indicators", numbers, writers)
        for fmt, w in value_writers + indicator_writers:
            out[fmt].append(w.close())
    except BaseException:
        # Nothing half-written stays behind; earlier exports of the same name are untouched.
        for _, w in value_writers + indicator_writers:
            w.abandon()
        raise
    return out
