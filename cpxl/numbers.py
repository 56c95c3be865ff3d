"""The one number parser for every input cell: explicit conversions, reported, never silent.

Blank stays blank, a missing-reason code stays a code, and every text that becomes a number
says so (Khmer digits, numbers typed as text). Anything ambiguous is a finding, not a guess.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from cpxl.findings import Code, Severity

KHMER_DIGITS = str.maketrans("០១២៣៤៥៦៧៨៩", "0123456789")
# Zero-width characters that translators and copy-paste leave in Khmer text.
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\ufeff\u00ad"), None)
SPACES = dict.fromkeys(map(ord, " \u00a0\u202f\u2009\t"), None)

_PLAIN = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3}){2,}(\.\d+)?$|^[+-]?\d{1,3}(,\d{3})+\.\d+$")
_SPACE_GROUPED = re.compile(r"^[+-]?\d{1,3}([ \u00a0\u202f\u2009]\d{3})+(\.\d+)?$")
_ONE_GROUP = re.compile(r"^[+-]?\d{1,3},\d{3}$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_SCIENTIFIC = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)[eE][+-]?\d+$")
_PERCENT = re.compile(r"^([+-]?(\d+(\.\d*)?|\.\d+))\s*%$")
_WORDS_FOR_NOTHING = {"n/a", "na.", "nan", "inf", "-inf", "infinity", "null", "none", "-", "—", "?"}


@dataclass(frozen=True, slots=True)
class Parsed:
    """A cell's value as read: a number, a missing-reason code, or blank, and what was done."""

    value: float | None = None
    missing: str = ""
    code: Code | None = None
    severity: Severity = Severity.INFO
    converted: str = ""

    @property
    def blank(self) -> bool:
        """Nothing was entered."""
        return self.value is None and not self.missing and self.code is None


BLANK = Parsed()


def _error(code: Code) -> Parsed:
    return Parsed(code=code, severity=Severity.ERROR)


def parse_cell(raw: object, value_type: str, missing_codes: Collection[str]) -> Parsed:
    """Read one input cell's raw value (as calamine or openpyxl give it) for a value type."""
    if raw is None or raw == "":
        return BLANK
    if isinstance(raw, bool):
        return _error(Code.NOT_A_NUMBER)
    if isinstance(raw, int | float):
        number = float(raw)
        if math.isnan(number) or math.isinf(number):
            return _error(Code.NOT_A_NUMBER)
        return Parsed(value=number)
    if isinstance(raw, datetime | date | time | timedelta):
        return _error(Code.DATE_IN_NUMBER_CELL)
    return _parse_text(str(raw), value_type, missing_codes)


def _parse_text(text: str, value_type: str, missing_codes: Collection[str]) -> Parsed:
    cleaned = text.translate(INVISIBLE).strip()
    if not cleaned:
        return BLANK
    upper = cleaned.upper()
    if upper in missing_codes:
        return Parsed(missing=upper)
    had_khmer = cleaned != cleaned.translate(KHMER_DIGITS)
    spaced = cleaned.translate(KHMER_DIGITS)
    latin = spaced.translate(SPACES)
    if latin != spaced and not _SPACE_GROUPED.match(spaced):
        # "1 2" may be 12 or two figures typed into one cell; "1 234" is thousands, as in French
        return _error(Code.SPACED_NUMBER)
    note = Code.KHMER_DIGITS if had_khmer else Code.NUMBER_AS_TEXT
    if latin.lower() in _WORDS_FOR_NOTHING:
        return _error(Code.NOT_A_NUMBER)
    if _PLAIN.match(latin):
        return _converted(float(latin), note)
    if _GROUPED.match(latin):
        return _converted(float(latin.replace(",", "")), note)
    if _ONE_GROUP.match(latin) or _DECIMAL_COMMA.match(latin):
        return _error(Code.AMBIGUOUS_SEPARATOR)
    if _SCIENTIFIC.match(latin):
        return _error(Code.SCIENTIFIC_NOTATION)
    pct = _PERCENT.match(latin)
    if pct:
        if value_type == "percent":
            return _converted(float(pct.group(1)), note)
        return _error(Code.PERCENT_IN_COUNT)
    if _looks_like_date(latin):
        return _error(Code.DATE_IN_NUMBER_CELL)
    return _error(Code.NOT_A_NUMBER)


def _converted(number: float, note: Code) -> Parsed:
    if not math.isfinite(number):  # 400 digits typed as text are not a figure anyone meant
        return _error(Code.NOT_A_NUMBER)
    return Parsed(value=number, code=note, severity=Severity.INFO, converted=format_number(number))


_DATE = re.compile(r"^\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}$")


def _looks_like_date(text: str) -> bool:
    return bool(_DATE.match(text))


def format_number(number: float) -> str:
    """A number as an official would write it: no trailing .0, thousands separated."""
    if not math.isfinite(number):
        return str(number)
    if number == int(number):
        return f"{int(number):,}"
    return f"{number:,.6g}" if abs(number) >= 1e6 else f"{number:,.4f}".rstrip("0").rstrip(".")
