"""DHIS2 exports checked the way DHIS2 checks an import, and ADX against the IHE ADX 2015 XSD.

Behaviours covered:
- the metadata package holds what DHIS2 needs: org units (Cambodia over its 25 provinces, ISO
  codes), category options, categories, combos, option combos, data elements, data sets; every
  UID is well-formed, unique and the same on every run; every reference resolves; codes and
  names are unique per kind and within DHIS2's lengths; each option combo is exactly one
  option of each category of its combo;
- no double counting: a Total and a breakdown never share a data element, so adding up a data
  element's values (what DHIS2 does) gives the Total, never a multiple of it;
- dataValueSets says idScheme CODE, and every data element, option combo, org unit and period
  resolves in the package (option combo within the data element's combo, org unit assigned to
  a data set holding the element, period of that data set's type); one value per key;
  every stored number or missing-reason code comes back; blank rows stay out;
- ADX validates against the IHE ADX 2015 schema and agrees with the package the same way;
- a survey result is given once, at its survey year, naming the reporting periods.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from exportdata import EXPORTED, ROWS, SCHEMAS, SURVEY_ROWS, Package, Row, catalogue, values_frame
from lxml import etree

from cpxl.catalogue import Catalogue
from cpxl.exports import ADX_NAMESPACE, adx_period, area_iso, uid, write_exports

NS = "{" + ADX_NAMESPACE + "}"
UID = re.compile(r"[A-Za-z][A-Za-z0-9]{10}")
# Kinds whose name and short name DHIS2 keeps unique.
UNIQUE_NAMES = ("dataElements", "categoryOptions", "categories", "categoryCombos", "dataSets")


@pytest.fixture(scope="module", name="cat")
def _cat() -> Catalogue:
    return catalogue()


@pytest.fixture(scope="module", name="meta")
def _meta(cat: Catalogue, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("meta")
    write_exports(cat, values_frame([]), [], out, "n", ("dhis2",))
    loaded: dict[str, Any] = json.loads((out / "n.dhis2-metadata.json").read_text("utf-8"))
    return loaded


def export(cat: Catalogue, rows: list[Row], tmp_path: Path) -> tuple[dict[str, Any], bytes]:
    """The dataValueSets payload and the ADX document of these rows."""
    write_exports(cat, values_frame(rows), [], tmp_path, "n", ("dhis2", "adx"), exported=EXPORTED)
    payload = json.loads((tmp_path / "n.dhis2.json").read_text("utf-8"))
    return payload, (tmp_path / "n.adx.xml").read_bytes()


# --- metadata -----------------------------------------------------------------------------------


def test_org_units_are_cambodia_over_its_provinces(cat: Catalogue, meta: dict[str, Any]) -> None:
    """Cambodia (KH) is the root; each of the 25 provinces (KH-1..KH-25) hangs under it."""
    units = meta["organisationUnits"]
    root = units[0]
    assert (root["code"], root["name"], "parent" in root) == ("KH", "Cambodia", False)
    assert sorted(u["code"] for u in units[1:]) == sorted(f"KH-{i}" for i in range(1, 26))
    assert {u["parent"]["id"] for u in units[1:]} == {root["id"]}
    assert all(u["openingDate"] and u["shortName"] for u in units)
    assert [(lv["level"], lv["name"]) for lv in meta["organisationUnitLevels"]] == [
        (1, "Country"),
        (2, "Province"),
    ]


def test_uids_are_well_formed_unique_and_stable(cat: Catalogue, meta: dict[str, Any]) -> None:
    """Every UID is 11 characters starting with a letter, unique, and the same on every run."""
    ids = [o["id"] for objects in meta.values() for o in objects]
    assert [i for i in ids if not UID.fullmatch(i)] == []
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    # Pinned: a UID must never change between runs, machines or Python versions.
    assert uid("dataElement", "children_in_detention") == "MjTrlcP7Ptg"
    assert uid("organisationUnit", "KH-1") == meta["organisationUnits"][1]["id"]


def test_every_reference_resolves_and_codes_and_names_fit(meta: dict[str, Any]) -> None:
    """Each {"id"} points into the package; codes and names are unique and within DHIS2's sizes."""
    ids = {o["id"] for objects in meta.values() for o in objects}
    dangling = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            if set(node) == {"id"} and node["id"] not in ids:
                dangling.append(where)
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    for kind, objects in meta.items():
        for o in objects:
            walk({k: v for k, v in o.items() if k != "id"}, f"{kind}.{o.get('code')}")
        codes = [o["code"] for o in objects if "code" in o]
        assert len(codes) == len(set(codes)), kind
        assert all(len(c) <= 50 for c in codes), kind
        assert all(1 <= len(o["name"]) <= 230 for o in objects), kind
        assert all(len(o.get("shortName", "")) <= 50 for o in objects), kind
        short = [o["shortName"] for o in objects if "shortName" in o]
        assert len(short) == len(set(short)), kind
    assert dangling == []
    for kind in UNIQUE_NAMES:
        names = [o["name"] for o in meta[kind]]
        assert len(names) == len(set(names)), kind


