"""National exports: CSV, DHIS2 dataValueSets, ADX and SDMX-CSV built from the long tables.

Behaviours covered:
- numbers are written plainly (no exponent, no trailing .0) and read back as the same float;
- dataValueSets JSON matches its JSON Schema, and every stored value (or missing-reason code)
  comes back from it to the same row of the long table; blank rows are not exported;
- every margin of every catalogue element has its own category option combo code;
- ADX parses with defusedxml, is in the ADX namespace, has one group per org unit x period x
  data set with ISO 8601 periods, and gives back every stored number;
- SDMX-CSV has the exact header, one row per total, sex and age figure with FREQ, TIME_PERIOD,
  OBS_STATUS and UNIT_MEASURE mapped, an empty OBS_VALUE with status M for a missing figure,
  and nothing for other disaggregations;
- CSV starts with the UTF-8 BOM, keeps Khmer, keeps missing-reason codes, leaves NaN empty,
  and escapes any text a spreadsheet would run as a formula;
- write_exports writes the requested formats under their names and refuses unknown ones.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as DET
import jsonschema
import pandas as pd
import pytest

from cpxl import catalogue as cat_mod
from cpxl.catalogue import Catalogue
from cpxl.exports import (
    ADX_NAMESPACE,
    EXPORT_FORMATS,
    INDICATOR_COLUMNS,
    SDMX_COLUMNS,
    VALUE_COLUMNS,
    adx_document,
    adx_period,
    area_iso,
    category_option_combo,
    csv_safe,
    dhis2_data_value_sets,
    number_text,
    sdmx_csv,
    sdmx_time_period,
    write_adx,
    write_csv,
    write_dhis2,
    write_exports,
    write_sdmx,
)

RULES = Path(__file__).resolve().parents[1] / "rules"
EXPORTED = datetime(2026, 2, 16, 8, 30, tzinfo=UTC)
NS = "{" + ADX_NAMESPACE + "}"
KHMER_FILE = "របាយការណ៍ក្រសួងសង្គមកិច្ច ២០២៥.xlsx"

# (element, period, area, dimension, option, value, missing): real catalogue codes, all data sets
# whose period types cpxl uses, a missing-reason code, a margin by an "unknown" option.
ROWS: list[tuple[str, str, str, str, str, float, str]] = [
    ("children_in_residential_care", "2025", "01", "", "", 120.0, ""),
    ("children_in_residential_care", "2025", "01", "sex", "female", 70.0, ""),
    ("children_in_residential_care", "2025", "01", "sex", "male", 50.0, ""),
    ("children_in_residential_care", "2025", "01", "age_group_5yr", "age_0_4", 12.0, ""),
    ("children_in_residential_care", "2025", "12", "", "", math.nan, "NK"),
    ("children_in_residential_care", "2025", "12", "facility_type", "group_home", 7.0, ""),
    ("online_sexual_abuse_pct", "2025", "00", "", "", 11.25, ""),
    ("online_sexual_abuse_pct", "2025", "00", "survey_sex", "female", 12.5, ""),
    ("online_sexual_abuse_survey_year", "2025", "00", "", "", 2022.0, ""),
    ("new_cases", "2025Q1", "01", "", "", 30.0, ""),
    ("new_cases", "2025Q2", "01", "sex", "unknown", 3.0, ""),
    ("child_victims_rescued", "2025S1", "25", "age_group_ncct", "age_0_14", 4.0, ""),
    ("births_registered", "2025", "01", "timeliness", "within_30_days", 1000.0, ""),
    ("births_registered", "2025", "02", "", "", math.nan, "NC"),
    ("child_population_0_17", "2025", "01", "", "", 250000.0, ""),
]

# The exact ADX groups ROWS make, by area, then period (start, then end), then data set:
# Phnom Penh has a number besides its code; Battambang only a code, so no group.
GROUPS = [
    ("KH", "2025-01-01/P1Y", "MOSVY_ANNUAL"),
    ("KH-1", "2025-01-01/P3M", "MOSVY_CASES_QUARTERLY"),
    ("KH-1", "2025-01-01/P1Y", "MOI_ANNUAL"),
    ("KH-1", "2025-01-01/P1Y", "MOSVY_ANNUAL"),
    ("KH-1", "2025-01-01/P1Y", "NIS_ANNUAL"),
    ("KH-1", "2025-04-01/P3M", "MOSVY_CASES_QUARTERLY"),
    ("KH-12", "2025-01-01/P1Y", "MOSVY_ANNUAL"),
    ("KH-25", "2025-01-01/P6M", "NCCT_SEMIANNUAL"),
]

_VALUE_TYPES = {"value": "float64", "submission_id": "int64", "days_late": "Int64"}
_INDICATOR_TYPES = {
    "numerator": "float64",
    "denominator": "float64",
    "value": "float64",
    "sources": "int64",
}

DATA_VALUE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["dataValues"],
    "additionalProperties": False,
    "properties": {
        "dataValues": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "dataElement",
                    "period",
                    "orgUnit",
                    "categoryOptionCombo",
                    "attributeOptionCombo",
                ],
                "additionalProperties": False,
                "properties": {
                    "dataElement": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                    "period": {
                        "type": "string",
                        "pattern": "^[0-9]{4}(Q[1-4]|S[12]|0[1-9]|1[0-2])?$",
                    },
                    "orgUnit": {"type": "string", "pattern": "^KH(-[1-9][0-9]?)?$"},
                    "categoryOptionCombo": {"type": "string", "minLength": 1},
                    "attributeOptionCombo": {"const": "default"},
                    "value": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]*[1-9])?$"},
                    "comment": {"enum": ["NC", "NA", "NK"]},
                },
                "oneOf": [{"required": ["value"]}, {"required": ["comment"]}],
            },
        }
    },
}


# --- builders -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    """The repository's catalogue."""
    return cat_mod.load(RULES)


