"""DHIS2: a metadata package built from the catalogue, and the data in dataValueSets and ADX.

DHIS2 adds up every category option combo of a data element, so a Total and a breakdown by sex
can never be values of one data element: that would count each child twice. Each catalogue
element therefore becomes one DHIS2 data element for its Total (default category combo) and one
per dimension it is broken down by (``<element>_by_<dimension>``, whose category combo holds
that dimension alone). Within a data element the options add up to the Total, as DHIS2 expects.

Identifiers: every object has a code (the catalogue's) and an 11-character UID derived from its
kind and code, so the package is the same on every run and importing it twice changes nothing.
The data refer to codes (``idScheme: CODE``).
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final
from xml.sax.saxutils import escape, quoteattr

from cpxl.catalogue import Catalogue, parse_period
from cpxl.catalogue.model import Element
from cpxl.exports.common import (
    AtomicFile,
    Row,
    SurveyPlacer,
    Surveys,
    ValueRow,
    adx_period,
    area_iso,
    check_elements,
    iso_of,
    number_text,
    number_texts,
    write_whole,
)

ADX_NAMESPACE: Final = "urn:ihe:qrph:adx:2015"
ID_SCHEME: Final = "CODE"
CODE_LIMIT: Final = 50
# Every period of cpxl's data starts after this day, so no value falls before an org unit opened.
OPENING_DATE: Final = "1900-01-01T00:00:00.000"

_PERIOD_TYPE: Final = {
    "annual": "Yearly",
    "semiannual": "SixMonthly",
    "quarterly": "Quarterly",
    "monthly": "Monthly",
}
_VALUE_TYPE: Final = {
    "count": "INTEGER_ZERO_OR_POSITIVE",
    "amount": "NUMBER",
    "percent": "PERCENTAGE",
    "year": "INTEGER_POSITIVE",
}
_UID_FIRST: Final = string.ascii_letters
_UID_REST: Final = string.ascii_letters + string.digits


def uid(kind: str, code: str) -> str:
    """A DHIS2 UID (a letter, then 10 letters or digits) derived from an object's kind and code."""
    digest = int.from_bytes(hashlib.sha256(f"cpxl:{kind}:{code}".encode()).digest(), "big")
    digest, first = divmod(digest, len(_UID_FIRST))
    out = [_UID_FIRST[first]]
    for _ in range(10):
        digest, rest = divmod(digest, len(_UID_REST))
        out.append(_UID_REST[rest])
    return "".join(out)


def data_element_code(element: str, dimension: str = "") -> str:
    """The DHIS2 data element holding an element's Total ("") or its breakdown by a dimension.

    A code that would pass DHIS2's 50 characters keeps its start and ends with a short hash of
    the whole, so it stays unique and the same on every run.
    """
    code = f"{element}_by_{dimension}" if dimension else element
    if len(code) <= CODE_LIMIT:
        return code
    tail = hashlib.sha256(code.encode()).hexdigest()[:6]
    return f"{code[: CODE_LIMIT - len(tail) - 1]}_{tail}"


def option_code(dimension: str, option: str) -> str:
    """The code of a category option and of its category option combo (``sex_female``)."""
    return f"{dimension}_{option}"


def aggregation_type(element: Element) -> str:
    """How DHIS2 adds an element up over time and over provinces."""
    if element.value_type == "year":
        return "NONE"
    if element.value_type == "percent":
        return "LAST_AVERAGE_ORG_UNIT" if element.aggregation == "last" else "AVERAGE"
    # A stock at the start of a period is its first; children counted once in a period
    # ("none") must never be added up over time: DHIS2 then shows each period as reported.
    return {"last": "LAST", "first": "FIRST", "none": "NONE"}.get(element.aggregation, "SUM")


def _ref(kind: str, code: str) -> dict[str, str]:
    return {"id": uid(kind, code)}


def _km(value: str) -> list[dict[str, str]]:
    return [{"property": "NAME", "locale": "km", "value": value}] if value else []


