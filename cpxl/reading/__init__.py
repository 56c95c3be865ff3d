"""Reading a return: its identity, then its values by key, never by position.

Values come through python-calamine (fast); openpyxl in read-only mode is used only where a
sheet holds formulas or error values, or claims an area so large that calamine would try to
allocate all of it. The identity is read from the hidden identity sheet and from the document's
custom properties with defusedxml.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from python_calamine import CalamineWorkbook

from cpxl.catalogue import Catalogue
from cpxl.findings import Code, Finding, Location, Severity, Value
from cpxl.guard import Inspection, inspect
from cpxl.reading.grids import inspect_parts
from cpxl.reading.identity import IdentityCheck, check_identity, layout_of
from cpxl.reading.sheets import SheetReader, feedback_explanations
from cpxl.reading.types import Explanation, ReadFailure, Submission
from cpxl.templates import IssuedTemplate

__all__ = [
    "Explanation",
    "IdentityCheck",
    "ReadFailure",
    "Submission",
    "check_identity",
    "layout_of",
    "read_workbook",
]


def read_workbook(
    path: Path,
    catalogue: Catalogue,
    *,
    kind: str = "xlsx",
    register: Mapping[str, IssuedTemplate] | None = None,
    display_name: str | None = None,
    inspection: Inspection | None = None,
) -> Submission:
    """Read a return against its template's layout; raise ReadFailure when it cannot be one.

    ``inspection`` is the guard's verdict on this very file, when the caller has it: what the
    guard saw while inflating it spares the reader a second pass.
    """
    name = display_name or path.name
    try:
        return _read(path, catalogue, kind, register, name, inspection)
    except ReadFailure:
        raise
    except Exception as exc:  # a damaged part the container checks let through: the readers'
        # own errors (missing sheet parts, broken XML, unparsable numbers) mean "unreadable".
        raise ReadFailure(
            Finding.make(Code.UNREADABLE_WORKBOOK, Severity.ERROR, Location(file=name))
        ) from exc


def _read(
    path: Path,
    catalogue: Catalogue,
    kind: str,
    register: Mapping[str, IssuedTemplate] | None,
    name: str,
    inspection: Inspection | None,
) -> Submission:
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for every broken file
        raise ReadFailure(
            Finding.make(Code.UNREADABLE_WORKBOOK, Severity.ERROR, Location(file=name))
        ) from exc
    with wb:
        if kind == "xlsx" and inspection is None:
            inspection = inspect(path)
        kept = inspection.kept if inspection is not None else None
        check = check_identity(path, kind, wb, catalogue, register, kept)
        if check.finding is not None or check.layout is None or check.identity is None:
            assert check.finding is not None
            loc = check.finding.location
            raise ReadFailure(
                Finding(
                    check.finding.code,
                    check.finding.severity,
                    Location(file=name, sheet=loc.sheet),
                    params=check.finding.params,
                )
            )
        parts = inspect_parts(inspection) if inspection is not None and kind == "xlsx" else {}
        layout_names = frozenset(s.name for s in check.layout.sheets)
        reader = SheetReader(path, name, wb, catalogue, parts, layout_names)
        values: list[Value] = []
        explanations: list[Explanation] = []
        findings: list[Finding] = []
        names: dict[str, str] = {}
        for sheet in check.layout.sheets:
            got = reader.read(sheet)
            values.extend(got.values)
            explanations.extend(got.explanations)
            findings.extend(got.findings)
            if got.actual_name:
                names[sheet.name] = got.actual_name
        have = {(e.sheet, e.area) for e in explanations}
        explanations.extend(
            e
            for e in feedback_explanations(wb, check.layout, names)
            if (e.sheet, e.area) not in have  # the row's own Explanation cell comes first
        )
    return Submission(
        name,
        check.identity,
        check.layout,
        tuple(values),
        tuple(explanations),
        tuple(findings),
        names,
    )
