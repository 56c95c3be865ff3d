"""The number parser: every conversion explicit, every ambiguity a finding, blank never zero.

Covers: blanks, numbers, missing-reason codes, Khmer digits, numbers typed as text, thousands
separators, words, dates, percentages, scientific notation, invisible characters.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from cpxl.findings import Code, Severity
from cpxl.numbers import format_number, parse_cell

CODES = frozenset({"NC", "NA", "NK"})


@pytest.mark.parametrize(
    ("raw", "value_type", "expected"),
    [
        (None, "count", (None, "", None)),
        ("", "count", (None, "", None)),
        ("   ", "count", (None, "", None)),
        ("\u200b", "count", (None, "", None)),
        (12, "count", (12.0, "", None)),
        (12.5, "count", (12.5, "", None)),
        (0, "count", (0.0, "", None)),
        ("NC", "count", (None, "NC", None)),
        ("nc ", "count", (None, "NC", None)),
        ("១២៣", "count", (123.0, "", Code.KHMER_DIGITS)),
        ("១ ២៣៤", "count", (1234.0, "", Code.KHMER_DIGITS)),
        (" 45 ", "count", (45.0, "", Code.NUMBER_AS_TEXT)),
        ("1 234", "count", (1234.0, "", Code.NUMBER_AS_TEXT)),
        ("12\u200b", "count", (12.0, "", Code.NUMBER_AS_TEXT)),
        ("-5", "count", (-5.0, "", Code.NUMBER_AS_TEXT)),
        ("1,234,567", "count", (1234567.0, "", Code.NUMBER_AS_TEXT)),
        ("1,234.5", "amount", (1234.5, "", Code.NUMBER_AS_TEXT)),
        ("12.5", "percent", (12.5, "", Code.NUMBER_AS_TEXT)),
        ("50%", "percent", (50.0, "", Code.NUMBER_AS_TEXT)),
    ],
)
def test_readable_cells(raw: object, value_type: str, expected: tuple[object, ...]) -> None:
    """Blanks stay blank, codes stay codes, and text that is a number is converted and noted."""
    p = parse_cell(raw, value_type, CODES)
    assert (p.value, p.missing, p.code) == expected
    if p.code is not None:
        assert p.severity == Severity.INFO


@pytest.mark.parametrize(
    ("raw", "value_type", "code"),
    [
        ("twelve", "count", Code.NOT_A_NUMBER),
        ("N/A", "count", Code.NOT_A_NUMBER),
        ("nan", "count", Code.NOT_A_NUMBER),
        ("inf", "count", Code.NOT_A_NUMBER),
        ("-", "count", Code.NOT_A_NUMBER),
        (float("nan"), "count", Code.NOT_A_NUMBER),
        (True, "count", Code.NOT_A_NUMBER),
        ("1,234", "count", Code.AMBIGUOUS_SEPARATOR),
        ("12,5", "count", Code.AMBIGUOUS_SEPARATOR),
        ("1 2", "count", Code.SPACED_NUMBER),  # 12, or two figures in one cell
        ("12 34", "count", Code.SPACED_NUMBER),
        ("១ ២", "count", Code.SPACED_NUMBER),
        ("1e3", "count", Code.SCIENTIFIC_NOTATION),
        ("50%", "count", Code.PERCENT_IN_COUNT),
        ("12/03/2025", "count", Code.DATE_IN_NUMBER_CELL),
        (date(2025, 3, 12), "count", Code.DATE_IN_NUMBER_CELL),
        (datetime(2025, 3, 12, 8, 0), "count", Code.DATE_IN_NUMBER_CELL),
        ("៰", "count", Code.NOT_A_NUMBER),
    ],
)
def test_unreadable_cells(raw: object, value_type: str, code: Code) -> None:
    """Anything ambiguous is an error at the cell and nothing is stored for it."""
    p = parse_cell(raw, value_type, CODES)
    assert (p.value, p.missing, p.code, p.severity) == (None, "", code, Severity.ERROR)


def test_format_number_reads_like_an_official_writes() -> None:
    """Numbers in messages have no trailing .0 and are grouped by thousands."""
    assert [format_number(x) for x in (1200.0, 12.5, 0.0, 1234567.0)] == [
        "1,200",
        "12.5",
        "0",
        "1,234,567",
    ]
