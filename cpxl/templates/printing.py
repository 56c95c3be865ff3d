"""Printing on A4: every sheet a person reads, at a size they can read.

Spreadsheets shrink a sheet to the pages asked for. One page wide is right for a sheet that fits
at 80 % or more (10-point text printed at 8 points at least); a wider sheet is spread over as
many pages across as keep it at that size, with its row labels repeated on each of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

A4 = 9  # the paper size's number in the spreadsheet formats
MARGIN_IN = 0.4  # left and right margins, in inches
# A column-width unit in points, as spreadsheets draw the default font (7 px plus 5 px padding).
CHAR_PT, PAD_PT = 5.25, 3.75
A4_LONG_PT, A4_SHORT_PT = 842.0, 595.0
MIN_SCALE = 0.8  # 10-point text never prints below 8 points


def width_pt(widths: Sequence[float]) -> float:
    """The printed width of columns given in column-width units (0 for a hidden column)."""
    return sum(w * CHAR_PT + PAD_PT for w in widths if w > 0)


def print_on_a4(
    ws: Any,
    widths: Sequence[float],
    *,
    header: tuple[int, int] | None = None,
    labels: tuple[int, int] | None = None,
) -> int:
    """Set up a worksheet to print on A4 and return how many pages wide it prints.

    ``widths`` are the sheet's column widths from column A (0 for hidden ones); ``header``
    the rows repeated at the top of every page; ``labels`` the columns repeated at the left
    of every page when the sheet needs more than one page across.
    """
    ws.set_paper(A4)
    margin_pt = 2 * MARGIN_IN * 72
    ws.set_margins(left=MARGIN_IN, right=MARGIN_IN, top=0.6, bottom=0.6)
    total = width_pt(widths)
    if total <= A4_SHORT_PT - margin_pt:
        ws.set_portrait()
        usable = A4_SHORT_PT - margin_pt
    else:
        ws.set_landscape()
        usable = A4_LONG_PT - margin_pt
    pages = 1
    if total * MIN_SCALE > usable:
        repeated = width_pt(widths[labels[0] : labels[1] + 1]) if labels else 0.0
        per_page = usable / MIN_SCALE - repeated
        pages = max(1, math.ceil((total - repeated) / per_page))
        if labels:
            ws.repeat_columns(*labels)
    ws.fit_to_pages(pages, 0)
    if header is not None:
        ws.repeat_rows(*header)
    return pages
