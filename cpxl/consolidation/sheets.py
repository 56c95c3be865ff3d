"""The sheets of the national workbook, one writer per sheet, in the order they appear."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import pandas as pd

from cpxl.catalogue import Catalogue
from cpxl.consolidation.charts import province_map
from cpxl.consolidation.completeness import COMPLETENESS_TARGET, TIMELINESS_TARGET
from cpxl.consolidation.indicators import LATE, NOT_REPORTED, PARTLY_REPORTED, REPORTED
from cpxl.consolidation.writer import Book, Col

_STATUS_TEXT: Final = (
    (REPORTED, "status_reported",
     "Reported: every province and return it needs was received on time."),
    (LATE, "status_late",
     "Late: complete, but at least one return it uses arrived after its due date."),
    (PARTLY_REPORTED, "status_partly_reported",
     "Partly reported: some provinces or returns are missing; 'Missing from' names them."),
    (NOT_REPORTED, "status_not_reported",
     "Not reported: nothing was received; the cell is left empty, never 0."),
)  # fmt: skip


_ABOUT: Final = (26.0, 56.0, 56.0)  # the About sheet's column widths, in characters


def about(
    book: Book,
    periods: Sequence[str],
    built_at: datetime,
    submissions: int,
    *,
    asked: Sequence[str] = (),
) -> None:
    cat = book.cat
    ws = book.sheet(book.label("sheet_about", "About")[0])
    # Three columns that fit an A4 landscape page: label, English, Khmer; every cell wraps.
    ws.set_column(0, 0, _ABOUT[0], book.wrap)
    ws.set_column(1, 2, _ABOUT[1], book.wrap)
    ws.repeat_rows(0, 0)
    en, km = book.label("title_national", "National child protection figures")
    ws.write_string(0, 0, en, book.title)
    ws.write_string(1, 0, km, book.title)
    shown = ", ".join(periods)
    if len(asked) > len(periods):
        shown = (
            f"{periods[0]}-{periods[-1]}: the latest {len(periods)} of the {len(asked)} periods "
            f"asked for ({asked[0]}-{asked[-1]}); the exports hold every period."
        )
    lines: list[tuple[str, str, str, str]] = [
        ("catalogue", "Catalogue", f"{cat.title.en} (version {cat.version})", cat.title.km),
        ("period", "Reporting period", shown, ", ".join(periods)),
        ("generated_on", "Prepared on", built_at.isoformat(timespec="seconds"), ""),
        ("submissions", "Submissions used", f"{submissions:,}", ""),
    ]
    row = 3
    for key, label, value_en, value_km in lines:
        l_en, l_km = book.label(key, label)
        head = f"{l_en} / {l_km}" if l_km != l_en else l_en
        ws.write_string(row, 0, head, book.bold)
        ws.write_string(row, 1, value_en, book.wrap)
        km_text = value_km if value_km and value_km != value_en else ""
        if km_text:
            ws.write_string(row, 2, km_text, book.wrap)
        book.fit_row(ws, row, [(head, _ABOUT[0]), (value_en, _ABOUT[1]), (km_text, _ABOUT[2])])
        row += 1
    row += 1
    ws.write_string(row, 0, "What this workbook holds", book.bold)
    row += 1
    for key, name, text in (
        ("sheet_indicators", "Indicators",
         "Each indicator per period, national and per province, with its status."),
        ("", "One sheet per area",
         "The breakdown by province, disaggregation and period; a map of the provinces."),
        ("sheet_completeness", "Completeness",
         "Returns expected, received, accepted, on time; cells filled; "
         "WHO thresholds: completeness 90 %, timeliness 75 %."),
        ("sheet_missing_returns", "Missing returns", "Who has not sent a usable return yet."),
        ("sheet_data_quality", "Data quality",
         "Outliers, consistency over time and between indicators, warnings."),
        ("sheet_sources", "Sources",
         "For every national value: the files, sheets and cells it was built from."),
        ("sheet_charts", "Charts",
         "Per indicator: its national trend over the periods, and the provinces compared."),
    ):  # fmt: skip
        ws.write_string(row, 0, name, book.wrap)
        ws.write_string(row, 1, text, book.wrap)
        km_name = book.label(key, name)[1] if key else ""
        if km_name:
            ws.write_string(row, 2, km_name, book.wrap)
        book.fit_row(ws, row, [(name, _ABOUT[0]), (text, _ABOUT[1]), (km_name, _ABOUT[2])])
        row += 1
    row += 1
    row = _sectors(book, ws, row) + 1
    ws.write_string(row, 0, "How to read the status", book.bold)
    row += 1
    for code, key, text in _STATUS_TEXT:
        t_en, t_km = book.label(key, text)
        ws.write_string(row, 0, book.status_words[code], book.statuses_wrapped[code])
        ws.write_string(row, 1, t_en, book.wrap)
        if t_km != t_en:
            ws.write_string(row, 2, t_km, book.wrap)
        words = [(book.status_words[code], _ABOUT[0]), (t_en, _ABOUT[1]), (t_km, _ABOUT[2])]
        book.fit_row(ws, row, words)
        row += 1
    row += 1
    ws.write_string(row, 0, "How to read the numbers", book.bold)
    numbers = (
        "Counts are whole numbers with thousands separated (1,234); rates per 100,000 children "
        "and percentages have one decimal (12.5). The unit of each row is in its Unit column. "
        "An empty cell was not reported: it is never 0."
    )
    ws.write_string(row, 1, numbers, book.wrap)
    book.fit_row(ws, row, [(numbers, _ABOUT[1])])


def _sectors(book: Book, ws: Any, row: int) -> int:
    """Each cpxl domain (one sheet) beside the framework's own sectors it holds; the next row."""
    cat = book.cat
    ws.write_string(row, 0, "Areas and the framework's sectors", book.bold)
    row += 1
    for domain, term in cat.domains.items():
        known = [c for c in cat.domain_sectors.get(domain, ()) if c in cat.framework_sectors]
        en = "; ".join(cat.framework_sectors[c].en for c in known) or "-"
        km = "; ".join(cat.framework_sectors[c].km for c in known)
        head = f"{domain} {term.en}"
        ws.write_string(row, 0, head, book.wrap)
        ws.write_string(row, 1, en, book.wrap)
        if km:
            ws.write_string(row, 2, km, book.wrap)
        book.fit_row(ws, row, [(head, _ABOUT[0]), (en, _ABOUT[1]), (km, _ABOUT[2])])
        row += 1
    return row


