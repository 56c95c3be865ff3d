"""The national workbook's pictures: per indicator its trend and the provinces compared, and a
tile-grid map of the provinces on each domain sheet.

Charts sit on a fixed grid beside the small tables they draw from, one block of rows per
indicator, so that no chart covers another chart or a table, on screen or printed. The map is
made of cells (one per province, placed roughly where the province lies, coloured by its value,
with a legend), so that it prints and filters like the rest of the sheet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from cpxl.consolidation.writer import COUNT_FORMAT, ONE_DECIMAL_FORMAT, TWO_DECIMALS_FORMAT, Book

# Where each province's tile lies: (column, row), north at the top, west on the left.
TILES: Final = {
    "22": (2, 0), "13": (3, 0), "19": (4, 0), "16": (5, 0),
    "01": (1, 1), "17": (2, 1), "06": (3, 1), "10": (4, 1), "11": (5, 1),
    "24": (0, 2), "02": (1, 2), "15": (2, 2), "04": (3, 2), "03": (4, 2), "25": (5, 2),
    "09": (1, 3), "05": (2, 3), "12": (3, 3), "08": (4, 3), "14": (5, 3), "20": (6, 3),
    "18": (1, 4), "07": (2, 4), "21": (3, 4),
    "23": (2, 5),
}  # fmt: skip
MAP_COLUMNS: Final = 7
MAP_ROWS: Final = 6
BINS: Final = ("#DEEBF7", "#9ECAE1", "#6BAED6", "#3182BD", "#08519C")
NO_VALUE: Final = "#EDEDED"

# The Charts sheet: per indicator a block of rows; its tables on the left, its charts on the
# right, each chart inside its own columns.
BLOCK_ROWS: Final = 29
TREND_COL: Final = 6  # G
PROVINCES_COL: Final = 15  # P
CHART_WIDTH: Final = 500  # 8 default columns are 512 pixels
TREND_HEIGHT: Final = 320
PROVINCES_HEIGHT: Final = 560  # 28 rows of 20 pixels


def _number_format(unit: str) -> str:
    if unit in ("count", "amount"):
        return COUNT_FORMAT
    if unit in ("percent", "rate_per_100000"):
        return ONE_DECIMAL_FORMAT
    return TWO_DECIMALS_FORMAT


def _both(book: Book, key: str, en: str) -> tuple[str, str]:
    return book.label(key, en)


def _title(en: str, km: str) -> dict[str, Any]:
    return {"name": f"{en}\n{km}", "name_font": {"size": 10, "bold": True}}


def charts_sheet(book: Book, table: pd.DataFrame, periods: Sequence[str]) -> None:
    """Per indicator with a value: its national trend, and its provinces in the latest period."""
    cat = book.cat
    ws = book.sheet(book.label("sheet_charts", "Charts")[0])
    name = ws.get_name()
    ws.set_column(0, 0, 10)
    ws.set_column(1, 1, 12)
    ws.set_column(2, 2, 2)
    ws.set_column(3, 3, 18)
    ws.set_column(4, 4, 12)
    ws.set_column(5, 5, 2)
    nat = cat.national.code
    totals = table[table["dimension"] == ""]
    national = totals[totals["area"] == nat]
    value = {(i, p): v for i, p, v in national[["indicator", "period", "value"]].itertuples(False)}
    latest = periods[-1]
    provinces = totals[(totals["area"] != nat) & (totals["period"] == latest)]
    by_province = {
        i: dict(zip(g["area"], g["value"], strict=True)) for i, g in provinces.groupby("indicator")
    }
    names_en = {p.code: p.name.en for p in cat.provinces}
    national_en, national_km = _both(book, "national", "National")
    area_en, area_km = _both(book, "capital_or_province", "Capital / province")
    period_en = book.label("period", "Reporting period")[0]
    en, km = book.label("title_national", "National child protection figures")
    ws.write_string(0, 0, f"{en} / {km}", book.heading)
    block = 0
    for ind in cat.indicators:
        trend = [value.get((ind.id, p), math.nan) for p in periods]
        prov = by_province.get(ind.id, {})
        prov_values = [prov.get(p.code, math.nan) for p in cat.provinces]
        has_trend = any(not math.isnan(v) for v in trend)
        has_prov = any(not math.isnan(v) for v in prov_values)
        if not has_trend and not has_prov:
            continue
        top = 2 + block * BLOCK_ROWS
        block += 1
        fmt = book.numbers["count" if _number_format(ind.unit) == COUNT_FORMAT else "one"]
        ws.write_string(top, 0, period_en, book.head)
        ws.write_string(top, 1, ind.id, book.head)
        for k, (p, v) in enumerate(zip(periods, trend, strict=True), start=1):
            ws.write_string(top + k, 0, p)
            if not math.isnan(v):
                ws.write_number(top + k, 1, float(v), fmt)
        axis = {"num_format": _number_format(ind.unit)}
        if has_trend:
            line = book.wb.add_chart({"type": "line"})
            line.add_series(
                {
                    "name": f"{ind.id} {national_en}",
                    "categories": [name, top + 1, 0, top + len(periods), 0],
                    "values": [name, top + 1, 1, top + len(periods), 1],
                    "marker": {"type": "circle", "size": 6},
                    "data_labels": {"value": True, "num_format": _number_format(ind.unit)},
                }
            )
            line.set_title(
                _title(
                    f"{ind.id} {ind.name.en}: {national_en}",
                    f"{ind.name.km}: {national_km}",
                )
            )
            line.set_legend({"none": True})
            line.set_y_axis(axis | {"min": 0})
            line.set_size({"width": CHART_WIDTH, "height": TREND_HEIGHT})
            ws.insert_chart(top, TREND_COL, line, {"object_position": 3})
        if has_prov:
            ws.write_string(top, 3, area_en, book.head)
            ws.write_string(top, 4, f"{ind.id} {latest}", book.head)
            for k, (prov_of, v) in enumerate(zip(cat.provinces, prov_values, strict=True), start=1):
                ws.write_string(top + k, 3, names_en[prov_of.code])
                if not math.isnan(v):
                    ws.write_number(top + k, 4, float(v), fmt)
            bar = book.wb.add_chart({"type": "bar"})
            bar.add_series(
                {
                    "name": f"{ind.id} {latest}",
                    "categories": [name, top + 1, 3, top + len(cat.provinces), 3],
                    "values": [name, top + 1, 4, top + len(cat.provinces), 4],
                    "fill": {"color": "#3182BD"},
                }
            )
            bar.set_title(
                _title(
                    f"{ind.id} {ind.name.en}: {area_en}, {latest}",
                    f"{ind.name.km}: {area_km}, {latest}",
                )
            )
            bar.set_legend({"none": True})
            bar.set_x_axis(axis)
            bar.set_y_axis({"reverse": True, "num_font": {"size": 8}})
            bar.set_size({"width": CHART_WIDTH, "height": PROVINCES_HEIGHT})
            ws.insert_chart(top, PROVINCES_COL, bar, {"object_position": 3})


def _bins(values: Sequence[float]) -> list[float]:
    """Five equal steps from the lowest to the highest value (edges, six of them)."""
    low, high = min(values), max(values)
    if high == low:
        high = low + 1.0
    return list(np.linspace(low, high, len(BINS) + 1))


def province_map(book: Book, ws: Any, table: pd.DataFrame, ids: Sequence[str], col: int) -> None:
    """A tile-grid map of the provinces for the first of ``ids`` with province values."""
    cat = book.cat
    nat = cat.national.code
    rows = table[(table["dimension"] == "") & (table["area"] != nat) & table["value"].notna()]
    rows = rows[rows["indicator"].isin(list(ids))]
    if rows.empty:
        return
    order = {k: i for i, k in enumerate(ids)}
    chosen = min(rows["indicator"].unique(), key=lambda i: order[i])
    mine = rows[rows["indicator"] == chosen]
    order_of = {p: i for i, p in enumerate(table["period"].unique())}
    latest = max(mine["period"].unique(), key=order_of.__getitem__)
    mine = mine[mine["period"] == latest]
    values = dict(zip(mine["area"], mine["value"].astype(float), strict=True))
    ind = next(i for i in cat.indicators if i.id == chosen)
    fmt_text = _number_format(ind.unit)
    edges = _bins(list(values.values()))
    ws.set_column(col, col + MAP_COLUMNS - 1, 11)
    for r in range(2, 2 + MAP_ROWS):
        ws.set_row(r, 30)
    en = f"{ind.id} {ind.name.en}, {latest}"
    ws.write_string(0, col, en, book.heading)
    ws.write_string(1, col, f"{ind.name.km}, {latest}", book.heading)
    formats = [
        book.wb.add_format(
            {"bg_color": c, "text_wrap": True, "align": "center", "valign": "vcenter",
             "font_size": 8, "border": 1, "border_color": "#FFFFFF",
             "font_color": "#FFFFFF" if k in (3, 4) else "#000000"}
        )
        for k, c in enumerate([*BINS, NO_VALUE])
    ]  # fmt: skip
    for p in cat.provinces:
        x, y = TILES.get(p.code, (MAP_COLUMNS - 1, MAP_ROWS - 1))
        v = values.get(p.code)
        if v is None:
            text, fmt = f"{p.name.en}\n-", formats[-1]
        else:
            k = min(int(np.searchsorted(edges, v, side="right")) - 1, len(BINS) - 1)
            text, fmt = f"{p.name.en}\n{_as_text(v, fmt_text)}", formats[max(k, 0)]
        ws.write_string(2 + y, col + x, text, fmt)
    legend_row = 2 + MAP_ROWS + 1
    ws.write_string(legend_row, col, book.label("value", "Value")[0], book.bold)
    for k in range(len(BINS)):
        low, high = edges[k], edges[k + 1]
        label = f"{_as_text(low, fmt_text)} - {_as_text(high, fmt_text)}"
        ws.merge_range(legend_row + 1 + k, col, legend_row + 1 + k, col + 1, label, formats[k])
    not_reported = book.status_words.get("not-reported", "not reported")
    at = legend_row + 1 + len(BINS)
    ws.merge_range(at, col, at, col + 1, not_reported, formats[-1])


def _as_text(v: float, fmt: str) -> str:
    if fmt == COUNT_FORMAT:
        return f"{v:,.0f}"
    if fmt == ONE_DECIMAL_FORMAT:
        return f"{v:,.1f}"
    return f"{v:,.2f}"