def test_each_option_combo_is_one_option_of_each_category_of_its_combo(
    meta: dict[str, Any],
) -> None:
    """A combo's option combos are exactly the product of its categories' options."""
    by_id = {o["id"]: o for objects in meta.values() for o in objects}
    combos_of: dict[str, set[frozenset[str]]] = {}
    for coc in meta["categoryOptionCombos"]:
        combos_of.setdefault(coc["categoryCombo"]["id"], set()).add(
            frozenset(o["id"] for o in coc["categoryOptions"])
        )
    for combo in meta["categoryCombos"]:
        expected = {frozenset()}
        for category in combo["categories"]:
            options = by_id[category["id"]]["categoryOptions"]
            expected = {e | {o["id"]} for e in expected for o in options}
        assert combos_of[combo["id"]] == expected, combo["code"]


def test_data_elements_and_data_sets_mirror_the_catalogue(
    cat: Catalogue, meta: dict[str, Any]
) -> None:
    """A Total element plus one element per breakdown; each data set lists them, at its areas."""
    elements = {d["code"]: d for d in meta["dataElements"]}
    care = cat.elements["children_in_residential_care"]
    assert care.total and set(care.by) == {"sex", "age_group_5yr", "facility_type"}
    assert {
        code: (d["valueType"], d["aggregationType"], d["domainType"], d.get("categoryCombo"))
        for code, d in elements.items()
        if code.startswith("children_in_residential_care")
        and "with" not in code
        and "start" not in code
    } == {
        "children_in_residential_care": ("INTEGER_ZERO_OR_POSITIVE", "LAST", "AGGREGATE", None),
        "children_in_residential_care_by_sex": (
            "INTEGER_ZERO_OR_POSITIVE",
            "LAST",
            "AGGREGATE",
            {"id": uid("categoryCombo", "sex")},
        ),
        "children_in_residential_care_by_age_group_5yr": (
            "INTEGER_ZERO_OR_POSITIVE",
            "LAST",
            "AGGREGATE",
            {"id": uid("categoryCombo", "age_group_5yr")},
        ),
        "children_in_residential_care_by_facility_type": (
            "INTEGER_ZERO_OR_POSITIVE",
            "LAST",
            "AGGREGATE",
            {"id": uid("categoryCombo", "facility_type")},
        ),
    }
    assert elements["new_cases"]["aggregationType"] == "SUM"
    # A stock on the first day is its first value over time; a count of distinct children
    # in the period is never added up.
    assert elements["children_in_residential_care_start_of_period"]["aggregationType"] == "FIRST"
    assert {
        elements[c.code]["aggregationType"]
        for c in cat.elements.values()
        if c.aggregation == "none" and c.code in elements
    } == {"NONE"}
    assert all(d["zeroIsSignificant"] for d in elements.values())
    expected = sum((e.total or not e.by) + len(e.by) for e in cat.elements.values())
    assert len(elements) == expected
    sets = {ds["code"]: ds for ds in meta["dataSets"]}
    assert [ds.id for ds in cat.data_sets] == list(sets)
    assert {c: ds["periodType"] for c, ds in sets.items() if "QUARTERLY" in c or "SEMI" in c} == {
        "MOSVY_CASES_QUARTERLY": "Quarterly",
        "NCCT_SEMIANNUAL": "SixMonthly",
    }
    in_sets = [m["dataElement"]["id"] for ds in sets.values() for m in ds["dataSetElements"]]
    assert sorted(in_sets) == sorted(d["id"] for d in elements.values())
    nation, provinces = uid("organisationUnit", "KH"), 25
    mowa = [u["id"] for u in sets["MOWA_ANNUAL"]["organisationUnits"]]
    assert mowa == [nation]  # survey only: reported for the country
    assert len(sets["MOSVY_ANNUAL"]["organisationUnits"]) == provinces + 1


def test_long_codes_are_shortened_the_same_way_every_time(
    cat: Catalogue, meta: dict[str, Any]
) -> None:
    """A breakdown code over 50 characters keeps its start and a short hash, and stays unique."""
    too_long = [
        f"{e.code}_by_{d}" for e in cat.elements.values() for d in e.by if len(e.code + d) > 46
    ]
    codes = {d["code"] for d in meta["dataElements"]}
    assert too_long and not codes & set(too_long)
    for full in too_long:
        [short] = [c for c in codes if len(c) == 50 and c[:43] == full[:43]]
        assert re.fullmatch(r"[a-z0-9_]{43}_[0-9a-f]{6}", short), short


