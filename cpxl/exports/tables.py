"""CSV for people: the values and indicator tables as they are, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import math
import numbers
import re
from datetime import date, datetime
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Final

from cpxl.exports.common import AtomicFile, Row, absent, number_text

# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """Text a spreadsheet will show as text, never run as a formula (leading apostrophe)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_cell(value: object) -> str:
    # Plain text and floats first, by their exact type: the checks against the abstract number
    # types below cost more than formatting a number.
    if type(value) is str:
        return csv_safe(value)
    if type(value) is float:
        return "" if math.isnan(value) else number_text(value)
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


def _csv_field(value: object) -> str:
    """A cell as the csv module writes it (minimal quoting): quoted when it holds a comma, a
    quote or a line break, its quotes doubled."""
    text = _csv_cell(value)
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


_NEEDS_QUOTES: Final = re.compile('[,"\r\n]')


def _csv_column(column: list[Any]) -> list[str]:
    """One column's CSV fields. Each distinct value is formatted once (long tables repeat), and
    a column of text written as it is (most are codes) is kept as it is."""
    fields = {value: _csv_field(value) for value in set(column)}
    if all(text is value for value, text in fields.items()):
        return column
    return list(map(fields.__getitem__, column))


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
        if not rows:
            return
        # Lines joined from fields formatted once per distinct value: what csv.writer writes,
        # at half its cost (it would check every field of every row again).
        # Column by column through itemgetter: zip(*rows) over thousands of rows costs 3x more.
        columns = [_csv_column(list(map(itemgetter(j), rows))) for j in range(len(self.columns))]
        self.out.write("\r\n".join(map(",".join, zip(*columns, strict=True))) + "\r\n")

    def close(self) -> Path:
        """Put the finished file in place."""
        self.file.__exit__(None, None, None)
        return self.file.path

    def abandon(self) -> None:
        """Drop the partial file after a failure."""
        self.file.__exit__(Exception, None, None)