def values_frame(
    rows: list[tuple[str, str, str, str, str, float, str]], **text: str
) -> pd.DataFrame:
    """A long table shaped and typed like Store.long_table; ``text`` overrides text columns."""
    records = []
    for i, (element, period, area, dimension, option, value, missing) in enumerate(rows):
        records.append(
            {
                "element": element,
                "period": period,
                "area": area,
                "dimension": dimension,
                "option": option,
                "value": value,
                "missing": missing,
                "ministry": "MOSVY",
                "submission_id": 7,
                "sheet": "children_in_care",
                "cell": f"D{8 + i}",
                "name_received": KHMER_FILE,
                "sha256": "ab" * 32,
                "received_at": datetime(2026, 2, 10, 9, 15, tzinfo=UTC),
                "days_late": pd.NA if i % 2 else 3,
            }
            | text
        )
    frame = pd.DataFrame(records, columns=list(VALUE_COLUMNS))
    for name in VALUE_COLUMNS:
        if name == "received_at":
            frame[name] = pd.to_datetime(frame[name], utc=True)
        else:
            frame[name] = frame[name].astype(_VALUE_TYPES.get(name, "str"))  # type: ignore[call-overload]
    return frame


def indicators_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """An indicator table shaped and typed like consolidation.indicator_table."""
    defaults: dict[str, Any] = {
        "iso": "",
        "dimension": "",
        "option": "",
        "numerator": math.nan,
        "denominator": math.nan,
        "unit": "count",
        "status": "reported",
        "missing_from": "",
        "denominator_year": "",
        "survey_year": "",
        "sources": 1,
    }
    frame = pd.DataFrame([defaults | r for r in rows], columns=list(INDICATOR_COLUMNS))
    for name in INDICATOR_COLUMNS:
        frame[name] = frame[name].astype(_INDICATOR_TYPES.get(name, "str"))  # type: ignore[call-overload]
    return frame


def stored(frame: pd.DataFrame) -> set[tuple[str, str, str, str, str, str]]:
    """(element, period, area, dimension, option, value-or-code) of every row of a long table."""
    out = set()
    for r in frame.to_dict("records"):
        shown = r["missing"] if math.isnan(r["value"]) else repr(float(r["value"]))
        out.add((r["element"], r["period"], r["area"], r["dimension"], r["option"], shown))
    return out


