"""Validation: every rule kind, on real returns, as the exact set of (sheet, cell, code).

Covers: clean returns of every ministry have no findings; the mistakes `cpxl simulate
--mistakes` types are found exactly at their cells; type and range; required; sums name every
cell that takes part and follow the missing-value strategy; compare within one return and across
returns in the store; change and outliers against earlier periods as warnings with the history;
explained warnings; repeated findings grouped per column; every rule a return breaks reported in
one pass, each by its rule at its cells.
"""

from __future__ import annotations

from pathlib import Path

from builders import SEED, catalogue, cell_of, issue, layout, returned, where, workspace

from cpxl.catalogue import parse_period
from cpxl.findings import Code, Severity, Stored
from cpxl.reading import read_workbook
from cpxl.simulate import add_mistakes, fill_return, plan
from cpxl.validation import PER_COLUMN, validate

MOJ = "MOJ"
JJ = "Juvenile justice cases"


def _check(path: Path, history: tuple[Stored, ...] = ()) -> tuple[object, ...]:
    return validate(read_workbook(path, catalogue()), catalogue(), history)


def test_clean_returns_of_every_ministry_have_no_findings(tmp_path: Path) -> None:
    """A plausible, consistent return passes every rule of the catalogue."""
    ws = workspace(tmp_path)
    for ministry in catalogue().reporting_ministries(parse_period("2025")):
        assert _check(returned(ws, ministry)) == (), ministry


def test_simulated_mistakes_are_found_exactly(tmp_path: Path) -> None:
    """Each typical mistake is reported at the cell where it was typed, and nowhere else."""
    ws = workspace(tmp_path)
    issue(ws)
    lay = layout("MOSVY")
    values = plan(catalogue(), lay, SEED)
    mistakes = add_mistakes(catalogue(), lay, values, SEED)
    path = ws.inbox / "mistakes.xlsx"
    fill_return(ws.templates / "MOSVY_2025.xlsx", path, values)
    findings = _check(path)
    assert len(mistakes) == 7
    assert where(findings) == {(m.sheet, m.cell, m.code.value) for m in mistakes}  # type: ignore[arg-type]


def test_type_and_range(tmp_path: Path) -> None:
    """Negative and decimal counts and percentages above 100 are errors at their cells."""
    ws = workspace(tmp_path)
    sheet, neg = cell_of(MOJ, "children_in_detention", "01")
    _, dec = cell_of(MOJ, "children_in_detention", "02")
    path = returned(ws, MOJ, cells={sheet: {neg: -3, dec: 2.5}})
    found = _check(path)
    assert {(s, c, code) for s, c, code in where(found) if c in (neg, dec)} == {
        (sheet, neg, "negative-count"),
        (sheet, dec, "decimal-in-count"),
    }
    pct_sheet, pct = next(
        (s.name, s.cell(a.code, col))
        for s in layout("MOWA").sheets
        for a in s.areas
        for col in s.columns
        if catalogue().elements[col.element].value_type == "percent" and not col.dimension
    )
    found = _check(returned(ws, "MOWA", cells={pct_sheet: {pct: 150}}))
    assert (pct_sheet, pct, "out-of-range") in where(found)


def test_required_blank(tmp_path: Path) -> None:
    """A required cell left blank is an error; a missing-reason code is not."""
    ws = workspace(tmp_path)
    sheet, blank = cell_of(MOJ, "children_in_detention", "05", "sex", "male")
    _, coded = cell_of(MOJ, "children_in_detention", "06", "sex", "male")
    _, total = cell_of(MOJ, "children_in_detention", "06")
    found = _check(returned(ws, MOJ, cells={sheet: {blank: "", coded: "NK"}}))
    assert (sheet, blank, "required-blank") in where(found)
    assert not any(c == coded and code == "required-blank" for _, c, code in where(found))
    sums = [f for f in found if f.code == Code.SUM_MISMATCH]  # type: ignore[attr-defined]
    assert [(f.location.cell, f.rule) for f in sums] == [(total, "SUM-children_in_detention")]  # type: ignore[attr-defined]


