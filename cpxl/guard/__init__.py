"""Container checks that run before any spreadsheet parser touches a received file.

A returned workbook is untrusted input. ``inspect`` looks only at the container (its size, its
zip directory, its inflated bytes, its OLE streams) so that a hostile or broken file is stopped
before openpyxl or calamine open it. What it finds are findings, never exceptions.

Zip members are inflated once, in bounded chunks, by zlib here rather than through zipfile's
reader: zipfile silently cuts a member at the size its directory declares, and the declared
sizes are exactly what a zip bomb lies about. Every inflated byte counts against one budget,
and the same pass scans the bytes for DTDs, macro content types and external-link
relationships.
"""

from __future__ import annotations

import io
import stat
from typing import TYPE_CHECKING

from cpxl.findings import Code
from cpxl.guard.limits import (
    DEFAULT_LIMITS,
    MIB,
    UNSAFE_CODES,
    Found,
    Inspection,
    Limits,
    Peek,
    megabytes,
)
from cpxl.guard.ole import OLE_MAGIC, inspect_ole
from cpxl.guard.zips import ZIP_MAGICS, inspect_zip

if TYPE_CHECKING:
    from pathlib import Path

_IN_MEMORY = 16 * MIB  # zip files up to this size are inspected from memory

__all__ = ["DEFAULT_LIMITS", "MIB", "UNSAFE_CODES", "Inspection", "Limits", "Peek", "inspect"]


def inspect(path: Path, limits: Limits = DEFAULT_LIMITS) -> Inspection:
    """Decide from the container alone whether a received file may be handed to a reader."""
    found = Found(path.name)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            found.add(Code.NOT_A_REGULAR_FILE)
            return found.result("")
        if info.st_size == 0:
            found.add(Code.EMPTY_FILE)
            return found.result("")
        if info.st_size > limits.max_bytes:
            found.add(
                Code.FILE_TOO_LARGE,
                size=megabytes(info.st_size),
                limit=megabytes(limits.max_bytes),
            )
            return found.result("")
        with path.open("rb") as fh:
            magic = fh.read(8)
            fh.seek(0)
            if magic == OLE_MAGIC:
                return found.result(inspect_ole(fh, found))
            if magic[:4] in ZIP_MAGICS:
                if info.st_size <= _IN_MEMORY:  # a return, read at once: no seek per member
                    return found.result(inspect_zip(io.BytesIO(fh.read()), limits, found))
                return found.result(inspect_zip(fh, limits, found))
    except OSError as exc:
        found.add(Code.UNREADABLE_WORKBOOK, seen=exc.strerror or type(exc).__name__)
        return found.result("")
    found.add(Code.NOT_A_SPREADSHEET, seen=_sniff(magic))
    return found.result("")


def _sniff(magic: bytes) -> str:
    """A short technical label for what a non-spreadsheet file looks like."""
    head = magic.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"%PDF"):
        return "PDF document"
    if head.startswith(b"{\\rtf"):
        return "RTF document"
    if head.startswith(b"<"):
        return "web page or XML file"
    return "text or other file"
