"""Tables shaped like the national values and indicator tables, for the export tests.

Every code is a real catalogue code; the rows cover every period type cpxl uses, a
missing-reason code, a margin by an "unknown" option, and survey values.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from cpxl import catalogue as cat_mod
from cpxl.catalogue import Catalogue, parse_period
from cpxl.exports import INDICATOR_COLUMNS, NATIONAL_VALUE_COLUMNS

RULES = Path(__file__).resolve().parents[1] / "rules"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
EXPORTED = datetime(2026, 2, 16, 8, 30, tzinfo=UTC)
KHMER_FILE = "របាយការណ៍ក្រសួងសង្គមកិច្ច ២០២៥.xlsx"

Row = tuple[str, str, str, str, str, float, str]

# (element, period, area, dimension, option, value, missing)
ROWS: list[Row] = [
    ("children_in_residential_care", "2025", "01", "", "", 120.0, ""),
    ("children_in_residential_care", "2025", "01", "sex", "female", 70.0, ""),
    ("children_in_residential_care", "2025", "01", "sex", "male", 50.0, ""),
    ("children_in_residential_care", "2025", "01", "age_group_5yr", "age_0_4", 12.0, ""),
    ("children_in_residential_care", "2025", "12", "", "", math.nan, "NK"),
    ("children_in_residential_care", "2025", "12", "facility_type", "group_home", 7.0, ""),
    ("new_cases", "2025Q1", "01", "", "", 30.0, ""),
    ("new_cases", "2025Q2", "01", "sex", "unknown", 3.0, ""),
    ("child_victims_rescued", "2025S1", "25", "age_group_ncct", "age_0_14", 4.0, ""),
    ("births_registered", "2025", "01", "timeliness", "within_30_days", 1000.0, ""),
    ("births_registered", "2025", "02", "", "", math.nan, "NC"),
    ("child_population_0_17", "2025", "01", "", "", 250000.0, ""),
]

# The 2022 Disrupting Harm survey, repeated by the 2024 and 2025 returns.
SURVEY_ROWS: list[Row] = [
    (element, period, "00", dimension, option, value, "")
    for period in ("2024", "2025")
    for element, dimension, option, value in (
        ("online_sexual_abuse_pct", "", "", 11.25),
        ("online_sexual_abuse_pct", "survey_sex", "female", 12.5),
        ("online_sexual_abuse_survey_year", "", "", 2022.0),
    )
]

_VALUE_TYPES = {"value": "float64", "submission_id": "int64", "days_late": "Int64"}
_INDICATOR_TYPES = {
    "numerator": "float64",
    "denominator": "float64",
    "value": "float64",
    "sources": "int64",
}


PERIOD_TYPE = {
    "Yearly": "annual",
    "SixMonthly": "semiannual",
    "Quarterly": "quarterly",
    "Monthly": "monthly",
}
# What DHIS2 accepts as a value of each value type the package uses.
VALUE_TYPE = {
    "INTEGER_ZERO_OR_POSITIVE": lambda v: v >= 0 and v.is_integer(),
    "INTEGER_POSITIVE": lambda v: v > 0 and v.is_integer(),
    "PERCENTAGE": lambda v: 0 <= v <= 100,
    "NUMBER": lambda v: True,
}


def catalogue() -> Catalogue:
    """The repository's catalogue."""
    return cat_mod.load(RULES)


def values_frame(rows: list[Row], **text: str) -> pd.DataFrame:
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
    frame = pd.DataFrame(records, columns=list(NATIONAL_VALUE_COLUMNS))
    for name in NATIONAL_VALUE_COLUMNS:
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


def indicator(
    code: str,
    period: str,
    area: str,
    margin: str,
    value: float,
    unit: str = "count",
    status: str = "reported",
    **more: str,
) -> dict[str, Any]:
    """One indicator row; ``margin`` is "" for the total or "dimension=option"."""
    dimension, _, option = margin.partition("=")
    return {
        "indicator": code,
        "period": period,
        "area": area,
        "dimension": dimension,
        "option": option,
        "value": value,
        "unit": unit,
        "status": status,
    } | more


