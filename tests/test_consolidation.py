"""National figures from the store: indicators, completeness, data quality, status and workbook.

Behaviours covered (one hand-made store, every figure computed by hand below):
- a count is the stored value per province and the sum of the provinces nationally; a margin
  (sex) is computed the same way from its own cells;
- a percent is 100 x numerator / denominator, nationally from the summed provinces;
- a rate per 100,000 children divides by the child population of the same year or the nearest
  earlier one, per province, and says which year; a later year is never used;
- a year built from quarters sums flows and takes the last stock; a missing quarter makes the
  sum partly reported and is named;
- nothing reported is NaN with status not-reported (never 0) and names who is missing; a
  national value built from some provinces is partly reported and names the others;
- a late return makes the figures it feeds late; a survey indicator shows its survey year;
- completeness counts returns expected, received, accepted, on time, late and missing per
  ministry and province, and the cells filled;
- the status report lists, per ministry, what arrived and whom to chase;
- data quality flags outliers, changes over time, failed compare rules and open warnings;
- the national workbook opens, holds the expected sheets and charts, no formulas, and its
  Indicators sheet equals indicator_table;
- every label the national workbook looks up, and every sheet name it writes, is in the
  catalogue's terms, so no Khmer header row repeats the English.
"""

from __future__ import annotations

import dataclasses
import math
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from builders import new_submission

from cpxl.catalogue import Catalogue, builtin_rules, load, parse_period
from cpxl.consolidation import (
    COMPLETENESS_COLUMNS,
    INDICATOR_COLUMNS,
    QUALITY_COLUMNS,
    completeness,
    data_quality,
    indicator_table,
    status_report,
    write_national_workbook,
)
from cpxl.findings import Code, Finding, Location, Severity, Text, Value
from cpxl.store import Store

TODAY = date(2026, 3, 1)  # every 2025 return is due by now
ALL = [f"{i:02d}" for i in range(1, 26)]


@cache
def _catalogue() -> Catalogue:
    return load(builtin_rules())


@pytest.fixture
def catalogue() -> Catalogue:
    """The built-in catalogue."""
    return _catalogue()


def _name(code: str) -> str:
    return next(p.name.en for p in _catalogue().provinces if p.code == code)


def _names(codes: Sequence[str]) -> str:
    return ", ".join(_name(c) for c in codes)


def _v(element: str, area: str, value: float | None, dim: str = "", opt: str = "", *,
       missing: str = "", sheet: str = "Data", cell: str = "") -> Value:  # fmt: skip
    row = 5 + ALL.index(area) if area in ALL else 4
    return Value(element, area, dim, opt, value, missing, sheet, cell or f"C{row}", "")


