"""Plausibility: figures held to references, stocks that continue, shares that hold.

Covers, on returns built through the real templates, as exact (sheet, cell, code) sets:
- an opening stock far from the previous period's closing stock in the store is a warning
  showing both figures (residential care); within the tolerance it is not;
- the child population of all provinces together far from the national reference (NIS) is a
  warning over the whole column, naming the reference and its source;
- a survey estimate far from the last survey, and a survey year other than the last survey's,
  are warnings naming the reference;
- the child protection share of the national budget far from last year's share is a warning;
- the population's "not recorded" columns must be 0;
- through a real intake run, the opening stock is held to the closing stock stored last year.
"""

from __future__ import annotations

from pathlib import Path

from builders import catalogue, cell_of, returned, where, workspace

from cpxl.findings import Finding, Severity, Status, Stored
from cpxl.intake import run_inbox
from cpxl.reading import read_workbook
from cpxl.validation import history_elements, validate

CARE = "Children in residential care"
POPULATION = "Child population"


def _history(rows: list[tuple[str, str, str, float, str]]) -> tuple[Stored, ...]:
    """Stored totals as the store gives them: (element, period, area, value, ministry)."""
    return tuple(Stored(e, p, a, "", "", v, "", m) for e, p, a, v, m in rows)


def _figures(path: Path) -> dict[tuple[str, str], float]:
    """(sheet, cell) -> number, as read back from a return."""
    sub = read_workbook(path, catalogue())
    return {(v.sheet, v.cell): v.value for v in sub.values if v.value is not None}


def _check(path: Path, history: tuple[Stored, ...] = ()) -> tuple[Finding, ...]:
    return validate(read_workbook(path, catalogue()), catalogue(), history)


def test_an_opening_stock_that_does_not_continue_is_a_warning(tmp_path: Path) -> None:
    """Children in care on 1 January 2025 must be those in care on 31 December 2024."""
    path = returned(workspace(tmp_path), "MOSVY")
    sheet, opening = cell_of("MOSVY", "children_in_residential_care_start_of_period", "01")
    now = _figures(path)[(sheet, opening)]
    closing = now + round(now * 0.1) + 3  # 10 % more children last December than now in January
    history = _history([("children_in_residential_care", "2024", "01", closing, "MOSVY")])
    found = _check(path, history)
    assert where(found) == {(CARE, opening, "stock-not-continued")}
    f = found[0]
    assert f.severity == Severity.WARNING
    assert (f.rule, f.seen, f.params["previous_value"], f.params["previous_period"]) == (
        "CONT-children_in_residential_care",
        f"{now:,.0f}",
        f"{closing:,.0f}",
        "2024",
    )
    english = f.render(catalogue().messages).en
    assert f"{now:,.0f} at the start of 2025, but {closing:,.0f} at the end of 2024" in english


def test_a_small_difference_in_stock_is_tolerated(tmp_path: Path) -> None:
    """A child or two (or 2 %) between December and January is not worth a warning."""
    path = returned(workspace(tmp_path), "MOSVY")
    sheet, opening = cell_of("MOSVY", "children_in_residential_care_start_of_period", "01")
    now = _figures(path)[(sheet, opening)]
    history = _history([("children_in_residential_care", "2024", "01", now + 2, "MOSVY")])
    assert _check(path, history) == ()


def test_continuity_reads_the_previous_closing_stock_from_the_store() -> None:
    """A return asking for an opening stock needs last period's closing stock from the store."""
    own = {c.element for s in __import__("builders").layout("MOSVY").sheets for c in s.columns}
    assert "children_in_residential_care" in history_elements(catalogue(), own)
    assert {"cp_budget_executed_khr", "national_budget_executed_khr"} <= history_elements(
        catalogue(), {"cp_budget_executed_khr", "national_budget_executed_khr"}
    )


def test_a_child_population_far_from_the_national_figure_is_a_warning(tmp_path: Path) -> None:
    """A province typed in full population (5 million) takes the country far from 6.11 million."""
    sheet, total = cell_of("NIS", "child_population_0_17", "01")
    path = returned(workspace(tmp_path), "NIS", cells={sheet: {total: 5_000_000}})
    found = _check(path)
    assert where(found) == {
        (POPULATION, total, "sum-mismatch"),
        (POPULATION, total, "total-far-from-reference"),
    }
    far = next(f for f in found if f.code.value == "total-far-from-reference")
    _, last = cell_of("NIS", "child_population_0_17", "25")
    assert (far.severity, far.params["cells"], far.params["reference"]) == (
        Severity.WARNING,
        f"{total}:{last}",
        "6,110,000",
    )
    assert "NIS 2019" in far.params["source_en"]


