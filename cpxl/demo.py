"""The demo: a complete workspace built from the built-in catalogue, deterministically.

Last year's returns arrive and are stored (so that this year's have history); then this year's
batch arrives with what a real inbox holds: clean returns, one full of typical mistakes and its
correction, a corrected resubmission, the same file under another name, a late file, a return on
last year's template, a LibreOffice re-save when LibreOffice is installed, a lock file and a few
files that are not returns at all. Both years include MoSVY's four quarterly returns and NCCT's two
half-yearly ones, so that every indicator of the catalogue has a value for both years. The intake
runs over both batches, and the national outputs are built. The demo uses cpxl as a notebook
would: through ``cpxl.api`` (and the domain functions where it needs a fixed date of issue).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cpxl import api
from cpxl.catalogue import Catalogue, parse_period
from cpxl.consolidation import indicator_table
from cpxl.findings import RunReport
from cpxl.simulate import Mistake, add_mistakes, fill_return, plan
from cpxl.templates import Layout, build_layout, generate_templates
from cpxl.workspace import Workspace, WorkspaceError

YEAR, LAST_YEAR = "2025", "2024"
SEED = 2025


def _received(path: Path, when: datetime) -> None:
    """Set a file's time of receipt (its modification time), which orders the intake."""
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))


def _day(catalogue: Catalogue, ministry: str, period: str, days: int) -> datetime:
    due = catalogue.due_date(ministry, parse_period(period))
    return datetime(due.year, due.month, due.day, 9, 0, tzinfo=UTC) + timedelta(days=days)


def _fill(
    ws: Workspace,
    cat: Catalogue,
    ministry: str,
    period: str,
    name: str,
    *,
    mistakes: bool = False,
    edits: Mapping[tuple[str, str], float | str] | None = None,
) -> tuple[Path, list[Mistake]]:
    layout = build_layout(cat, ministry, period)
    values = plan(cat, layout, SEED)
    made = add_mistakes(cat, layout, values, SEED) if mistakes else []
    values.update(edits or {})
    target = ws.inbox / name
    fill_return(ws.templates / f"{ministry}_{period}.xlsx", target, values)
    return target, made