def area_of(catalogue: Catalogue) -> dict[str, str]:
    """Area code of every ISO code."""
    return {iso: area for area, iso in area_iso(catalogue).items()}


def split_combo(catalogue: Catalogue, element: str, combo: str) -> tuple[str, str]:
    """(dimension, option) of a category option combo, which must name exactly one margin."""
    if combo == "default":
        return ("", "")
    found = [
        (d, o.code)
        for d in catalogue.elements[element].by
        for o in catalogue.dimensions[d].options
        if combo == f"{d}_{o.code}"
    ]
    assert len(found) == 1, (element, combo, found)
    return found[0]


def read_csv_bytes(data: bytes) -> list[list[str]]:
    """The cells of a CSV file written with a BOM."""
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


# --- numbers and periods ------------------------------------------------------------------------


def test_numbers_are_plain_and_read_back_exactly() -> None:
    """Numbers are written without exponent or trailing .0 and read back as the same float."""
    cases = [12.0, 12.5, 1e-05, 1e20, -0.0, 100 / 3, 250000.0, -4.75]
    assert [number_text(v) for v in cases] == [
        "12",
        "12.5",
        "0.00001",
        "100000000000000000000",
        "0",
        "33.333333333333336",
        "250000",
        "-4.75",
    ]
    assert all(float(number_text(v)) == v for v in cases)
    with pytest.raises(ValueError, match="not a number"):
        number_text(math.nan)


def test_periods_become_iso_8601_and_sdmx_periods() -> None:
    """Each period type becomes an ADX start/duration and an SDMX frequency and period."""
    ids = ["2025", "2025S2", "2025Q3", "202503"]
    assert [adx_period(p) for p in ids] == [
        "2025-01-01/P1Y",
        "2025-07-01/P6M",
        "2025-07-01/P3M",
        "2025-03-01/P1M",
    ]
    assert [sdmx_time_period(p) for p in ids] == [
        ("A", "2025"),
        ("S", "2025-S2"),
        ("Q", "2025-Q3"),
        ("M", "2025-03"),
    ]


# --- DHIS2 dataValueSets ------------------------------------------------------------------------


def test_data_value_sets_match_the_schema_and_give_back_every_value(catalogue: Catalogue) -> None:
    """dataValueSets JSON matches its schema and every value or code maps back to its row."""
    values = values_frame(ROWS)
    payload = dhis2_data_value_sets(catalogue, values)
    errors = [
        e.message for e in jsonschema.Draft202012Validator(DATA_VALUE_SCHEMA).iter_errors(payload)
    ]
    assert errors == []
    areas = area_of(catalogue)
    back = set()
    for dv in payload["dataValues"]:
        dimension, option = split_combo(catalogue, dv["dataElement"], dv["categoryOptionCombo"])
        shown = dv["comment"] if "value" not in dv else repr(float(dv["value"]))
        back.add((dv["dataElement"], dv["period"], areas[dv["orgUnit"]], dimension, option, shown))
    assert len(payload["dataValues"]) == len(ROWS)
    assert back == stored(values)


def test_data_values_carry_codes_iso_areas_and_combos(catalogue: Catalogue) -> None:
    """A total, a margin and a missing-reason code become exactly these data values."""
    payload = dhis2_data_value_sets(catalogue, values_frame(ROWS[:5]))
    assert payload["dataValues"][0] == {
        "dataElement": "children_in_residential_care",
        "period": "2025",
        "orgUnit": "KH-1",
        "categoryOptionCombo": "default",
        "attributeOptionCombo": "default",
        "value": "120",
    }
    assert payload["dataValues"][3]["categoryOptionCombo"] == "age_group_5yr_age_0_4"
    assert payload["dataValues"][4] == {
        "dataElement": "children_in_residential_care",
        "period": "2025",
        "orgUnit": "KH-12",
        "categoryOptionCombo": "default",
        "attributeOptionCombo": "default",
        "comment": "NK",
    }


