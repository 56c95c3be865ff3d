"""Round trip: the national figures recomputed from the exports alone are the workbook's.

Returns built through cpxl's own templates go through intake and consolidation as a data
officer's would (MoSVY's annual and quarterly returns, MoWA's survey, NIS's population). Then,
reading only the exported files:
- DHIS2: each count indicator's national value is rebuilt from the dataValueSets and the
  metadata package (Total data elements only, summed over the provinces that reported, and
  over the quarters of the year as each element's aggregationType says);
- SDMX: the structure and data are read with sdmx1, and each national observation is the
  workbook's value, with the workbook's status said by OBS_STATUS and REPORTING_STATUS;
and both match the national workbook's Indicators sheet, figure by figure. The same real export
also imports cleanly: every DHIS2 value resolves in the package, the ADX is valid IHE ADX.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sdmx
from builders import catalogue, returned, workspace
from exportdata import SCHEMAS, Package
from lxml import etree

from cpxl import api
from cpxl.catalogue import Catalogue, parse_period

STEM = "cpims-national-2025"
STATUS = {
    "reported": ("A", "REPORTED"),
    "late": ("A", "LATE"),
    "partly-reported": ("A", "PARTLY_REPORTED"),
    "not-reported": ("O", "NOT_REPORTED"),
}


@pytest.fixture(scope="module", name="national")
def _national(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = workspace(tmp_path_factory.mktemp("roundtrip"))
    returned(ws, "MOSVY", "2025")
    returned(ws, "MOWA", "2025")
    returned(ws, "NIS", "2025")
    for quarter in ("2025Q1", "2025Q2", "2025Q3"):
        returned(ws, "MOSVY", quarter)
    report = api.run(ws.root)
    assert set(report.totals) <= {"accepted", "accepted-with-warnings"}, report.totals
    result = api.consolidate(ws.root, period="2025")
    assert set(result.written) == {"xlsx", "csv", "dhis2", "adx", "sdmx"}
    return ws.outbox / "national"


def workbook_figures(national: Path) -> dict[tuple[str, str], tuple[float | None, str]]:
    """(indicator, area code) -> (value, status) of the 2025 totals in the Indicators sheet."""
    book = openpyxl.load_workbook(national / f"{STEM}.xlsx", read_only=True)
    try:
        rows = list(book["Indicators"].iter_rows(values_only=True))
    finally:
        book.close()
    header = list(rows[0])
    at = {h: header.index(h) for h in ("Indicator", "Reporting period", "Code", "Value", "Status")}
    out = {}
    for r in rows[1:]:
        if r[at["Indicator"]] and r[at["Reporting period"]] == "2025":
            value = r[at["Value"]]
            # The status is in words, English first ("Not reported / ..."): back to its code.
            words = str(r[at["Status"]]).split(" / ")[0].strip()
            out[(str(r[at["Indicator"]]), str(r[at["Code"]]))] = (
                None if value is None else float(value),
                words.lower().replace(" ", "-"),
            )
    return out


def simple_counts(cat: Catalogue) -> dict[str, list[tuple[int, str]]]:
    """Count indicators whose numerator is a sum of element Totals and that have no denominator."""
    out = {}
    for ind in cat.indicators:
        terms = ind.numerator.terms
        if ind.unit != "count" or ind.denominator is not None or ind.survey:
            continue
        if all(t.ref is not None and not t.ref.dimension and not t.constant for t in terms):
            out[ind.id] = [(t.sign, t.ref.element) for t in terms if t.ref is not None]
    return out


def dhis2_national(national: Path, element: str) -> float | None:
    """An element's 2025 national figure from the DHIS2 files alone, as DHIS2 would add it up."""
    meta = json.loads((national / f"{STEM}.dhis2-metadata.json").read_text("utf-8"))
    data = json.loads((national / f"{STEM}.dhis2.json").read_text("utf-8"))
    [de] = [d for d in meta["dataElements"] if d["code"] == element]
    assert "categoryCombo" not in de  # the Total data element
    by_unit: dict[str, dict[str, float]] = defaultdict(dict)
    for dv in data["dataValues"]:
        if dv["dataElement"] == element and "value" in dv and dv["period"].startswith("2025"):
            by_unit[dv["orgUnit"]][dv["period"]] = float(dv["value"])
    if not by_unit:
        return None
    total = 0.0
    for periods in by_unit.values():
        if de["aggregationType"] == "SUM":
            total += sum(periods.values())
        else:  # LAST: the latest period's figure, summed over org units
            total += periods[max(periods, key=parse_period)]
    return total


