"""The one inflate pass over a zip's members: bounded chunks, one byte budget, and mark scanning.

Members are inflated by zlib here rather than through zipfile's reader: zipfile silently cuts
a member at the size its directory declares, and the declared sizes are exactly what a zip
bomb lies about.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from cpxl.findings import Code
from cpxl.guard.limits import MIB, Found, Limits, Peek, megabytes, too_compressed

_CHUNK = 256 * 1024  # inflate and scan this much at a time
_ENCRYPTED_MEMBER = 0x1  # zip general-purpose flag: the member needs a password

# Errors that zipfile and zlib raise on damaged or crafted archives (shared: the directory
# checks in zips.py catch the same ones).
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    # zipfile raises RuntimeError for an encrypted member, and a subclass of it for an
    # unsupported compression method or encryption, so this one entry covers both.
    RuntimeError,
    ValueError,  # includes UnicodeDecodeError on a mis-flagged member name
    OverflowError,
    struct.error,
    zlib.error,
)
# Members read whole, with a cap: what the structure checks and the reader's sheet map need.
_KEPT = {
    "mimetype": 1024,
    "[content_types].xml": 4 * MIB,
    "xl/workbook.xml": 4 * MIB,
    "xl/_rels/workbook.xml.rels": 4 * MIB,
    "docprops/custom.xml": 4 * MIB,
}
# Of each worksheet, what the reader needs without inflating it a second time.
_WORKSHEET = re.compile(r"xl/worksheets/[^/]+\.xml", re.IGNORECASE)
_PEEK_HEAD = 4096  # the declared area (<dimension ref=...>) is near the start
_PEEK_TAIL = 64 * 1024  # a stray value far outside the template is near the end
_FORMULA_OR_ERROR = re.compile(rb'<(?:\w+:)?f[ >/]|t="e"')
_FORMULA_OVERLAP = 16  # longer than any match of _FORMULA_OR_ERROR
_FAR_OVERLAP = 32  # longer than any match of _FAR_CELL
# Cheap searches that every match of _FORMULA_OR_ERROR also matches: a pattern with one literal
# start runs at memory speed, while _FORMULA_OR_ERROR tries every position of a part. So the
# full pattern only runs on a window that may hold a formula or an error.
_FORMULA_END = re.compile(rb"f[ >/]")
_ERROR_TYPE = b't="e"'

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
# What a mark the scan raises means (shared: zips.py turns the scan's marks into findings).
SIGNAL_CODES = {
    "entities": Code.XML_ENTITIES,
    "macros": Code.MACROS,
    "external": Code.EXTERNAL_LINKS,
    "encrypted": Code.PASSWORD_PROTECTED,
}


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


# A cell far outside any template: column AAA or beyond, or row 10000 or beyond. A reader that
# sizes its grid by the furthest cell would ask for gigabytes (XFD1048576: 512 GiB), whatever
# the sheet's declared dimension says, so the reader is told where such a cell is.
_FAR_CELL = re.compile(rb"<(?:\w+:)?c r=[\"']([A-Z]{3,}[0-9]+|[A-Z]{1,2}[0-9]{5,})[\"']")


class _PeekWatch:
    def __init__(self) -> None:
        self.head = b""
        self.tail = b""
        self.formulas = False
        self.far = ""

    def feed(self, data: bytes) -> None:
        if len(self.head) < _PEEK_HEAD:
            self.head += data[: _PEEK_HEAD - len(self.head)]
        window = self.tail[-_FORMULA_OVERLAP:] + data
        if not self.formulas and _formula_or_error(window):
            self.formulas = True
        if not self.far and b" r=" in window:
            far = _FAR_CELL.search(self.tail[-_FAR_OVERLAP:] + data)
            if far is not None:
                self.far = far.group(1).decode("ascii")
        if len(data) >= _PEEK_TAIL:
            self.tail = data[-_PEEK_TAIL:]
        else:
            self.tail = (self.tail + data)[-_PEEK_TAIL:]

    def peek(self) -> Peek:
        return Peek(self.head, self.tail, self.formulas, self.far)


def _formula_or_error(window: bytes) -> bool:
    """Whether ``_FORMULA_OR_ERROR`` matches, at a tenth of its cost on a part with neither."""
    maybe = _ERROR_TYPE in window or _FORMULA_END.search(window) is not None
    return maybe and _FORMULA_OR_ERROR.search(window) is not None


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


class Scan:
    """The one inflate pass over every member, counting each byte against the budget.

    Public because zips.py runs it and then judges the structure from what it kept.
    """

    def __init__(self, archive: zipfile.ZipFile, limits: Limits, found: Found) -> None:
        self.archive = archive
        self.limits = limits
        self.found = found
        self.inflated = 0
        self.signals: dict[str, str] = {}  # what was seen -> the first member it was seen in
        self.kept: dict[str, bytes | None] = {}  # small members read whole; None when over cap
        self.peeks: dict[str, Peek] = {}  # worksheets, by folded member name

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
            except ZIP_ERRORS:
                self.found.add(Code.UNREADABLE_WORKBOOK, seen=info.orig_filename)
        return True

    def _member(self, info: zipfile.ZipInfo) -> bool:
        """Inflate one member, keeping what the reader needs; False when it is a bomb."""
        name = info.orig_filename
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # Excel and LibreOffice only store or deflate; other methods are read by few readers.
            self.found.add(
                Code.UNREADABLE_WORKBOOK, seen=f"{name}: compression {info.compress_type}"
            )
            return True
        cap = _KEPT.get(name.casefold())
        peek, feeds = self._watchers(name)
        read = self._inflate_member(info, cap, feeds)
        if read is None:
            return False
        size, crc, kept = read
        if size != info.file_size or crc != info.CRC:
            self.found.add(Code.UNREADABLE_WORKBOOK, seen=f"{name}: size or checksum differs")
        if cap is not None:
            self.kept[name.casefold()] = bytes(kept) if len(kept) <= cap else None
        if peek is not None:
            self.peeks[name.casefold()] = peek.peek()
        return True

    def _watchers(self, name: str) -> tuple[_PeekWatch | None, list[Callable[[bytes], None]]]:
        """What watches a member's bytes: its marks' scan, and a worksheet's peek."""
        marks = _marks_for(name)
        feeds: list[Callable[[bytes], None]] = []
        if marks is not None:
            feeds.append(_Watch(marks, name, self.signals).feed)
        peek = _PeekWatch() if _WORKSHEET.fullmatch(name) else None
        if peek is not None:
            feeds.append(peek.feed)
        return peek, feeds

    def _inflate_member(
        self, info: zipfile.ZipInfo, cap: int | None, feeds: Sequence[Callable[[bytes], None]]
    ) -> tuple[int, int, bytearray] | None:
        """The member's size, CRC and first ``cap`` bytes, each chunk fed to the watchers as it
        comes; None (and a finding) when it passes the budget or inflates like a bomb."""
        size = crc = 0
        kept = bytearray()
        with self.archive.open(_stored_view(info)) as raw:
            for data, used in _inflate(raw, info.compress_type):
                size += len(data)
                self.inflated += len(data)
                if self.inflated > self.limits.max_inflated or too_compressed(
                    size, used, self.limits
                ):
                    limit = megabytes(self.limits.max_inflated)
                    self.found.add(Code.ZIP_BOMB, seen=info.orig_filename, limit=limit)
                    return None
                crc = zlib.crc32(data, crc)
                for feed in feeds:
                    feed(data)
                if cap is not None and len(kept) <= cap:
                    kept += data
        return size, crc, kept


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
