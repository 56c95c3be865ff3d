"""SDMX: a structure message (SDMX-ML 2.1) and the indicators as SDMX-CSV 2.0 conforming to it.

Every breakdown of an indicator is a dimension of the data structure, so no value is dropped: a
row by facility type has FACILITY_TYPE set and every other breakdown ``_T`` (total). Codes come
from SDMX's cross-domain code lists where they exist: SEX ``F``/``M``/``_T``/``_U``, AGE ranges
such as ``Y0T4``, FREQ ``A``/``S``/``Q``/``M``, OBS_STATUS ``A`` (normal) or ``O`` (missing:
not reported); REF_AREA holds ISO 3166-2:KH codes. Whether a national figure is built from every
province is said by the REPORTING_STATUS attribute, never by calling it an estimate.

A survey indicator is one observation at its survey year; REPORTING_PERIOD names the reporting
periods it was sent for.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET  # only writes XML; nothing here parses any
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Final

from cpxl.catalogue import Catalogue, parse_period
from cpxl.exports.common import (
    AtomicFile,
    Row,
    Surveys,
    area_iso,
    iso_of,
    number_texts,
    sdmx_time_period,
    write_whole,
)
from cpxl.findings import INDICATOR_COLUMNS

AGENCY: Final = "KH_MOSVY"
VERSION: Final = "1.0"
DATAFLOW: Final = "DF_CPIMS"
DSD: Final = "DSD_CPIMS"
CONCEPTS: Final = "CS_CPIMS"
SDMX_STRUCTURE_ID: Final = f"{AGENCY}:{DATAFLOW}({VERSION})"
TOTAL: Final = "_T"
UNKNOWN: Final = "_U"

MES: Final = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
STR: Final = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure"
COM: Final = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"
XML_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"

# Cross-domain code lists (SDMX Global Registry): the codes cpxl uses, with their SDMX names.
FREQ_CODES: Final = {"A": "Annual", "S": "Half-yearly, semester", "Q": "Quarterly", "M": "Monthly"}
OBS_STATUS_CODES: Final = {
    "A": "Normal value",
    "E": "Estimated value",
    "M": "Missing value; data cannot exist",
    "O": "Missing value",
    "P": "Provisional value",
}
SEX_CODES: Final = {"F": "Female", "M": "Male", TOTAL: "Total", UNKNOWN: "Unknown"}
UNIT_CODES: Final = {
    "count": ("NUMBER", "Number"),
    "percent": ("PT", "Percent"),
    "rate_per_100000": ("PER_100000", "Per 100,000 children"),
    "ratio": ("RATIO", "Ratio"),
    "amount": ("KHR", "Cambodian riel"),
}
REPORTING_CODES: Final = {
    "reported": ("REPORTED", "Reported on time by every area it is built from"),
    "late": ("LATE", "Reported after the due date"),
    "partly-reported": ("PARTLY_REPORTED", "Built from the areas that reported; some did not"),
    "not-reported": ("NOT_REPORTED", "Not reported"),
}
_SEX_OPTIONS: Final = {"male": "M", "female": "F", "unknown": UNKNOWN}
_AGE_RANGE: Final = re.compile(r"age_(\d+)_(\d+)")
# Indicators disaggregated "by province" are the REF_AREA rows, not a breakdown.
_BY_AREA: Final = "province"

ATTRIBUTES: Final = (
    "OBS_STATUS",
    "UNIT_MEASURE",
    "REPORTING_STATUS",
    "MISSING_FROM",
    "REPORTING_PERIOD",
)
# The indicator table's columns SDMX-CSV uses: indicator, period, area, dimension, option,
# value, unit, status, missing_from, survey_year.
_Used = tuple[str, str, str, str, str, float | None, str, str, str, str]
_USED: Final = itemgetter(
    *(
        INDICATOR_COLUMNS.index(c)
        for c in (
            "indicator", "period", "area", "dimension", "option", "value", "unit", "status",
            "missing_from", "survey_year",
        )
    )
)  # fmt: skip
_VALUE_AT: Final = INDICATOR_COLUMNS.index("value")


@dataclass(frozen=True, slots=True)
class SdmxDimension:
    """One breakdown dimension of the structure and how catalogue options map to its codes."""

    id: str
    name_en: str
    codes: Mapping[str, str | tuple[str, str]]  # SDMX code -> name, or (English, Khmer)
    of_option: Mapping[tuple[str, str], str]  # (catalogue dimension, option) -> SDMX code


def _age_code(option: str) -> str:
    match = _AGE_RANGE.fullmatch(option)
    if match:
        return f"Y{match[1]}T{match[2]}"
    if option.endswith("unknown"):
        return UNKNOWN
    raise ValueError(f"age option {option!r} is not a range like age_0_4")


def breakdowns(catalogue: Catalogue) -> tuple[SdmxDimension, ...]:
    """SEX, AGE, then one dimension per other breakdown any indicator has, in catalogue order."""
    used = {d for ind in catalogue.indicators for d in ind.disaggregations} - {_BY_AREA}
    sex: dict[tuple[str, str], str] = {}
    age: dict[tuple[str, str], str] = {}
    age_names: dict[str, str | tuple[str, str]] = {TOTAL: "Total"}
    others: list[SdmxDimension] = []
    for dim in catalogue.dimensions.values():
        if dim.code not in used:
            continue
        options = {o.code for o in dim.options}
        if options <= set(_SEX_OPTIONS):
            sex.update({(dim.code, o): _SEX_OPTIONS[o] for o in options})
        elif dim.code.startswith("age"):
            for o in dim.options:
                code = _age_code(o.code)
                age[(dim.code, o.code)] = code
                age_names[code] = "Unknown" if code == UNKNOWN else (o.label.en, o.label.km)
        else:
            codes: dict[str, str | tuple[str, str]] = {
                o.code.upper(): (o.label.en, o.label.km) for o in dim.options
            }
            codes[TOTAL] = "Total"
            mapping = {(dim.code, o.code): o.code.upper() for o in dim.options}
            others.append(SdmxDimension(dim.code.upper(), dim.label.en, codes, mapping))
    unknown = used - set(catalogue.dimensions)
    if unknown:
        raise ValueError(
            f"indicator breakdown(s) not in the catalogue: {', '.join(sorted(unknown))}"
        )
    return (
        SdmxDimension("SEX", "Sex", SEX_CODES, sex),
        SdmxDimension("AGE", "Age", age_names, age),
        *others,
    )


def csv_columns(catalogue: Catalogue) -> tuple[str, ...]:
    """The SDMX-CSV header: structure columns, dimensions in structure order, value, attributes."""
    dims = [d.id for d in breakdowns(catalogue)]
    return (
        "STRUCTURE",
        "STRUCTURE_ID",
        "ACTION",
        "FREQ",
        "REF_AREA",
        "INDICATOR",
        *dims,
        "TIME_PERIOD",
        "OBS_VALUE",
        *ATTRIBUTES,
    )


# ---------------------------------------------------------------------------------------------
# Structure message


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _name(parent: ET.Element, en: str, km: str = "") -> None:
    ET.SubElement(parent, _q(COM, "Name"), {XML_LANG: "en"}).text = en
    if km:
        ET.SubElement(parent, _q(COM, "Name"), {XML_LANG: "km"}).text = km


def _ref(parent: ET.Element, **attributes: str) -> None:
    ET.SubElement(parent, "Ref", attributes)


def _maintainable(parent: ET.Element, tag: str, id_: str, en: str) -> ET.Element:
    element = ET.SubElement(
        parent, _q(STR, tag), {"id": id_, "agencyID": AGENCY, "version": VERSION}
    )
    _name(element, en)
    return element


def _codelist(
    parent: ET.Element,
    id_: str,
    en: str,
    codes: Mapping[str, str | tuple[str, str]],
    parents: Mapping[str, str] | None = None,
) -> None:
    codelist = _maintainable(parent, "Codelist", id_, en)
    for code, name in codes.items():
        element = ET.SubElement(codelist, _q(STR, "Code"), {"id": code})
        en_name, km_name = (name, "") if isinstance(name, str) else name
        _name(element, en_name, km_name)
        if parents and code in parents:
            _ref(ET.SubElement(element, _q(STR, "Parent")), id=parents[code])


def _concept_ref(parent: ET.Element, concept: str) -> None:
    _ref(
        ET.SubElement(parent, _q(STR, "ConceptIdentity")),
        id=concept,
        maintainableParentID=CONCEPTS,
        maintainableParentVersion=VERSION,
        agencyID=AGENCY,
        **{"class": "Concept", "package": "conceptscheme"},
    )


def _enumeration(parent: ET.Element, codelist: str) -> None:
    representation = ET.SubElement(parent, _q(STR, "LocalRepresentation"))
    _ref(
        ET.SubElement(representation, _q(STR, "Enumeration")),
        id=codelist,
        version=VERSION,
        agencyID=AGENCY,
        **{"class": "Codelist", "package": "codelist"},
    )


def _text_format(parent: ET.Element, text_type: str) -> None:
    representation = ET.SubElement(parent, _q(STR, "LocalRepresentation"))
    ET.SubElement(representation, _q(STR, "TextFormat"), {"textType": text_type})


def structure_message(catalogue: Catalogue, *, prepared: datetime | None = None) -> bytes:
    """The SDMX-ML 2.1 structure message: dataflow, code lists, concepts and the DSD."""
    dims = breakdowns(catalogue)
    for prefix, ns in (("mes", MES), ("str", STR), ("com", COM)):
        ET.register_namespace(prefix, ns)
    root = ET.Element(_q(MES, "Structure"))
    header = ET.SubElement(root, _q(MES, "Header"))
    ET.SubElement(header, _q(MES, "ID")).text = "CPIMS_STRUCTURE"
    ET.SubElement(header, _q(MES, "Test")).text = "false"
    when = (prepared or datetime.now(UTC)).isoformat(timespec="seconds")
    ET.SubElement(header, _q(MES, "Prepared")).text = when
    ET.SubElement(header, _q(MES, "Sender"), {"id": AGENCY})
    structures = ET.SubElement(root, _q(MES, "Structures"))

    flows = ET.SubElement(structures, _q(STR, "Dataflows"))
    flow = _maintainable(flows, "Dataflow", DATAFLOW, "CPIMS national child protection indicators")
    _ref(
        ET.SubElement(flow, _q(STR, "Structure")),
        id=DSD,
        version=VERSION,
        agencyID=AGENCY,
        **{"class": "DataStructure", "package": "datastructure"},
    )

    lists = ET.SubElement(structures, _q(STR, "Codelists"))
    nation = catalogue.national
    areas: dict[str, str | tuple[str, str]] = {nation.iso: (nation.name.en, nation.name.km)}
    areas.update({p.iso: (p.name.en, p.name.km) for p in catalogue.provinces})
    _codelist(lists, "CL_FREQ", "Frequency", FREQ_CODES)
    _codelist(
        lists,
        "CL_AREA",
        "Cambodia and its provinces (ISO 3166-2:KH)",
        areas,
        {p.iso: nation.iso for p in catalogue.provinces},
    )
    _codelist(
        lists,
        "CL_INDICATOR",
        "Child protection indicators",
        {i.id: (i.name.en, i.name.km) for i in catalogue.indicators},
    )
    for dim in dims:
        _codelist(lists, f"CL_{dim.id}", dim.name_en, dim.codes)
    _codelist(lists, "CL_OBS_STATUS", "Observation status", OBS_STATUS_CODES)
    _codelist(lists, "CL_UNIT_MEASURE", "Unit of measure", dict(UNIT_CODES.values()))
    _codelist(lists, "CL_REPORTING_STATUS", "Reporting status", dict(REPORTING_CODES.values()))

    concepts = ET.SubElement(structures, _q(STR, "Concepts"))
    scheme = _maintainable(concepts, "ConceptScheme", CONCEPTS, "CPIMS concepts")
    concept_names = {
        "FREQ": "Frequency",
        "REF_AREA": "Reference area",
        "INDICATOR": "Indicator",
        **{d.id: d.name_en for d in dims},
        "TIME_PERIOD": "Time period",
        "OBS_VALUE": "Observation value",
        "OBS_STATUS": "Observation status",
        "UNIT_MEASURE": "Unit of measure",
        "REPORTING_STATUS": "Reporting status: how complete the figure's sources are",
        "MISSING_FROM": "Areas or ministries whose report is missing from the figure",
        "REPORTING_PERIOD": "Reporting periods a survey result was sent for",
    }
    for concept, name in concept_names.items():
        _name(ET.SubElement(scheme, _q(STR, "Concept"), {"id": concept}), name)

    structures_el = ET.SubElement(structures, _q(STR, "DataStructures"))
    dsd = _maintainable(
        structures_el, "DataStructure", DSD, "CPIMS national child protection indicators"
    )
    components = ET.SubElement(dsd, _q(STR, "DataStructureComponents"))
    dim_list = ET.SubElement(components, _q(STR, "DimensionList"), {"id": "DimensionDescriptor"})
    coded = [
        ("FREQ", "CL_FREQ"),
        ("REF_AREA", "CL_AREA"),
        ("INDICATOR", "CL_INDICATOR"),
        *((d.id, f"CL_{d.id}") for d in dims),
    ]
    for position, (dim_id, codelist) in enumerate(coded, start=1):
        element = ET.SubElement(
            dim_list, _q(STR, "Dimension"), {"id": dim_id, "position": str(position)}
        )
        _concept_ref(element, dim_id)
        _enumeration(element, codelist)
    time = ET.SubElement(
        dim_list,
        _q(STR, "TimeDimension"),
        {"id": "TIME_PERIOD", "position": str(len(coded) + 1)},
    )
    _concept_ref(time, "TIME_PERIOD")
    _text_format(time, "ObservationalTimePeriod")

    attributes = ET.SubElement(components, _q(STR, "AttributeList"), {"id": "AttributeDescriptor"})
    for attribute, codelist, status in (
        ("OBS_STATUS", "CL_OBS_STATUS", "Mandatory"),
        ("UNIT_MEASURE", "CL_UNIT_MEASURE", "Mandatory"),
        ("REPORTING_STATUS", "CL_REPORTING_STATUS", "Mandatory"),
        ("MISSING_FROM", "", "Conditional"),
        ("REPORTING_PERIOD", "", "Conditional"),
    ):
        element = ET.SubElement(
            attributes, _q(STR, "Attribute"), {"id": attribute, "assignmentStatus": status}
        )
        _concept_ref(element, attribute)
        if codelist:
            _enumeration(element, codelist)
        else:
            _text_format(element, "String")
        relationship = ET.SubElement(element, _q(STR, "AttributeRelationship"))
        _ref(ET.SubElement(relationship, _q(STR, "PrimaryMeasure")), id="OBS_VALUE")
    measures = ET.SubElement(components, _q(STR, "MeasureList"), {"id": "MeasureDescriptor"})
    measure = ET.SubElement(measures, _q(STR, "PrimaryMeasure"), {"id": "OBS_VALUE"})
    _concept_ref(measure, "OBS_VALUE")
    _text_format(measure, "Double")

    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def write_structure(
    catalogue: Catalogue, out_dir: Path, stem: str, *, prepared: datetime | None = None
) -> Path:
    """``<stem>.sdmx-structure.xml``: load it before the data."""
    return write_whole(
        out_dir / f"{stem}.sdmx-structure.xml", structure_message(catalogue, prepared=prepared)
    )


# ---------------------------------------------------------------------------------------------
# SDMX-CSV data


def _year(survey_year: str) -> str:
    """A survey year as ``2013`` (the table may carry ``2013.0``), or "" when absent."""
    if not survey_year:
        return ""
    number = float(survey_year)
    if not number.is_integer():
        raise ValueError(f"survey year {survey_year!r} is not a year")
    return str(int(number))


class SdmxCsvWriter:
    """``<stem>.sdmx.csv``: SDMX-CSV 2.0 for the dataflow, written chunk by chunk.

    Survey indicator rows are held (a few per period) and written at the end, once per survey
    year; every other row is written as it comes.
    """

    def __init__(self, catalogue: Catalogue, path: Path) -> None:
        self.catalogue = catalogue
        self.isos = area_iso(catalogue)
        self.dims = breakdowns(catalogue)
        self.dimension_of = {cat_dim: d.id for d in self.dims for (cat_dim, _) in d.of_option}
        self.surveys = Surveys.of(catalogue).indicators
        self.held: dict[tuple[str, str, str, str, str], list[tuple[_Used, bool]]] = {}
        self.breakdown: dict[tuple[str, str], list[str]] = {}
        self.times: dict[str, tuple[str, str]] = {}
        self.file = AtomicFile(path)
        self.out: IO[Any] = self.file.__enter__()
        self.writer = csv.writer(self.out, lineterminator="\r\n")
        self.writer.writerow(csv_columns(catalogue))

    def add(self, rows: list[Row]) -> None:
        """Write one chunk of the indicator table (rows in :data:`INDICATOR_COLUMNS` order)."""
        texts = number_texts(r[_VALUE_AT] for r in rows)
        out: list[tuple[str, ...]] = []
        for row in rows:
            used: _Used = _USED(row)
            if used[0] not in self.surveys:
                out.append(self._row(used, used[1], "", texts))
                continue
            # A survey result goes to its survey year; one whose year is unknown stays at its
            # reporting period, where it meets any survey of that year: one observation a key.
            year = _year(used[9])
            key = (used[0], year or used[1], used[2], used[3], used[4])
            self.held.setdefault(key, []).append((used, bool(year)))
        self.writer.writerows(out)

    def _breakdown(self, dimension: str, option: str) -> list[str]:
        out = [TOTAL] * len(self.dims)
        if not dimension:
            return out
        target = self.dimension_of.get(dimension)
        if target is None:
            raise ValueError(f"breakdown {dimension!r} is not a dimension of the structure")
        i = [d.id for d in self.dims].index(target)
        code = self.dims[i].of_option.get((dimension, option))
        if code is None:
            raise ValueError(f"dimension {dimension!r} has no option {option!r}")
        out[i] = code
        return out

    def _row(
        self, used: _Used, period: str, reported: str, texts: Mapping[float, str]
    ) -> tuple[str, ...]:
        _, _, area, dimension, option, value, unit, status, missing_from, _ = used
        if status not in REPORTING_CODES:
            raise ValueError(f"status {status!r} is not one of {', '.join(REPORTING_CODES)}")
        if unit not in UNIT_CODES:
            raise ValueError(f"unit {unit!r} is not one of {', '.join(UNIT_CODES)}")
        breakdown = self.breakdown.get((dimension or "", option or ""))
        if breakdown is None:
            breakdown = self._breakdown(dimension or "", option or "")
            self.breakdown[(dimension or "", option or "")] = breakdown
        time = self.times.get(period)
        if time is None:
            time = self.times[period] = sdmx_time_period(period)
        return (
            "dataflow",
            SDMX_STRUCTURE_ID,
            "I",
            time[0],
            iso_of(self.isos, area),
            used[0],
            *breakdown,
            time[1],
            "" if value is None else texts[value],
            "O" if value is None else "A",
            UNIT_CODES[unit][0],
            REPORTING_CODES[status][0],
            missing_from or "",
            reported,
        )

    def close(self) -> Path:
        """Write each survey result once at its survey year, and put the file in place."""
        for (_, year, *_rest), reports in sorted(self.held.items()):
            reports.sort(key=lambda r: (r[0][5] is not None, parse_period(r[0][1])))
            periods = sorted({r[0][1] for r in reports if r[1]}, key=parse_period)
            best = reports[-1][0]
            texts = number_texts([best[5]])
            self.writer.writerow(self._row(best, year, " ".join(periods), texts))
        self.file.__exit__(None, None, None)
        return self.file.path

    def abandon(self) -> None:
        """Drop the partial file after a failure."""
        self.file.__exit__(Exception, None, None)