def _libreoffice_copy(source: Path, target: Path) -> bool:
    """Re-save a return through LibreOffice, as an official using Calc would; False if absent."""
    soffice = shutil.which("soffice")
    if soffice is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        profile = Path(tmp) / "profile"
        out = Path(tmp) / "out"
        done = subprocess.run(
            [
                soffice,
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--convert-to",
                "xlsx:Calc MS Excel 2007 XML",
                "--outdir",
                str(out),
                str(source),
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
        made = out / source.with_suffix(".xlsx").name
        if done.returncode != 0 or not made.is_file():
            return False
        shutil.copyfile(made, target)
    return True


def _not_returns(inbox: Path) -> list[Path]:
    """Files a real inbox receives that are not returns: each must get a calm status."""
    odd = inbox / "not-returns"
    odd.mkdir(parents=True, exist_ok=True)
    empty = odd / "empty.xlsx"
    empty.write_bytes(b"")
    text = odd / "minutes-of-meeting.xlsx"
    text.write_text("Minutes of the provincial meeting\n", encoding="utf-8")
    macro = odd / "budget-with-macros.xlsm"
    with zipfile.ZipFile(macro, "w") as zf:
        zf.writestr("[Content_Types].xml", _MACRO_TYPES)
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/vbaProject.bin", b"\x00" * 64)
    bomb = odd / "huge.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as member:
            block = b"\x00" * (1 << 20)
            for _ in range(400):
                member.write(block)
    import openpyxl

    foreign = odd / "province-budget.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws["A1"], ws["B1"] = "Province", "Budget"
    ws["A2"], ws["B2"] = "Kandal", 1200
    wb.save(foreign)
    lock = inbox / "~$MOSVY_2025_filled.xlsx"
    lock.write_bytes(b"\x00" * 162)
    return [empty, text, macro, bomb, foreign, lock]


_MACRO_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Override PartName="/xl/workbook.xml" ContentType="application/vnd.ms-'
    'excel.sheet.macroEnabled.main+xml"/></Types>'
)


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What the demo did: its two runs, what was special in this year's inbox, what it built."""

    workspace: Path
    runs: tuple[RunReport, ...]
    notes: tuple[str, ...]
    national: api.Consolidation
    reported: Mapping[str, int]  # year -> indicators with a national value
    indicators: int

    def to_dict(self) -> api.JsonObject:
        """The machine shape printed by ``cpxl demo --json``."""
        return {
            "workspace": str(self.workspace),
            "runs": [_run_dict(r) for r in self.runs],
            "notes": list(self.notes),
            "national": self.national.to_dict(),
            "reported": dict(self.reported),
            "indicators": self.indicators,
        }

    def render(self) -> str:
        """The demo's one-screen summary: what arrived, what happened, what to open."""
        lines = [f"Demo workspace: {self.workspace}"]
        for year, n in self.reported.items():
            lines.append(f"Indicators with a national value for {year}: {n} of {self.indicators}")
        for i, run in enumerate(self.runs, start=1):
            totals = ", ".join(f"{k} {v}" for k, v in sorted(run.totals.items()))
            lines.append(f"Run {i}: {totals}")
        last = self.runs[-1]
        lines.append("This year's inbox, file by file:")
        for f in last.files:
            lines.append(f"  {_status(f.status.value, f.days_late):<26} {f.file}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        lines.append("Open:")
        lines.append(f"  run summary       {last.summary}")
        feedback = [
            f.feedback
            for f in last.files
            if f.feedback and f.status.value.startswith("needs-correction")
        ]
        if feedback:
            lines.append(f"  feedback example  {feedback[0]}")
        for fmt, paths in self.national.written.items():
            for p in paths:
                lines.append(f"  national {fmt:<8} {p}")
        return "\n".join(lines)


def build_demo(directory: Path) -> DemoResult:
    """Build the demo workspace in a new folder and return what happened, for the summary."""
    if directory.exists() and any(directory.iterdir()):
        raise WorkspaceError(
            f"{directory} already exists and is not empty; remove it or name another folder."
        )
    ws = api.init(directory)
    cat = api.catalogue_of(ws)
    issued = datetime(2024, 12, 1, tzinfo=UTC)
    generate_templates(cat, LAST_YEAR, ws.templates, issued_at=issued)
    generate_templates(cat, YEAR, ws.templates, issued_at=issued + timedelta(days=365))
    for year in (LAST_YEAR, YEAR):
        for part in _parts(cat, year):
            start = datetime(parse_period(part).start.year, 1, 1, tzinfo=UTC)
            generate_templates(cat, part, ws.templates, issued_at=start - timedelta(days=30))
    ministries = list(cat.reporting_ministries(parse_period(YEAR)))

    # Last year: every ministry but the last reports on time; stored as history.
    for m in ministries[:-1]:
        path, _ = _fill(ws, cat, m, LAST_YEAR, f"{LAST_YEAR}/{m}_{LAST_YEAR}.xlsx")
        _received(path, _day(cat, m, LAST_YEAR, -10))
    _sub_annual(ws, cat, LAST_YEAR, f"{LAST_YEAR}/")
    first = api.run(ws.root, workers=2)
    shutil.move(str(ws.inbox / LAST_YEAR), str(ws.root / "received-2024"))

    # This year's batch.
    notes: list[str] = []
    late, careless, corrected = ministries[-1], ministries[0], ministries[1]
    for i, m in enumerate(ministries):
        if m in (late, careless):
            continue
        path, _ = _fill(ws, cat, m, YEAR, f"{m}_{YEAR}.xlsx")
        _received(path, _day(cat, m, YEAR, -20 + i))
    path, mistakes = _fill(ws, cat, careless, YEAR, f"{careless}_{YEAR}.xlsx", mistakes=True)
    _received(path, _day(cat, careless, YEAR, -6))
    notes.append(f"{path.name}: {len(mistakes)} typical mistakes typed in")
    path, _ = _fill(ws, cat, careless, YEAR, f"{careless}_{YEAR}_fixed.xlsx")
    _received(path, _day(cat, careless, YEAR, -3))
    notes.append(f"{path.name}: the same return with the mistakes corrected")
    layout = build_layout(cat, corrected, YEAR)
    sheet = layout.sheets[0]
    # a count is corrected (a survey's year or estimate would be checked against its reference)
    element = next(
        c.element for c in reversed(sheet.columns) if cat.elements[c.element].value_type == "count"
    )
    edits = _consistent_edit(cat, layout, sheet.name, sheet.areas[0].code, element, 3)
    name = f"{corrected}_{YEAR}_corrected.xlsx"
    path, _ = _fill(ws, cat, corrected, YEAR, name, edits=edits)
    _received(path, _day(cat, corrected, YEAR, -1))
    cells = ", ".join(cell for _, cell in edits)
    changed = f"{len(edits)} cell" + ("" if len(edits) == 1 else "s")
    notes.append(f"{path.name}: a corrected resubmission, {changed} changed ({cells})")
    dup = ws.inbox / f"copy of {ministries[2]}_{YEAR}.xlsx"
    shutil.copyfile(ws.inbox / f"{ministries[2]}_{YEAR}.xlsx", dup)
    _received(dup, _day(cat, ministries[2], YEAR, 1))
    path, _ = _fill(ws, cat, late, YEAR, f"{late}_{YEAR}.xlsx")
    _received(path, _day(cat, late, YEAR, 25))
    path, _ = _fill(ws, cat, late, LAST_YEAR, f"{late}_{LAST_YEAR}_last-year-template.xlsx")
    _received(path, _day(cat, late, YEAR, 26))
    lo_source = ws.inbox / f"{ministries[3]}_{YEAR}.xlsx"
    lo_copy = ws.inbox / f"{ministries[3]}_{YEAR}_saved-in-libreoffice.xlsx"
    if _libreoffice_copy(lo_source, lo_copy):
        lo_source.unlink()
        _received(lo_copy, _day(cat, ministries[3], YEAR, -5))
        notes.append(f"{lo_copy.name}: re-saved by LibreOffice Calc")
    for odd in _not_returns(ws.inbox):
        _received(odd, _day(cat, ministries[0], YEAR, 3))
    made = _sub_annual(ws, cat, YEAR, "")
    notes.append(f"{made} quarterly and half-yearly returns for {YEAR}, each on time")
    second = api.run(ws.root, workers=2)
    national = api.consolidate(ws.root, first=LAST_YEAR, last=YEAR)
    return DemoResult(
        ws.root,
        (first, second),
        tuple(notes),
        national,
        reported_indicators(ws, cat, (LAST_YEAR, YEAR)),
        len(cat.indicators),
    )


def _parts(cat: Catalogue, year: str) -> list[str]:
    """The quarters and half-years of a year that some data set is reported for."""
    kinds = {d.period_type for d in cat.data_sets} - {"annual"}
    out: list[str] = []
    for kind in sorted(kinds):
        pattern = cat.period_types[kind].pattern  # "YYYYQn", "YYYYSn", "YYYYMM"
        count = {"Q": 4, "S": 2}.get(pattern[4:5], 12)
        for n in range(1, count + 1):
            out.append(f"{year}{pattern[4:5]}{n}" if count < 12 else f"{year}{n:02d}")
    return out


def _sub_annual(ws: Workspace, cat: Catalogue, year: str, folder: str) -> int:
    """Every quarterly and half-yearly return of a year, each received before it is due."""
    made = 0
    for part in _parts(cat, year):
        for m in cat.reporting_ministries(parse_period(part)):
            path, _ = _fill(ws, cat, m, part, f"{folder}{m}_{part}.xlsx")
            _received(path, _day(cat, m, part, -5))
            made += 1
    return made


def reported_indicators(ws: Workspace, cat: Catalogue, years: tuple[str, ...]) -> dict[str, int]:
    """Year -> how many indicators have a national value in the store (the demo's promise)."""
    with api.open_store(ws.root) as store:
        table = indicator_table(cat, store, list(years))
    national = table[(table["area"] == cat.national.code) & (table["dimension"] == "")]
    valued = national[national["value"].notna()]
    return {y: int(valued.loc[valued["period"] == y, "indicator"].nunique()) for y in years}


def _consistent_edit(
    cat: Catalogue, layout: Layout, sheet_name: str, area: str, element: str, delta: int
) -> dict[tuple[str, str], float | str]:
    """Raise one margin and the total of an element together, so that the sums still hold."""
    values = plan(cat, layout, SEED)
    sheet = layout.sheet(sheet_name)
    edits: dict[tuple[str, str], float | str] = {}
    el = cat.elements[element]
    touched: set[str] = set()
    for col in sheet.columns:
        if col.element != element:
            continue
        if col.dimension and col.dimension in touched:
            continue
        cell = sheet.cell(area, col)
        old = values[(sheet_name, cell)]
        if not isinstance(old, float):
            continue
        if col.dimension:
            touched.add(col.dimension)
        if col.dimension or el.total or not el.by:
            edits[(sheet_name, cell)] = old + delta
    return edits


def _status(status: str, days_late: int | None) -> str:
    return status + (f" ({days_late} days late)" if days_late else "")


def _run_dict(report: RunReport) -> api.JsonObject:
    return {
        "run_id": report.run_id,
        "totals": report.totals,
        "summary": report.summary,
        "files": [(f.file, _status(f.status.value, f.days_late), f.feedback) for f in report.files],
    }