class _Recorder:
    """Records hand-made returns, one file per call."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.run = store.start_run(user="t", host="t", cpxl_version="0", catalogue_version="t")
        self.count = 0

    def __call__(
        self,
        ministry: str,
        period: str,
        values: Sequence[Value],
        *,
        days_late: int | None = None,
        status: str = "accepted",
        findings: Sequence[Finding] = (),
    ) -> None:
        self.count += 1
        name = f"{ministry}_{period}_{self.count}"
        self.store.record(
            self.run,
            new_submission(name, ministry, period, status=status, days_late=days_late),
            values,
            findings,
            accept=status.startswith("accepted"),
        )


IN_CARE = {i: 100.0 + int(i) for i in ALL[:23] if i != "03"} | {"22": 5000.0}


def _build(store: Store) -> None:
    """The scenario every test reads (see the module docstring)."""
    record = _Recorder(store)
    care = [_v("children_in_residential_care", a, v) for a, v in IN_CARE.items()]
    care += [_v("children_in_residential_care", "03", None, missing="NC")]
    care += [
        _v("children_in_residential_care", "01", 61.0, "sex", "male", cell="D5"),
        _v("children_in_residential_care", "02", 62.0, "sex", "male", cell="D6"),
        _v("children_in_residential_care_start_of_period", "01", 48.0, cell="E5"),
        _v("children_in_residential_care_start_of_period", "02", 20.0, cell="E6"),
        _v("children_reintegrated", "01", 12.0, cell="F5"),
        _v("children_reintegrated", "02", 6.0, cell="F6"),
        _v("children_in_residential_care_with_disability", "01", 500.0, cell="G5"),
        _v("children_in_residential_care_with_disability", "02", 3.0, cell="G6"),
        _v("gov_social_service_workers", "01", 30.0, cell="H5"),
    ]
    warning = Finding.make(
        Code.CHANGE_TOO_LARGE, Severity.WARNING, Location(sheet="Data", cell="C5"),
        rule="CHG-children_in_residential_care",
    )  # fmt: skip
    explained = Finding.make(
        Code.CHANGE_TOO_LARGE, Severity.INFO, Location(sheet="Data", cell="C6"),
        rule="CHG-children_in_residential_care", explanation="A new centre opened.",
    )  # fmt: skip
    record("MOSVY", "2025", care, findings=[warning, explained])
    for year, by_area in (("2022", 100.0), ("2023", 100.0), ("2024", 100.0)):
        record(
            "MOSVY",
            year,
            [
                _v("children_in_residential_care", "01", by_area),
                _v("children_in_residential_care", "02", 50.0, cell="C6"),
            ],
        )
    for quarter, new, open_ in (
        ("2025Q1", 10.0, 5.0),
        ("2025Q2", 20.0, 6.0),
        ("2025Q4", 40.0, 8.0),
    ):
        cases = [_v("new_cases", "01", new)]
        cases += [_v("children_with_open_case_primero", "01", open_, cell="D5")]
        record("MOSVY", quarter, cases)
    population = "child_population_0_17"
    record("NIS", "2023", [
        _v(population, "01", 60000.0), _v(population, "02", 40000.0, cell="C6"),
        _v(population, "01", 31000.0, "sex", "male", cell="D5"),
    ])  # fmt: skip
    record("NIS", "2024", [_v(population, "02", 50000.0, cell="C6")])
    record("NIS", "2026", [_v(population, "01", 1.0)])
    record("GCNP", "2025", [_v("vac_cases_reported_police", a, 5.0) for a in ALL], days_late=12)
    record("MOWA", "2025", [
        _v("cvacs_physical_violence_pct", "00", 52.5),
        _v("cvacs_physical_violence_pct", "00", 55.0, "survey_sex", "male", cell="D4"),
        _v("cvacs_physical_violence_survey_year", "00", 2013.0, cell="E4"),
    ])  # fmt: skip
    record("MOH", "2025", [], status="needs-correction")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A store holding the hand-made scenario."""
    with Store.open(tmp_path / "s.sqlite") as opened:
        _build(opened)
        yield opened


def _row(table: pd.DataFrame, indicator: str, period: str, area: str, dim: str = "",
         opt: str = "") -> dict[str, object]:  # fmt: skip
    hit = table[
        (table["indicator"] == indicator) & (table["period"] == period) & (table["area"] == area)
        & (table["dimension"] == dim) & (table["option"] == opt)
    ]  # fmt: skip
    assert len(hit) == 1, (indicator, period, area, dim, opt, len(hit))
    return dict(hit.iloc[0])


def _brief(row: dict[str, object]) -> tuple[object, ...]:
    value = row["value"]
    assert isinstance(value, float)
    return (
        None if math.isnan(value) else round(value, 6),
        row["status"],
        row["missing_from"],
        row["denominator_year"],
        row["survey_year"],
    )


# --- indicators ---------------------------------------------------------------------------------


def test_periods_are_checked_before_anything_is_read(catalogue: Catalogue, store: Store) -> None:
    """A typo, a period named twice or no period at all is refused with ValueError."""
    for periods in (["2025", "2025"], ["25"], [], "2025"):
        with pytest.raises(ValueError):
            indicator_table(catalogue, store, periods)


