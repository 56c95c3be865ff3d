"""Zip containers (.xlsx and .ods): the directory, member names, declared sizes, and structure."""

from __future__ import annotations

import re
import zipfile
from typing import IO

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from cpxl.findings import Code
from cpxl.guard.limits import DAMAGED_CODES, Found, Limits, megabytes, too_compressed
from cpxl.guard.scan import SIGNAL_CODES, ZIP_ERRORS, Scan

_MAX_ENTRY_BYTES = 1024  # generous size of one central-directory entry, to bound the directory
# The first bytes of a zip: a local file header, or an empty archive's end (shared: ``inspect``).
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")

_ODS_TYPES = frozenset(
    {
        b"application/vnd.oasis.opendocument.spreadsheet",
        b"application/vnd.oasis.opendocument.spreadsheet-template",
    }
)
_WORKBOOK_TYPES = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
        "application/vnd.ms-excel.sheet.macroenabled.main+xml",
        "application/vnd.ms-excel.template.macroenabled.main+xml",
        "application/vnd.ms-excel.addin.macroenabled.main+xml",
    }
)
_XLSB_TYPE = "application/vnd.ms-excel.sheet.binary.macroenabled.main"
_DRIVE = re.compile(r"^[A-Za-z]:")


def inspect_zip(fh: IO[bytes], limits: Limits, found: Found) -> str:
    """The kind of a zip container (``xlsx``, ``ods`` or ``""``), noting what stops it."""
    try:
        if _directory_too_big(fh, limits, found):
            return ""
        archive = zipfile.ZipFile(fh)
    except ZIP_ERRORS:
        found.add(Code.UNREADABLE_WORKBOOK, seen="damaged zip archive")
        return ""
    with archive:
        infos = archive.infolist()
        names = [info.orig_filename for info in infos]
        hint = _kind_from_names(names)
        if len(infos) > limits.max_members:
            found.add(Code.TOO_MANY_PARTS, count=str(len(infos)), limit=str(limits.max_members))
            return hint
        _check_names(names, found)
        condemned = _check_declared_sizes(infos, limits, found)
        scan = Scan(archive, limits, found)
        complete = scan.run(infos, condemned)
        found.kept, found.peeks = scan.kept, scan.peeks
        for signal, member in scan.signals.items():
            if signal in SIGNAL_CODES:
                found.add(SIGNAL_CODES[signal], seen=member)
        if not complete or found.by_code.keys() & DAMAGED_CODES:
            return hint  # a damaged or locked archive is only that, whatever it claims to be
        return _judge_structure(names, scan, found)


