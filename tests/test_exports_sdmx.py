"""SDMX exports read by sdmx1, as an SDMX user would read them.

Behaviours covered:
- the structure message is valid SDMX-ML 2.1 (the SDMX schemas) and sdmx1 reads its dataflow,
  data structure, concepts and code lists; every indicator breakdown is a dimension; SEX, AGE,
  FREQ and OBS_STATUS use SDMX cross-domain codes; REF_AREA is ISO 3166-2:KH with provinces
  under Cambodia;
- sdmx1 reads the SDMX-CSV against that dataflow, and every observation conforms to the
  structure: each dimension and coded attribute value is in its code list, mandatory
  attributes are given, each key appears once;
- no value is dropped: every indicator row is an observation with the same value; not reported
  is an empty value with OBS_STATUS O; partly reported says so in REPORTING_STATUS and
  MISSING_FROM, never as an estimate;
- a survey indicator is one observation at its survey year with the reporting periods named.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sdmx
from exportdata import (
    EXPORTED,
    INDICATOR_ROWS,
    SCHEMAS,
    catalogue,
    indicator,
    indicators_frame,
)
from lxml import etree

from cpxl.catalogue import Catalogue
from cpxl.exports import area_iso, sdmx_time_period, structure_message, write_exports

SURVEY = {"CP-VAC-05"}


@pytest.fixture(scope="module", name="cat")
def _cat() -> Catalogue:
    return catalogue()


@pytest.fixture(scope="module", name="written")
def _written(cat: Catalogue, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sdmx")
    write_exports(cat, [], indicators_frame(INDICATOR_ROWS), out, "n", ("sdmx",), exported=EXPORTED)
    return out


@pytest.fixture(scope="module", name="structure")
def _structure(written: Path) -> Any:
    return read(written / "n.sdmx-structure.xml", "XML")


def read(path: Path, kind: str, **kwargs: Any) -> Any:
    """An SDMX message read by sdmx1 from a file (opened here so that it is closed again)."""
    with path.open("rb") as stream:
        return sdmx.read_sdmx(stream, format=kind, **kwargs)


def observations(written: Path, structure: Any) -> list[dict[str, str]]:
    """Every observation sdmx1 reads from the SDMX-CSV, as {component: value}."""
    flow = structure.dataflow["DF_CPIMS"]
    message = read(written / "n.sdmx.csv", "CSV", structure=flow)
    out = []
    for data_set in message.data:
        assert data_set.structured_by is flow.structure
        for obs in data_set.obs:
            row = {kv.id: str(kv.value) for kv in obs.key.values.values()}
            row |= {k: str(v.value) for k, v in obs.attached_attribute.items()}
            row["OBS_VALUE"] = "" if obs.value is None else str(obs.value)
            out.append(row)
    return out


def test_the_structure_message_is_valid_sdmx_ml(cat: Catalogue) -> None:
    """The structure message validates against the SDMX-ML 2.1 schemas."""
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "adx2015" / "sdmx" / "SDMXMessage.xsd")))
    document = etree.fromstring(structure_message(cat, prepared=EXPORTED))
    assert schema.validate(document), schema.error_log


def test_sdmx1_reads_the_structure_with_every_breakdown_a_dimension(
    cat: Catalogue, structure: Any
) -> None:
    """Dataflow -> DSD; each indicator breakdown (besides province) is a coded dimension."""
    flow = structure.dataflow["DF_CPIMS"]
    dsd = flow.structure
    assert dsd is structure.structure["DSD_CPIMS"]
    dims = [d.id for d in dsd.dimensions]
    assert dims[:5] == ["FREQ", "REF_AREA", "INDICATOR", "SEX", "AGE"]
    assert dims[-1] == "TIME_PERIOD"
    breakdowns = {d for i in cat.indicators for d in i.disaggregations} - {"province"}
    named = {d.upper() for d in breakdowns if d not in ("sex", "survey_sex")}
    named = {d for d in named if not d.startswith("AGE")}
    assert set(dims[5:-1]) == named
    for dim in dsd.dimensions:
        if dim.id not in ("FREQ", "REF_AREA", "INDICATOR", "TIME_PERIOD"):
            codes = set(dim.local_representation.enumerated.items)
            assert "_T" in codes, dim.id
    assert [a.id for a in dsd.attributes] == [
        "OBS_STATUS",
        "UNIT_MEASURE",
        "REPORTING_STATUS",
        "MISSING_FROM",
        "REPORTING_PERIOD",
    ]


def test_code_lists_use_sdmx_cross_domain_codes(cat: Catalogue, structure: Any) -> None:
    """SEX F/M/_T/_U, AGE ranges, FREQ, OBS_STATUS A/O; REF_AREA KH over KH-1..KH-25."""
    lists = structure.codelist
    assert set(lists["CL_SEX"].items) == {"F", "M", "_T", "_U"}
    assert set(lists["CL_AGE"].items) == {
        "Y0T4",
        "Y5T9",
        "Y10T14",
        "Y15T17",
        "Y0T14",
        "_U",
        "_T",
    }
    assert set(lists["CL_FREQ"].items) == {"A", "S", "Q", "M"}
    assert {"A", "O"} <= set(lists["CL_OBS_STATUS"].items)
    area = lists["CL_AREA"]
    assert set(area.items) == set(area_iso(cat).values())
    assert {c.id for c in area["KH"].child} == {f"KH-{i}" for i in range(1, 26)}
    assert str(area["KH-12"].name["en"]) == "Phnom Penh"
    assert set(lists["CL_INDICATOR"].items) == {i.id for i in cat.indicators}
    home = cat.dimensions["facility_type"].option("group_home")
    code = lists["CL_FACILITY_TYPE"]["GROUP_HOME"]
    assert (str(code.name["en"]), str(code.name["km"])) == (home.label.en, home.label.km)


def test_the_data_conforms_to_the_structure(written: Path, structure: Any) -> None:
    """Each observation's dimension and coded attribute values are in their code lists."""
    dsd = structure.structure["DSD_CPIMS"]
    rows = observations(written, structure)
    assert len(rows) == len(INDICATOR_ROWS) - 1  # the repeated survey is one observation
    wrong = []
    for row in rows:
        for component in [*dsd.dimensions, *dsd.attributes]:
            value = row.get(component.id, "")
            mandatory = getattr(component, "usage_status", None)
            if component.id == "TIME_PERIOD":
                continue
            if not value:
                if component in dsd.dimensions or "mandatory" in str(mandatory).lower():
                    wrong.append((component.id, "missing", row))
                continue
            codelist = component.local_representation.enumerated
            if codelist is not None and value not in codelist.items:
                wrong.append((component.id, value))
        if row["OBS_STATUS"] == "O":
            assert row["OBS_VALUE"] in ("", "nan")
        else:
            float(row["OBS_VALUE"])
    assert wrong == []
    keys = Counter(tuple(row[d.id] for d in dsd.dimensions) for row in rows)
    assert [k for k, n in keys.items() if n > 1] == []


