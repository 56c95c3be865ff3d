"""The metadata book: one bilingual workbook that says everything the catalogue says.

Covers: one row per indicator in catalogue order with its id, provenance, name, numerator and
responsible ministry; every data element listed once; every Khmer text awaiting review listed;
no cell is a formula or a hyperlink (the book is read by people, never executed). The book is
checked against the catalogue's YAML files read here with PyYAML, never against the functions
that fill it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml

from cpxl.book import SHEETS, write_book
from cpxl.catalogue import Catalogue, load
from cpxl.findings import Code, Status

RULES = Path(__file__).resolve().parent.parent / "rules"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load(RULES)


@pytest.fixture(scope="module")
def book(catalogue: Catalogue, tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = write_book(catalogue, tmp_path_factory.mktemp("book") / "book.xlsx")
    wb = openpyxl.load_workbook(path)
    yield wb
    wb.close()


def table(ws: Any) -> list[dict[str, Any]]:
    """The sheet's rows under its header row, as header -> value."""
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def test_sheets_are_in_reading_order(book: Any) -> None:
    """The book opens on About and lists its nine sheets in reading order."""
    assert book.sheetnames == list(SHEETS)


def test_indicators_match_the_catalogue(book: Any, catalogue: Catalogue) -> None:
    """Each indicator has exactly one row, in catalogue order, with its own metadata."""
    rows = [
        (r["ID"], r["Provenance"], r["Name (EN)"], r["Numerator"], r["Responsible"])
        for r in table(book["Indicators"])
    ]
    assert rows == [
        (i.id, i.provenance, i.name.en, i.numerator.source, i.responsible)
        for i in catalogue.indicators
    ]


def test_indicator_denominators_are_the_expression_text(book: Any, catalogue: Catalogue) -> None:
    """A rate's denominator reads as written in the catalogue; a count has none."""
    got = [r["Denominator"] for r in table(book["Indicators"])]
    assert got == [i.denominator.source if i.denominator else None for i in catalogue.indicators]


def test_every_element_is_listed_once(book: Any, catalogue: Catalogue) -> None:
    """The Data elements sheet lists every element once, with the data set that reports it."""
    rows = [(r["Code"], r["Data set"]) for r in table(book["Data elements"])]
    assert rows == [(code, catalogue.data_set_of(code).id) for code in catalogue.elements]


def test_elements_name_the_indicators_that_use_them(book: Any, catalogue: Catalogue) -> None:
    """An element used by an indicator's numerator or denominator names that indicator."""
    used = {
        r["Code"]: set((r["Used by indicators"] or "").split(", ")) - {""}
        for r in table(book["Data elements"])
    }
    for ind in catalogue.indicators:
        refs = [*ind.numerator.refs, *(ind.denominator.refs if ind.denominator else ())]
        for ref in refs:
            assert ind.id in used[ref.element], (ind.id, ref.element)


# The text a reviewer reads for an entry: its title, else its name, label, description, text.
_TEXT_KEYS = (
    ("title_en", "title_km"),
    ("name_en", "name_km"),
    ("label_en", "label_km"),
    ("description_en", "description_km"),
    ("en", "km"),
)


def _marked_for_review(node: object) -> Iterator[tuple[str, str]]:
    """(English, Khmer) of every YAML entry marked ``km_status: needs_review``, at any depth."""
    if isinstance(node, dict):
        if node.get("km_status") == "needs_review":
            en, km = next((en, km) for en, km in _TEXT_KEYS if en in node)
            yield (node[en], node[km])
        for child in node.values():
            yield from _marked_for_review(child)
    elif isinstance(node, list):
        for child in node:
            yield from _marked_for_review(child)


def test_khmer_to_review_lists_every_text(book: Any) -> None:
    """Reviewers find every Khmer text marked needs_review in rules/, with its English, once."""
    rows = table(book["Khmer to review"])
    marked: Counter[tuple[str, str]] = Counter()
    for path in sorted(RULES.glob("*.yaml")):
        marked.update(_marked_for_review(yaml.safe_load(path.read_text(encoding="utf-8"))))
    assert len(marked) > 100
    assert Counter((r["English"], r["Khmer"]) for r in rows) == marked
    assert all(r["Where"] for r in rows)


def test_about_counts_indicators_by_provenance(book: Any, catalogue: Catalogue) -> None:
    """About gives how many indicators each provenance level has, and warns about inferred ones."""
    rows = {r["Item"]: r["Indicators"] for r in table(book["About"])}
    assert {k: v for k, v in rows.items() if k.startswith("Provenance: ")} == {
        "Provenance: framework": 2,
        "Provenance: framework_mentioned": 1,
        "Provenance: inferred": 47,
    }
    assert rows["Warning"] == 47


def test_messages_sheet_has_every_code_and_status(book: Any) -> None:
    """Every finding code and every file status has its row with both languages."""
    rows = table(book["Messages"])
    assert [r["Code"] for r in rows] == [*(c.value for c in Code), *(s.value for s in Status)]
    assert all(r["Title (EN)"] and r["Title (KM)"] for r in rows)


def test_no_cell_is_a_formula_or_a_link(book: Any) -> None:
    """Text that looks like a formula or a URL stays text: nothing runs or opens on a click."""
    formulas, links = [], []
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    formulas.append((ws.title, cell.coordinate))
                if cell.hyperlink is not None:
                    links.append((ws.title, cell.coordinate))
    assert (formulas, links) == ([], [])


def test_indicators_show_the_framework_sector_beside_the_domain(book: Any) -> None:
    """4.8 and 4.11a show sector 4 beside their different cpxl domains; others say it is unknown."""
    rows = {
        r["ID"]: (r["Domain"], r["Framework sector"], r["Domain's framework sectors"])
        for r in table(book["Indicators"])
    }
    sector4 = "Sector 4 (name not published; holds care placements and case management)"
    assert rows["CP-AC-06"] == ("AC", sector4, "4")
    assert rows["CP-SV-01"] == ("SV", sector4, "4")
    assert rows["CP-VAC-01"] == ("VAC", None, "not known")


def test_elements_say_how_a_longer_period_is_built(book: Any) -> None:
    """Each element's aggregation is shown with what it means for a year built from quarters."""
    rows = {
        r["Code"]: (r["Aggregation"], r["Over a longer period"])
        for r in table(book["Data elements"])
    }
    assert rows["new_cases"][0] == "sum"
    assert rows["children_in_residential_care"][0] == "last"
    assert rows["children_with_open_case_primero"] == (
        "none",
        "never built from shorter periods: a count of distinct children in the period;"
        " the year has an element of its own",
    )


def test_plausibility_rules_show_their_reference_and_source(book: Any) -> None:
    """A reference rule reads with its figure and source; continuity names both stocks."""
    rules = table(book["Validation rules"])
    rows = {r["ID"]: (r["Kind"], r["Elements"], r["Check"]) for r in rules}
    kind, elements, check = rows["REF-child_population_0_17"]
    assert (kind, elements) == ("reference", "child_population_0_17")
    assert check.startswith("the sum of the provinces within 15 % of 6,110,000 (6.11 million")
    assert rows["CONT-children_in_residential_care"] == (
        "continuity",
        "children_in_residential_care_start_of_period = children_in_residential_care of the"
        " previous period",
        "within 2 or 2 % of the previous closing figure",
    )
