"""Writing one feedback workbook per file received, whole or not at all.

A return with findings at cells comes back as a marked-up copy of its data sheets, made by
``templates.write_template``; anything else gets the Summary (and Findings) alone.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cpxl.catalogue import Catalogue
from cpxl.feedback.naming import feedback_path
from cpxl.feedback.placement import marks, placement
from cpxl.feedback.sheets import front_sheets
from cpxl.feedback.words import NO_CONTENT
from cpxl.findings import FileResult
from cpxl.templates import close_workbook, new_workbook, write_template

if TYPE_CHECKING:
    from cpxl.reading import Submission


def write_feedback(
    out_dir: Path,
    result: FileResult,
    catalogue: Catalogue,
    submission: Submission | None = None,
    *,
    to: Path | None = None,
) -> Path:
    """Write the feedback workbook for one file received and return its path.

    ``to`` is the name the store gave this file's feedback; without it the workbook gets a new
    name in ``out_dir`` that never overwrites another. The same result and return always give
    the same bytes (the workbook is dated when the file was received), so feedback rebuilt from
    the store is the workbook an uninterrupted run writes.
    """
    earlier = to
    path = earlier if earlier is not None else feedback_path(out_dir, result.file)
    out_dir.mkdir(parents=True, exist_ok=True)
    created = _created(result)
    final, path = path, path.with_name(path.name + ".partial")
    try:
        read = submission is not None and result.status not in NO_CONTENT
        at_cells = any(f.location.cell for f in result.findings)
        where = placement(submission) if read and at_cells and submission is not None else None
        marked = marks(result.findings, where, catalogue.messages) if where is not None else {}
        if submission is not None and where is not None and marked:
            layout = submission.layout
            front = front_sheets(result, catalogue, (s.name for s in layout.sheets), where)
            write_template(
                path,
                catalogue,
                layout,
                submission.identity,
                fill=where.fill,
                marks=marked,
                before=front,
                created=created,
            )
        else:
            packed = io.BytesIO()  # built in memory and written at once: no seek per part
            wb = new_workbook(packed, created=created)
            try:
                front_sheets(result, catalogue, (), None)(wb)
            finally:
                close_workbook(wb)
            path.write_bytes(packed.getbuffer())
    except BaseException:
        path.unlink(missing_ok=True)
        if earlier is None:
            final.unlink(missing_ok=True)  # the reserved name must not stay behind empty
        raise
    path.replace(final)  # a feedback workbook appears whole, or not at all
    return final


def _created(result: FileResult) -> datetime:
    """When the file was received (naive UTC, as xlsxwriter writes it), else a fixed date."""
    try:
        moment = datetime.fromisoformat(result.received_at)
    except ValueError:
        return datetime(2000, 1, 1)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
