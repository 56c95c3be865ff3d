"""Bounded windows of a sheet, read fast with python-calamine, with openpyxl where needed.

openpyxl (read-only) is used only for sheets that hold formulas or error values, or that claim an
area so large that calamine would try to allocate all of it (a stray value at XFD1048576).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defusedxml import ElementTree

from cpxl.findings import cell_position
from cpxl.guard import Inspection
from cpxl.reading.types import once_per_template

ROW_SLACK, COL_SLACK = 60, 40
# A sheet whose declared area is larger than this is read row by row with openpyxl instead.
MAX_DENSE_CELLS = 2_000_000


def _sheet_parts(inspection: Inspection) -> dict[str, str]:
    """xlsx sheet name -> worksheet part name, from workbook.xml and its relationships."""
    workbook = inspection.kept.get("xl/workbook.xml")
    relationships = inspection.kept.get("xl/_rels/workbook.xml.rels")
    if workbook is None or relationships is None:
        return {}
    return dict(_parts_of(workbook, relationships))


@once_per_template
def _parts_of(workbook: bytes, relationships: bytes) -> tuple[tuple[str, str], ...]:
    wb = ElementTree.fromstring(workbook)
    rels = ElementTree.fromstring(relationships)
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    out: dict[str, str] = {}
    for el in wb.iter():
        if el.tag.endswith("}sheet"):
            rid = next((v for k, v in el.attrib.items() if k.endswith("}id")), "")
            target = targets.get(rid, "")
            target = target.lstrip("/")
            out[el.get("name", "")] = target if target.startswith("xl/") else f"xl/{target}"
    return tuple(out.items())


_DIMENSION = re.compile(rb"""<(?:\w+:)?dimension ref=["']([A-Z]+\d+)(?::([A-Z]+)(\d+))?["']""")


def _cell_value(tail: bytes, cell: str) -> str:
    """What a far-away cell holds, as far as the end of the sheet's XML says (text unnamed)."""
    m = re.search(rb'<(?:\w+:)?c r="' + cell.encode() + rb'"([^>]*)>(.*?)</(?:\w+:)?c>', tail)
    if not m:
        return ""
    v = re.search(rb"<(?:\w+:)?v>([^<]{0,40})</", m.group(2))
    if v is None or b't="s"' in m.group(1):
        return "…"
    return v.group(1).decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class PartInfo:
    huge: bool
    formulas: bool
    last_cell: str = ""  # the sheet's declared bottom-right cell, when far outside the template
    last_value: str = ""


def inspect_parts(inspection: Inspection) -> dict[str, PartInfo]:
    """Which xlsx sheets declare a huge area, and which hold formulas or error values, from
    what the guard saw while inflating them."""
    out: dict[str, PartInfo] = {}
    try:
        parts = _sheet_parts(inspection)
    except ElementTree.ParseError:
        return {}
    for name, part in parts.items():
        peek = inspection.peeks.get(part.casefold())
        if peek is None:  # a sheet stored where no spreadsheet program puts one: read closely
            out[name] = PartInfo(huge=False, formulas=True)
            continue
        m = _DIMENSION.search(peek.head)
        huge, last = False, ""
        if m and m.group(2):
            end = cell_position(f"{m.group(2).decode()}{m.group(3).decode()}")
            # beyond the last column a spreadsheet has (XFD): read closely, whatever its size
            huge = end is None or (end[0] + 1) * (end[1] + 1) > MAX_DENSE_CELLS
            last = f"{m.group(2).decode()}{m.group(3).decode()}" if huge else ""
        if peek.far:  # a far cell, whatever the declared area says (or lacks)
            huge, last = True, last or peek.far
        seen = _cell_value(peek.tail, last) if last else ""
        out[name] = PartInfo(huge, peek.formulas, last, seen)
    return out


@dataclass
class Grid:
    """A bounded window of one sheet: values, and where openpyxl saw formulas or errors."""

    rows: list[list[Any]]
    formulas: dict[tuple[int, int], bool] = field(default_factory=dict)  # True = has a result
    errors: set[tuple[int, int]] = field(default_factory=set)

    @property
    def special(self) -> bool:
        """The window holds formulas or error values, which need a closer look per cell."""
        return bool(self.formulas or self.errors)

    def get(self, r: int, c: int) -> Any:
        if r < len(self.rows) and c < len(self.rows[r]):
            return self.rows[r][c]
        return None


def openpyxl_grid(path: Path, sheet: str, nrows: int, ncols: int, *, formulas: bool) -> Grid:
    import openpyxl  # imported here: only a few returns need it

    values = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
    try:
        ws = values[sheet]
        rows = [
            list(r) for r in ws.iter_rows(min_row=1, max_row=nrows, max_col=ncols, values_only=True)
        ]
    finally:
        values.close()
    grid = Grid(rows)
    if not formulas:
        return grid
    raw = openpyxl.load_workbook(path, read_only=True, data_only=False, keep_links=False)
    try:
        for r, row in enumerate(
            raw[sheet].iter_rows(min_row=1, max_row=nrows, max_col=ncols, values_only=True)
        ):
            for c, v in enumerate(row):
                if isinstance(v, str) and v.startswith("="):
                    cached = grid.get(r, c)
                    grid.formulas[(r, c)] = cached is not None and not _is_error_text(cached)
                elif _is_error_text(v):
                    grid.errors.add((r, c))
        for (r, c), _ok in list(grid.formulas.items()):
            if _is_error_text(grid.get(r, c)):
                grid.errors.add((r, c))
    finally:
        raw.close()
    return grid


_ERRORS = {"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!", "#GETTING_DATA"}


def _is_error_text(v: object) -> bool:
    return isinstance(v, str) and v.strip().upper() in _ERRORS