# --- data ---------------------------------------------------------------------------------------


def test_data_value_sets_resolve_in_the_package(
    cat: Catalogue, meta: dict[str, Any], tmp_path: Path
) -> None:
    """idScheme CODE; each value resolves as DHIS2 would resolve it; one value per key."""
    payload, _ = export(cat, ROWS + SURVEY_ROWS, tmp_path)
    assert payload["idScheme"] == "CODE"
    assert Package(meta).refused(payload["dataValues"]) == []
    keys = Counter(
        (dv["dataElement"], dv["period"], dv["orgUnit"], dv.get("categoryOptionCombo"))
        for dv in payload["dataValues"]
    )
    assert [k for k, n in keys.items() if n > 1] == []
    assert {dv["period"] for dv in payload["dataValues"]} >= {"2025", "2025Q1", "2025S1"}


def test_data_values_give_back_every_stored_value(cat: Catalogue, tmp_path: Path) -> None:
    """Every number and missing-reason code comes back to its (element, margin) exactly."""
    payload, _ = export(cat, ROWS, tmp_path)
    areas = {iso: area for area, iso in area_iso(cat).items()}
    cells = {
        (e, d, o): (e, d, o)
        for e in cat.elements
        for d in ("", *cat.elements[e].by)
        for o in ([""] if not d else [x.code for x in cat.dimensions[d].options])
    }
    target_of = {
        (
            e if not d else (e + "_by_" + d if len(e + "_by_" + d) <= 50 else ""),
            f"{d}_{o}" if d else "",
        ): cell
        for (e, d, o), cell in cells.items()
    }
    back = set()
    for dv in payload["dataValues"]:
        element, dimension, option = target_of[
            (dv["dataElement"], dv.get("categoryOptionCombo", ""))
        ]
        shown = dv["comment"] if "value" not in dv else repr(float(dv["value"]))
        back.add((element, dv["period"], areas[dv["orgUnit"]], dimension, option, shown))
    expected = {(e, p, a, d, o, m if math.isnan(v) else repr(v)) for e, p, a, d, o, v, m in ROWS}
    assert back == expected
    assert len(payload["dataValues"]) == len(ROWS)


def test_a_total_and_its_breakdowns_are_never_added_together(
    cat: Catalogue, tmp_path: Path
) -> None:
    """What DHIS2 sums for a data element is the Total (120), not Total + sex + age (252)."""
    payload, _ = export(cat, ROWS[:4], tmp_path)
    sums: Counter[str] = Counter()
    for dv in payload["dataValues"]:
        sums[dv["dataElement"]] += float(dv["value"])
    assert sums == {
        "children_in_residential_care": 120.0,
        "children_in_residential_care_by_sex": 120.0,
        "children_in_residential_care_by_age_group_5yr": 12.0,
    }
    assert payload["dataValues"][1] == {
        "dataElement": "children_in_residential_care_by_sex",
        "period": "2025",
        "orgUnit": "KH-1",
        "categoryOptionCombo": "sex_female",
        "value": "70",
    }


def test_a_code_is_a_comment_and_a_blank_is_not_exported(cat: Catalogue, tmp_path: Path) -> None:
    """A missing-reason code travels as a comment without value; a blank row is left out."""
    rows: list[Row] = [ROWS[4], ("new_cases", "2025Q1", "01", "", "", math.nan, "")]
    payload, adx = export(cat, rows, tmp_path)
    assert payload["dataValues"] == [
        {
            "dataElement": "children_in_residential_care",
            "period": "2025",
            "orgUnit": "KH-12",
            "comment": "NK",
        }
    ]
    assert list(etree.fromstring(adx)) == []


def test_an_unknown_area_element_or_margin_stops_the_export(cat: Catalogue, tmp_path: Path) -> None:
    """An area, element or breakdown the catalogue does not know stops with its name."""
    for row, name in (
        (("new_cases", "2025Q1", "99", "", "", 1.0, ""), "'99'"),
        (("no_such_element", "2025", "01", "", "", 1.0, ""), "no_such_element"),
        (("new_cases", "2025Q1", "01", "sex", "other", 1.0, ""), "'other'"),
        (("new_cases", "2025Q1", "01", "facility_type", "group_home", 1.0, ""), "facility_type"),
    ):
        with pytest.raises(ValueError, match=name):
            export(cat, [row], tmp_path)


