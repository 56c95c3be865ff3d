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

import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import defusedxml.ElementTree as SafeET
import olefile  # type: ignore[import-untyped,unused-ignore]
from defusedxml import DefusedXmlException

from cpxl.findings import Code, Finding, Location, Severity, Status

if TYPE_CHECKING:
    from pathlib import Path

MIB = 1024 * 1024

_CHUNK = 256 * 1024  # inflate and scan this much at a time
_RATIO_FLOOR = MIB  # a high compression ratio only marks a bomb past this many inflated bytes
_MAX_ENTRY_BYTES = 1024  # generous size of one central-directory entry, to bound the directory
_ENCRYPTED_MEMBER = 0x1  # zip general-purpose flag: the member needs a password
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")

_UNSAFE_CODES = frozenset(
    {
        Code.ZIP_BOMB,
        Code.TOO_MANY_PARTS,
        Code.UNSAFE_MEMBER_NAME,
        Code.XML_ENTITIES,
        Code.MACROS,
        Code.EXTERNAL_LINKS,
    }
)
_DAMAGED = frozenset({Code.UNREADABLE_WORKBOOK, Code.PASSWORD_PROTECTED})
_CODE_ORDER = {code: i for i, code in enumerate(Code)}

# Errors that zipfile and zlib raise on damaged or crafted archives.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    RuntimeError,  # an encrypted member
    NotImplementedError,  # an unsupported zip feature
    ValueError,  # includes UnicodeDecodeError on a mis-flagged member name
    OverflowError,
    struct.error,
    zlib.error,
)

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
_KEPT = {"mimetype": 1024, "[content_types].xml": 4 * MIB}  # members read whole, with a cap

# Members never handed to an XML parser; they are inflated for the budget but not scanned.
_OPAQUE_SUFFIXES: tuple[str, ...] = (".bin", ".emf", ".wmf", ".svg", ".ico", ".wdp", ".jxr")
_OPAQUE_SUFFIXES += (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff")
# A DTD is how every XML entity attack starts (XXE, billion laughs, external DTD).
_ENTITY_MARKS = ((b"<!DOCTYPE", "entities"), (b"<!ENTITY", "entities"))
_CONTENT_TYPE_MARKS = (
    (b"macroenabled.main+xml", "macros"),
    (b"vbaproject", "macros"),
    (b"macrosheet", "macros"),
)
_RELATIONSHIP_MARKS = (
    (b"/relationships/externallink", "external"),
    (b"/relationships/vbaproject", "macros"),
    (b"macrosheet", "macros"),
)
_STRICT_RELS_MARK = (b"//purl.oclc.org/ooxml/", "strict")
_STRICT_WORKBOOK_MARK = (b"http://purl.oclc.org/ooxml/spreadsheetml/main", "strict")
_ODS_SCRIPT_MARK = (b"vnd.sun.star.script:", "macros")  # event listeners that run scripts
_ODS_ENCRYPTION_MARK = (b"encryption-data", "encrypted")
_ALL_MARKS = (
    *_ENTITY_MARKS,
    *_CONTENT_TYPE_MARKS,
    *_RELATIONSHIP_MARKS,
    _STRICT_RELS_MARK,
    _STRICT_WORKBOOK_MARK,
    _ODS_SCRIPT_MARK,
    _ODS_ENCRYPTION_MARK,
)
_LONGEST_MARK = max(len(needle) for needle, _ in _ALL_MARKS)
# How XML parsers tell a document's encoding from its first bytes (XML 1.0, appendix F):
# (first bytes, bytes per character, offset of the byte that holds an ASCII character).
# Marks are ASCII, so in a UTF-16 or UTF-32 part they are looked for in that byte of each
# character; everything else (UTF-8, ASCII, Latin-1) is searched as it is.
_ENCODINGS = (
    (b"\xff\xfe\x00\x00", 4, 0),
    (b"\x00\x00\xfe\xff", 4, 3),
    (b"<\x00\x00\x00", 4, 0),
    (b"\x00\x00\x00<", 4, 3),
    (b"\xff\xfe", 2, 0),
    (b"\xfe\xff", 2, 1),
    (b"<\x00", 2, 0),
    (b"\x00<", 2, 1),
)
_DRIVE = re.compile(r"^[A-Za-z]:")
_SIGNAL_CODES = {
    "entities": Code.XML_ENTITIES,
    "macros": Code.MACROS,
    "external": Code.EXTERNAL_LINKS,
    "encrypted": Code.PASSWORD_PROTECTED,
}


@dataclass(frozen=True, slots=True)
class Limits:
    """How much a received file may ask of us before it is refused unread."""

    max_bytes: int = 25 * MIB  # file size cap
    max_members: int = 2_000  # zip members
    max_inflated: int = 300 * MIB  # total inflated bytes, counted while inflating
    max_ratio: float = 200.0  # per-member compression ratio that marks a bomb (past 1 MiB)


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Inspection:
    """What the container check decided: the file's kind and anything that stops it."""

    kind: str  # "xlsx" | "ods" | "xls" | "" (unknown)
    findings: tuple[Finding, ...]

    @property
    def blocked(self) -> bool:
        """A blocked file must not reach a spreadsheet reader."""
        return any(f.severity is Severity.ERROR for f in self.findings)

    @property
    def status(self) -> Status | None:
        """The file's status when blocked: unsafe wins over unreadable."""
        if not self.blocked:
            return None
        if any(f.code in _UNSAFE_CODES for f in self.findings):
            return Status.UNSAFE
        return Status.UNREADABLE


def inspect(path: Path, limits: Limits = DEFAULT_LIMITS) -> Inspection:
    """Decide from the container alone whether a received file may be handed to a reader."""
    found = _Found(path.name)
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
                size=_megabytes(info.st_size),
                limit=_megabytes(limits.max_bytes),
            )
            return found.result("")
        with path.open("rb") as fh:
            magic = fh.read(8)
            fh.seek(0)
            if magic == _OLE_MAGIC:
                return found.result(_inspect_ole(fh, found))
            if magic[:4] in _ZIP_MAGICS:
                return found.result(_inspect_zip(fh, limits, found))
    except OSError as exc:
        found.add(Code.UNREADABLE_WORKBOOK, seen=exc.strerror or type(exc).__name__)
        return found.result("")
    found.add(Code.NOT_A_SPREADSHEET, seen=_sniff(magic))
    return found.result("")