_INDICATOR_SHEET: Final = (
    Col("indicator", "indicator", "Indicator", width=11),
    Col("name_en", "name", "Name", width=48),
    Col("name_km", "name_km", "Name (Khmer)", width=40),
    Col("provenance", "provenance", "Provenance", width=16),
    Col("period", "period", "Reporting period", width=10),
    Col("area", "code", "Code", width=6),
    Col("area_en", "capital_or_province", "Capital / province", width=18),
    Col("area_km", "capital_or_province_km", "Capital / province (Khmer)", width=18),
    Col("numerator", "numerator", "Numerator", "value", units="_parts_unit"),
    Col("denominator", "denominator", "Denominator", "value", units="_parts_unit"),
    Col("value", "value", "Value", "value"),
    Col("unit_words", "unit", "Unit", width=16),
    Col("status", "status", "Status", "status", width=26),
    Col("missing_from", "missing_from", "Missing from", width=40),
    Col("denominator_year", "denominator_year", "Population year", width=10),
    Col("survey_year", "survey_year", "Survey year", width=10),
    Col("sources", "sources", "Cells used", "count", width=8),
)


def _area_names(catalogue: Catalogue) -> tuple[dict[str, str], dict[str, str]]:
    en = {catalogue.national.code: catalogue.national.name.en}
    km = {catalogue.national.code: catalogue.national.name.km}
    en |= {p.code: p.name.en for p in catalogue.provinces}
    km |= {p.code: p.name.km for p in catalogue.provinces}
    return en, km


def _unit_words(book: Book) -> dict[str, str]:
    """Unit code -> its name in words, English / Khmer."""
    units = {i.unit for i in book.cat.indicators}
    return {u: " / ".join(dict.fromkeys(book.label(f"unit_{u}", u))) for u in units}