def test_a_survey_estimate_far_from_the_last_survey_is_a_warning(tmp_path: Path) -> None:
    """Child marriage at 51.1 % against the last survey's 18 % is a warning naming CDHS."""
    sheet, pct = cell_of("NIS", "child_marriage_before_18_pct", "00")
    found = _check(returned(workspace(tmp_path), "NIS", cells={sheet: {pct: 51.1}}))
    assert where(found) == {(sheet, pct, "far-from-reference")}
    assert (found[0].seen, found[0].params["reference"], found[0].params["allowed"]) == (
        "51.1",
        "18",
        "6",
    )
    rendered = found[0].render(catalogue().messages)
    english, khmer = rendered.en, rendered.km
    assert "Girls Not Brides" in english and "Girls Not Brides" in khmer


def test_a_survey_year_other_than_the_last_survey_is_a_warning(tmp_path: Path) -> None:
    """The violence survey was carried out in 2013: a return dating it 2020 is questioned."""
    sheet, year = cell_of("MOWA", "cvacs_physical_violence_survey_year", "00")
    found = _check(returned(workspace(tmp_path), "MOWA", cells={sheet: {year: 2020}}))
    assert where(found) == {(sheet, year, "far-from-reference")}
    assert found[0].params["reference"] == "2013"


def test_a_budget_share_far_from_last_years_is_a_warning(tmp_path: Path) -> None:
    """A child protection share of the budget five times last year's is questioned."""
    path = returned(workspace(tmp_path), "MEF")
    sheet, cp = cell_of("MEF", "cp_budget_executed_khr", "00")
    _, national = cell_of("MEF", "national_budget_executed_khr", "00")
    figures = _figures(path)
    history = _history([
        ("cp_budget_executed_khr", "2024", "00", figures[(sheet, cp)], "MEF"),
        ("national_budget_executed_khr", "2024", "00", figures[(sheet, national)] / 5, "MEF"),
    ])  # fmt: skip
    found = _check(path, history)
    assert where(found) == {(sheet, cp, "share-changed"), (sheet, national, "change-too-large")}
    share = next(f for f in found if f.code.value == "share-changed")
    now = 100 * figures[(sheet, cp)] / figures[(sheet, national)]
    assert (share.params["share"], share.params["previous_share"]) == (
        f"{round(now, 1):g} %",
        f"{round(now * 5, 1):g} %",
    )


def test_population_not_recorded_columns_are_0(tmp_path: Path) -> None:
    """A census gives every child's sex: 500 children of unrecorded sex is an error."""
    sheet, unknown = cell_of("NIS", "child_population_0_17", "03", "sex", "unknown")
    _, male = cell_of("NIS", "child_population_0_17", "03", "sex", "male")
    path = returned(workspace(tmp_path), "NIS")
    males = _figures(path)[(sheet, male)]
    path = returned(workspace(tmp_path), "NIS", cells={sheet: {unknown: 500, male: males - 500}})
    found = _check(path)
    assert where(found) == {(sheet, unknown, "compare-failed")}
    assert (found[0].rule, found[0].severity) == (
        "CMP-population-sex-not-recorded-is-0",
        Severity.ERROR,
    )


def test_intake_holds_this_years_opening_stock_to_last_years_stored_closing(
    tmp_path: Path,
) -> None:
    """Through a real run: 2024 is stored, and 2025 opening with 100 more children is a warning."""
    ws = workspace(tmp_path)
    returned(ws, "MOSVY", "2024", name="MOSVY_2024.xlsx")
    run_inbox(ws, workers=1)
    sheet, opening = cell_of("MOSVY", "children_in_residential_care_start_of_period", "01")
    _, male = cell_of("MOSVY", "children_in_residential_care_start_of_period", "01", "sex", "male")
    clean = _figures(returned(workspace(tmp_path / "clean"), "MOSVY"))
    edits = {opening: clean[(sheet, opening)] + 100, male: clean[(sheet, male)] + 100}
    returned(ws, "MOSVY", cells={sheet: edits})
    report = run_inbox(ws, workers=1)
    result = next(f for f in report.files if f.file == "MOSVY_2025.xlsx")
    assert result.status == Status.ACCEPTED_WITH_WARNINGS
    assert where(result.findings) == {(sheet, opening, "stock-not-continued")}
    assert result.findings[0].params["previous_value"] == f"{clean[(sheet, opening)]:,.0f}"