RATE, LATE, PARTLY = "rate_per_100000", "late", "partly-reported"
INDICATOR_ROWS: list[dict[str, Any]] = [
    indicator("CP-AC-02", "2025", "00", "", 500.0, status=PARTLY, missing_from="Kampot, Kep"),
    indicator("CP-AC-02", "2025", "01", "sex=female", 70.0),
    indicator("CP-AC-02", "2025", "01", "age_group_5yr=age_0_4", 12.0),
    indicator("CP-AC-02", "2025", "01", "facility_type=group_home", 7.0),
    indicator("CP-AC-03", "2025", "12", "sex=male", math.nan, RATE, "not-reported"),
    indicator("CP-AC-03", "2025", "01", "", 48.0, RATE, LATE),
    indicator("CP-SV-03", "2025Q1", "01", "sex=unknown", 3.0, "count", LATE),
    indicator("CP-EX-01", "2025S1", "25", "age_group_ncct=age_0_14", 4.0, "count", PARTLY),
    indicator("CP-EX-01", "2025S1", "00", "", math.nan, "count", "not-reported"),
    indicator("CP-SYS-04", "2025", "00", "ministry=mosvy", 1.5, "percent"),
    # A survey indicator reported in two years for the same 2022 survey, and once with no survey.
    indicator("CP-VAC-05", "2024", "00", "", 11.25, "percent", survey_year="2022"),
    indicator("CP-VAC-05", "2025", "00", "", 11.25, "percent", survey_year="2022"),
    indicator("CP-VAC-05", "2025", "00", "survey_sex=female", 12.5, "percent", survey_year="2022"),
    indicator("CP-VAC-01", "2025", "00", "", math.nan, "percent", "not-reported"),
]


class Package:
    """The metadata package indexed the way DHIS2 resolves a data value."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.by_id = {o["id"]: o for objects in meta.values() for o in objects}
        self.element = {d["code"]: d for d in meta["dataElements"]}
        self.unit = {o["code"]: o for o in meta["organisationUnits"]}
        self.combo_of_option_combo = {
            c["code"]: c["categoryCombo"]["id"] for c in meta["categoryOptionCombos"]
        }
        self.sets_of: dict[str, list[dict[str, Any]]] = {}
        for ds in meta["dataSets"]:
            for member in ds["dataSetElements"]:
                self.sets_of.setdefault(member["dataElement"]["id"], []).append(ds)
        self.category = {c["code"]: c for c in meta["categories"]}
        self.option = {o["code"]: o for o in meta["categoryOptions"]}

    def resolve(
        self, element: str, option_combo: str, unit: str, period: str, value: str = ""
    ) -> list[str]:
        """What DHIS2 would refuse about one data value (empty: it imports)."""
        problems = []
        de = self.element.get(element)
        if de is None:
            return [f"no data element {element}"]
        if value and not VALUE_TYPE[de["valueType"]](float(value)):
            problems.append(f"{value} is not a {de['valueType']} ({element})")
        combo = de.get("categoryCombo", {}).get("id")
        if option_combo:
            if self.combo_of_option_combo.get(option_combo) != combo:
                problems.append(f"{option_combo} is not in the combo of {element}")
        elif combo is not None:
            problems.append(f"{element} has a category combo but the value has no option combo")
        if unit not in self.unit:
            problems.append(f"no org unit {unit}")
        sets = [
            ds
            for ds in self.sets_of.get(de["id"], [])
            if {"id": self.unit.get(unit, {}).get("id")} in ds["organisationUnits"]
        ]
        if not sets:
            problems.append(f"{unit} is assigned no data set holding {element}")
        elif parse_period(period).type != PERIOD_TYPE[sets[0]["periodType"]]:
            problems.append(f"period {period} is not {sets[0]['periodType']}")
        return problems

    def refused(self, data_values: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
        """Each dataValues entry DHIS2 would refuse, with why (empty: all of them import)."""
        return [
            (dv, problem)
            for dv in data_values
            for problem in self.resolve(
                dv["dataElement"],
                dv.get("categoryOptionCombo", ""),
                dv["orgUnit"],
                dv["period"],
                dv.get("value", ""),
            )
        ]
