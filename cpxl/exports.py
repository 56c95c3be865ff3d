"""National exports: CSV for people, dataValueSets and ADX for DHIS2, SDMX-CSV for statisticians.

Every format is built from the two national long tables, taken as DataFrames so that this module
needs neither the store nor the consolidation: ``values`` (``Store.long_table``: one row per stored
cell) and ``indicators`` (``consolidation.indicator_table``). A row that is absent was not reported
and stays absent in every format: nothing is ever turned into 0.

Identifiers are the catalogue's codes (DHIS2 "code" id scheme): element codes, data set ids,
``{dimension}_{option}`` category option combos, and ISO 3166-2 codes for areas (``KH`` for the
nation, ``KH-1`` .. ``KH-25`` for provinces).
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import xml.etree.ElementTree as ET  # only writes XML; nothing here parses any
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from cpxl.catalogue import Catalogue, parse_period

EXPORT_FORMATS: Final = ("csv", "dhis2", "adx", "sdmx")

VALUE_COLUMNS: Final = (
    "element",
    "period",
    "area",
    "dimension",
    "option",
    "value",
    "missing",
    "ministry",
    "submission_id",
    "sheet",
    "cell",
    "name_received",
    "sha256",
    "received_at",
    "days_late",
)
INDICATOR_COLUMNS: Final = (
    "indicator",
    "period",
    "area",
    "iso",
    "dimension",
    "option",
    "numerator",
    "denominator",
    "value",
    "unit",
    "status",
    "missing_from",
    "denominator_year",
    "survey_year",
    "sources",
)

ADX_NAMESPACE: Final = "urn:ihe:qrph:adx:2015"
SDMX_STRUCTURE_ID: Final = "KH_MOSVY:DF_CPIMS(1.0)"
SDMX_COLUMNS: Final = (
    "STRUCTURE",
    "STRUCTURE_ID",
    "ACTION",
    "FREQ",
    "REF_AREA",
    "INDICATOR",
    "SEX",
    "AGE",
    "TIME_PERIOD",
    "OBS_VALUE",
    "OBS_STATUS",
    "UNIT_MEASURE",
)

# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")

_ADX_DURATION: Final = {"annual": "P1Y", "semiannual": "P6M", "quarterly": "P3M", "monthly": "P1M"}
_ADX_RESERVED: Final = frozenset({"dataElement", "value"})
_SDMX_FREQ: Final = {"annual": "A", "semiannual": "S", "quarterly": "Q", "monthly": "M"}
_SDMX_STATUS: Final = {"reported": "A", "late": "A", "partly-reported": "E", "not-reported": "M"}
# cpxl's only amounts are budgets in riel (elements *_khr).
_SDMX_UNIT: Final = {
    "count": "NUMBER",
    "percent": "PT",
    "rate_per_100000": "PER_100000",
    "ratio": "RATIO",
    "amount": "KHR",
}
_SDMX_SEX: Final = {"male": "M", "female": "F", "unknown": "_U"}
_SDMX_TOTAL: Final = "_T"


# ---------------------------------------------------------------------------------------------
# Small pure helpers


def number_text(value: float) -> str:
    """A number as exchange formats want it: plain decimal, no exponent, no trailing ``.0``."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{value!r} is not a number an export can carry")
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    # repr is the shortest text that reads back as the same float; Decimal drops its exponent.
    return format(Decimal(repr(value)), "f")


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


def csv_safe(text: str) -> str:
    """Text a spreadsheet will show as text, never run as a formula (leading apostrophe)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def area_iso(catalogue: Catalogue) -> dict[str, str]:
    """ISO 3166-2 code of every area code: ``{"00": "KH", "01": "KH-1", ...}``."""
    out = {catalogue.national.code: catalogue.national.iso}
    out.update({p.code: p.iso for p in catalogue.provinces})
    return out


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the {what} table lacks the column(s) {', '.join(missing)}")


def _records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    return [
        dict(zip(columns, row, strict=True))
        for row in frame.loc[:, list(columns)].itertuples(index=False, name=None)
    ]


def _absent(value: object) -> bool:
    """None, pandas' NA and NaT, and NaN: a cell with nothing in it."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, numbers.Real) and math.isnan(float(value))


def _text(value: object) -> str:
    return "" if _absent(value) else str(value)


def _float(value: object) -> float | None:
    if _absent(value):
        return None
    if not isinstance(value, numbers.Real):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


def _iso_of(isos: Mapping[str, str], area: str) -> str:
    try:
        return isos[area]
    except KeyError:
        raise ValueError(f"area {area!r} is neither the nation nor a province") from None


def _check_elements(catalogue: Catalogue, values: pd.DataFrame) -> None:
    unknown = sorted({str(e) for e in values["element"]} - set(catalogue.elements))
    if unknown:
        raise ValueError(f"element(s) not in the catalogue: {', '.join(unknown)}")