class _Found:
    """Findings for one file, at most one per code."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.by_code: dict[Code, Finding] = {}

    def add(self, code: Code, *, seen: object = "", expected: object = "", **params: str) -> None:
        if code not in self.by_code:
            location = Location(file=self.file)
            self.by_code[code] = Finding.make(
                code, Severity.ERROR, location, seen=seen, expected=expected, **params
            )

    def result(self, kind: str) -> Inspection:
        # Unsafe findings first, so the first finding always explains the status.
        ordered = sorted(
            self.by_code.values(),
            key=lambda f: (f.code not in _UNSAFE_CODES, _CODE_ORDER[f.code]),
        )
        return Inspection(kind=kind, findings=tuple(ordered))


# ---------------------------------------------------------------------------------------------
# OLE compound files: legacy .xls, and the wrapper Office puts around an encrypted .xlsx


def _inspect_ole(fh: IO[bytes], found: _Found) -> str:
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


# ---------------------------------------------------------------------------------------------
# Zip containers: .xlsx and .ods


def _inspect_zip(fh: IO[bytes], limits: Limits, found: _Found) -> str:
    try:
        if _directory_too_big(fh, limits, found):
            return ""
        archive = zipfile.ZipFile(fh)
    except _ZIP_ERRORS:
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
        scan = _Scan(archive, limits, found)
        complete = scan.run(infos, condemned)
        for signal, member in scan.signals.items():
            if signal in _SIGNAL_CODES:
                found.add(_SIGNAL_CODES[signal], seen=member)
        if not complete or found.by_code.keys() & _DAMAGED:
            return hint  # a damaged or locked archive is only that, whatever it claims to be
        return _judge_structure(names, scan, found)


def _directory_too_big(fh: IO[bytes], limits: Limits, found: _Found) -> bool:
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


def _check_names(names: list[str], found: _Found) -> None:
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


def _check_declared_sizes(infos: list[zipfile.ZipInfo], limits: Limits, found: _Found) -> set[int]:
    """Members whose honest headers already say they are bombs; these are never inflated."""
    condemned = set()
    for index, info in enumerate(infos):
        if _too_compressed(info.file_size, info.compress_size, limits):
            found.add(Code.ZIP_BOMB, seen=info.orig_filename, limit=_megabytes(limits.max_inflated))
            condemned.add(index)
    if sum(info.file_size for info in infos) > limits.max_inflated:
        found.add(Code.ZIP_BOMB, seen="declared sizes", limit=_megabytes(limits.max_inflated))
    return condemned


def _too_compressed(inflated: int, stored: int, limits: Limits) -> bool:
    return inflated > _RATIO_FLOOR and inflated > limits.max_ratio * max(stored, 1)


@dataclass(frozen=True, slots=True)
class _Marks:
    """ASCII byte strings to look for in one member: as written, and after lower-casing."""

    exact: tuple[tuple[bytes, str], ...]
    folded: tuple[tuple[bytes, str], ...] = ()

    def scan(self, text: bytes, member: str, signals: dict[str, str]) -> None:
        for needle, signal in self.exact:
            if signal not in signals and needle in text:
                signals[signal] = member
        if self.folded:
            lowered = text.lower()
            for needle, signal in self.folded:
                if signal not in signals and needle in lowered:
                    signals[signal] = member


class _Watch:
    """Looks for marks in one member's bytes as they stream past, across chunk boundaries."""

    def __init__(self, marks: _Marks, member: str, signals: dict[str, str]) -> None:
        self.marks = marks
        self.member = member
        self.signals = signals
        self.step = 0  # bytes per character; 0 until the first bytes have been seen
        self.ascii_at = 0  # offset of the ASCII byte within each character
        self.offset = 0  # where in the member ``tail`` starts
        self.tail = b""

    def feed(self, data: bytes) -> None:
        window = self.tail + data
        if not self.step:
            if len(window) < 4:
                self.tail = window
                return
            self.step, self.ascii_at = next(
                ((step, at) for head, step, at in _ENCODINGS if window.startswith(head)), (1, 0)
            )
        if self.step == 1:
            text = window
        else:
            text = window[(self.ascii_at - self.offset) % self.step :: self.step]
        self.marks.scan(text, self.member, self.signals)
        keep = min(len(window), self.step * _LONGEST_MARK)
        self.offset += len(window) - keep
        self.tail = window[len(window) - keep :]