def test_dhis2_exports_give_back_the_workbook_national_counts(national: Path) -> None:
    """Every simple count indicator's national 2025 value is rebuilt from DHIS2 files alone."""
    cat = catalogue()
    figures = workbook_figures(national)
    checked = 0
    for indicator, terms in simple_counts(cat).items():
        value, status = figures[(indicator, "00")]
        parts = [dhis2_national(national, element) for _, element in terms]
        if value is None:
            assert status == "not-reported"
            continue
        rebuilt = sum(sign * (p or 0.0) for (sign, _), p in zip(terms, parts, strict=True))
        assert rebuilt == pytest.approx(value, rel=1e-12), indicator
        checked += 1
    assert checked >= 10
    assert ("CP-SV-03", "00") in figures  # a quarterly indicator is among them


def test_sdmx_exports_give_back_every_workbook_figure(national: Path) -> None:
    """Each total in the workbook is an SDMX observation with the same value and status."""
    with (national / f"{STEM}.sdmx-structure.xml").open("rb") as stream:
        structure = sdmx.read_sdmx(stream, format="XML")
    with (national / f"{STEM}.sdmx.csv").open("rb") as stream:
        message = sdmx.read_sdmx(stream, format="CSV", structure=structure.dataflow["DF_CPIMS"])
    dsd = structure.structure["DSD_CPIMS"]
    breakdowns = [d.id for d in dsd.dimensions][3:-1]
    observed: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for data_set in message.data:
        for obs in data_set.obs:
            key = {kv.id: str(kv.value) for kv in obs.key.values.values()}
            if any(key[b] != "_T" for b in breakdowns):
                continue
            attrs = {k: str(v.value) for k, v in obs.attached_attribute.items()}
            observed[(key["INDICATOR"], key["REF_AREA"])].append(key | attrs | {"value": obs.value})
    cat = catalogue()
    iso = {cat.national.code: cat.national.iso} | {p.code: p.iso for p in cat.provinces}
    surveys = {i.id for i in cat.indicators if i.survey}
    figures = workbook_figures(national)
    assert len(figures) > 100
    for (indicator, area), (value, status) in figures.items():
        candidates = observed[(indicator, iso[area])]
        if indicator in surveys and value is not None:
            # once, at the survey year, naming 2025 among its reporting periods
            [obs] = [o for o in candidates if "2025" in o["REPORTING_PERIOD"].split()]
        else:
            [obs] = [o for o in candidates if o["TIME_PERIOD"] == "2025"]
        got = obs["value"]
        if value is None:
            assert got in (None, "", "nan") or math.isnan(float(got)), (indicator, area)
        else:
            assert float(got) == pytest.approx(value, rel=1e-12), (indicator, area)
        assert (obs["OBS_STATUS"], obs["REPORTING_STATUS"]) == STATUS[status], (indicator, area)


def test_the_real_export_resolves_in_dhis2_and_validates_as_adx(national: Path) -> None:
    """Every value of a real national export resolves in its package; its ADX is schema-valid."""
    meta = json.loads((national / f"{STEM}.dhis2-metadata.json").read_text("utf-8"))
    data = json.loads((national / f"{STEM}.dhis2.json").read_text("utf-8"))
    assert Package(meta).refused(data["dataValues"]) == []
    periods = {dv["period"] for dv in data["dataValues"]}
    assert {"2025", "2025Q1", "2025Q2", "2025Q3"} <= periods
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "adx2015" / "adx_loose.xsd")))
    document = etree.parse(str(national / f"{STEM}.adx.xml"))
    assert schema.validate(document), schema.error_log
    numbers = sum(1 for dv in data["dataValues"] if "value" in dv)
    assert len(document.getroot().findall("*/*")) == numbers
