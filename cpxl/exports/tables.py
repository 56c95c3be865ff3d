"""CSV for people: the values and indicator tables as they are, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import numbers
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, Final

from cpxl.exports.common import AtomicFile, Row, absent, number_text

# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """Text a spreadsheet will show as text, never run as a formula (leading apostrophe)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_cell(value: object) -> str:
    if absent(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return number_text(float(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return csv_safe(str(value))


def _csv_column(column: tuple[Any, ...]) -> Sequence[Any]:
    """One column's CSV cells. Each distinct value is formatted once (long tables repeat), and
    a column of safe text (most are codes) is written as it is."""
    changed = {}
    for value in set(column):
        text = _csv_cell(value)
        if text is not value and value is not None:  # None is written empty by csv
            changed[value] = text
    return [changed.get(v, v) for v in column] if changed else column


class CsvWriter:
    """A table as CSV, chunk by chunk: numbers plain, NaN empty, formula-like text escaped.

    Written with a BOM so that Excel shows Khmer.
    """

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.columns = columns
        self.file = AtomicFile(path)
        self.out: IO[Any] = self.file.__enter__()
        # The BOM written once by hand: Python's utf-8-sig encoder would run for every row.
        self.out.write("\ufeff")
        self.writer = csv.writer(self.out, lineterminator="\r\n")
        self.writer.writerow([csv_safe(c) for c in columns])

    def add(self, rows: list[Row]) -> None:
        """Write one chunk of rows, in the table's column order."""
        columns = [_csv_column(c) for c in zip(*rows, strict=True)]
        self.writer.writerows(zip(*columns, strict=True))

    def close(self) -> Path:
        """Put the finished file in place."""
        self.file.__exit__(None, None, None)
        return self.file.path

    def abandon(self) -> None:
        """Drop the partial file after a failure."""
        self.file.__exit__(Exception, None, None)