def _marks_for(name: str) -> _Marks | None:
    folded = name.casefold()
    if folded.endswith(_OPAQUE_SUFFIXES):
        return None
    if folded == "[content_types].xml":
        return _Marks(_ENTITY_MARKS, _CONTENT_TYPE_MARKS)
    if folded == "_rels/.rels":
        return _Marks(_ENTITY_MARKS, (*_RELATIONSHIP_MARKS, _STRICT_RELS_MARK))
    if folded.endswith(".rels"):
        return _Marks(_ENTITY_MARKS, _RELATIONSHIP_MARKS)
    if folded.endswith("/workbook.xml"):
        return _Marks((*_ENTITY_MARKS, _STRICT_WORKBOOK_MARK))
    if folded in ("content.xml", "styles.xml"):
        return _Marks((*_ENTITY_MARKS, _ODS_SCRIPT_MARK))
    if folded == "meta-inf/manifest.xml":
        return _Marks((*_ENTITY_MARKS, _ODS_ENCRYPTION_MARK))
    return _Marks(_ENTITY_MARKS)


class _Scan:
    """The one inflate pass over every member, counting each byte against the budget."""

    def __init__(self, archive: zipfile.ZipFile, limits: Limits, found: _Found) -> None:
        self.archive = archive
        self.limits = limits
        self.found = found
        self.inflated = 0
        self.signals: dict[str, str] = {}  # what was seen -> the first member it was seen in
        self.kept: dict[str, bytes | None] = {}  # small members read whole; None when over cap

    def run(self, infos: list[zipfile.ZipInfo], condemned: set[int]) -> bool:
        """Scan every member; False when a bomb stopped the pass early."""
        for index, info in enumerate(infos):
            if index in condemned or info.filename.endswith("/"):
                continue
            if info.flag_bits & _ENCRYPTED_MEMBER:
                self.found.add(Code.PASSWORD_PROTECTED, seen=info.orig_filename)
                continue
            try:
                if not self._member(info):
                    return False
            except _ZIP_ERRORS:
                self.found.add(Code.UNREADABLE_WORKBOOK, seen=info.orig_filename)
        return True

    def _member(self, info: zipfile.ZipInfo) -> bool:
        name = info.orig_filename
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # Excel and LibreOffice only store or deflate; other methods are read by few readers.
            self.found.add(
                Code.UNREADABLE_WORKBOOK, seen=f"{name}: compression {info.compress_type}"
            )
            return True
        marks = _marks_for(name)
        cap = _KEPT.get(name.casefold())
        kept = bytearray()
        size = crc = 0
        watch = None if marks is None else _Watch(marks, name, self.signals)
        with self.archive.open(_stored_view(info)) as raw:
            for data, used in _inflate(raw, info.compress_type):
                size += len(data)
                self.inflated += len(data)
                if self.inflated > self.limits.max_inflated or _too_compressed(
                    size, used, self.limits
                ):
                    limit = _megabytes(self.limits.max_inflated)
                    self.found.add(Code.ZIP_BOMB, seen=name, limit=limit)
                    return False
                crc = zlib.crc32(data, crc)
                if watch is not None:
                    watch.feed(data)
                if cap is not None and len(kept) <= cap:
                    kept += data
        if size != info.file_size or crc != info.CRC:
            self.found.add(Code.UNREADABLE_WORKBOOK, seen=f"{name}: size or checksum differs")
        if cap is not None:
            self.kept[name.casefold()] = bytes(kept) if len(kept) <= cap else None
        return True