def _write(path: Path, data: bytes) -> Path:
    """Write whole or not at all, so a reader never sees half an export."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)
    return path


# ---------------------------------------------------------------------------------------------
# CSV


def _csv_cell(value: object) -> str:
    if _absent(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return number_text(float(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return csv_safe(str(value))


def csv_text(frame: pd.DataFrame) -> str:
    """A table as CSV: numbers plain, NaN empty, text that looks like a formula escaped."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_safe(str(c)) for c in frame.columns])
    columns = [_csv_column(frame[c]) for c in frame.columns]
    writer.writerows(zip(*columns, strict=True))
    return buffer.getvalue()


def _csv_column(column: pd.Series) -> list[str]:
    """One column's CSV texts; each distinct value is formatted once (long tables repeat)."""
    missing = column.isna().to_numpy()
    present = column[~missing]
    texts = {value: _csv_cell(value) for value in present.unique()}
    out: list[str] = [""] * len(column)
    for i, text in zip(np.flatnonzero(~missing), present.map(texts).tolist(), strict=True):
        out[i] = str(text)
    return out


def write_csv(
    values: pd.DataFrame, indicators: pd.DataFrame, out_dir: Path, stem: str
) -> tuple[Path, Path]:
    """``<stem>.values.csv`` and ``<stem>.indicators.csv``, with a BOM so Excel shows Khmer."""
    _require(values, VALUE_COLUMNS, "values")
    _require(indicators, INDICATOR_COLUMNS, "indicators")
    return (
        _write(out_dir / f"{stem}.values.csv", csv_text(values).encode("utf-8-sig")),
        _write(out_dir / f"{stem}.indicators.csv", csv_text(indicators).encode("utf-8-sig")),
    )


# ---------------------------------------------------------------------------------------------
# DHIS2 dataValueSets (JSON)

_DV_COLUMNS: Final = ("element", "period", "area", "dimension", "option", "value", "missing")


def category_option_combo(dimension: str, option: str) -> str:
    """The DHIS2 category option combo code of a margin cell (``default`` for a total)."""
    return f"{dimension}_{option}" if dimension else "default"


def dhis2_data_value_sets(catalogue: Catalogue, values: pd.DataFrame) -> dict[str, Any]:
    """Stored values as a DHIS2 dataValueSets payload (import with ``idScheme=CODE``).

    A missing-reason code becomes a data value without ``value`` whose ``comment`` is the code.
    """
    _require(values, _DV_COLUMNS, "values")
    _check_elements(catalogue, values)
    isos = area_iso(catalogue)
    out: list[dict[str, str]] = []
    for r in _records(values, _DV_COLUMNS):
        value, missing = _float(r["value"]), _text(r["missing"])
        if value is None and not missing:
            continue  # blank: not reported, so not exported
        entry = {
            "dataElement": str(r["element"]),
            "period": str(r["period"]),
            "orgUnit": _iso_of(isos, str(r["area"])),
            "categoryOptionCombo": category_option_combo(_text(r["dimension"]), _text(r["option"])),
            "attributeOptionCombo": "default",
        }
        if value is None:
            entry["comment"] = missing
        else:
            entry["value"] = number_text(value)
        out.append(entry)
    return {"dataValues": out}


