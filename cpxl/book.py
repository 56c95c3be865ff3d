"""The metadata book: the catalogue published as one bilingual workbook that people can read.

The book is the framework's own deliverable: every indicator with its metadata and provenance,
every data element, disaggregation, ministry, rule, deadline and message, and the Khmer that
still waits for a reviewer. It is written from the loaded catalogue, so it never drifts from
what cpxl checks. Every text goes through ``write_string``: nothing becomes a formula or a link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpxl.catalogue import Catalogue, Expression, Rule
from cpxl.findings import Code, Status, Text
from cpxl.templates import KHMER_FONT, LATIN_FONT, new_workbook

SHEETS = (
    "About",
    "Indicators",
    "Data elements",
    "Disaggregations",
    "Ministries",
    "Validation rules",
    "Reporting calendar",
    "Messages",
    "Khmer to review",
)
_PRINT_FIT_WIDTH = 200  # sheets narrower than this (in characters) print one page wide

Cell = str | int
Rows = list[Sequence[Cell]]
_NO_TERM = Text("", "")


@dataclass(frozen=True, slots=True)
class Col:
    """One column of a book sheet: its heading, its width, and whether it holds Khmer text."""

    title: str
    width: float
    km: bool = False


def _c(spec: str) -> tuple[Col, ...]:
    """Columns from ``"Title:width, Title (KM):width:km"``: a sheet's layout in one statement."""
    out = []
    for part in spec.split(","):
        title, width, *km = part.strip().split(":")
        out.append(Col(title, float(width), bool(km)))
    return tuple(out)


INDICATOR_COLS = _c(
    "ID:12, Framework ref:10, Framework sector:24, Provenance:18, Provenance meaning:40, Domain:8,"
    " Domain (EN):24, Domain (KM):24:km, Domain's framework sectors:14, Name (EN):40,"
    " Name (KM):40:km, Khmer status:13, Definition:60,"
    " Numerator:40, Denominator:32, Unit:14, Disaggregations:28, Frequency:12, Frequency note:28,"
    " Data source:36, Responsible:12, Responsible (EN):36, Responsible (KM):32:km, Survey:12,"
    " Evidence:60, Note:60"
)
ELEMENT_COLS = _c(
    "Code:40, Name (EN):48, Name (KM):44:km, Khmer status:13, Value type:11, Disaggregations:30,"
    " Total column:8, Scope:10, Sheet:28, Aggregation:11, Over a longer period:36, Required:9,"
    " Data set:24,"
    " Reporting ministry:14, Period type:12, Used by indicators:22, Description:50"
)
OPTION_COLS = _c(
    "Dimension:22, Dimension (EN):24, Dimension (KM):24:km, Option:24, Label (EN):32,"
    " Label (KM):32:km, Means unknown:10"
)
MINISTRY_COLS = _c(
    "Code:12, Name (EN):44, Name (KM):40:km, Khmer status:13, Kind:18, Data sets:40,"
    " Send to (EN):48, Send to (KM):44:km"
)
RULE_COLS = _c(
    "ID:36, Kind:10, Severity:9, What it checks (EN):56, What it checks (KM):52:km,"
    " Elements:44, Check:30, Tolerance:10, Missing values:20"
)
CALENDAR_COLS = _c(
    "Data set:26, Ministry:12, Ministry (EN):40, Period type:12, Period type (KM):14:km,"
    " Due (days after period end):14, Elements:10"
)
MESSAGE_COLS = _c(
    "Code:26, Scope:10, Title (EN):30, Title (KM):30:km, Message (EN):60, Message (KM):56:km,"
    " Fix (EN):50, Fix (KM):48:km, Khmer status:13"
)
REVIEW_COLS = _c("Where:40, English:60, Khmer:60:km")
ABOUT_COLS = _c("Item:30, English:70, Khmer:64:km, Indicators:11")