def test_sum_names_every_cell_that_takes_part(tmp_path: Path) -> None:
    """A wrong total is one error per breakdown it disagrees with, at the total, naming each
    breakdown's parts by their column labels and cells, never counting the total as a part."""
    ws = workspace(tmp_path)
    lay = layout(MOJ)
    sheet, total = cell_of(MOJ, "children_in_detention", "03")
    values = plan(catalogue(), lay, SEED)
    old = values[(sheet, total)]
    assert isinstance(old, float)
    found = _check(returned(ws, MOJ, cells={sheet: {total: old + 4}}))
    assert [(f.location.sheet, f.location.cell, f.code) for f in found] == [  # type: ignore[attr-defined]
        (sheet, total, Code.SUM_MISMATCH),
        (sheet, total, Code.SUM_MISMATCH),
    ]
    breakdowns = {
        "justice_status": ("pre_trial_detention", "sentenced"),
        "sex": ("male", "female", "unknown"),
    }
    messages = catalogue().messages
    got = {f.params["dimension"]: f.render(messages) for f in found}  # type: ignore[attr-defined]
    for dim, options in breakdowns.items():
        cells = [cell_of(MOJ, "children_in_detention", "03", dim, o)[1] for o in options]
        labels = [catalogue().dimensions[dim].option(o) for o in options]
        parts = sum(float(values[(sheet, c)]) for c in cells)  # type: ignore[arg-type]
        en, km = got[dim].en, got[dim].km
        assert en.startswith(
            f"Sheet {sheet}, cell {total}: {' + '.join(o.label.en for o in labels)} "
            f"({' + '.join(cells)}) = {parts:g}, but the Total ({total}) is {old + 4:g}, "
            "a difference of 4."
        )
        assert f"{' + '.join(o.label.km for o in labels)} ({' + '.join(cells)})" in km
        assert "SUM-" not in en + km


def test_all_parts_missing_is_not_a_sum_error(tmp_path: Path) -> None:
    """An element recorded as not collected in every cell is skipped by the sum rule."""
    ws = workspace(tmp_path)
    sheet = layout(MOJ).sheets[0]
    cells = {
        sheet.cell("04", col): "NC"
        for col in sheet.columns
        if col.element == "children_in_detention"
    }
    assert _check(returned(ws, MOJ, cells={sheet.name: cells})) == ()


def test_compare_within_one_return(tmp_path: Path) -> None:
    """Children with a lawyer cannot outnumber children charged."""
    ws = workspace(tmp_path)
    lay = layout(MOJ)
    values = plan(catalogue(), lay, SEED)
    cells: dict[str, object] = {}
    for opt in ("male", "female", "unknown"):
        cells[cell_of(MOJ, "children_charged", "07", "sex", opt)[1]] = 0
    cells[cell_of(MOJ, "children_charged", "07")[1]] = 0
    _, represented = cell_of(MOJ, "cicl_with_legal_representation", "07")
    assert isinstance(values[(JJ, represented)], float) and values[(JJ, represented)] > 0
    found = _check(returned(ws, MOJ, cells={JJ: cells}))
    assert where(found) == {(JJ, represented, "compare-failed")}
    assert found[0].rule == "CMP-represented-le-charged"  # type: ignore[attr-defined]


def _history(rows: list[tuple[str, str, str, float, str]]) -> tuple[Stored, ...]:
    """Stored totals as the store gives them: (element, period, area, value, ministry)."""
    return tuple(Stored(e, p, a, "", "", v, "", m) for e, p, a, v, m in rows)


def test_compare_across_returns_in_the_store(tmp_path: Path) -> None:
    """Children charged (MoJ) above children arrested (police, already stored) is a warning."""
    ws = workspace(tmp_path)
    path = returned(ws, MOJ)
    history = _history([("children_arrested", "2025", "08", 1.0, "GCNP")])
    found = _check(path, history)
    _, charged = cell_of(MOJ, "children_charged", "08")
    assert where(found) == {(JJ, charged, "compare-failed")}
    assert found[0].severity == Severity.WARNING  # type: ignore[attr-defined]


def test_change_against_earlier_periods_is_a_warning_with_history(tmp_path: Path) -> None:
    """A figure ten times last year's is a warning that shows both years."""
    ws = workspace(tmp_path)
    sheet, total = cell_of(MOJ, "children_in_detention", "09")
    path = returned(ws, MOJ)
    sub = read_workbook(path, catalogue())
    now = next(v.value for v in sub.values if (v.sheet, v.cell) == (sheet, total))
    assert now is not None
    history = _history([("children_in_detention", "2024", "09", now / 10, MOJ)])
    found = validate(sub, catalogue(), history)
    assert where(found) == {(sheet, total, "change-too-large")}
    f = found[0]
    assert f.severity == Severity.WARNING
    assert (
        f.params["history"].startswith(f"2024: {now / 10:,.0f}") or "2024:" in f.params["history"]
    )
    assert f.params["history"].endswith(f"2025: {now:,.0f}")