def test_the_table_has_exactly_the_national_columns(catalogue: Catalogue, store: Store) -> None:
    """The indicator table has the columns national.md names, in order."""
    table = indicator_table(catalogue, store, ["2025"])
    assert tuple(table.columns) == INDICATOR_COLUMNS
    assert set(table["status"]) <= {"reported", "late", "partly-reported", "not-reported"}


def test_a_count_is_summed_over_the_provinces_that_reported(
    catalogue: Catalogue, store: Store
) -> None:
    """A count is each province's figure, and nationally the sum naming who is missing."""
    table = indicator_table(catalogue, store, ["2025"])
    assert _brief(_row(table, "CP-AC-02", "2025", "01")) == (101.0, "reported", "", "", "")
    assert _brief(_row(table, "CP-AC-02", "2025", "22")) == (5000.0, "reported", "", "", "")
    assert _brief(_row(table, "CP-AC-02", "2025", "03")) == (None, "not-reported", "MOSVY", "", "")
    assert _brief(_row(table, "CP-AC-02", "2025", "24")) == (None, "not-reported", "MOSVY", "", "")
    national = _row(table, "CP-AC-02", "2025", "00")
    assert _brief(national) == (
        sum(IN_CARE.values()), "partly-reported", _names(["03", "24", "25"]), "", "",
    )  # fmt: skip
    assert national["sources"] == 22
    male = _row(table, "CP-AC-02", "2025", "00", "sex", "male")
    assert _brief(male) == (123.0, "partly-reported", _names(ALL[2:]), "", "")
    assert _brief(_row(table, "CP-AC-02", "2025", "02", "sex", "male"))[:2] == (62.0, "reported")


def test_a_percent_is_recomputed_from_summed_numerator_and_denominator(
    catalogue: Catalogue, store: Store
) -> None:
    """A percent is 100 x numerator / denominator, nationally from the provinces' sums."""
    table = indicator_table(catalogue, store, ["2025"])
    assert _row(table, "CP-AC-05", "2025", "01")["value"] == 25.0
    assert _row(table, "CP-AC-05", "2025", "02")["value"] == 30.0
    national = _row(table, "CP-AC-05", "2025", "00")
    assert (national["numerator"], national["denominator"]) == (18.0, 68.0)
    assert national["value"] == pytest.approx(100 * 18 / 68)


def test_a_rate_uses_the_population_of_the_nearest_earlier_year(
    catalogue: Catalogue, store: Store
) -> None:
    """A rate per 100,000 divides by the latest population up to its year, and says which."""
    table = indicator_table(catalogue, store, ["2025"])
    assert _brief(_row(table, "CP-AC-03", "2025", "01")) == (
        round(101 / 60000 * 100_000, 6), "reported", "", "2023", "",
    )  # fmt: skip
    assert _brief(_row(table, "CP-AC-03", "2025", "02")) == (204.0, "reported", "", "2024", "")
    assert _brief(_row(table, "CP-AC-03", "2025", "04")) == (None, "not-reported", "NIS", "", "")
    assert _brief(_row(table, "CP-AC-03", "2025", "00")) == (
        round((101 + 102) / (60000 + 50000) * 100_000, 6),
        "partly-reported",
        # several ministries: the provinces left out are grouped by who is missing
        f"MOSVY, NIS: {_names(['03', '24', '25'])}; NIS: {_names(ALL[3:23])}",
        "2023, 2024",
        "",
    )
    male = _row(table, "CP-AC-03", "2025", "01", "sex", "male")
    assert _brief(male) == (round(61 / 31000 * 100_000, 6), "reported", "", "2023", "")
    assert _brief(_row(table, "CP-SYS-02", "2025", "01")) == (50.0, "reported", "", "2023", "")
    # 2024 has no population of its own for province 01: the 2023 one is used, not 2026's
    assert _row(table, "CP-AC-03", "2025", "01")["denominator"] == 60000.0