def test_adx_validates_against_the_ihe_schema_and_resolves(
    cat: Catalogue, meta: dict[str, Any], tmp_path: Path
) -> None:
    """ADX is valid IHE ADX 2015; each value resolves in the package; every number is there."""
    _, adx = export(cat, ROWS + SURVEY_ROWS, tmp_path)
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "adx2015" / "adx_loose.xsd")))
    document = etree.fromstring(adx)
    assert schema.validate(document), schema.error_log
    package = Package(meta)
    starts = {adx_period(p): p for p in ("2025", "2025Q1", "2025Q2", "2025S1", "2022")}
    problems, count = [], 0
    for group in document:
        assert group.tag == NS + "group"
        period = starts[group.get("period")]
        for dv in group:
            count += 1
            attrs = dict(dv.attrib)
            element, _value = attrs.pop("dataElement"), attrs.pop("value")
            de = package.element[element]
            assert package.sets_of[de["id"]][0]["code"] == group.get("dataSet")
            combo = ""
            for category, option in attrs.items():  # at most one category per combo
                assert package.option[option]["id"] in [
                    o["id"] for o in package.category[category]["categoryOptions"]
                ]
                combo = option
            problems += package.resolve(element, combo, group.get("orgUnit"), period, _value)
    assert problems == []
    numbers = [r for r in ROWS if not math.isnan(r[5])]
    assert count == len(numbers) + 3  # the survey: total, female, year, once each


def test_a_survey_is_exported_once_at_its_year(cat: Catalogue, tmp_path: Path) -> None:
    """The 2022 survey repeated by the 2024 and 2025 returns is one 2022 value, not two."""
    payload, adx = export(cat, SURVEY_ROWS, tmp_path)
    note = "survey 2022, reported for 2024, 2025"
    assert payload["dataValues"] == [
        {
            "dataElement": "online_sexual_abuse_pct",
            "period": "2022",
            "orgUnit": "KH",
            "value": "11.25",
            "comment": note,
        },
        {
            "dataElement": "online_sexual_abuse_pct_by_survey_sex",
            "period": "2022",
            "orgUnit": "KH",
            "categoryOptionCombo": "survey_sex_female",
            "value": "12.5",
            "comment": note,
        },
        {
            "dataElement": "online_sexual_abuse_survey_year",
            "period": "2022",
            "orgUnit": "KH",
            "value": "2022",
            "comment": note,
        },
    ]
    groups = etree.fromstring(adx)
    assert [(g.get("orgUnit"), g.get("period"), g.get("dataSet")) for g in groups] == [
        ("KH", "2022-01-01/P1Y", "MOSVY_ANNUAL")
    ]
    assert [dv.findtext(NS + "annotation") for dv in groups[0]] == [note] * 3


def test_a_later_report_of_the_same_survey_wins(cat: Catalogue, tmp_path: Path) -> None:
    """If 2025's return corrects the 2022 estimate, the corrected figure is the one exported."""
    rows = [*SURVEY_ROWS[:3], ("online_sexual_abuse_pct", "2025", "00", "", "", 11.5, "")]
    rows.append(("online_sexual_abuse_survey_year", "2025", "00", "", "", 2022.0, ""))
    payload, _ = export(cat, rows, tmp_path)
    totals = [dv for dv in payload["dataValues"] if dv["dataElement"] == "online_sexual_abuse_pct"]
    assert [(t["period"], t["value"], t["comment"]) for t in totals] == [
        ("2022", "11.5", "survey 2022, reported for 2024, 2025")
    ]


def test_a_survey_without_its_year_meets_the_survey_of_that_year(
    cat: Catalogue, tmp_path: Path
) -> None:
    """A 2025 value with no survey year and a 2025 survey sent in 2026 make one 2025 value."""
    rows: list[Row] = [
        ("online_sexual_abuse_pct", "2025", "00", "", "", 10.0, ""),
        ("online_sexual_abuse_pct", "2026", "00", "", "", 11.0, ""),
        ("online_sexual_abuse_survey_year", "2026", "00", "", "", 2025.0, ""),
    ]
    payload, _ = export(cat, rows, tmp_path)
    assert [
        (dv["dataElement"], dv["period"], dv["value"], dv.get("comment"))
        for dv in payload["dataValues"]
    ] == [
        ("online_sexual_abuse_pct", "2025", "11", "survey 2025, reported for 2026"),
        ("online_sexual_abuse_survey_year", "2025", "2025", "survey 2025, reported for 2026"),
    ]
    alone, _ = export(cat, rows[:1], tmp_path)
    assert alone["dataValues"] == [
        {"dataElement": "online_sexual_abuse_pct", "period": "2025", "orgUnit": "KH", "value": "10"}
    ]
