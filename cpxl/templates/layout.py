"""The Layout: where every input of a template lives — the hinge of cpxl.

The template writer, the simulator, the reader and the feedback writer all take cell positions
from it and never re-derive them. Computed once from the catalogue for a ministry and period.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum

from cpxl.catalogue import Area, Catalogue, Element, Period, parse_period
from cpxl.findings import Text, cell_name, column_name

IDENTITY_SHEET = "_cpxl"
LISTS_SHEET = "_lists"
INSTRUCTIONS_SHEET = "Instructions"
IDENTITY_NAME = "cpxl_identity"
KEY_MARKER = "#cpxl-keys"
FINDINGS_SHEET = "Findings"
IDENTITY_FIELDS = (
    "template_id",
    "ministry",
    "period",
    "catalogue_version",
    "template_version",
    "fingerprint",
    "issued_at",
)
# Rows of a data sheet (0-based). Row 5 holds the hidden keys; provinces start at row 6.
TITLE_ROW, ELEMENT_ROW, ELEMENT_KM_ROW, OPTION_ROW, OPTION_KM_ROW, KEY_ROW = range(6)
FIRST_DATA_ROW = 6
KEY_COL, CODE_COL, NAME_EN_COL, NAME_KM_COL = range(4)
FIRST_INPUT_COL = 4
KHMER_FONT = "Khmer OS Siemreap"
LATIN_FONT = "Calibri"
PASSWORD_FREE = ""  # sheets are protected without a password: protection guides, it does not secure


class FindingsColumn(IntEnum):
    """The columns (0-based) of a feedback workbook's Findings sheet, one row per finding.

    The feedback writer fills them; a sender may explain a warning in the last one and send the
    feedback workbook back as the return, so the reader reads the sheet, cell and explanation.
    """

    SEVERITY = 0
    SHEET = 1
    CELL = 2
    SEEN = 3
    PROBLEM_EN = 4
    WHAT_TO_DO_EN = 5
    PROBLEM_KM = 6
    WHAT_TO_DO_KM = 7
    RULE = 8
    EXPLANATION = 9


@dataclass(frozen=True, slots=True)
class Column:
    """One input column: an element's total, or one option of one of its dimensions."""

    key: str
    element: str
    dimension: str
    option: str
    label: Text
    col: int

    @property
    def letter(self) -> str:
        """The column's letter as printed in the template (E, F, ...)."""
        return column_name(self.col)


@dataclass(frozen=True, slots=True)
class SheetLayout:
    """One data sheet: its name, its rows (areas) and its input columns."""

    name: str
    group: str
    title: Text
    areas: tuple[Area, ...]
    columns: tuple[Column, ...]
    explanation_col: int
    # Lookups by code, filled once: every value of every return is placed through them.
    _rows: dict[str, int] = field(default_factory=dict, init=False, compare=False, repr=False)
    _keys: dict[str, Column] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._rows.update({a.code: FIRST_DATA_ROW + i for i, a in enumerate(self.areas)})
        self._keys.update({c.key: c for c in self.columns})

    def row_of(self, area: str) -> int:
        """0-based row of an area."""
        return self._rows[area]

    def cell(self, area: str, column: Column) -> str:
        """A1 address of an input cell."""
        return cell_name(self._rows[area], column.col)

    def column(self, key: str) -> Column:
        """The column with this key."""
        return self._keys[key]

    def inputs(self) -> Iterable[tuple[Area, Column, str]]:
        """Every input cell: (area, column, A1 address)."""
        for area in self.areas:
            for column in self.columns:
                yield area, column, self.cell(area.code, column)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where every input of one ministry's template lives."""

    ministry: str
    period: str
    template_version: int
    catalogue_version: str
    sheets: tuple[SheetLayout, ...]

    def __hash__(self) -> int:
        # Layouts key the caches of compiled checks: hashing every sheet and column of a large
        # template on each lookup would cost more than the lookup saves. Equal layouts share
        # these fields, so the hash stays consistent with equality.
        return hash((self.ministry, self.period, self.template_version, self.catalogue_version))

    @property
    def fingerprint(self) -> str:
        """A hash of the structure (sheets, keys, rows, cells) that a genuine return shares."""
        shape = [
            [s.name, [a.code for a in s.areas], [(c.key, c.col) for c in s.columns]]
            for s in self.sheets
        ]
        blob = json.dumps([self.ministry, self.template_version, shape], ensure_ascii=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def template_id(self) -> str:
        """A stable id: the same catalogue and period give the same id."""
        return f"{self.ministry}-{self.period}-v{self.template_version}-{self.fingerprint[:8]}"

    def sheet(self, name: str) -> SheetLayout:
        """The data sheet with this name."""
        for s in self.sheets:
            if s.name == name:
                return s
        raise KeyError(name)


def column_key(element: str, dimension: str = "", option: str = "") -> str:
    """The key written in the hidden key row: ``element`` or ``element:dimension=option``."""
    return f"{element}:{dimension}={option}" if dimension else element


def element_columns(catalogue: Catalogue, element: Element) -> list[tuple[str, str, Text]]:
    """(dimension, option, label) of an element's columns, margins then total."""
    out: list[tuple[str, str, Text]] = []
    for dim_code in element.by:
        dim = catalogue.dimensions[dim_code]
        out.extend((dim.code, o.code, o.label) for o in dim.options)
    if element.total or not element.by:
        out.append(("", "", catalogue.term("total")))
    return out


def build_layout(catalogue: Catalogue, ministry: str, period: Period | str) -> Layout:
    """Compute the layout of a ministry's template for a period from the catalogue."""
    p = parse_period(period) if isinstance(period, str) else period
    elements = [
        catalogue.elements[code]
        for ds in catalogue.data_sets_for(ministry, p)
        for code in ds.elements
    ]
    groups: dict[str, list[Element]] = {}
    for el in elements:
        groups.setdefault(el.sheet, []).append(el)
    sheets: list[SheetLayout] = []
    for group_id in catalogue.sheets:
        els = groups.get(group_id)
        if not els:
            continue
        group = catalogue.sheets[group_id]
        cols: list[Column] = []
        col = FIRST_INPUT_COL
        for el in els:
            for dim, opt, label in element_columns(catalogue, el):
                cols.append(Column(column_key(el.code, dim, opt), el.code, dim, opt, label, col))
                col += 1
        sheets.append(
            SheetLayout(
                name=group.title.en,
                group=group.id,
                title=group.title,
                areas=catalogue.areas(els[0]),
                columns=tuple(cols),
                explanation_col=col,
            )
        )
    return Layout(ministry, p.id, catalogue.template_version, catalogue.version, tuple(sheets))