def test_a_year_is_built_from_its_quarters(catalogue: Catalogue, store: Store) -> None:
    """Quarters add up for flows, a distinct count is not built from them, and a gap is named."""
    table = indicator_table(catalogue, store, ["2025", "2025Q3"])
    flow = _row(table, "CP-SV-03", "2025", "01")
    assert _brief(flow) == (70.0, "partly-reported", "MOSVY (2025Q3)", "", "")
    assert flow["sources"] == 3
    # children served in the year (4.11a) is the annual return's own count, never the quarters'
    assert _brief(_row(table, "CP-SV-01", "2025", "01")) == (None, "not-reported", "MOSVY", "", "")
    assert _brief(_row(table, "CP-SV-03", "2025Q3", "01")) == (
        None, "not-reported", "MOSVY", "", "",
    )  # fmt: skip
    # an annual indicator has no quarterly value: its rows are absent, not empty
    assert not (table["period"] == "2025Q3").loc[table["indicator"] == "CP-AC-02"].any()


def test_nothing_reported_is_empty_never_zero(catalogue: Catalogue, store: Store) -> None:
    """An indicator nobody reported is NaN and not-reported everywhere, naming the ministry."""
    table = indicator_table(catalogue, store, ["2025"])
    assert _brief(_row(table, "CP-JFC-01", "2025", "00")) == (None, "not-reported", "MOJ", "", "")
    assert _brief(_row(table, "CP-JFC-01", "2025", "07")) == (None, "not-reported", "MOJ", "", "")
    absent = table[table["status"] == "not-reported"]
    assert absent["value"].isna().all()
    assert not (table["value"] == 0).any()


def test_late_returns_and_survey_years_are_said(catalogue: Catalogue, store: Store) -> None:
    """A late return makes its figures late; a survey indicator carries its survey year."""
    table = indicator_table(catalogue, store, ["2025"])
    assert _brief(_row(table, "CP-VAC-06", "2025", "00")) == (125.0, "late", "", "", "")
    assert _brief(_row(table, "CP-VAC-01", "2025", "00")) == (52.5, "reported", "", "", "2013")
    male = _row(table, "CP-VAC-01", "2025", "00", "survey_sex", "male")
    assert _brief(male) == (55.0, "reported", "", "", "2013")


# --- completeness and status --------------------------------------------------------------------


def test_completeness_counts_returns_and_cells(catalogue: Catalogue, store: Store) -> None:
    """Returns expected, received, accepted, on time, late and missing match the store."""
    frame = completeness(catalogue, store, ["2025"], today=TODAY)
    assert tuple(frame.columns) == COMPLETENESS_COLUMNS
    nat = frame[frame["area"] == "00"].set_index("ministry")
    counts = ["expected", "expected_so_far", "received", "accepted", "on_time", "late", "missing"]
    counts += ["needs_correction", "missing_returns"]
    assert nat.loc["MOSVY", counts].tolist() == [5, 5, 4, 4, 4, 0, 1, 0, "2025Q3 not received"]
    assert nat.loc["GCNP", counts].tolist() == [1, 1, 1, 1, 0, 1, 0, 0, ""]
    assert nat.loc["NIS", counts].tolist() == [1, 1, 0, 0, 0, 0, 1, 0, "2025 not received"]
    assert nat.loc["MOH", counts].tolist() == [1, 1, 1, 0, 1, 0, 1, 1, "2025 needs-correction"]
    assert nat.loc["MOSVY", "completeness_rate"] == 80.0
    rates = ["timeliness_rate", "meets_completeness", "meets_timeliness"]
    assert nat.loc["GCNP", rates].tolist() == [0.0, True, False]
    gcnp = frame[(frame["ministry"] == "GCNP") & (frame["area"] == "07")].iloc[0]
    cells = sum(
        1 if not el.by else sum(len(catalogue.dimensions[d].options) for d in el.by) + el.total
        for code in next(d for d in catalogue.data_sets if d.ministry == "GCNP").elements
        for el in [catalogue.elements[code]]
    )
    assert (gcnp["values_present"], gcnp["values_expected"]) == (1, cells)
    assert gcnp["cell_completeness"] == pytest.approx(100 / cells)
    # a province left blank in an accepted return is missing for that province only
    mosvy_24 = frame[(frame["ministry"] == "MOSVY") & (frame["area"] == "24")].iloc[0]
    assert (mosvy_24["accepted"], mosvy_24["missing"]) == (0, 5)