def _with_units(book: Book, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with each row's unit: its code (for formats) and its words (for reading)."""
    meta = {i.id: i for i in book.cat.indicators}
    unit = frame["indicator"].map({k: v.unit for k, v in meta.items()})
    # A share's or rate's numerator and denominator are counts; alone, a numerator is the value.
    parts = frame["indicator"].map(
        {k: "count" if v.denominator is not None else v.unit for k, v in meta.items()}
    )
    return frame.assign(_unit=unit, _parts_unit=parts, unit_words=unit.map(_unit_words(book)))


def indicators_sheet(book: Book, table: pd.DataFrame) -> None:
    cat = book.cat
    ws = book.sheet(book.label("sheet_indicators", "Indicators")[0])
    totals = table[table["dimension"] == ""]
    meta = {i.id: i for i in cat.indicators}
    en, km = _area_names(cat)
    frame = _with_units(book, totals).assign(
        name_en=totals["indicator"].map({k: v.name.en for k, v in meta.items()}),
        name_km=totals["indicator"].map({k: v.name.km for k, v in meta.items()}),
        provenance=totals["indicator"].map({k: v.provenance for k, v in meta.items()}),
        area_en=totals["area"].map(en),
        area_km=totals["area"].map(km),
    )
    book.table(ws, _INDICATOR_SHEET, frame)


def domain_sheet(book: Book, table: pd.DataFrame, domain: str) -> None:
    """Breakdown of one domain's indicators: province x disaggregation rows, period columns."""
    cat = book.cat
    ids = [i.id for i in cat.indicators if i.domain == domain]
    term = cat.domains[domain]
    ws = book.sheet(f"{domain} {term.en}")
    part = table[table["indicator"].isin(ids)]
    periods = list(dict.fromkeys(part["period"].tolist()))
    order = {k: i for i, k in enumerate(ids)}
    keys = ["indicator", "area", "dimension", "option"]
    part = part.assign(_o=part["indicator"].map(order)).sort_values(["_o", "area"], kind="stable")
    wide = part.set_index([*keys, "period"])["value"].unstack("period")
    rows = part[keys].drop_duplicates()
    wide = wide.reindex(pd.MultiIndex.from_frame(rows)).reset_index()
    en, _km = _area_names(cat)
    dim_label = {d.code: d.label.en for d in cat.dimensions.values()}
    opt_label = {(d.code, o.code): o.label.en for d in cat.dimensions.values() for o in d.options}
    total_en = book.label("total", "Total")[0]
    names = {i.id: i.name.en for i in cat.indicators}
    wide = _with_units(book, wide).assign(
        name=wide["indicator"].map(names),
        area_en=wide["area"].map(en),
        dim_en=[dim_label.get(d, d) if d else total_en for d in wide["dimension"]],
        opt_en=[opt_label.get((d, o), o) if d else total_en for d, o in
                zip(wide["dimension"], wide["option"], strict=True)],
    )  # fmt: skip
    cols = [
        Col("indicator", "indicator", "Indicator", width=11),
        Col("name", "name", "Name", width=40),
        Col("unit_words", "unit", "Unit", width=14),
        Col("area", "code", "Code", width=6),
        Col("area_en", "capital_or_province", "Capital / province", width=18),
        Col("dim_en", "disaggregated_by", "Disaggregated by", width=18),
        Col("opt_en", "option", "Option", width=22),
    ] + [Col(p, f"period_{p}", p, "value", width=11) for p in periods]
    book.table(ws, cols, wide)
    province_map(book, ws, table, ids, len(cols) + 1)


_COMPLETENESS_SHEET: Final = (
    Col("ministry", "ministry", "Ministry", width=10),
    Col("period", "period", "Reporting period", width=10),
    Col("area", "code", "Code", width=6),
    Col("area_en", "capital_or_province", "Capital / province", width=18),
    Col("expected", "returns_expected", "Returns expected", "count", 10),
    Col("expected_so_far", "expected_so_far", "Due or received so far", "count", 10),
    Col("not_yet_due", "not_yet_due", "Not yet due", "count", 8),
    Col("received", "returns_received", "Returns received", "count", 10),
    Col("accepted", "accepted", "Accepted", "count", 9),
    Col("on_time", "on_time", "On time", "count", 8),
    Col("late", "late", "Late", "count", 8),
    Col("missing", "missing", "Missing", "count", 8),
    Col("needs_correction", "needs_correction", "Needs correction", "count", 10),
    Col("missing_returns", "missing_returns", "Who is missing", width=40),
    Col("values_expected", "values_expected", "Cells expected", "count", 10),
    Col("values_present", "values_present", "Cells filled", "count", 10),
    Col("completeness_rate", "completeness", "Completeness %", "one", 12, unit="%"),
    Col("timeliness_rate", "timeliness", "Timeliness %", "one", 12, unit="%"),
    Col("cell_completeness", "cell_completeness", "Cells filled %", "one", 12, unit="%"),
    Col("meets_completeness", "meets_completeness", "Completeness >= 90 %", "bool", 12),
    Col("meets_timeliness", "meets_timeliness", "Timeliness >= 75 %", "bool", 12),
)


def completeness_sheet(book: Book, frame: pd.DataFrame) -> None:
    cat = book.cat
    en, _km = _area_names(cat)
    frame = frame.assign(area_en=frame["area"].map(en))
    ws = book.sheet(book.label("sheet_completeness", "Completeness")[0])
    last = book.table(ws, _COMPLETENESS_SHEET, frame)
    for j, c in enumerate(_COMPLETENESS_SHEET):
        if c.field in ("completeness_rate", "timeliness_rate", "cell_completeness"):
            mid = TIMELINESS_TARGET if c.field == "timeliness_rate" else COMPLETENESS_TARGET
            ws.conditional_format(
                2, j, max(last, 2), j,
                {"type": "3_color_scale", "min_type": "num", "min_value": 0,
                 "mid_type": "num", "mid_value": mid, "max_type": "num", "max_value": 100,
                 "min_color": "#F8696B", "mid_color": "#FFEB84", "max_color": "#63BE7B"},
            )  # fmt: skip
    missing = frame[frame["missing"] > 0]
    ws2 = book.sheet("Missing returns")
    cols = [
        Col("ministry", "ministry", "Ministry", width=10),
        Col("ministry_en", "name", "Name", width=40),
        Col("period", "period", "Reporting period", width=10),
        Col("area", "code", "Code", width=6),
        Col("area_en", "capital_or_province", "Capital / province", width=18),
        Col("missing", "missing", "Missing", "count", 8),
        Col("missing_returns", "missing_returns", "Who is missing", width=60),
    ]
    names = {k: m.name.en for k, m in cat.ministries.items()}
    book.table(ws2, cols, missing.assign(ministry_en=missing["ministry"].map(names)))


def quality_sheet(book: Book, frame: pd.DataFrame) -> None:
    en, _km = _area_names(book.cat)
    frame = _with_units(book, frame).assign(area_en=frame["area"].map(en))
    cols = [
        Col("indicator", "indicator", "Indicator", width=11),
        Col("period", "period", "Reporting period", width=10),
        Col("area", "code", "Code", width=6),
        Col("area_en", "capital_or_province", "Capital / province", width=18),
        Col("value", "value", "Value", "value"),
        Col("status", "status", "Status", "status", width=26),
        Col("z_provinces", "z_provinces", "z over provinces", "two", 10),
        Col("outlier_provinces", "outlier_provinces", "Outlier among provinces", width=12),
        Col("z_series", "z_series", "z over the periods", "two", 10),
        Col("outlier_series", "outlier_series", "Outlier over time", width=12),
        Col("modified_z", "modified_z", "Modified z", "two", 10),
        Col("modified_z_outlier", "modified_z_outlier", "Modified z > 3.5", "bool", 10),
        Col("previous_mean", "previous_mean", "Mean of 3 earlier periods", "value", 12),
        Col("previous_periods", "previous_periods", "Earlier periods", "count", 8),
        Col("change_ratio", "change_ratio", "Value / earlier mean", "two", 10),
        Col("change_flag", "change_flag", "Change beyond 33 %", "bool", 10),
        Col("compare_rules", "compare_rules", "Related checks", width=30),
        Col("compare_failed", "compare_failed", "Checks failing here", width=30),
        Col("compare_fail_pct", "compare_fail_pct", "Provinces failing %", "one", 10, unit="%"),
        Col("open_warnings", "warnings_count", "Number of warnings", "count", 10),
        Col("explained_warnings", "explained_warnings", "Warnings explained", "count", 10),
        Col("explanations", "explanation", "Explanation", width=60),
    ]
    ws = book.sheet("Data quality")
    last = book.table(ws, cols, frame)
    for j, c in enumerate(cols):
        if c.field in ("outlier_provinces", "outlier_series"):
            for value, fmt in (("extreme", book.red), ("moderate", book.amber)):
                ws.conditional_format(
                    2, j, max(last, 2), j,
                    {"type": "cell", "criteria": "==", "value": f'"{value}"', "format": fmt},
                )  # fmt: skip


def sources_sheet(book: Book, frame: pd.DataFrame) -> None:
    cols = [
        Col("indicator", "indicator", "Indicator", width=11),
        Col("period", "period", "Reporting period", width=10),
        Col("dimension", "disaggregated_by", "Disaggregated by", width=16),
        Col("option", "option", "Option", width=16),
        Col("file", "file", "File", width=36),
        Col("sha256", "sha256", "SHA-256", width=20),
        Col("sheet", "sheet", "Sheet", width=20),
        Col("cells", "cell", "Cells", width=40),
    ]
    book.table(book.sheet("Sources"), cols, frame)
