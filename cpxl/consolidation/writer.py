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
from typing import Any, Final

import pandas as pd

from cpxl.catalogue import Catalogue
from cpxl.templates import close_workbook, new_workbook

# Number formats: counts whole with thousands separators, rates and percentages to one decimal,
# measures without a unit (z, ratios) to two.
COUNT_FORMAT: Final = "#,##0"
ONE_DECIMAL_FORMAT: Final = "#,##0.0"
TWO_DECIMALS_FORMAT: Final = "0.00"
_BY_UNIT: Final = {"count": "count", "amount": "count", "percent": "one", "rate_per_100000": "one"}

# One colour per status, the same on every sheet and in the About sheet's legend.
STATUS_COLOURS: Final = {
    "reported": "#E2EFDA",
    "late": "#FFF2CC",
    "partly-reported": "#FCE4D6",
    "not-reported": "#EDEDED",
}


@dataclass(frozen=True, slots=True)
class Col:
    """One column of a sheet: the frame column, its header term and how to write it.

    ``kind``: text; count (whole, thousands separated); one (one decimal: rates, percents);
    two (two decimals: z, ratios); value (by the row's unit, from the frame's ``_unit``);
    status (the status in words, English and Khmer, in its colour); bool (yes/no in words).
    """

    field: str
    key: str
    en: str
    kind: str = "text"
    width: float = 14.0
    units: str = "_unit"  # for kind "value": the frame column holding each row's unit
    unit: str = ""  # the unit shown in the header, when the term does not say it


class Book:
    """The xlsxwriter workbook with its formats and the catalogue's bilingual headers."""

    def __init__(self, path: Path, catalogue: Catalogue) -> None:
        # The national workbook's sheets are tens of megabytes of XML: packed one by one
        # through temporary files rather than all held at once, a sixth less memory at its peak.
        self.wb = new_workbook(path, in_memory=False)
        self.cat = catalogue
        self.head = self.wb.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "text_wrap": True, "valign": "top"}
        )
        self.head_km = self.wb.add_format(
            {"italic": True, "bg_color": "#DDEBF7", "text_wrap": True, "valign": "top"}
        )
        self.title = self.wb.add_format({"bold": True, "font_size": 14})
        self.heading = self.wb.add_format({"bold": True})  # one line, never wrapped
        self.bold = self.wb.add_format({"bold": True, "text_wrap": True, "valign": "top"})
        self.wrap = self.wb.add_format({"text_wrap": True, "valign": "top"})
        self.numbers = {
            "count": self.wb.add_format({"num_format": COUNT_FORMAT}),
            "one": self.wb.add_format({"num_format": ONE_DECIMAL_FORMAT}),
            "two": self.wb.add_format({"num_format": TWO_DECIMALS_FORMAT}),
        }
        self.grey = self.wb.add_format({"bg_color": "#EDEDED", "font_color": "#7F7F7F"})
        self.amber = self.wb.add_format({"bg_color": "#FFF2CC"})
        self.red = self.wb.add_format({"bg_color": "#F8CBAD"})
        self.statuses = {
            code: self.wb.add_format({"bg_color": colour, "valign": "top"})
            for code, colour in STATUS_COLOURS.items()
        }
        self.statuses_wrapped = {
            code: self.wb.add_format({"bg_color": colour, "valign": "top", "text_wrap": True})
            for code, colour in STATUS_COLOURS.items()
        }
        self.status_words = {code: self._status_words(code) for code in STATUS_COLOURS}
        self.yes_no = tuple(
            " / ".join(dict.fromkeys(self.label(k, k.title()))) for k in ("yes", "no")
        )

    def _status_words(self, code: str) -> str:
        """A status in words, English / Khmer: the head of its explanation in the terms."""
        en, km = self.label("status_" + code.replace("-", "_"), code)
        short = [re.split(r"[:៖]", t, maxsplit=1)[0].strip() for t in (en, km)]
        return " / ".join(dict.fromkeys(short))

    def label(self, key: str, en: str) -> tuple[str, str]:
        """English and Khmer for a label: the catalogue's term, else English in both rows."""
        term = self.cat.terms.get(key)
        return (term.en, term.km) if term is not None else (en, en)

    def sheet(self, name: str) -> Any:
        """A new sheet that prints on A4 landscape, one page wide, header rows repeated."""
        ws = self.wb.add_worksheet(_sheet_name(name))
        ws.set_landscape()
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0, 1)
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
        ws.set_footer("&L&A&R&P / &N")
        return ws

    def table(self, ws: Any, cols: Sequence[Col], frame: pd.DataFrame, first: int = 0) -> int:
        """Two header rows (English, Khmer), then the frame; returns the last row written."""
        for j, c in enumerate(cols):
            en, km = self.label(c.key, c.en)
            if c.unit and not en.endswith(c.unit):
                en, km = f"{en} {c.unit}", f"{km} {c.unit}"
            ws.write_string(first, j, en, self.head)
            ws.write_string(first + 1, j, km, self.head_km)
            ws.set_column(j, j, c.width)
        ws.freeze_panes(first + 2, 0)
        n = len(frame)
        ws.autofilter(first + 1, 0, first + 1 + n, len(cols) - 1)
        for j, c in enumerate(cols):
            numeric = c.kind in ("count", "one", "two", "value")
            values = frame[c.field].to_numpy(dtype=float if numeric else object).tolist()
            units = frame[c.units].tolist() if c.kind == "value" and n else []
            self._column(ws, first + 2, j, c.kind, values if n else [], units)
        return first + 1 + n

    def _column(
        self, ws: Any, first: int, j: int, kind: str, values: list[Any], units: list[Any]
    ) -> None:
        # Written column by column: one tight loop per column, no per-cell type dispatch.
        if kind in ("count", "one", "two", "value"):
            write_number = ws.write_number
            finite = math.isfinite
            if kind == "value":
                by_unit = [self.numbers[_BY_UNIT.get(u, "two")] for u in units]
            else:
                by_unit = [self.numbers[kind]] * len(values)
            for i, (v, fmt) in enumerate(zip(values, by_unit, strict=True)):
                if finite(v):
                    write_number(first + i, j, v, fmt)
        elif kind == "status":
            write_string = ws.write_string
            words, colours = self.status_words, self.statuses
            for i, v in enumerate(values):
                if v in words:
                    write_string(first + i, j, words[v], colours[v])
                elif isinstance(v, str) and v:
                    write_string(first + i, j, v)
        elif kind == "bool":
            write_string = ws.write_string
            yes, no = self.yes_no
            for i, v in enumerate(values):
                write_string(first + i, j, yes if v else no)
        else:
            write_string = ws.write_string
            for i, v in enumerate(values):
                if isinstance(v, str) and v:
                    write_string(first + i, j, v)

    def fit_row(self, ws: Any, row: int, cells: Sequence[tuple[str, float]]) -> None:
        """Make a row tall enough for its wrapped texts (text, column width in characters).

        Spreadsheet programs do not grow a row for wrapped text written by another program,
        so the height is set from an estimate of the lines each text needs.
        """
        lines = 1
        for text, width in cells:
            per_line = max(width * (0.8 if _KHMER.search(text) else 1.05), 1.0)
            need = sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))
            lines = max(lines, need)
        ws.set_row(row, 15.0 * lines + (3.0 if lines > 1 else 0.0))

    def close(self) -> None:
        close_workbook(self.wb)


_KHMER: Final = re.compile("[\u1780-\u17ff]")


def _sheet_name(name: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", " ", name)[:31].strip()