def _stored_view(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    """A directory entry that makes zipfile hand back the member's stored bytes, undecoded.

    zipfile still checks the local header (name, encryption); it no longer cuts the data at
    the declared size or checks a CRC, both of which we do on the bytes we inflate ourselves.
    """
    view = zipfile.ZipInfo(info.orig_filename)  # STORED, and no CRC for zipfile to check
    view.header_offset = info.header_offset
    view.flag_bits = info.flag_bits
    view.compress_size = view.file_size = info.compress_size
    return view


def _inflate(raw: IO[bytes], method: int) -> Iterator[tuple[bytes, int]]:
    """The member's bytes in bounded chunks, each with the stored bytes used to make it so far."""
    if method == zipfile.ZIP_STORED:
        used = 0
        while block := raw.read(_CHUNK):
            used += len(block)
            yield block, used
        return
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    used = 0
    # A stream that stops short is not an error here (zipfile accepts one too); the size and
    # checksum comparison afterwards decides whether the member is whole.
    while not inflater.eof and (block := raw.read(_CHUNK)):
        used += len(block)
        pending = block
        while pending and not inflater.eof:
            data = inflater.decompress(pending, _CHUNK)
            pending = inflater.unconsumed_tail
            yield data, used - len(pending)


def _judge_structure(names: list[str], scan: _Scan, found: _Found) -> str:
    """What kind of document the archive holds, and whether its main part is there."""
    folded = {name.casefold() for name in names}
    if "mimetype" in folded:
        mimetype = (scan.kept.get("mimetype") or b"").strip()
        if mimetype not in _ODS_TYPES:
            found.add(Code.NOT_A_SPREADSHEET, seen=_printable(mimetype) or "zip archive")
            return ""
        if "content.xml" not in folded:
            found.add(Code.UNREADABLE_WORKBOOK, seen="content.xml missing")
        return "ods"
    if "[content_types].xml" not in folded:
        if any(name.startswith("xl/") for name in folded):
            found.add(Code.UNREADABLE_WORKBOOK, seen="[Content_Types].xml missing")
            return "xlsx"
        found.add(Code.NOT_A_SPREADSHEET, seen="zip archive")
        return ""
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


def _not_a_workbook(types: list[tuple[str, str]], folded: set[str], found: _Found) -> str:
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
    if any("wordprocessingml" in t for t in content_types):
        label = "Word document"
    elif any("presentationml" in t for t in content_types):
        label = "PowerPoint presentation"
    else:
        label = "Office document"
    found.add(Code.NOT_A_SPREADSHEET, seen=label)
    return ""


def _content_types(data: bytes | None, found: _Found) -> list[tuple[str, str]] | None:
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


# ---------------------------------------------------------------------------------------------
# Words for the findings' details


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


def _printable(data: bytes) -> str:
    return data[:80].decode("ascii", "replace")


def _megabytes(size: int) -> str:
    """A size as Windows shows it, rounded up so an over-limit size never equals the limit."""
    tenths = -(-size * 10 // MIB)
    whole, part = divmod(tenths, 10)
    return f"{whole}.{part} MB" if part else f"{whole} MB"