def test_returns_not_yet_due_are_not_counted_missing(catalogue: Catalogue, store: Store) -> None:
    """Before the due date a return that has not come is not yet expected."""
    frame = completeness(catalogue, store, ["2025"], today=date(2026, 2, 1))
    nis = frame[(frame["ministry"] == "NIS") & (frame["area"] == "00")].iloc[0]
    assert (nis["expected"], nis["expected_so_far"], nis["not_yet_due"], nis["missing"]) == (
        1, 0, 1, 0,
    )  # fmt: skip
    assert math.isnan(nis["completeness_rate"])


def test_status_report_names_whom_to_chase(catalogue: Catalogue, store: Store) -> None:
    """The status report lists every expected ministry, and the missing ones to chase."""
    report = status_report(catalogue, store, "2025", today=TODAY)
    by = {m.ministry: m for m in report.ministries if m.period == "2025"}
    assert list(by) == list(catalogue.reporting_ministries(parse_period("2025")))
    assert (by["MOSVY"].status, by["MOSVY"].missing, by["MOSVY"].open_warnings) == (
        "accepted",
        "",
        1,
    )
    assert (by["GCNP"].days_late, by["GCNP"].missing) == (12, "")
    assert (by["NIS"].received, by["NIS"].status, by["NIS"].missing) == (
        False, "not-received", "not-received",
    )  # fmt: skip
    assert by["NIS"].days_late == (TODAY - date(2026, 2, 14)).days
    assert (by["MOH"].received, by["MOH"].accepted, by["MOH"].missing) == (
        True, False, "needs-correction",
    )  # fmt: skip
    # MEF's return is due 90 days after the year ends: not yet due, so not yet chased
    assert (by["MEF"].status, by["MEF"].missing, by["MEF"].days_late) == ("not-yet-due", "", None)
    chased = {"MOSVY", "GCNP", "MOWA", "MEF"}
    assert set(report.missing) >= {m for m in by if m not in chased}
    assert report.to_dict()["missing"] == list(report.missing)
    assert report.rows()[0].split() == [
        "ministry", "period", "expected", "received", "accepted", "status", "due", "days_late",
        "missing", "open_warnings", "file",
    ]  # fmt: skip
    assert len(report.rows()) == len(report.ministries) + 1


def test_a_years_status_covers_its_quarterly_and_half_yearly_returns(
    catalogue: Catalogue, store: Store
) -> None:
    """Asked for 2025, the status also lists every quarterly and half-yearly return due in
    it, with its own period; one never received is overdue, and the report asks to chase."""
    report = status_report(catalogue, store, "2025", today=TODAY)
    periods = {m.period for m in report.ministries}
    assert periods == {"2025", "2025S1", "2025S2", "2025Q1", "2025Q2", "2025Q3", "2025Q4"}
    quarters = [m for m in report.ministries if m.period == "2025Q1"]
    q1 = parse_period("2025Q1")
    assert [m.ministry for m in quarters] == list(catalogue.reporting_ministries(q1))
    unsent = [m for m in report.ministries if m.period != "2025" and not m.received]
    assert unsent, "the scenario leaves some quarter or half-year unsent"
    assert all(m.missing == "not-received" and m.days_late for m in unsent)
    assert {m.ministry for m in unsent} <= set(report.missing)
    assert report.exit_code == 1


# --- data quality -------------------------------------------------------------------------------