def test_a_row_with_neither_number_nor_code_is_not_exported(catalogue: Catalogue) -> None:
    """A blank row is not reported data, so it never becomes a data value (and never 0)."""
    values = values_frame([("new_cases", "2025Q1", "01", "", "", math.nan, "")])
    assert dhis2_data_value_sets(catalogue, values) == {"dataValues": []}


def test_data_value_sets_refuse_an_unknown_area_or_element(catalogue: Catalogue) -> None:
    """An area or element the catalogue does not know stops the export with its name."""
    with pytest.raises(ValueError, match="'99'"):
        dhis2_data_value_sets(
            catalogue, values_frame([("new_cases", "2025Q1", "99", "", "", 1.0, "")])
        )
    with pytest.raises(ValueError, match="no_such_element"):
        dhis2_data_value_sets(
            catalogue, values_frame([("no_such_element", "2025", "01", "", "", 1.0, "")])
        )


def test_every_margin_has_its_own_category_option_combo(catalogue: Catalogue) -> None:
    """Within each element, every (dimension, option) gets a code that names only it."""
    for element in catalogue.elements.values():
        for d in element.by:
            for o in catalogue.dimensions[d].options:
                combo = category_option_combo(d, o.code)
                assert split_combo(catalogue, element.code, combo) == (d, o.code)
    assert category_option_combo("", "") == "default"


def test_the_dhis2_file_holds_the_payload(catalogue: Catalogue, tmp_path: Path) -> None:
    """<stem>.dhis2.json holds exactly the dataValueSets payload, as UTF-8 JSON."""
    values = values_frame(ROWS)
    path = write_dhis2(catalogue, values, tmp_path / "national", "cpims_2025")
    assert path == tmp_path / "national" / "cpims_2025.dhis2.json"
    assert json.loads(path.read_text(encoding="utf-8")) == dhis2_data_value_sets(catalogue, values)
    assert sorted(p.name for p in path.parent.iterdir()) == ["cpims_2025.dhis2.json"]


# --- ADX ----------------------------------------------------------------------------------------


def test_adx_has_one_group_per_area_period_and_data_set(catalogue: Catalogue) -> None:
    """ADX parses safely, is in the ADX namespace, and groups by org unit, period and data set."""
    root = DET.fromstring(adx_document(catalogue, values_frame(ROWS), exported=EXPORTED))
    assert root.tag == NS + "adx"
    assert root.attrib == {"exported": "2026-02-16T08:30:00+00:00"}
    groups = [(g.get("orgUnit"), g.get("period"), g.get("dataSet")) for g in root]
    assert [g.tag for g in root] == [NS + "group"] * len(GROUPS)
    assert groups == GROUPS


def test_adx_gives_back_every_stored_number(catalogue: Catalogue) -> None:
    """Every number (not the missing-reason codes) comes back from ADX to its row."""
    values = values_frame(ROWS)
    root = DET.fromstring(adx_document(catalogue, values, exported=EXPORTED))
    areas = area_of(catalogue)
    starts = {adx_period(p): p for p in values["period"]}
    back = set()
    for group in root:
        for dv in group:
            assert dv.tag == NS + "dataValue"
            attrs = dict(dv.attrib)
            element, value = attrs.pop("dataElement"), attrs.pop("value")
            assert catalogue.data_set_of(element).id == group.get("dataSet")
            (dimension, option), *_ = [*attrs.items(), ("", "")]
            assert len(attrs) <= 1
            back.add(
                (
                    element,
                    starts[group.get("period")],
                    areas[group.get("orgUnit")],
                    dimension,
                    option,
                    repr(float(value)),
                )
            )
    numbers = values[values["value"].notna()]
    assert back == stored(numbers)
    assert sum(len(g) for g in root) == len(numbers) == 13


def test_adx_margin_carries_its_option_as_an_attribute(catalogue: Catalogue) -> None:
    """A margin cell reads <dataValue dataElement=... value=... dimension="option"/>."""
    root = DET.fromstring(adx_document(catalogue, values_frame(ROWS[:2]), exported=EXPORTED))
    assert [dict(dv.attrib) for g in root for dv in g] == [
        {"dataElement": "children_in_residential_care", "value": "120"},
        {"dataElement": "children_in_residential_care", "value": "70", "sex": "female"},
    ]