class _Formats:
    """The book's cell formats, made once per workbook."""

    def __init__(self, wb: Any) -> None:
        base = {"font_name": LATIN_FONT, "font_size": 10, "valign": "top", "text_wrap": True}
        km = {**base, "font_name": KHMER_FONT}
        head = {"bold": True, "bg_color": "#D9E1F2", "border": 1}
        self.head = wb.add_format({**base, **head})
        self.text = wb.add_format(base)
        self.text_km = wb.add_format(km)
        self.warn = wb.add_format({**base, "bold": True, "font_color": "#9C0006"})
        self.warn_km = wb.add_format({**km, "bold": True, "font_color": "#9C0006"})


def _table(
    wb: Any, fmt: _Formats, name: str, cols: Sequence[Col], rows: Sequence[Sequence[Cell]]
) -> Any:
    """One sheet: a frozen, filterable header row over wrapped text, printed landscape."""
    ws = wb.add_worksheet(name)
    for i, col in enumerate(cols):
        ws.set_column(i, i, col.width)
        ws.write_string(0, i, col.title, fmt.head)
    for r, row in enumerate(rows, start=1):
        for i, (col, value) in enumerate(zip(cols, row, strict=True)):
            style = fmt.text_km if col.km else fmt.text
            if isinstance(value, int):
                ws.write_number(r, i, value, style)
            elif value:
                ws.write_string(r, i, value, style)
            else:
                ws.write_blank(r, i, None, style)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(rows), 1), len(cols) - 1)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.repeat_rows(0)
    if sum(c.width for c in cols) <= _PRINT_FIT_WIDTH:
        ws.fit_to_pages(1, 0)
    return ws


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _expr(e: Expression | None) -> str:
    return e.source if e is not None else ""


def _labels(cat: Catalogue, dims: Sequence[str]) -> str:
    """Dimension codes as the labels an official reads (``province`` is not a dimension)."""
    return ", ".join(
        cat.dimensions[d].label.en if d in cat.dimensions else cat.term(d).en for d in dims
    )


# What an element's aggregation does when a longer period is built from shorter returns.
AGGREGATION_MEANING = {
    "sum": "the sum of the shorter periods (events counted once, when they happen)",
    "last": "the last shorter period reported (a stock at the end of the period, or a survey)",
    "none": "never built from shorter periods: a count of distinct children in the period;"
    " the year has an element of its own",
}


def _sectors(cat: Catalogue, domain: str) -> str:
    """The framework sectors a cpxl domain holds indicators of, or that none is known."""
    return ", ".join(cat.domain_sectors.get(domain, ())) or "not known"


def _about(cat: Catalogue) -> Rows:
    counts = {level: 0 for level in cat.provenance_levels}
    for ind in cat.indicators:
        counts[ind.provenance] = counts.get(ind.provenance, 0) + 1
    rows: Rows = [
        ["Title", cat.title.en, cat.title.km, ""],
        ["Framework", cat.framework_title_en, "", ""],
        ["Catalogue version", cat.version, "", ""],
        ["Indicators", "", "", len(cat.indicators)],
    ]
    for level, term in cat.provenance_levels.items():
        rows.append([f"Provenance: {level}", term.en, term.km, counts.get(level, 0)])
    for code, term in cat.domains.items():
        n = sum(1 for ind in cat.indicators if ind.domain == code)
        where = f" (cpxl's grouping; framework sectors: {_sectors(cat, code)})"
        rows.append([f"Domain: {code}", term.en + where, term.km, n])
    for code, term in cat.framework_sectors.items():
        n = sum(1 for ind in cat.indicators if ind.framework_sector == code)
        rows.append([f"Framework sector: {code}", term.en, term.km, n])
    inferred = cat.provenance_levels.get("inferred")
    rows.append(
        [
            "Warning",
            f"{counts.get('inferred', 0)} of {len(cat.indicators)} indicators are inferred: they"
            " are proposals, not the framework's wording, and are replaced when the framework"
            " text is obtained.",
            inferred.km if inferred else "",
            counts.get("inferred", 0),
        ]
    )
    return rows