def test_data_quality_flags_outliers_changes_rules_and_warnings(
    catalogue: Catalogue, store: Store
) -> None:
    """Outliers, changes over time, failed compare rules and open warnings are flagged."""
    frame = data_quality(catalogue, store, ["2025"])
    assert tuple(frame.columns) == QUALITY_COLUMNS
    ac02 = frame[frame["indicator"] == "CP-AC-02"].set_index("area")
    assert set(ac02.index) == {"00", *ALL}
    outliers = ac02.loc[ac02["outlier_provinces"] != "", "outlier_provinces"].to_dict()
    assert outliers == {"22": "extreme"}
    assert ac02.index[ac02["modified_z_outlier"]].tolist() == ["22"]
    # the series holds 2022-2024 too: 50, 50, 50, 102 -> mean 63, SD 26, z 1.5
    assert ac02.loc["02", "z_series"] == pytest.approx(1.5)
    assert ac02.loc["02", "outlier_series"] == ""
    assert (ac02.loc["01", "previous_mean"], ac02.loc["01", "previous_periods"]) == (100.0, 3)
    assert (ac02.loc["01", "change_ratio"], ac02.loc["01", "change_flag"]) == (1.01, False)
    assert (ac02.loc["02", "change_ratio"], ac02.loc["02", "change_flag"]) == (102 / 50, True)
    assert ac02.loc["01", "compare_failed"] == "CMP-disability-le-in-care"
    assert ac02.loc["02", "compare_failed"] == ""
    assert ac02.loc["00", "compare_fail_pct"] == 50.0
    assert "CMP-in-care-le-population" in ac02.loc["01", "compare_rules"].split(", ")
    warnings = ac02[["open_warnings", "explained_warnings"]].loc[["00", "01", "02"]]
    assert warnings.to_numpy().tolist() == [[1, 1], [1, 0], [0, 1]]
    assert ac02.loc["02", "explanations"] == (
        "CHG-children_in_residential_care (Data!C6): A new centre opened."
    )


# --- the workbook -------------------------------------------------------------------------------


def test_the_workbook_holds_every_sheet_and_equals_the_table(
    catalogue: Catalogue, store: Store, tmp_path: Path
) -> None:
    """The workbook opens, has no formulas, and its Indicators sheet equals indicator_table."""
    result = write_national_workbook(
        catalogue, store, ["2024", "2025"], tmp_path / "out",
        built_at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC), today=TODAY,
    )  # fmt: skip
    assert result.workbook == tmp_path / "out" / "cpims-national-2024-2025.xlsx"
    assert result.to_dict()["periods"] == ["2024", "2025"]
    wb = openpyxl.load_workbook(result.workbook)
    domains = [f"{k} {t.en}"[:31].strip() for k, t in catalogue.domains.items()]
    assert wb.sheetnames == [
        "About", "Indicators", *domains, "Completeness", "Missing returns", "Data quality",
        "Sources", "Charts",
    ]  # fmt: skip
    formulas = [
        (ws.title, c.coordinate)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if c.data_type == "f"
    ]
    assert formulas == []
    ws = wb["Indicators"]
    header = [c.value for c in ws[1]]
    at = {h: header.index(h) for h in ("Indicator", "Reporting period", "Code", "Value", "Status")}
    sheet = {
        (r[at["Indicator"]], r[at["Reporting period"]], r[at["Code"]]): (
            r[at["Value"]], r[at["Status"]],
        )
        for r in ws.iter_rows(min_row=3, values_only=True)
    }  # fmt: skip
    table = indicator_table(catalogue, store, ["2024", "2025"])
    totals = table[table["dimension"] == ""]
    expected = {
        (i, p, a): (None if math.isnan(v) else v, s)
        for i, p, a, v, s in totals[["indicator", "period", "area", "value", "status"]].itertuples(
            index=False
        )
    }
    assert sheet.keys() == expected.keys()
    words = {
        "reported": "Reported", "late": "Late", "partly-reported": "Partly reported",
        "not-reported": "Not reported",
    }  # fmt: skip
    assert {k: v[1].split(" / ")[0] for k, v in sheet.items()} == {
        k: words[v[1]] for k, v in expected.items()
    }
    # Excel keeps 16 significant digits, so values are equal to that precision
    assert {k: v[0] for k, v in sheet.items() if v[0] is not None} == pytest.approx(
        {k: v[0] for k, v in expected.items() if v[0] is not None}, rel=1e-15
    )
    assert {k for k, v in sheet.items() if v[0] is None} == {
        k for k, v in expected.items() if v[0] is None
    }
    assert sheet[("CP-JFC-01", "2025", "00")] == (None, "Not reported / មិនបានរាយការណ៍")
    assert result.values == int(table["value"].notna().sum())
    assert result.submissions == 9  # MOSVY 2024, 2025 and 3 quarters, NIS 2023-24, GCNP, MOWA
    with zipfile.ZipFile(result.workbook) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    # per indicator with a national value its trend; with province values, the provinces
    national = totals[(totals["area"] == "00") & totals["value"].notna()]
    provinces = totals[(totals["area"] != "00") & totals["value"].notna()]
    trends = set(national["indicator"]) | set(provinces["indicator"])
    assert sum("lineChart" in c for c in charts) == len(set(national["indicator"]))
    assert sum("barChart" in c for c in charts) == len(
        set(provinces.loc[provinces["period"] == "2025", "indicator"])
    )
    assert trends
    scales = [
        (str(rng.sqref), rule.type)
        for rng in wb["Completeness"].conditional_formatting
        for rule in rng.rules
    ]
    assert [t for _r, t in scales] == ["colorScale"] * 3
    sources = wb["Sources"]
    rows = [r for r in sources.iter_rows(min_row=3, values_only=True) if r[0] == "CP-AC-05"]
    # numerator cells (children reintegrated) first, then the denominator's
    assert {(r[1], r[2], r[6], r[7]) for r in rows if not r[2]} == {
        ("2025", None, "Data", "F5:F6, E5:E6")
    }