def test_an_empty_long_table_makes_an_empty_adx(catalogue: Catalogue, tmp_path: Path) -> None:
    """With nothing stored, ADX is one empty root and the file holds exactly that document."""
    empty = values_frame([])
    path = write_adx(catalogue, empty, tmp_path, "empty", exported=EXPORTED)
    assert path.name == "empty.adx.xml"
    assert path.read_bytes() == adx_document(catalogue, empty, exported=EXPORTED)
    root = DET.fromstring(path.read_bytes())
    assert (root.tag, list(root)) == (NS + "adx", [])


# --- SDMX-CSV -----------------------------------------------------------------------------------


def _indicator(
    indicator: str,
    period: str,
    area: str,
    margin: str,
    value: float,
    unit: str = "count",
    status: str = "reported",
) -> dict[str, Any]:
    """One indicator row; ``margin`` is "" for the total or "dimension=option"."""
    dimension, _, option = margin.partition("=")
    return {
        "indicator": indicator,
        "period": period,
        "area": area,
        "dimension": dimension,
        "option": option,
        "value": value,
        "unit": unit,
        "status": status,
    }


RATE, LATE, PARTLY = "rate_per_100000", "late", "partly-reported"
INDICATOR_ROWS: list[dict[str, Any]] = [
    _indicator("CP-AC-02", "2025", "00", "", 500.0),
    _indicator("CP-AC-02", "2025", "01", "sex=female", 70.0),
    _indicator("CP-AC-02", "2025", "01", "age_group_5yr=age_0_4", 12.0),
    _indicator("CP-AC-02", "2025", "01", "facility_type=group_home", 7.0),
    _indicator("CP-AC-03", "2025", "12", "sex=male", math.nan, RATE, "not-reported"),
    _indicator("CP-AC-03", "2025", "01", "", 48.0, RATE, LATE),
    _indicator("CP-VAC-05", "2025", "00", "survey_sex=female", 12.5, "percent"),
    _indicator("CP-SV-03", "2025Q1", "01", "sex=unknown", 3.0, "count", LATE),
    _indicator("CP-EX-01", "2025S1", "25", "age_group_ncct=age_0_14", 4.0, "count", PARTLY),
    _indicator("CP-EX-01", "2025S1", "00", "", math.nan, "count", PARTLY),
    _indicator("CP-SYS-04", "2025", "00", "ministry=mosvy", 1.5, "percent"),
]

SDMX_ROWS = [
    ["A", "KH", "CP-AC-02", "_T", "_T", "2025", "500", "A", "NUMBER"],
    ["A", "KH-1", "CP-AC-02", "F", "_T", "2025", "70", "A", "NUMBER"],
    ["A", "KH-1", "CP-AC-02", "_T", "age_0_4", "2025", "12", "A", "NUMBER"],
    ["A", "KH-12", "CP-AC-03", "M", "_T", "2025", "", "M", "PER_100000"],
    ["A", "KH-1", "CP-AC-03", "_T", "_T", "2025", "48", "A", "PER_100000"],
    ["A", "KH", "CP-VAC-05", "F", "_T", "2025", "12.5", "A", "PT"],
    ["Q", "KH-1", "CP-SV-03", "_U", "_T", "2025-Q1", "3", "A", "NUMBER"],
    ["S", "KH-25", "CP-EX-01", "_T", "age_0_14", "2025-S1", "4", "E", "NUMBER"],
    ["S", "KH", "CP-EX-01", "_T", "_T", "2025-S1", "", "M", "NUMBER"],
]


