"""Writing templates: one workbook per reporting ministry and period, recorded in the register."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, BinaryIO

import xlsxwriter
import xlsxwriter.exceptions
import xlsxwriter.worksheet

from cpxl.catalogue import Catalogue, parse_period
from cpxl.errors import UsageError
from cpxl.templates.identity import (
    Identity,
    IssuedTemplate,
    read_register,
    register_path,
    write_register,
)
from cpxl.templates.layout import Layout, build_layout
from cpxl.templates.sheets import (
    Formats,
    Mark,
    Reference,
    fill_sheet,
    write_data_sheet,
    write_identity,
    write_instructions,
    write_lists,
    write_reference,
)


@dataclass(frozen=True, slots=True)
class TemplateResult:
    """What one ``generate_templates`` call wrote."""

    period: str
    files: tuple[Path, ...]
    ministries: tuple[str, ...]
    register: Path

    def to_dict(self) -> dict[str, Any]:
        """The machine shape printed by ``--json``."""
        return {
            "period": self.period,
            "files": [str(f) for f in self.files],
            "ministries": list(self.ministries),
            "register": str(self.register),
        }


def generate_templates(
    catalogue: Catalogue,
    period: str,
    out_dir: Path,
    ministries: Sequence[str] = (),
    *,
    issued_at: datetime | None = None,
    previous: Mapping[str, Reference] | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> TemplateResult:
    """Write one template per reporting ministry for a period, and record them in the register.

    ``previous`` gives, per ministry, last period's accepted values to print in grey beside
    each input block, as a reference for the sender (``--prefill-previous``).
    """
    p = parse_period(period)
    wanted = list(ministries) or list(catalogue.reporting_ministries(p))
    unknown = [m for m in wanted if m not in catalogue.ministries]
    if unknown:
        raise UsageError(f"unknown ministry: {', '.join(unknown)}")
    stamp = (issued_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out_dir.mkdir(parents=True, exist_ok=True)
    register = read_register(out_dir)
    files: list[Path] = []
    done: list[str] = []
    for ministry in wanted:
        layout = build_layout(catalogue, ministry, p)
        if not layout.sheets:
            continue
        path = out_dir / f"{ministry}_{p.id}.xlsx"
        identity = Identity.of(layout, stamp)
        reference = (previous or {}).get(ministry)
        write_template(path, catalogue, layout, identity, reference=reference)
        register[identity.template_id] = IssuedTemplate(
            identity.template_id,
            ministry,
            p.id,
            layout.template_version,
            layout.fingerprint,
            stamp,
            path.name,
        )
        files.append(path)
        done.append(ministry)
        if on_progress:
            on_progress(ministry)
    write_register(out_dir, register)
    return TemplateResult(p.id, tuple(files), tuple(done), register_path(out_dir))


def new_workbook(
    path: Path | BinaryIO, *, created: datetime | None = None, in_memory: bool = True
) -> Any:
    """An xlsxwriter workbook that never turns text into formulas, links or numbers.

    ``created`` dates the document (and its zip entries), so that the same content gives the
    same bytes; without it the workbook is dated now. Its parts are built in memory (faster,
    and no temporary file is left by a crash); ``in_memory=False`` writes each part to a
    temporary file as it is packed instead, for a workbook whose parts together are large.
    """
    wb = xlsxwriter.Workbook(
        str(path) if isinstance(path, Path) else path,
        {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "in_memory": in_memory,
        },
    )
    wb.worksheet_class = _Worksheet
    if created is not None:
        wb.set_properties({"created": created})
    return wb


class _Worksheet(xlsxwriter.worksheet.Worksheet):  # type: ignore[misc]  # no stubs
    """A worksheet that prepares each distinct formula once per process.

    A template has a data validation per column, and xlsxwriter scans each validation formula
    for some 250 newer Excel function names (one regular expression each) as it saves: 40 % of
    the time to write a large template, again for every marked-up copy of it. The formulas of
    a layout are the same in every copy, so the scan's result is kept (xlsxwriter's subclassing
    of worksheets, as in its own inheritance example).
    """

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        return _prepared(formula, expand_future_functions, self.use_future_functions)


@lru_cache(maxsize=20_000)  # every column of every layout, many times over
def _prepared(formula: str, expand_future_functions: bool, use_future_functions: bool) -> str:
    """xlsxwriter's own preparation of a formula, which reads nothing else of its worksheet."""
    worksheet = SimpleNamespace(use_future_functions=use_future_functions)
    prepared: str = xlsxwriter.worksheet.Worksheet._prepare_formula(
        worksheet, formula, expand_future_functions
    )
    return prepared


def close_workbook(wb: Any) -> None:
    """Close (write) an xlsxwriter workbook; a full or unwritable disk is an OSError, as for
    any other file, not xlsxwriter's own error."""
    try:
        wb.close()
    except xlsxwriter.exceptions.FileCreateError as exc:
        cause = exc.args[0] if exc.args else None
        raise (cause if isinstance(cause, OSError) else OSError(str(exc))) from exc


def write_template(
    path: Path,
    catalogue: Catalogue,
    layout: Layout,
    identity: Identity,
    *,
    fill: Mapping[tuple[str, str], object] | None = None,
    marks: Mapping[tuple[str, str], Mark] | None = None,
    before: Callable[[Any], None] | None = None,
    reference: Reference | None = None,
    created: datetime | None = None,
) -> None:
    """Write the template workbook for a layout; every text goes in with write_string.

    ``fill`` puts values (numbers, or text written as text) into (sheet, cell) of the data
    sheets, ``marks`` colours and comments cells, and ``before`` adds sheets in front: this is
    how a feedback workbook becomes a corrected-return-ready copy of the sender's data.
    """
    wb = new_workbook(path, created=created)
    try:
        fmt = Formats(wb)
        if before is not None:
            before(wb)
        else:
            write_instructions(wb, fmt, catalogue, layout)
        for sheet in layout.sheets:
            ws = write_data_sheet(wb, fmt, catalogue, layout, sheet)
            fill_sheet(ws, wb, sheet, fill or {}, marks or {})
            if reference is not None:
                write_reference(ws, fmt, catalogue, sheet, reference)
        write_lists(wb, catalogue)
        write_identity(wb, identity)
    finally:
        close_workbook(wb)