def _key(cat: Catalogue, r: dict[str, Any]) -> tuple[str, str, str, str, str]:
    """(INDICATOR, REF_AREA, TIME_PERIOD, dimension code, option code) of an indicator row."""
    return (
        r["indicator"],
        area_iso(cat)[r["area"]],
        sdmx_time_period(r["period"])[1],
        r.get("dimension", ""),
        r.get("option", ""),
    )


def test_no_value_is_dropped(cat: Catalogue, written: Path, structure: Any) -> None:
    """Every non-survey indicator row is an observation with its value and status."""
    dsd = structure.structure["DSD_CPIMS"]
    breakdown_ids = [d.id for d in dsd.dimensions][3:-1]
    seen = {}
    for row in observations(written, structure):
        set_dims = [d for d in breakdown_ids if row[d] != "_T"]
        assert len(set_dims) <= 1
        margin = (set_dims[0], row[set_dims[0]]) if set_dims else ("", "")
        seen[(row["INDICATOR"], row["REF_AREA"], row["TIME_PERIOD"], *margin)] = row
    sdmx_margin = {
        ("sex", "female"): ("SEX", "F"),
        ("sex", "male"): ("SEX", "M"),
        ("sex", "unknown"): ("SEX", "_U"),
        ("age_group_5yr", "age_0_4"): ("AGE", "Y0T4"),
        ("age_group_ncct", "age_0_14"): ("AGE", "Y0T14"),
        ("facility_type", "group_home"): ("FACILITY_TYPE", "GROUP_HOME"),
        ("ministry", "mosvy"): ("MINISTRY", "MOSVY"),
        ("", ""): ("", ""),
    }
    for r in INDICATOR_ROWS:
        if r["indicator"] in SURVEY:
            continue
        code, area, time, dimension, option = _key(cat, r)
        obs = seen[(code, area, time, *sdmx_margin[(dimension, option)])]
        if math.isnan(r["value"]):
            assert (obs["OBS_VALUE"] in ("", "nan"), obs["OBS_STATUS"]) == (True, "O")
        else:
            assert (float(obs["OBS_VALUE"]), obs["OBS_STATUS"]) == (r["value"], "A")