def test_sdmx_csv_has_the_exact_header_and_rows(catalogue: Catalogue) -> None:
    """SDMX-CSV carries totals, sex and age rows, mapped exactly, and leaves out the rest."""
    text = sdmx_csv(catalogue, indicators_frame(INDICATOR_ROWS))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert text.splitlines()[0] == (
        "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,INDICATOR,SEX,AGE,TIME_PERIOD,OBS_VALUE,"
        "OBS_STATUS,UNIT_MEASURE"
    )
    assert tuple(rows[0]) == SDMX_COLUMNS
    assert [r[:3] for r in rows[1:]] == [["dataflow", "KH_MOSVY:DF_CPIMS(1.0)", "I"]] * 9
    assert [r[3:] for r in rows[1:]] == SDMX_ROWS


def test_sdmx_values_read_back_to_the_indicator_table(catalogue: Catalogue) -> None:
    """Each SDMX observation reads back to its indicator row's value; NaN is empty with M."""
    indicators = indicators_frame(INDICATOR_ROWS)
    reader = csv.DictReader(io.StringIO(sdmx_csv(catalogue, indicators), newline=""))
    observed = {
        (r["INDICATOR"], r["REF_AREA"], r["TIME_PERIOD"], r["SEX"], r["AGE"]): r for r in reader
    }
    isos = area_iso(catalogue)
    sexes = {"female": "F", "male": "M", "unknown": "_U"}
    checked = 0
    for r in indicators.to_dict("records"):
        dimension, option = r["dimension"], r["option"]
        sex = sexes[option] if dimension in ("sex", "survey_sex") else "_T"
        age = option if dimension.startswith("age") else "_T"
        key = (r["indicator"], isos[r["area"]], sdmx_time_period(r["period"])[1], sex, age)
        if dimension not in ("", "sex", "survey_sex") and not dimension.startswith("age"):
            assert key not in observed
            continue
        obs = observed[key]
        if math.isnan(r["value"]):
            assert (obs["OBS_VALUE"], obs["OBS_STATUS"]) == ("", "M")
        else:
            assert float(obs["OBS_VALUE"]) == r["value"]
        checked += 1
    assert checked == len(observed) == 9


def test_sdmx_refuses_an_unknown_status_or_unit(catalogue: Catalogue) -> None:
    """A status or unit outside the indicator table's vocabulary stops the export."""
    row = {"indicator": "CP-AC-02", "period": "2025", "area": "00", "value": 1.0}
    with pytest.raises(ValueError, match="'done'"):
        sdmx_csv(catalogue, indicators_frame([row | {"status": "done"}]))
    with pytest.raises(ValueError, match="'dozens'"):
        sdmx_csv(catalogue, indicators_frame([row | {"unit": "dozens"}]))


def test_the_sdmx_file_is_utf8_without_bom(catalogue: Catalogue, tmp_path: Path) -> None:
    """<stem>.sdmx.csv holds the SDMX-CSV text as plain UTF-8."""
    indicators = indicators_frame(INDICATOR_ROWS)
    path = write_sdmx(catalogue, indicators, tmp_path, "cpims_2025")
    assert path.name == "cpims_2025.sdmx.csv"
    assert path.read_bytes() == sdmx_csv(catalogue, indicators).encode("utf-8")
    assert path.read_bytes().startswith(b"STRUCTURE,")


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_has_a_bom_keeps_khmer_codes_and_blanks(tmp_path: Path) -> None:
    """values.csv starts with the BOM, keeps Khmer and codes, and writes NaN as empty."""
    values = values_frame(ROWS[3:5])
    indicators = indicators_frame(INDICATOR_ROWS[4:5])
    values_path, indicators_path = write_csv(values, indicators, tmp_path, "cpims_2025")
    assert (values_path.name, indicators_path.name) == (
        "cpims_2025.values.csv",
        "cpims_2025.indicators.csv",
    )
    data = values_path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert indicators_path.read_bytes().startswith(b"\xef\xbb\xbf")
    element, when, sha = "children_in_residential_care", "2026-02-10T09:15:00+00:00", "ab" * 32
    provenance = ["MOSVY", "7", "children_in_care"]
    assert read_csv_bytes(data) == [
        list(VALUE_COLUMNS),
        [
            element,
            "2025",
            "01",
            "age_group_5yr",
            "age_0_4",
            "12",
            "",
            *provenance,
            "D8",
            KHMER_FILE,
            sha,
            when,
            "3",
        ],
        [element, "2025", "12", "", "", "", "NK", *provenance, "D9", KHMER_FILE, sha, when, ""],
    ]
    assert read_csv_bytes(indicators_path.read_bytes()) == [
        list(INDICATOR_COLUMNS),
        [
            "CP-AC-03",
            "2025",
            "12",
            "",
            "sex",
            "male",
            "",
            "",
            "",
            RATE,
            "not-reported",
            "",
            "",
            "",
            "1",
        ],
    ]