def _indicators(cat: Catalogue) -> Rows:
    rows: Rows = []
    for ind in cat.indicators:
        level = cat.provenance_levels.get(ind.provenance, _NO_TERM)
        domain = cat.domains.get(ind.domain, _NO_TERM)
        ministry = cat.ministries[ind.responsible]
        sector = ind.framework_sector
        sector_name = cat.framework_sectors.get(sector, _NO_TERM).en if sector else ""
        rows.append(
            [
                *(ind.id, ind.framework_ref or "", sector_name, ind.provenance, level.en),
                *(ind.domain, domain.en, domain.km, _sectors(cat, ind.domain)),
                *(ind.name.en, ind.name.km, ind.name.km_status),
                *(ind.definition_en, _expr(ind.numerator), _expr(ind.denominator), ind.unit),
                *(_labels(cat, ind.disaggregations), ind.frequency, ind.frequency_note),
                *(ind.data_source, ind.responsible, ministry.name.en, ministry.name.km),
                *(ind.survey or "", "\n".join(ind.evidence_urls), ind.note),
            ]
        )
    return rows


def _elements(cat: Catalogue) -> Rows:
    used: dict[str, list[str]] = {code: [] for code in cat.elements}
    for ind in cat.indicators:
        refs = [*ind.numerator.refs, *(ind.denominator.refs if ind.denominator else ())]
        for code in dict.fromkeys(r.element for r in refs):
            used.setdefault(code, []).append(ind.id)
    rows: Rows = []
    for e in cat.elements.values():
        data_set = cat.data_set_of(e.code)
        period = cat.period_types[data_set.period_type]
        rows.append(
            [
                *(e.code, e.name.en, e.name.km, e.name.km_status, e.value_type, _labels(cat, e.by)),
                *(_yes(e.total), e.scope, cat.sheets[e.sheet].title.en, e.aggregation),
                AGGREGATION_MEANING.get(e.aggregation, ""),
                *(_yes(e.required), data_set.id, data_set.ministry, period.label.en),
                *(", ".join(used[e.code]), e.description_en),
            ]
        )
    return rows


def _options(cat: Catalogue) -> Rows:
    return [
        [d.code, d.label.en, d.label.km, o.code, o.label.en, o.label.km, _yes(o.code == d.unknown)]
        for d in cat.dimensions.values()
        for o in d.options
    ]


def _ministries(cat: Catalogue) -> Rows:
    rows: Rows = []
    for m in cat.ministries.values():
        sets = "\n".join(
            f"{d.id} ({d.period_type}, elements: {len(d.elements)})"
            for d in cat.data_sets
            if d.ministry == m.code
        )
        rows.append(
            [
                m.code,
                m.name.en,
                m.name.km,
                m.name.km_status,
                m.kind,
                sets,
                m.send_to.en,
                m.send_to.km,
            ]
        )
    return rows


def _rule_elements(r: Rule) -> str:
    """What a rule looks at, as the catalogue names it."""
    if r.kind == "compare":
        return f"{_expr(r.left)} {r.op} {_expr(r.right)}"
    if r.kind == "share":
        return f"{_expr(r.left)} as a share of {_expr(r.right)}"
    if r.kind == "continuity":
        return f"{r.element} = {r.previous} of the previous period"
    if r.elements:
        return ", ".join(r.elements)
    if r.element:
        return r.element
    if r.value_type:
        return f"every {r.value_type} element"
    return "every required element" if r.kind == "required" else ""


def _rule_check(r: Rule) -> str:
    """The rule's parameters in one line."""
    if r.kind == "range":
        low = f"min {r.min:g}" if r.min is not None else ""
        high = f"max {r.max:g}" if r.max is not None else ""
        return ", ".join(p for p in (low, high, "whole numbers" if r.integer else "") if p)
    if r.kind == "sum":
        return "parts of " + (", ".join(r.dimensions) or "every dimension") + " add up to Total"
    if r.kind == "change":
        return f"change over {r.threshold:.0%}, or beyond z {r.outlier_z:g} from history"
    if r.kind == "continuity":
        return f"within {_tolerances(r)} of the previous closing figure"
    if r.kind == "reference":
        where = "the sum of the provinces" if r.over == "provinces" else "each figure"
        x = r.reference or 0.0
        figure = f"{int(x):,}" if x == int(x) else f"{x:,}"
        return f"{where} within {_tolerances(r)} of {figure} ({r.source.en})"
    if r.kind == "share":
        return f"within {r.tolerance:g} percentage points of the previous period's share"
    return ""


