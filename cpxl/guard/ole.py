"""OLE compound files: legacy .xls, and the wrapper Office puts around an encrypted .xlsx."""

from __future__ import annotations

import struct
from typing import IO, Any

import olefile  # type: ignore[import-untyped,unused-ignore]

from cpxl.findings import Code
from cpxl.guard.limits import Found

# The first bytes of every OLE compound file (shared: ``inspect`` sniffs them).
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def inspect_ole(fh: IO[bytes], found: Found) -> str:
    """The kind of an OLE file (``xls``, an encrypted ``xlsx``, or ``""``), noting what stops it."""
    try:
        with olefile.OleFileIO(fh) as ole:
            if ole.exists("EncryptedPackage") or ole.exists("EncryptionInfo"):
                found.add(Code.PASSWORD_PROTECTED, seen="encrypted Office file")
                return "xlsx"
            book = next((name for name in ("Workbook", "Book") if ole.exists(name)), None)
            if book is None:
                found.add(Code.NOT_A_SPREADSHEET, seen=_ole_label(ole))
                return ""
            if ole.exists("_VBA_PROJECT_CUR"):
                found.add(Code.MACROS, seen="_VBA_PROJECT_CUR")
            with ole.openstream(book) as stream:
                head = stream.read(4096)
            if _biff_has_password(head):
                found.add(Code.PASSWORD_PROTECTED, seen="Excel 97-2003 file with a password")
            return "xls"
    except Exception:  # olefile is a large pure-Python parser; hostile bytes break it many ways
        found.add(Code.UNREADABLE_WORKBOOK, seen="damaged OLE compound file")
        return ""


def _ole_label(ole: Any) -> str:
    if ole.exists("WordDocument"):
        return "Word 97-2003 document"
    if ole.exists("PowerPoint Document"):
        return "PowerPoint 97-2003 presentation"
    return "OLE compound file"


def _biff_has_password(stream: bytes) -> bool:
    """A password to open an .xls is a FilePass record just after the globals' BOF."""
    # [MS-XLS] 2.1.7.20.3: BOF, then optionally WriteProtect, then FilePass when encrypted.
    offset = 0
    for _ in range(3):
        if offset + 4 > len(stream):
            return False
        record, length = struct.unpack_from("<HH", stream, offset)
        if record == 0x002F:
            return True
        offset += 4 + length
    return False
