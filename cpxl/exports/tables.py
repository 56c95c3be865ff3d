"""CSV for people: the values and indicator tables as they are, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import numbers
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
import pandas as pd

from cpxl.exports.common import AtomicFile, absent, number_text, require

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


def _csv_column(column: pd.Series) -> list[str]:
    """One column's CSV texts; each distinct value is formatted once (long tables repeat)."""
    missing = column.isna().to_numpy()
    present = column[~missing]
    texts = {value: _csv_cell(value) for value in present.unique()}
    out: list[str] = [""] * len(column)
    for i, text in zip(np.flatnonzero(~missing), present.map(texts).tolist(), strict=True):
        out[i] = str(text)
    return out


class CsvWriter:
    """A table as CSV, chunk by chunk: numbers plain, NaN empty, formula-like text escaped.

    Written with a BOM so that Excel shows Khmer.
    """

    def __init__(self, path: Path, columns: tuple[str, ...], what: str) -> None:
        self.columns = columns
        self.what = what
        self.file = AtomicFile(path, encoding="utf-8-sig")
        self.out: IO[Any] = self.file.__enter__()
        self.writer = csv.writer(self.out, lineterminator="\r\n")
        self.writer.writerow([csv_safe(c) for c in columns])

    def add(self, frame: pd.DataFrame) -> None:
        """Write one chunk, its columns in the table's order."""
        require(frame, self.columns, self.what)
        cells = [_csv_column(frame[c]) for c in self.columns]
        self.writer.writerows(zip(*cells, strict=True))

    def close(self) -> Path:
        """Put the finished file in place."""
        self.file.__exit__(None, None, None)
        return self.file.path

    def abandon(self) -> None:
        """Drop the partial file after a failure."""
        self.file.__exit__(Exception, None, None)
