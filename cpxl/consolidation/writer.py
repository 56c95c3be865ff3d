"""The national workbook's writer: xlsxwriter with its formats and bilingual headers.

Every header has two rows, English then Khmer, both from the catalogue's terms; values are
written column by column, and text is never turned into formulas, links or numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

from cpxl.catalogue import Catalogue


@dataclass(frozen=True, slots=True)
class _Col:
    """One column of a sheet: the frame column, its header term and how to write it."""

    field: str
    key: str
    en: str
    kind: str = "text"  # text | number | int | bool
    width: float = 14.0


class _Book:
    """The xlsxwriter workbook with its formats and the catalogue's bilingual headers."""

    def __init__(self, path: Path, catalogue: Catalogue) -> None:
        options = {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "nan_inf_to_errors": False,
        }
        self.wb = xlsxwriter.Workbook(str(path), options)
        self.cat = catalogue
        self.head = self.wb.add_format({"bold": True, "bg_color": "#DDEBF7", "text_wrap": True})
        self.head_km = self.wb.add_format({"italic": True, "bg_color": "#DDEBF7"})
        self.title = self.wb.add_format({"bold": True, "font_size": 14})
        self.bold = self.wb.add_format({"bold": True})
        self.wrap = self.wb.add_format({"text_wrap": True, "valign": "top"})
        self.number = self.wb.add_format({"num_format": "#,##0.##"})
        self.integer = self.wb.add_format({"num_format": "#,##0"})
        self.grey = self.wb.add_format({"bg_color": "#EDEDED", "font_color": "#7F7F7F"})
        self.amber = self.wb.add_format({"bg_color": "#FFF2CC"})
        self.red = self.wb.add_format({"bg_color": "#F8CBAD"})

    def label(self, key: str, en: str) -> tuple[str, str]:
        """English and Khmer for a label: the catalogue's term, else English in both rows."""
        term = self.cat.terms.get(key)
        return (term.en, term.km) if term is not None else (en, en)

    def sheet(self, name: str) -> Any:
        """A new sheet that prints landscape, one page wide, with its header rows repeated."""
        ws = self.wb.add_worksheet(_sheet_name(name))
        ws.set_landscape()
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0, 1)
        return ws

    def table(self, ws: Any, cols: Sequence[_Col], frame: pd.DataFrame, first: int = 0) -> int:
        """Two header rows (English, Khmer), then the frame; returns the last row written."""
        for j, c in enumerate(cols):
            en, km = self.label(c.key, c.en)
            ws.write_string(first, j, en, self.head)
            ws.write_string(first + 1, j, km, self.head_km)
            ws.set_column(j, j, c.width)
        ws.freeze_panes(first + 2, 0)
        n = len(frame)
        ws.autofilter(first + 1, 0, first + 1 + n, len(cols) - 1)
        for j, c in enumerate(cols):
            kind = float if c.kind in ("number", "int") else object
            values = frame[c.field].to_numpy(dtype=kind).tolist() if n else []
            self._column(ws, first + 2, j, c.kind, values)
        return first + 1 + n

    def _column(self, ws: Any, first: int, j: int, kind: str, values: list[Any]) -> None:
        # Written column by column: one tight loop per column, no per-cell type dispatch.
        if kind in ("number", "int"):
            fmt = self.integer if kind == "int" else self.number
            write_number = ws.write_number
            finite = math.isfinite
            for i, v in enumerate(values):
                if finite(v):
                    write_number(first + i, j, v, fmt)
        elif kind == "bool":
            write_string = ws.write_string
            for i, v in enumerate(values):
                write_string(first + i, j, "yes" if v else "no")
        else:
            write_string = ws.write_string
            for i, v in enumerate(values):
                if isinstance(v, str) and v:
                    write_string(first + i, j, v)

    def close(self) -> None:
        self.wb.close()


def _sheet_name(name: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", " ", name)[:31].strip()