def write_dhis2(catalogue: Catalogue, values: pd.DataFrame, out_dir: Path, stem: str) -> Path:
    """``<stem>.dhis2.json``: the dataValueSets payload."""
    payload = dhis2_data_value_sets(catalogue, values)
    text = json.dumps(payload, ensure_ascii=False, indent=1) + "\n"
    return _write(out_dir / f"{stem}.dhis2.json", text.encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# ADX (IHE Aggregate Data Exchange, XML)


def adx_document(
    catalogue: Catalogue, values: pd.DataFrame, *, exported: datetime | None = None
) -> bytes:
    """Stored numbers as one ADX document: a group per org unit x period x data set.

    ADX carries numbers only, so cells holding a missing-reason code are left out (the CSV and
    dataValueSets exports keep them). A margin cell carries its option as an attribute named
    after its dimension (``sex="female"``).
    """
    _require(values, _DV_COLUMNS, "values")
    _check_elements(catalogue, values)
    isos = area_iso(catalogue)
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for r in _records(values, _DV_COLUMNS):
        value = _float(r["value"])
        if value is None:
            continue
        element, dimension = str(r["element"]), _text(r["dimension"])
        if dimension in _ADX_RESERVED:
            raise ValueError(f"a dimension named {dimension!r} clashes with an ADX attribute")
        attributes = {"dataElement": element, "value": number_text(value)}
        if dimension:
            attributes[dimension] = _text(r["option"])
        key = (str(r["area"]), str(r["period"]), catalogue.data_set_of(element).id)
        groups.setdefault(key, []).append(attributes)
    when = (exported or datetime.now(UTC)).isoformat(timespec="seconds")
    # Unprefixed tags plus an xmlns attribute: ElementTree's default_namespace option would
    # refuse the unqualified attributes ADX uses.
    root = ET.Element("adx", {"xmlns": ADX_NAMESPACE, "exported": when})
    for area, period, data_set in sorted(groups, key=lambda k: (k[0], parse_period(k[1]), k[2])):
        group = ET.SubElement(
            root,
            "group",
            {"orgUnit": _iso_of(isos, area), "period": adx_period(period), "dataSet": data_set},
        )
        for attributes in groups[(area, period, data_set)]:
            ET.SubElement(group, "dataValue", attributes)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def write_adx(
    catalogue: Catalogue,
    values: pd.DataFrame,
    out_dir: Path,
    stem: str,
    *,
    exported: datetime | None = None,
) -> Path:
    """``<stem>.adx.xml``: the ADX document."""
    document = adx_document(catalogue, values, exported=exported)
    return _write(out_dir / f"{stem}.adx.xml", document)


# ---------------------------------------------------------------------------------------------
# SDMX-CSV 2.0


def _sdmx_sex_age(catalogue: Catalogue, dimension: str, option: str) -> tuple[str, str] | None:
    """SEX and AGE of a row, or None for a disaggregation this structure has no place for."""
    if not dimension:
        return _SDMX_TOTAL, _SDMX_TOTAL
    dim = catalogue.dimensions.get(dimension)
    if dim is None:
        raise ValueError(f"dimension {dimension!r} is not in the catalogue")
    codes = {o.code for o in dim.options}
    is_sex = codes <= set(_SDMX_SEX)
    if not (is_sex or dimension.startswith("age")):
        return None
    if option not in codes:
        raise ValueError(f"dimension {dimension!r} has no option {option!r}")
    return (_SDMX_SEX[option], _SDMX_TOTAL) if is_sex else (_SDMX_TOTAL, option)


def sdmx_csv(catalogue: Catalogue, indicators: pd.DataFrame) -> str:
    """Indicator values as SDMX-CSV 2.0 for the dataflow KH_MOSVY:DF_CPIMS(1.0).

    The structure's breakdowns are SEX and AGE only, so it carries each indicator's total, its
    sex rows (M, F, _U for not recorded) and its age rows (the catalogue's age option codes);
    rows of other disaggregations (facility type, ministry, ...) are left out, and are in the
    indicators CSV. A margin by sex is all ages (AGE=_T) and a margin by age is both sexes
    (SEX=_T). An empty value has OBS_STATUS M; otherwise reported and late values are A
    and partly-reported ones E (estimated from the areas that reported).
    """
    columns = ("indicator", "period", "area", "dimension", "option", "value", "unit", "status")
    _require(indicators, columns, "indicators")
    isos = area_iso(catalogue)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(SDMX_COLUMNS)
    for r in _records(indicators, columns):
        sex_age = _sdmx_sex_age(catalogue, _text(r["dimension"]), _text(r["option"]))
        if sex_age is None:
            continue
        value, status, unit = _float(r["value"]), _text(r["status"]), _text(r["unit"])
        if status not in _SDMX_STATUS:
            raise ValueError(f"status {status!r} is not one of {', '.join(_SDMX_STATUS)}")
        if unit not in _SDMX_UNIT:
            raise ValueError(f"unit {unit!r} is not one of {', '.join(_SDMX_UNIT)}")
        freq, time_period = sdmx_time_period(str(r["period"]))
        writer.writerow(
            (
                "dataflow",
                SDMX_STRUCTURE_ID,
                "I",
                freq,
                _iso_of(isos, str(r["area"])),
                str(r["indicator"]),
                *sex_age,
                time_period,
                "" if value is None else number_text(value),
                "M" if value is None else _SDMX_STATUS[status],
                _SDMX_UNIT[unit],
            )
        )
    return buffer.getvalue()


def write_sdmx(catalogue: Catalogue, indicators: pd.DataFrame, out_dir: Path, stem: str) -> Path:
    """``<stem>.sdmx.csv``: the SDMX-CSV 2.0 file (UTF-8, no BOM, as SDMX tools expect)."""
    return _write(out_dir / f"{stem}.sdmx.csv", sdmx_csv(catalogue, indicators).encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# All at once


def write_exports(
    catalogue: Catalogue,
    values: pd.DataFrame,
    indicators: pd.DataFrame,
    out_dir: Path,
    stem: str,
    formats: Sequence[str] = EXPORT_FORMATS,
    *,
    exported: datetime | None = None,
) -> dict[str, list[Path]]:
    """Every requested export in ``out_dir``, by format; one call for the national run."""
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown:
        raise ValueError(f"unknown export format(s) {', '.join(unknown)}: use {EXPORT_FORMATS}")
    out: dict[str, list[Path]] = {}
    for fmt in dict.fromkeys(formats):
        if fmt == "csv":
            out[fmt] = list(write_csv(values, indicators, out_dir, stem))
        elif fmt == "dhis2":
            out[fmt] = [write_dhis2(catalogue, values, out_dir, stem)]
        elif fmt == "adx":
            out[fmt] = [write_adx(catalogue, values, out_dir, stem, exported=exported)]
        else:
            out[fmt] = [write_sdmx(catalogue, indicators, out_dir, stem)]
    return out