def test_outlier_against_a_longer_history(tmp_path: Path) -> None:
    """With three earlier years, a figure far from all of them is a robust outlier."""
    ws = workspace(tmp_path)
    sheet, total = cell_of(MOJ, "children_in_detention", "10")
    sub = read_workbook(returned(ws, MOJ), catalogue())
    now = next(v.value for v in sub.values if (v.sheet, v.cell) == (sheet, total))
    assert now is not None
    base = now * 3
    history = _history(
        [
            ("children_in_detention", "2022", "10", base, MOJ),
            ("children_in_detention", "2023", "10", base * 1.02, MOJ),
            ("children_in_detention", "2024", "10", base * 0.99, MOJ),
        ]
    )
    assert where(validate(sub, catalogue(), history)) == {(sheet, total, "outlier")}


def test_explained_warning_is_kept_as_information(tmp_path: Path) -> None:
    """A warning on a row whose Explanation cell is filled no longer needs action."""
    ws = workspace(tmp_path)
    sheet_layout = layout(MOJ).sheet(JJ)
    from xlsxwriter.utility import xl_rowcol_to_cell

    explain = xl_rowcol_to_cell(sheet_layout.row_of("08"), sheet_layout.explanation_col)
    path = returned(ws, MOJ, cells={JJ: {explain: "Police data came in late"}})
    history = _history([("children_arrested", "2025", "08", 1.0, "GCNP")])
    found = _check(path, history)
    assert [(f.code, f.severity, f.params["explanation"]) for f in found] == [  # type: ignore[attr-defined]
        (Code.COMPARE_FAILED, Severity.INFO, "Police data came in late")
    ]


def test_repeated_findings_are_grouped_per_column(tmp_path: Path) -> None:
    """One systematic mistake down a column gives a few findings and one 'and N more'."""
    ws = workspace(tmp_path)
    sheet = layout(MOJ).sheets[0]
    col = sheet.columns[0]
    cells = {sheet.cell(a.code, col): "x" for a in sheet.areas}
    found = _check(returned(ws, MOJ, cells={sheet.name: cells}))
    codes = [f.code for f in found]  # type: ignore[attr-defined]
    assert codes.count(Code.NOT_A_NUMBER) == PER_COLUMN
    more = [f for f in found if f.code == Code.MORE_FINDINGS]  # type: ignore[attr-defined]
    assert [(f.params["count"], f.params["column"], f.params["of"]) for f in more] == [  # type: ignore[attr-defined]
        (str(len(sheet.areas) - PER_COLUMN), col.letter, "not-a-number")
    ]


def test_every_rule_that_fails_in_one_return_is_reported_at_its_cells(tmp_path: Path) -> None:
    """One pass over a return reports every rule it breaks, not just the first: a negative
    count, a wrong total and a compare, each by its own rule and at its own cells, and a
    rule broken in two provinces at both."""
    ws = workspace(tmp_path)
    sheet, negative = cell_of(MOJ, "children_in_detention", "02")
    _, total = cell_of(MOJ, "children_in_detention", "03")
    _, other_total = cell_of(MOJ, "children_in_detention", "11")
    values = plan(catalogue(), layout(MOJ), SEED)
    cells: dict[str, dict[str, object]] = {
        sheet: {
            negative: -3,
            total: float(values[(sheet, total)]) + 4,
            other_total: float(values[(sheet, other_total)]) + 7,
        }
    }
    charged = [cell_of(MOJ, "children_charged", "07", "sex", o)[1] for o in ("male", "female")]
    charged += [cell_of(MOJ, "children_charged", "07", "sex", "unknown")[1]]
    charged += [cell_of(MOJ, "children_charged", "07")[1]]  # nobody charged in province 07
    _, represented = cell_of(MOJ, "cicl_with_legal_representation", "07")
    cells.setdefault(JJ, {}).update(dict.fromkeys(charged, 0))
    found = _check(returned(ws, MOJ, cells=cells))
    got = {(f.location.sheet, f.location.cell, f.code.value, f.rule) for f in found}  # type: ignore[attr-defined]
    assert got == {
        (sheet, negative, "negative-count", "TYPE-count"),
        (sheet, total, "sum-mismatch", "SUM-children_in_detention"),
        (sheet, other_total, "sum-mismatch", "SUM-children_in_detention"),
        (JJ, represented, "compare-failed", "CMP-represented-le-charged"),
    }