class _LookedUp(Mapping[str, Text]):
    """The catalogue's terms, remembering every key asked for."""

    def __init__(self, terms: Mapping[str, Text]) -> None:
        self.terms = terms
        self.keys_asked: set[str] = set()

    def __getitem__(self, key: str) -> Text:
        self.keys_asked.add(key)
        return self.terms[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)


def test_every_workbook_label_and_sheet_name_is_a_term(
    catalogue: Catalogue, store: Store, tmp_path: Path
) -> None:
    """Every label and sheet name of the national workbook has its Khmer in rules/terms.yaml."""
    periods = ["2024", "2025"]
    looked_up = _LookedUp(catalogue.terms)
    result = write_national_workbook(
        dataclasses.replace(catalogue, terms=looked_up), store, periods, tmp_path / "out",
        built_at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC), today=TODAY,
    )  # fmt: skip
    # a period column is headed by the period itself, the same in both languages
    asked = looked_up.keys_asked - {f"period_{p}" for p in periods}
    assert {"title_national", "status_reported", "missing_from", "z_provinces"} <= asked
    assert sorted(asked - set(catalogue.terms)) == []
    domains = {f"{k} {t.en}"[:31].strip() for k, t in catalogue.domains.items()}
    sheets = set(openpyxl.load_workbook(result.workbook).sheetnames) - domains
    named = {t.en: k for k, t in catalogue.terms.items() if k.startswith("sheet_")}
    assert {s: named.get(s) for s in sheets} == {
        "About": "sheet_about", "Indicators": "sheet_indicators",
        "Completeness": "sheet_completeness", "Missing returns": "sheet_missing_returns",
        "Data quality": "sheet_data_quality", "Sources": "sheet_sources", "Charts": "sheet_charts",
    }  # fmt: skip


def test_a_long_series_shows_its_latest_twelve_periods_and_says_so(
    catalogue: Catalogue, store: Store, tmp_path: Path
) -> None:
    """The workbook stays readable however many periods are asked for; About says which."""
    years = [str(y) for y in range(2010, 2026)]
    result = write_national_workbook(catalogue, store, years, tmp_path, today=TODAY)
    assert result.periods == tuple(years[-12:])
    about = openpyxl.load_workbook(result.workbook)["About"]
    texts = [str(c.value) for row in about.iter_rows() for c in row if c.value]
    assert any("latest 12 of the 16 periods asked for (2010-2025)" in t for t in texts)
