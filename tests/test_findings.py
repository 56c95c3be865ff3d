"""The shared domain types say each thing once.

Covers: the most severe of a set of findings; which statuses took a return's figures into the
store; A1 addresses both ways, and what is not one; bilingual text filled in both languages.
"""

from __future__ import annotations

import pytest

from cpxl.findings import (
    ACCEPTED_STATUSES,
    Code,
    Finding,
    Location,
    MessageText,
    Severity,
    Status,
    Text,
    cell_name,
    cell_position,
    column_name,
    worst,
)


def test_worst_is_the_most_severe_level_present() -> None:
    """Errors outrank warnings, which outrank notes; no findings have no level."""

    def of(*levels: Severity) -> list[Finding]:
        return [Finding.make(Code.OUTLIER, s) for s in levels]

    assert worst(of(Severity.INFO, Severity.ERROR, Severity.WARNING)) == Severity.ERROR
    assert worst(of(Severity.INFO, Severity.WARNING)) == Severity.WARNING
    assert worst(of(Severity.INFO)) == Severity.INFO
    assert worst([]) is None
    assert [s.rank for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)] == [0, 1, 2]


def test_accepted_statuses_are_the_two_that_store_figures() -> None:
    """Only an accepted return (with or without warnings) has its figures taken in."""
    assert set(ACCEPTED_STATUSES) == {Status.ACCEPTED, Status.ACCEPTED_WITH_WARNINGS}


@pytest.mark.parametrize(
    ("row", "col", "cell"),
    [(0, 0, "A1"), (6, 3, "D7"), (5, 25, "Z6"), (5, 26, "AA6"), (1048575, 16383, "XFD1048576")],
)
def test_a1_addresses_both_ways(row: int, col: int, cell: str) -> None:
    """A 0-based row and column name the cell a spreadsheet shows, and back."""
    assert cell_name(row, col) == cell
    assert cell_position(cell) == (row, col)


def test_a1_addresses_read_absolute_and_lower_case() -> None:
    """An absolute or lower-case address is the same cell; a column's letters stand alone too."""
    assert cell_position("$D$7") == (6, 3)
    assert cell_position("d7") == (6, 3)
    assert column_name(27) == "AB"


@pytest.mark.parametrize("text", ["", "D", "7", "D0", "D7:D9", "AAAA1", "Sheet1!D7", " D7"])
def test_what_is_not_an_a1_address(text: str) -> None:
    """Ranges, sheet-qualified names, row 0 and columns past the last are not one cell."""
    assert cell_position(text) is None


def test_text_is_filled_in_both_languages() -> None:
    """Named placeholders are filled in English and Khmer alike; unknown ones stay visible."""
    text = Text("Cell {cell}: {what}", "ក្រឡា {cell}៖ {what}", "needs_review")
    assert text.fill({"cell": "D7"}) == Text("Cell D7: {what}", "ក្រឡា D7៖ {what}", "needs_review")
    assert text.needs_review and not Text("a", "ក").needs_review


def test_a_finding_reads_as_its_message_then_its_fix() -> None:
    """A finding's words open with the place and end with the action, in both languages."""
    words = MessageText(
        Text("Odd figure", "តួលេខចម្លែក"),
        Text("Sheet {sheet}, cell {cell}: {seen} is odd.", "សន្លឹក {sheet} ក្រឡា {cell}៖ {seen}"),
        Text("Check it.", "សូមពិនិត្យ។"),
    )
    found = Finding.make(Code.OUTLIER, Severity.WARNING, Location("f.xlsx", "S", "D7"), seen=9)
    assert found.render({Code.OUTLIER: words}) == Text(
        "Sheet S, cell D7: 9 is odd. Check it.", "សន្លឹក S ក្រឡា D7៖ 9 សូមពិនិត្យ។"
    )
    assert found.render({}) == Text("outlier", "outlier")