@dataclass(frozen=True, slots=True)
class Target:
    """Where one cell goes in DHIS2: a data element and a category option combo ("" = default)."""

    data_element: str
    option_combo: str


def target(catalogue: Catalogue, element: str, dimension: str, option: str) -> Target:
    """The DHIS2 data element and option combo of a cell, checked against the catalogue."""
    el = catalogue.elements[element]
    if not dimension:
        if el.by and not el.total:
            raise ValueError(f"element {element!r} has no Total, yet a row carries one")
        return Target(data_element_code(element), "")
    if dimension not in el.by:
        raise ValueError(f"element {element!r} is not broken down by {dimension!r}")
    if option not in {o.code for o in catalogue.dimensions[dimension].options}:
        raise ValueError(f"dimension {dimension!r} has no option {option!r}")
    return Target(data_element_code(element, dimension), option_code(dimension, option))


class Targets:
    """Each cell's DHIS2 target and data set, worked out once per distinct cell."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.cells: dict[tuple[str, str, str], Target] = {}
        self.sets: dict[str, str] = {}

    def of(self, element: str, dimension: str, option: str) -> Target:
        """The data element and option combo of a cell."""
        key = (element, dimension, option)
        found = self.cells.get(key)
        if found is None:
            found = self.cells[key] = target(self.catalogue, *key)
        return found

    def data_set(self, element: str) -> str:
        """The code of the data set an element is reported in."""
        found = self.sets.get(element)
        if found is None:
            found = self.sets[element] = self.catalogue.data_set_of(element).id
        return found


# ---------------------------------------------------------------------------------------------
# Metadata package


def _used_dimensions(catalogue: Catalogue) -> list[str]:
    used = {d for e in catalogue.elements.values() for d in e.by}
    return [d for d in catalogue.dimensions if d in used]


def _option_name(catalogue: Catalogue, dimension: str, option: str) -> tuple[str, str]:
    dim = catalogue.dimensions[dimension]
    opt = dim.option(option)
    return f"{dim.label.en}: {opt.label.en}", f"{dim.label.km}: {opt.label.km}"


def _categories(catalogue: Catalogue) -> dict[str, list[dict[str, Any]]]:
    options: list[dict[str, Any]] = []
    categories: list[dict[str, Any]] = []
    combos: list[dict[str, Any]] = []
    option_combos: list[dict[str, Any]] = []
    for d in _used_dimensions(catalogue):
        dim = catalogue.dimensions[d]
        refs = []
        for o in dim.options:
            code = option_code(d, o.code)
            name, name_km = _option_name(catalogue, d, o.code)
            refs.append(_ref("categoryOption", code))
            options.append(
                {
                    "id": uid("categoryOption", code),
                    "code": code,
                    "name": name,
                    "shortName": code,
                    "translations": _km(name_km),
                }
            )
            option_combos.append(
                {
                    "id": uid("categoryOptionCombo", code),
                    "code": code,
                    "name": name,
                    "categoryCombo": _ref("categoryCombo", d),
                    "categoryOptions": [_ref("categoryOption", code)],
                }
            )
        categories.append(
            {
                "id": uid("category", d),
                "code": d,
                "name": dim.label.en,
                "shortName": d,
                "dataDimensionType": "DISAGGREGATION",
                "dataDimension": True,
                "categoryOptions": refs,
                "translations": _km(dim.label.km),
            }
        )
        combos.append(
            {
                "id": uid("categoryCombo", d),
                "code": d,
                "name": dim.label.en,
                "dataDimensionType": "DISAGGREGATION",
                "skipTotal": False,
                "categories": [_ref("category", d)],
                "translations": _km(dim.label.km),
            }
        )
    return {
        "categoryOptions": options,
        "categories": categories,
        "categoryCombos": combos,
        "categoryOptionCombos": option_combos,
    }


def _data_elements(catalogue: Catalogue) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for el in catalogue.elements.values():
        parts: list[tuple[str, str, str]] = []
        if el.total or not el.by:
            parts.append(("", el.name.en, el.name.km))
        for d in el.by:
            dim = catalogue.dimensions[d]
            parts.append(
                (d, f"{el.name.en}, by {dim.label.en.lower()}", f"{el.name.km} ({dim.label.km})")
            )
        for d, name, name_km in parts:
            code = data_element_code(el.code, d)
            entry: dict[str, Any] = {
                "id": uid("dataElement", code),
                "code": code,
                "name": name,
                "shortName": code,
                "formName": name,
                "description": el.description_en or el.name.en,
                "valueType": _VALUE_TYPE[el.value_type],
                "aggregationType": aggregation_type(el),
                "domainType": "AGGREGATE",
                "zeroIsSignificant": True,
                "translations": _km(name_km),
            }
            if d:
                entry["categoryCombo"] = _ref("categoryCombo", d)
            out.append(entry)
    return out


def _org_units(catalogue: Catalogue) -> dict[str, list[dict[str, Any]]]:
    nation = catalogue.national
    units: list[dict[str, Any]] = [
        {
            "id": uid("organisationUnit", nation.iso),
            "code": nation.iso,
            "name": nation.name.en,
            "shortName": nation.name.en,
            "openingDate": OPENING_DATE,
            "translations": _km(nation.name.km),
        }
    ]
    for p in catalogue.provinces:
        units.append(
            {
                "id": uid("organisationUnit", p.iso),
                "code": p.iso,
                "name": p.name.en,
                "shortName": p.name.en,
                "openingDate": OPENING_DATE,
                "parent": _ref("organisationUnit", nation.iso),
                "translations": _km(p.name.km),
            }
        )
    levels = [
        {"id": uid("organisationUnitLevel", "1"), "name": "Country", "level": 1},
        {"id": uid("organisationUnitLevel", "2"), "name": "Province", "level": 2},
    ]
    return {"organisationUnits": units, "organisationUnitLevels": levels}


def _data_sets(catalogue: Catalogue) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for ds in catalogue.data_sets:
        ministry = catalogue.ministries[ds.ministry]
        period = catalogue.period_types[ds.period_type]
        codes = [
            data_element_code(e, d)
            for e in ds.elements
            for d in (
                ([""] if catalogue.elements[e].total or not catalogue.elements[e].by else [])
                + list(catalogue.elements[e].by)
            )
        ]
        # An element has the national row or the province rows (Catalogue.areas).
        national = any(catalogue.elements[e].national for e in ds.elements)
        by_province = not all(catalogue.elements[e].national for e in ds.elements)
        areas = ([catalogue.national.iso] if national else []) + (
            [p.iso for p in catalogue.provinces] if by_province else []
        )
        areas.sort(key=lambda iso: (len(iso), iso))
        out.append(
            {
                "id": uid("dataSet", ds.id),
                "code": ds.id,
                "name": f"{ministry.name.en}: {period.label.en.lower()} return",
                "shortName": ds.id,
                "periodType": _PERIOD_TYPE[ds.period_type],
                "timelyDays": ds.due_days,
                "expiryDays": 0,
                "openFuturePeriods": 0,
                "dataSetElements": [
                    {"dataElement": _ref("dataElement", c), "dataSet": _ref("dataSet", ds.id)}
                    for c in codes
                ],
                "organisationUnits": [_ref("organisationUnit", iso) for iso in areas],
                "translations": _km(f"{ministry.name.km}: {period.label.km}"),
            }
        )
    return out


def dhis2_metadata(catalogue: Catalogue) -> dict[str, Any]:
    """The DHIS2 metadata package (``/api/metadata`` format) every DHIS2 export refers to."""
    return {
        **_org_units(catalogue),
        **_categories(catalogue),
        "dataElements": _data_elements(catalogue),
        "dataSets": _data_sets(catalogue),
    }


def write_dhis2_metadata(catalogue: Catalogue, out_dir: Path, stem: str) -> Path:
    """``<stem>.dhis2-metadata.json``: import it first (``POST /api/metadata``)."""
    text = json.dumps(dhis2_metadata(catalogue), ensure_ascii=False, indent=1) + "\n"
    return write_whole(out_dir / f"{stem}.dhis2-metadata.json", text.encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# Data: dataValueSets (JSON) and ADX (XML), written chunk by chunk


def _reported_note(period: str, reported: tuple[str, ...]) -> str:
    return f"survey {period}, reported for {', '.join(reported)}"


def _held_or_reported(
    rows: list[Row], surveys: SurveyPlacer
) -> Iterator[tuple[str, str, str, str, str, float | None, str]]:
    """The reported cells of a chunk of values (a blank cell is not reported and never becomes
    0); survey cells are held by ``surveys`` and given at the end."""
    held = surveys.surveys.topic_of
    for row in rows:
        element, period, area, dimension, option, value, missing = row[:7]
        if value is None and not missing:
            continue
        if element in held:
            surveys.take(ValueRow(element, period, area, dimension, option, value, missing or ""))
            continue
        yield element, period, area, dimension, option, value, missing or ""


class DataValueSetWriter:
    """``<stem>.dhis2.json``: one dataValueSets payload with ``idScheme: CODE``.

    A missing-reason code becomes a data value without ``value`` whose ``comment`` is the code;
    a survey result is given once, at its survey year, and its comment names the reporting
    periods it was sent for. Each entry is written as ``json.dumps`` would write it, from
    pieces worked out once per cell, area and period.
    """

    def __init__(self, catalogue: Catalogue, path: Path) -> None:
        self.catalogue = catalogue
        self.isos = area_iso(catalogue)
        self.units = {code: json.dumps(iso) for code, iso in self.isos.items()}
        self.surveys = SurveyPlacer(Surveys.of(catalogue))
        self.targets = Targets(catalogue)
        self.heads: dict[tuple[str, str, str], tuple[str, str]] = {}
        self.periods: dict[str, str] = {}
        self.file = AtomicFile(path)
        self.out: IO[Any] = self.file.__enter__()
        self.out.write(f'{{"idScheme": "{ID_SCHEME}", "dataValues": [')
        self.first = True

    def add(self, rows: list[Row]) -> None:
        """Write one chunk of the values table."""
        check_elements(self.catalogue, rows)
        texts = number_texts(r[5] for r in rows)
        entries = [
            self._entry(*row, texts[row[5]] if row[5] is not None else "", ())
            for row in _held_or_reported(rows, self.surveys)
        ]
        self._put(entries)

    def _entry(
        self,
        element: str,
        period: str,
        area: str,
        dimension: str,
        option: str,
        value: float | None,
        missing: str,
        number: str,
        reported: tuple[str, ...],
    ) -> str:
        head = self.heads.get((element, dimension, option))
        if head is None:
            where = self.targets.of(element, dimension, option)
            combo = where.option_combo
            head = self.heads[(element, dimension, option)] = (
                f'{{"dataElement": {json.dumps(where.data_element)}, "period": ',
                f', "categoryOptionCombo": {json.dumps(combo)}' if combo else "",
            )
        when = self.periods.get(period)
        if when is None:
            when = self.periods[period] = json.dumps(period)
        unit = self.units.get(area) or json.dumps(iso_of(self.isos, area))
        if value is None:
            tail = f', "comment": {json.dumps(missing, ensure_ascii=False)}}}'
        elif reported:
            note = json.dumps(_reported_note(period, reported), ensure_ascii=False)
            tail = f', "value": "{number}", "comment": {note}}}'
        else:
            tail = f', "value": "{number}"}}'
        return f'{head[0]}{when}, "orgUnit": {unit}{head[1]}{tail}'

    def _put(self, entries: list[str]) -> None:
        if not entries:
            return
        lead = "\n " if self.first else ",\n "
        self.out.write(lead + ",\n ".join(entries))
        self.first = False

    def close(self) -> Path:
        """Write the held survey values, end the document and put the file in place."""
        self._put(
            [
                self._entry(
                    r.element, r.period, r.area, r.dimension, r.option, r.value, r.missing,
                    "" if r.value is None else number_text(r.value), r.reported,
                )
                for r in self.surveys.placed()
            ]
        )  # fmt: skip
        self.out.write("\n]}\n")
        self.file.__exit__(None, None, None)
        return self.file.path

    def abandon(self) -> None:
        """Drop the partial file after a failure."""
        self.file.__exit__(Exception, None, None)


class AdxWriter:
    """``<stem>.adx.xml``: the numbers as IHE ADX, a group per org unit x period x data set.

    ADX carries numbers only, so missing-reason codes stay in dataValueSets and CSV. A
    breakdown carries its category code as attribute name and its option code as value
    (``sex="sex_female"``); a survey result sits at its survey year with an annotation naming
    the reporting periods. Groups follow the chunks: each chunk's values are grouped on their own.
    """

    def __init__(self, catalogue: Catalogue, path: Path, exported: datetime | None) -> None:
        self.catalogue = catalogue
        self.isos = area_iso(catalogue)
        self.surveys = SurveyPlacer(Surveys.of(catalogue))
        self.targets = Targets(catalogue)
        self.names: dict[tuple[str, str, str], tuple[str, str, str]] = {}
        self.file = AtomicFile(path, "wb")
        self.out: IO[Any] = self.file.__enter__()
        when = (exported or datetime.now(UTC)).isoformat(timespec="seconds")
        self.out.write(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<adx xmlns="{ADX_NAMESPACE}" '
            f'exported="{when}">\n'.encode()
        )

    def add(self, rows: list[Row]) -> None:
        """Write one chunk of the values table as groups."""
        check_elements(self.catalogue, rows)
        texts = number_texts(r[5] for r in rows)
        self._groups(
            (*row[:5], texts[row[5]], ())
            for row in _held_or_reported(rows, self.surveys)
            if row[5] is not None
        )

    def _groups(self, rows: Iterable[tuple[str, str, str, str, str, str, tuple[str, ...]]]) -> None:
        """Rows of (element, period, area, dimension, option, number, reported) as groups."""
        groups: dict[tuple[str, str, str], list[str]] = {}
        for element, period, area, dimension, option, number, reported in rows:
            cell = (element, dimension, option)
            names = self.names.get(cell)
            if names is None:
                where = self.targets.of(*cell)
                names = (
                    f"    <dataValue dataElement={quoteattr(where.data_element)} value=",
                    f" {dimension}={quoteattr(where.option_combo)}" if where.option_combo else "",
                    self.targets.data_set(element),
                )
                self.names[cell] = names
            if reported:
                note = escape(_reported_note(period, reported))
                value = (
                    f'{names[0]}"{number}"{names[1]}>\n'
                    f"      <annotation>{note}</annotation>\n"
                    "    </dataValue>"
                )
            else:
                value = f'{names[0]}"{number}"{names[1]} />'
            key = (area, period, names[2])
            found = groups.get(key)
            if found is None:
                groups[key] = [value]
            else:
                found.append(value)
        parts: list[str] = []
        for area, period, data_set in sorted(
            groups, key=lambda k: (k[0], parse_period(k[1]), k[2])
        ):
            head = {
                "orgUnit": iso_of(self.isos, area),
                "period": adx_period(period),
                "dataSet": data_set,
            }
            opening = " ".join(f"{k}={quoteattr(v)}" for k, v in head.items())
            lines = [f"  <group {opening}>", *groups[(area, period, data_set)], "  </group>\n"]
            parts.append("\n".join(lines))
        self.out.write("".join(parts).encode("utf-8"))

    def close(self) -> Path:
        """Write the held survey values, end the document and put the file in place."""
        self._groups(
            (r.element, r.period, r.area, r.dimension, r.option, number_text(r.value), r.reported)
            for r in self.surveys.placed()
            if r.value is not None
        )
        self.out.write(b"</adx>\n")
        self.file.__exit__(None, None, None)
        return self.file.path

    def abandon(self) -> None:
        """Drop the partial file after a failure."""
        self.file.__exit__(Exception, None, None)