def _directory_too_big(fh: IO[bytes], limits: Limits, found: Found) -> bool:
    """Refuse a huge directory before zipfile builds one object per entry (500k cost 1.6 s)."""
    # zipfile's end-record reader is private but has been stable since Python 2; without it,
    # zipfile itself still opens the file, only later.
    read_end_record = getattr(zipfile, "_EndRecData", None)
    end = read_end_record(fh) if callable(read_end_record) else None
    if not end:
        return False
    entries, directory_bytes = int(end[4]), int(end[5])
    if entries > limits.max_members:
        found.add(Code.TOO_MANY_PARTS, count=str(entries), limit=str(limits.max_members))
        return True
    if directory_bytes > limits.max_members * _MAX_ENTRY_BYTES:
        # the end record understates the entries; 46 bytes is the smallest entry there is
        found.add(
            Code.TOO_MANY_PARTS, count=str(directory_bytes // 46), limit=str(limits.max_members)
        )
        return True
    return False


def _kind_from_names(names: list[str]) -> str:
    folded = {name.casefold() for name in names}
    if "mimetype" in folded and "content.xml" in folded:
        return "ods"
    if any(name.startswith("xl/") for name in folded):
        return "xlsx"
    return ""


def _check_names(names: list[str], found: Found) -> None:
    """Names that escape the archive, collide, or announce macros or links to other files."""
    seen: set[str] = set()
    for name in names:
        folded = name.casefold()
        if _unsafe_name(name) or folded in seen:
            found.add(Code.UNSAFE_MEMBER_NAME, seen=name.replace("\0", "\\0"))
        seen.add(folded)
        base = folded.rsplit("/", 1)[-1]
        if (
            (base.endswith(".bin") and "vba" in base)
            or folded.startswith(("xl/macrosheets/", "basic/", "scripts/"))
            or base == "vbadata.xml"
        ):
            found.add(Code.MACROS, seen=name)
        if folded.startswith("xl/externallinks/"):
            found.add(Code.EXTERNAL_LINKS, seen=name)


def _unsafe_name(name: str) -> bool:
    return (
        "\0" in name
        or "\\" in name
        or name.startswith("/")
        or _DRIVE.match(name) is not None
        or ".." in name.split("/")
    )


def _check_declared_sizes(infos: list[zipfile.ZipInfo], limits: Limits, found: Found) -> set[int]:
    """Members whose honest headers already say they are bombs; these are never inflated."""
    condemned = set()
    for index, info in enumerate(infos):
        if too_compressed(info.file_size, info.compress_size, limits):
            found.add(Code.ZIP_BOMB, seen=info.orig_filename, limit=megabytes(limits.max_inflated))
            condemned.add(index)
    if sum(info.file_size for info in infos) > limits.max_inflated:
        found.add(Code.ZIP_BOMB, seen="declared sizes", limit=megabytes(limits.max_inflated))
    return condemned


def _judge_structure(names: list[str], scan: Scan, found: Found) -> str:
    """What kind of document the archive holds, and whether its main part is there."""
    folded = {name.casefold() for name in names}
    if "mimetype" in folded:
        return _judge_ods(folded, scan, found)
    if "[content_types].xml" not in folded:
        if any(name.startswith("xl/") for name in folded):
            found.add(Code.UNREADABLE_WORKBOOK, seen="[Content_Types].xml missing")
            return "xlsx"
        found.add(Code.NOT_A_SPREADSHEET, seen="zip archive")
        return ""
    return _judge_xlsx(names, folded, scan, found)


def _judge_ods(folded: set[str], scan: Scan, found: Found) -> str:
    """An OpenDocument package: a spreadsheet's mimetype, and its content.xml."""
    mimetype = (scan.kept.get("mimetype") or b"").strip()
    if mimetype not in _ODS_TYPES:
        found.add(Code.NOT_A_SPREADSHEET, seen=_printable(mimetype) or "zip archive")
        return ""
    if "content.xml" not in folded:
        found.add(Code.UNREADABLE_WORKBOOK, seen="content.xml missing")
    return "ods"


def _judge_xlsx(names: list[str], folded: set[str], scan: Scan, found: Found) -> str:
    """An Office Open XML package: a workbook part declared, in a format we read, and present."""
    types = _content_types(scan.kept.get("[content_types].xml"), found)
    if types is None:
        if Code.XML_ENTITIES not in found.by_code:
            found.add(Code.UNREADABLE_WORKBOOK, seen="[Content_Types].xml unreadable")
        return _kind_from_names(names)
    workbook = [part for part, content_type in types if content_type in _WORKBOOK_TYPES]
    if not workbook:
        return _not_a_workbook(types, folded, found)
    if "strict" in scan.signals:
        strict = "Strict Open XML Spreadsheet"
        found.add(Code.UNREADABLE_WORKBOOK, seen=strict, expected="Excel Workbook (.xlsx)")
    elif workbook[0].lstrip("/").casefold() not in folded:
        found.add(Code.UNREADABLE_WORKBOOK, seen=f"{workbook[0].lstrip('/')} missing")
    return "xlsx"


def _not_a_workbook(types: list[tuple[str, str]], folded: set[str], found: Found) -> str:
    """A package with no workbook part: a damaged workbook, or another Office document."""
    content_types = [content_type for _, content_type in types]
    if _XLSB_TYPE in content_types:
        binary = "Excel Binary Workbook (.xlsb)"
        found.add(Code.UNREADABLE_WORKBOOK, seen=binary, expected="Excel Workbook (.xlsx)")
        return "xlsx"
    if any("spreadsheetml" in t for t in content_types) or any(
        name.startswith("xl/") for name in folded
    ):
        found.add(Code.UNREADABLE_WORKBOOK, seen="workbook part missing")
        return "xlsx"
    found.add(Code.NOT_A_SPREADSHEET, seen=_office_label(content_types))
    return ""


def _office_label(content_types: list[str]) -> str:
    """What kind of Office document a package's content types say it is."""
    if any("wordprocessingml" in t for t in content_types):
        return "Word document"
    if any("presentationml" in t for t in content_types):
        return "PowerPoint presentation"
    return "Office document"


def _content_types(data: bytes | None, found: Found) -> list[tuple[str, str]] | None:
    """(part name, content type) pairs from [Content_Types].xml; None when it cannot be read."""
    if data is None:
        return None
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        found.add(Code.XML_ENTITIES, seen="[Content_Types].xml")
        return None
    except SafeET.ParseError:
        return None
    pairs = []
    for element in root:
        tag = str(element.tag).rsplit("}", 1)[-1]
        if tag in ("Override", "Default"):
            part = str(element.get("PartName", ""))
            pairs.append((part, str(element.get("ContentType", "")).strip().lower()))
    return pairs


def _printable(data: bytes) -> str:
    return data[:80].decode("ascii", "replace")