def _tolerances(r: Rule) -> str:
    """A rule's allowed difference in words: an amount, a percentage, or the larger of both."""
    parts = [
        f"{r.tolerance:g}" if r.tolerance else "",
        f"{r.tolerance_pct:g} %" if r.tolerance_pct else "",
    ]
    shown = [p for p in parts if p]
    return " or ".join(shown) if shown else "0"


def _rules(cat: Catalogue) -> Rows:
    # only sum rules allow a tolerance; sum and compare rules are the ones that skip missing figures
    return [
        [
            *(r.id, r.kind, r.severity.value, r.description.en, r.description.km),
            *(_rule_elements(r), _rule_check(r)),
            f"{r.tolerance:g}" if r.kind == "sum" else "",
            r.missing if r.kind in {"sum", "compare"} else "",
        ]
        for r in cat.rules
    ]


def _calendar(cat: Catalogue) -> Rows:
    rows: Rows = []
    for d in cat.data_sets:
        period = cat.period_types[d.period_type]
        rows.append(
            [
                *(d.id, d.ministry, cat.ministries[d.ministry].name.en),
                *(period.label.en, period.label.km, d.due_days, len(d.elements)),
            ]
        )
    return rows


def _calendar_notes(ws: Any, fmt: _Formats, cat: Catalogue, first_row: int) -> None:
    """Below the data sets: which periods and template versions intake accepts."""
    notes = [
        ("Open from", f"periods from {cat.open_from} on; earlier periods are closed"),
        ("Closed periods", ", ".join(sorted(cat.closed_periods)) or "none"),
        ("Template version", str(cat.template_version)),
        ("Accepted template versions", ", ".join(str(v) for v in sorted(cat.accepted_versions))),
    ]
    for i, (label, text) in enumerate(notes):
        ws.write_string(first_row + i, 0, label, fmt.head)
        ws.write_string(first_row + i, 1, text, fmt.text)


def _messages(cat: Catalogue) -> Rows:
    rows: Rows = []
    for code, m in ((c, cat.messages[c]) for c in Code if c in cat.messages):
        rows.append(
            [
                *(code.value, m.scope.value, m.title.en, m.title.km, m.message.en, m.message.km),
                *(m.fix.en, m.fix.km, m.title.km_status),
            ]
        )
    for status, s in ((st, cat.statuses[st]) for st in Status if st in cat.statuses):
        # what each file status means and asks, in the same words the run summary uses
        text = (s.label.en, s.label.km, s.action.en, s.action.km)
        rows.append([status.value, "status", *text, "", "", ""])
    return rows


def write_book(catalogue: Catalogue, out: Path) -> Path:
    """Write the bilingual metadata book of a catalogue to ``out`` and return its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    wb = new_workbook(out)
    fmt = _Formats(wb)
    about = _about(catalogue)
    ws = _table(wb, fmt, SHEETS[0], ABOUT_COLS, about)
    warning = len(about)  # the last row: the inferred-indicators warning, in red
    ws.write_string(warning, 1, str(about[-1][1]), fmt.warn)
    ws.write_string(warning, 2, str(about[-1][2]), fmt.warn_km)
    _table(wb, fmt, SHEETS[1], INDICATOR_COLS, _indicators(catalogue))
    _table(wb, fmt, SHEETS[2], ELEMENT_COLS, _elements(catalogue))
    _table(wb, fmt, SHEETS[3], OPTION_COLS, _options(catalogue))
    _table(wb, fmt, SHEETS[4], MINISTRY_COLS, _ministries(catalogue))
    _table(wb, fmt, SHEETS[5], RULE_COLS, _rules(catalogue))
    calendar = _calendar(catalogue)
    ws = _table(wb, fmt, SHEETS[6], CALENDAR_COLS, calendar)
    _calendar_notes(ws, fmt, catalogue, len(calendar) + 2)
    _table(wb, fmt, SHEETS[7], MESSAGE_COLS, _messages(catalogue))
    review: Rows = [list(t) for t in catalogue.khmer_to_review()]
    _table(wb, fmt, SHEETS[8], REVIEW_COLS, review)
    wb.close()
    return out