def test_partly_reported_is_an_attribute_not_an_estimate(written: Path, structure: Any) -> None:
    """A national total built from some provinces is A (normal) with PARTLY_REPORTED and who."""
    rows = observations(written, structure)
    [total] = [
        r for r in rows if (r["INDICATOR"], r["REF_AREA"], r["SEX"]) == ("CP-AC-02", "KH", "_T")
    ]
    assert (total["OBS_VALUE"], total["OBS_STATUS"], total["REPORTING_STATUS"]) == (
        "500",
        "A",
        "PARTLY_REPORTED",
    )
    assert total["MISSING_FROM"] == "Kampot, Kep"
    assert {r["OBS_STATUS"] for r in rows} <= {"A", "O"}
    late = [r for r in rows if r["INDICATOR"] == "CP-AC-03" and r["REF_AREA"] == "KH-1"]
    assert [(r["OBS_STATUS"], r["REPORTING_STATUS"], r["UNIT_MEASURE"]) for r in late] == [
        ("A", "LATE", "PER_100000")
    ]


def test_a_survey_indicator_is_one_observation_at_its_survey_year(
    written: Path, structure: Any
) -> None:
    """The 2022 survey reported in 2024 and 2025 is one 2022 observation naming both."""
    rows = observations(written, structure)
    survey = sorted(
        (r["TIME_PERIOD"], r["SEX"], r["OBS_VALUE"], r.get("REPORTING_PERIOD", ""))
        for r in rows
        if r["INDICATOR"] == "CP-VAC-05"
    )
    assert survey == [("2022", "F", "12.5", "2025"), ("2022", "_T", "11.25", "2024 2025")]
    no_survey = [r for r in rows if r["INDICATOR"] == "CP-VAC-01"]
    assert [(r["TIME_PERIOD"], r["OBS_STATUS"]) for r in no_survey] == [("2025", "O")]


def test_an_unknown_status_unit_or_breakdown_stops_the_export(
    cat: Catalogue, tmp_path: Path
) -> None:
    """A status, unit or breakdown outside the structure stops the export with its name."""
    row = indicator("CP-AC-02", "2025", "00", "", 1.0)
    for bad, name in (
        (row | {"status": "done"}, "'done'"),
        (row | {"unit": "dozens"}, "'dozens'"),
        (row | {"dimension": "colour", "option": "red"}, "'colour'"),
        (row | {"dimension": "sex", "option": "other"}, "'other'"),
    ):
        with pytest.raises(ValueError, match=name):
            write_exports(cat, [], indicators_frame([bad]), tmp_path, "n", ("sdmx",))
        assert not (tmp_path / "n.sdmx.csv").exists()


def test_a_survey_without_its_year_meets_the_survey_of_that_year(
    cat: Catalogue, tmp_path: Path
) -> None:
    """An undated 2025 survey figure and a 2025 survey sent in 2026 are one observation."""
    rows = [
        indicator("CP-VAC-05", "2025", "00", "", 10.0, "percent"),
        indicator("CP-VAC-05", "2026", "00", "", 11.0, "percent", survey_year="2025"),
    ]
    write_exports(cat, [], indicators_frame(rows), tmp_path, "n", ("sdmx",))
    structure = read(tmp_path / "n.sdmx-structure.xml", "XML")
    got = [
        (r["TIME_PERIOD"], r["OBS_VALUE"], r.get("REPORTING_PERIOD", ""))
        for r in observations(tmp_path, structure)
    ]
    assert got == [("2025", "11", "2026")]