DANGEROUS = ['=HYPERLINK("http://x")', "+1", "@SUM(A1)", "-2+3", "\t=1", "\r=1"]


@pytest.mark.parametrize("payload", DANGEROUS)
def test_csv_escapes_formula_text_in_every_text_column(tmp_path: Path, payload: str) -> None:
    """Text a spreadsheet would run as a formula is written with a leading apostrophe."""
    value_text = [c for c in VALUE_COLUMNS if c not in ("value", "submission_id", "days_late")]
    value_text.remove("received_at")
    indicator_text = [c for c in INDICATOR_COLUMNS if c not in _INDICATOR_TYPES]
    values = values_frame(ROWS[:1], **dict.fromkeys(value_text, payload))
    indicators = indicators_frame([dict.fromkeys(indicator_text, payload) | {"value": 1.0}])
    values_path, indicators_path = write_csv(values, indicators, tmp_path, "x")
    header, row = read_csv_bytes(values_path.read_bytes())
    assert {name: cell for name, cell in zip(header, row, strict=True) if name in value_text} == (
        dict.fromkeys(value_text, "'" + payload)
    )
    assert row[VALUE_COLUMNS.index("value")] == "120"
    header, row = read_csv_bytes(indicators_path.read_bytes())
    assert {
        name: cell for name, cell in zip(header, row, strict=True) if name in indicator_text
    } == (dict.fromkeys(indicator_text, "'" + payload))


def test_ordinary_text_is_not_escaped() -> None:
    """Codes, names and Khmer that cannot run as a formula are written unchanged."""
    texts = ["CP-AC-02", "KH-1", "a=b", KHMER_FILE, "'quoted", ""]
    assert [csv_safe(t) for t in texts] == texts


# --- all at once --------------------------------------------------------------------------------


def test_write_exports_writes_each_format_under_its_name(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    """Every format lands in the folder under the stem; a subset writes only that subset."""
    values, indicators = values_frame(ROWS), indicators_frame(INDICATOR_ROWS)
    written = write_exports(catalogue, values, indicators, tmp_path / "all", "n", exported=EXPORTED)
    assert {fmt: [p.name for p in paths] for fmt, paths in written.items()} == {
        "csv": ["n.values.csv", "n.indicators.csv"],
        "dhis2": ["n.dhis2.json"],
        "adx": ["n.adx.xml"],
        "sdmx": ["n.sdmx.csv"],
    }
    assert tuple(written) == EXPORT_FORMATS
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == sorted(
        p.name for paths in written.values() for p in paths
    )
    assert (tmp_path / "all" / "n.adx.xml").read_bytes() == adx_document(
        catalogue, values, exported=EXPORTED
    )
    some = write_exports(catalogue, values, indicators, tmp_path / "some", "n", ("sdmx",))
    assert {fmt: [p.name for p in paths] for fmt, paths in some.items()} == {"sdmx": ["n.sdmx.csv"]}
    assert [p.name for p in (tmp_path / "some").iterdir()] == ["n.sdmx.csv"]


def test_write_exports_refuses_an_unknown_format(catalogue: Catalogue, tmp_path: Path) -> None:
    """An unknown format name stops before anything is written."""
    with pytest.raises(ValueError, match="xlsx"):
        write_exports(
            catalogue, values_frame(ROWS), indicators_frame([]), tmp_path, "n", ("csv", "xlsx")
        )
    assert list(tmp_path.iterdir()) == []
