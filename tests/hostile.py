"""Builders of hostile and broken received files, made by code so no binary fixture is committed.

Each public builder writes one file into ``folder`` and returns its path. The genuine base
workbook comes from ``workbook``; every broken or hostile xlsx is derived from its parts, so
switching the base (for example to a cpxl template) is a change in one place.

The zip bombs are cheap to build: the deflate stream of one MiB of zeros, made after a full
flush, is the same bytes every time, so a 1 GiB member is that unit repeated and written
directly as zip records (zipfile cannot write a stream it did not compress, nor lie about it).
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import openpyxl

MIB = 1024 * 1024
SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"

Members = dict[str, bytes]


# ---------------------------------------------------------------------------------------------
# Genuine files


def workbook(folder: Path, name: str = "genuine.xlsx") -> Path:
    """A plain workbook as openpyxl writes it, with a couple of cells."""
    return _write(folder / name, _base_bytes())


def stray_value(folder: Path, name: str = "stray.xlsx") -> Path:
    """A genuine workbook with one extra value in the very last cell, XFD1048576."""
    book = _base_book()
    book.active["XFD1048576"] = "stray"
    path = folder / name
    book.save(path)
    return path


def ods(folder: Path, name: str = "return.ods") -> Path:
    """A plain OpenDocument spreadsheet: mimetype first and stored, then the XML parts."""
    return _write_zip(folder / name, _ods_members())


def legacy_xls(
    folder: Path, name: str = "legacy.xls", *, password: bool = False, vba: bool = False
) -> Path:
    """An Excel 97-2003 (BIFF8) workbook with one sheet holding the number 42 in A1.

    ``password`` adds the FilePass record Excel writes for a password to open; ``vba`` adds
    the storage Excel keeps a VBA project in.
    """
    storages = ("_VBA_PROJECT_CUR",) if vba else ()
    data = _compound_file({"Workbook": _biff8(42.0, password=password)}, storages)
    return _write(folder / name, data)


# ---------------------------------------------------------------------------------------------
# Files that are not spreadsheets, or are broken


def empty_file(folder: Path, name: str = "empty.xlsx") -> Path:
    """A file of zero bytes."""
    return _write(folder / name, b"")


def text_as_xlsx(folder: Path, name: str = "notes.xlsx") -> Path:
    """A text file that was given an .xlsx name."""
    return _write(folder / name, b"Province,Children\nPhnom Penh,12\n")


def csv_file(folder: Path, name: str = "return.csv") -> Path:
    """A CSV export instead of the workbook."""
    return _write(folder / name, b"\xef\xbb\xbfProvince,Children\r\nPhnom Penh,12\r\n")


def pdf_file(folder: Path, name: str = "return.pdf") -> Path:
    """The start of a PDF (a printed return instead of the workbook)."""
    return _write(folder / name, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\nendobj\n%%EOF\n")


def html_as_xls(folder: Path, name: str = "export.xls") -> Path:
    """A web page table saved with an .xls name, as many web systems export 'Excel'."""
    page = b"<html><body><table><tr><td>Phnom Penh</td><td>12</td></tr></table></body></html>"
    return _write(folder / name, page)


def truncated_xlsx(folder: Path, name: str = "truncated.xlsx", keep: float = 0.5) -> Path:
    """A genuine workbook cut short, as an interrupted download or e-mail leaves it."""
    data = _base_bytes()
    return _write(folder / name, data[: int(len(data) * keep)])


def docx_as_xlsx(folder: Path, name: str = "letter.xlsx") -> Path:
    """A Word document renamed to .xlsx."""
    return _write_zip(folder / name, _opc("word/document.xml", _WORD_MAIN, b"<w:document/>"))


def docm_as_xlsx(folder: Path, name: str = "macro-letter.xlsx") -> Path:
    """A macro-enabled Word document renamed to .xlsx."""
    parts = _opc("word/document.xml", _WORD_MAIN, b"<w:document/>")
    parts["word/vbaProject.bin"] = _compound_file({"PROJECT": b'ID="{0}"\r\n'})
    return _write_zip(folder / name, parts)


def pptx_as_xlsx(folder: Path, name: str = "slides.xlsx") -> Path:
    """A PowerPoint presentation renamed to .xlsx."""
    return _write_zip(folder / name, _opc("ppt/presentation.xml", _SLIDES_MAIN, b"<p:p/>"))


def plain_zip(folder: Path, name: str = "archive.xlsx") -> Path:
    """A zip archive of ordinary files, not a workbook."""
    return _write_zip(folder / name, {"notes.txt": b"hello", "data/figures.csv": b"a,b\n1,2\n"})


def missing_workbook_part(folder: Path, name: str = "hollow.xlsx") -> Path:
    """A workbook package whose main part (xl/workbook.xml) is gone."""
    return _derive(folder / name, lambda parts: parts.pop("xl/workbook.xml"))


def missing_content_types(folder: Path, name: str = "no-types.xlsx") -> Path:
    """A workbook package without its [Content_Types].xml."""
    return _derive(folder / name, lambda parts: parts.pop("[Content_Types].xml"))


def wrong_checksum(folder: Path, name: str = "checksum.xlsx") -> Path:
    """A workbook whose sheet's stored checksum does not match its bytes (a damaged copy)."""
    parts = _base_members()
    records = []
    for part, data in parts.items():
        record = _deflated(part, data)
        if part == _first_sheet(parts):
            record = _Raw(record.name, record.data, record.method, record.crc ^ 1, record.size)
        records.append(record)
    return _write(folder / name, _raw_zip(records))


def zip_password(folder: Path, name: str = "zipped.xlsx") -> Path:
    """A workbook whose zip members are marked as needing a password (as 7-Zip or WinZip do)."""
    records = [_deflated(part, data) for part, data in _base_members().items()]
    locked = [_Raw(r.name, r.data, r.method, r.crc, r.size, flags=0x1) for r in records]
    return _write(folder / name, _raw_zip(locked))


def strict_xlsx(folder: Path, name: str = "strict.xlsx") -> Path:
    """A workbook saved as 'Strict Open XML Spreadsheet' (purl.oclc.org namespaces)."""

    def to_strict(parts: Members) -> None:
        for part, data in parts.items():
            if part.endswith((".xml", ".rels")):
                for transitional, strict in _STRICT_NAMESPACES:
                    data = data.replace(transitional, strict)
                parts[part] = data.replace(b"<workbook ", b'<workbook conformance="strict" ')

    return _derive(folder / name, to_strict)


def xlsb_like(folder: Path, name: str = "binary.xlsx") -> Path:
    """An Excel Binary Workbook (.xlsb) package renamed to .xlsx."""
    xlsb_main = "application/vnd.ms-excel.sheet.binary.macroEnabled.main"
    return _write_zip(folder / name, _opc("xl/workbook.bin", xlsb_main, b"\x83\x01\x00"))


def encrypted_xlsx(folder: Path, name: str = "locked.xlsx") -> Path:
    """A workbook with a password to open: Office wraps it in an OLE file with these streams."""
    streams = {"EncryptionInfo": b"\x04\x00\x04\x00\x40\x00\x00\x00", "EncryptedPackage": b"\x01"}
    return _write(folder / name, _compound_file(streams))


def word97_as_xls(folder: Path, name: str = "letter.xls") -> Path:
    """A Word 97-2003 document (an OLE file with no workbook stream) renamed to .xls."""
    return _write(folder / name, _compound_file({"WordDocument": b"\xec\xa5"}))


def ods_encrypted(folder: Path, name: str = "locked.ods") -> Path:
    """An OpenDocument spreadsheet saved with a password: its manifest lists encryption data."""
    parts = _ods_members()
    parts["META-INF/manifest.xml"] = parts["META-INF/manifest.xml"].replace(
        b'manifest:full-path="content.xml"/>',
        b'manifest:full-path="content.xml"><manifest:encryption-data manifest:checksum-type='
        b'"SHA1/1K" manifest:checksum="AAAA"/></manifest:file-entry>',
    )
    parts["content.xml"] = random.Random(42).randbytes(512)
    return _write_zip(folder / name, parts)


# ---------------------------------------------------------------------------------------------
# Hostile files


def honest_bomb(folder: Path, name: str = "bomb.xlsx", mib: int = 1024) -> Path:
    """A workbook whose sheet inflates to ``mib`` MiB of zeros; its headers say so."""
    return _bomb(folder / name, mib, claimed=mib * MIB)


def lying_bomb(folder: Path, name: str = "liar.xlsx", mib: int = 1024, claimed: int = 4096) -> Path:
    """A workbook whose sheet inflates to ``mib`` MiB while its headers claim ``claimed`` bytes.

    The stored checksum is that of the first ``claimed`` bytes, so a reader that trusts the
    directory (Python's zipfile) sees a small, valid member.
    """
    return _bomb(folder / name, mib, claimed=claimed)


def xxe(folder: Path, port: int = 9, name: str = "xxe.xlsx", encoding: str = "utf-8") -> Path:
    """A workbook whose sheet declares an external entity fetched from 127.0.0.1:``port``.

    ``encoding`` is a Python codec: "utf-16" writes a byte-order mark, "utf-16-le" does not.
    """
    doctype = f'<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "http://127.0.0.1:{port}/">]>'
    return _derive(folder / name, _sheet_with_doctype(doctype, "&xxe;", encoding))


def billion_laughs(folder: Path, name: str = "laughs.xlsx") -> Path:
    """A workbook whose sheet nests entities that expand to a billion 'lol's."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    doctype = f"<!DOCTYPE worksheet [{''.join(entities)}]>"
    return _derive(folder / name, _sheet_with_doctype(doctype, "&lol9;"))


def external_dtd(folder: Path, port: int = 9, name: str = "dtd.xlsx") -> Path:
    """A workbook whose sheet loads its DTD from 127.0.0.1:``port``."""
    doctype = f'<!DOCTYPE worksheet SYSTEM "http://127.0.0.1:{port}/evil.dtd">'
    return _derive(folder / name, _sheet_with_doctype(doctype, ""))


def ods_xxe(folder: Path, port: int = 9, name: str = "xxe.ods") -> Path:
    """An OpenDocument spreadsheet whose content.xml declares an external entity."""
    parts = _ods_members()
    doctype = (
        f'<!DOCTYPE office:document-content [<!ENTITY xxe SYSTEM "http://127.0.0.1:{port}/">]>'
    )
    parts["content.xml"] = parts["content.xml"].replace(b"?>", b"?>" + doctype.encode(), 1)
    return _write_zip(folder / name, parts)


def macro_enabled(
    folder: Path,
    name: str = "macros.xlsx",
    *,
    vba_part: bool = True,
    content_type: bool = True,
) -> Path:
    """A macro-enabled workbook: a VBA project part and its relationship, and/or macro types."""

    def add_macros(parts: Members) -> None:
        if vba_part:
            parts["xl/vbaProject.bin"] = _compound_file({"PROJECT": b'ID="{0}"\r\n'})
            parts["xl/_rels/workbook.xml.rels"] = _add_relationship(
                parts["xl/_rels/workbook.xml.rels"],
                "http://schemas.microsoft.com/office/2006/relationships/vbaProject",
                "vbaProject.bin",
            )
        if content_type:
            types = parts["[Content_Types].xml"].replace(
                b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
            )
            parts["[Content_Types].xml"] = types.replace(
                b"</Types>",
                b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
                b"</Types>",
            )

    return _derive(folder / name, add_macros)


def macro_sheet(folder: Path, name: str = "xlm.xlsx") -> Path:
    """A workbook with an Excel 4.0 (XLM) macro sheet."""

    def add_sheet(parts: Members) -> None:
        parts["xl/macrosheets/sheet1.xml"] = b'<xm:macrosheet xmlns:xm="urn:x"/>'

    return _derive(folder / name, add_sheet)


def ods_with_macros(folder: Path, name: str = "macros.ods") -> Path:
    """An OpenDocument spreadsheet carrying a LibreOffice Basic library."""
    parts = _ods_members()
    parts["Basic/script-lc.xml"] = b'<library:libraries xmlns:library="urn:x"/>'
    parts["Basic/Standard/Module1.xml"] = (
        b'<script:module xmlns:script="urn:x">Sub Main</script:module>'
    )
    return _write_zip(folder / name, parts)


def ods_script_event(folder: Path, name: str = "event.ods") -> Path:
    """An OpenDocument spreadsheet that runs a script when opened (no Basic library needed)."""
    parts = _ods_members()
    listener = (
        b"<office:scripts><office:event-listeners><script:event-listener"
        b' script:language="ooo:script" script:event-name="office:load"'
        b' xlink:href="vnd.sun.star.script:LibreLogo|LibreLogo.py$run?language=Python'
        b'&amp;location=share"/></office:event-listeners></office:scripts>'
    )
    parts["content.xml"] = parts["content.xml"].replace(
        b"<office:body>", listener + b"<office:body>"
    )
    return _write_zip(folder / name, parts)


def external_links(folder: Path, name: str = "links.xlsx", *, part: bool = True) -> Path:
    """A workbook linked to another workbook: an externalLinks part and its relationship."""

    def add_link(parts: Members) -> None:
        rels = parts["xl/_rels/workbook.xml.rels"]
        parts["xl/_rels/workbook.xml.rels"] = _add_relationship(
            rels, f"{REL_NS}/externalLink", "externalLinks/externalLink1.xml"
        )
        if part:
            parts["xl/externalLinks/externalLink1.xml"] = (
                f'<externalLink xmlns="{SHEET_NS}" xmlns:r="{REL_NS}">'
                '<externalBook r:id="rId1"/></externalLink>'
            ).encode()
            parts["xl/externalLinks/_rels/externalLink1.xml.rels"] = (
                f'<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1"'
                f' Type="{REL_NS}/externalLinkPath" Target="file:///C:/other.xlsx"'
                ' TargetMode="External"/></Relationships>'
            ).encode()

    return _derive(folder / name, add_link)


def too_many_parts(folder: Path, name: str = "parts.xlsx", count: int = 2001) -> Path:
    """A workbook padded with empty parts until it has ``count`` members."""

    def pad(parts: Members) -> None:
        for i in range(count - len(parts)):
            parts[f"xl/filler/part{i}.txt"] = b""

    return _derive(folder / name, pad)


def unsafe_member(folder: Path, member: str = "../evil.xml", name: str = "escape.xlsx") -> Path:
    """A workbook with one extra member named ``member`` (any name, NUL bytes included)."""
    parts = _base_members()
    records = [_deflated(part, data) for part, data in parts.items()]
    records.append(_deflated(member, b"<evil/>"))
    return _write(folder / name, _raw_zip(records))


def duplicate_member(folder: Path, name: str = "twins.xlsx") -> Path:
    """A workbook holding two different sheets under the same name (readers pick either)."""
    parts = _base_members()
    records = [_deflated(part, data) for part, data in parts.items()]
    records.append(_deflated("XL/Worksheets/Sheet1.xml", parts["xl/worksheets/sheet1.xml"]))
    return _write(folder / name, _raw_zip(records))


# ---------------------------------------------------------------------------------------------
# Parts and packages

_WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_SLIDES_MAIN = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
_STRICT_NAMESPACES = (
    (SHEET_NS.encode(), b"http://purl.oclc.org/ooxml/spreadsheetml/main"),
    (REL_NS.encode(), b"http://purl.oclc.org/ooxml/officeDocument/relationships"),
    (
        b"http://schemas.openxmlformats.org/drawingml/2006/main",
        b"http://purl.oclc.org/ooxml/drawingml/main",
    ),
)


def _base_book() -> openpyxl.Workbook:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Indicators"
    sheet.append(["Province", "Children"])
    sheet.append(["Phnom Penh", 12])
    return book


@functools.cache
def _base_bytes() -> bytes:
    buffer = io.BytesIO()
    _base_book().save(buffer)
    return buffer.getvalue()


def _base_members() -> Members:
    with zipfile.ZipFile(io.BytesIO(_base_bytes())) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _first_sheet(parts: Mapping[str, bytes]) -> str:
    return sorted(p for p in parts if p.startswith("xl/worksheets/") and p.endswith(".xml"))[0]


def _derive(path: Path, change: Callable[[Members], object]) -> Path:
    parts = _base_members()
    change(parts)
    return _write_zip(path, parts)


def _sheet_with_doctype(
    doctype: str, reference: str, encoding: str = "utf-8"
) -> Callable[[Members], None]:
    def change(parts: Members) -> None:
        sheet = _first_sheet(parts)
        xml = parts[sheet].decode()
        root_end = xml.index(">", xml.index("<worksheet")) + 1
        body = xml[:root_end] + reference + xml[root_end:]
        label = "UTF-16" if encoding.lower().startswith("utf-16") else encoding.upper()
        declaration = f'<?xml version="1.0" encoding="{label}"?>'
        parts[sheet] = (declaration + doctype + body).encode(encoding)

    return change


def _add_relationship(rels: bytes, kind: str, target: str) -> bytes:
    relationship = f'<Relationship Id="rIdX{len(rels)}" Type="{kind}" Target="{target}"/>'
    return rels.replace(b"</Relationships>", relationship.encode() + b"</Relationships>")


def _opc(main: str, content_type: str, body: bytes) -> Members:
    """A minimal Open Packaging package whose main part is ``main``."""
    return {
        "[Content_Types].xml": (
            f'<Types xmlns="{CT_NS}"><Default Extension="rels" ContentType='
            '"application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Override PartName="/{main}" ContentType="{content_type}"/></Types>'
        ).encode(),
        "_rels/.rels": (
            f'<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1"'
            f' Type="{REL_NS}/officeDocument" Target="{main}"/></Relationships>'
        ).encode(),
        main: body,
    }


_ODS_CONTENT = b"""<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" \
xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" \
xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" \
xmlns:script="urn:oasis:names:tc:opendocument:xmlns:script:1.0" \
xmlns:xlink="http://www.w3.org/1999/xlink" office:version="1.3">\
<office:body><office:spreadsheet><table:table table:name="Indicators">\
<table:table-row><table:table-cell office:value-type="string"><text:p>Province</text:p>\
</table:table-cell><table:table-cell office:value-type="string"><text:p>Children</text:p>\
</table:table-cell></table:table-row><table:table-row>\
<table:table-cell office:value-type="string"><text:p>Phnom Penh</text:p></table:table-cell>\
<table:table-cell office:value-type="float" office:value="12"><text:p>12</text:p>\
</table:table-cell></table:table-row></table:table></office:spreadsheet></office:body>\
</office:document-content>"""

_ODS_MANIFEST = b"""<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" \
manifest:version="1.3">\
<manifest:file-entry manifest:full-path="/" \
manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>\
<manifest:file-entry manifest:media-type="text/xml" manifest:full-path="content.xml"/>\
<manifest:file-entry manifest:media-type="text/xml" manifest:full-path="styles.xml"/>\
</manifest:manifest>"""

_ODS_STYLES = (
    b'<?xml version="1.0" encoding="UTF-8"?><office:document-styles'
    b' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" office:version="1.3"/>'
)


def _ods_members() -> Members:
    return {
        "mimetype": ODS_MIMETYPE,
        "META-INF/manifest.xml": _ODS_MANIFEST,
        "content.xml": _ODS_CONTENT,
        "styles.xml": _ODS_STYLES,
    }


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _write_zip(path: Path, parts: Mapping[str, bytes]) -> Path:
    """Write parts with zipfile; ``mimetype`` goes stored, as OpenDocument requires."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for part, data in parts.items():
            method = zipfile.ZIP_STORED if part == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(part, data, compress_type=method)
    return path


# ---------------------------------------------------------------------------------------------
# Zip records written by hand, for sizes and names zipfile will not write


@dataclass(frozen=True, slots=True)
class _Raw:
    name: bytes
    data: bytes  # as stored
    method: int
    crc: int
    size: int  # the inflated size the headers declare
    flags: int = 0  # general-purpose flags besides UTF-8 names


def _deflated(name: str, data: bytes) -> _Raw:
    deflater = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    stored = deflater.compress(data) + deflater.flush()
    return _Raw(name.encode(), stored, zipfile.ZIP_DEFLATED, zlib.crc32(data), len(data))


def _raw_zip(records: Sequence[_Raw]) -> bytes:
    """Zip records exactly as given: whatever names, sizes and checksums they declare."""
    out, directory = io.BytesIO(), io.BytesIO()
    for r in records:
        offset = out.tell()
        common = (r.method, 0, _DOS_DATE, r.crc, len(r.data), r.size, len(r.name), 0)
        flags = _UTF8 | r.flags
        local = struct.pack(
            zipfile.structFileHeader, zipfile.stringFileHeader, 20, 0, flags, *common
        )
        out.write(local + r.name + r.data)
        tail = (0, 0, 0, _FILE_MODE, offset)
        entry = (zipfile.stringCentralDir, 20, 3, 20, 0, flags, *common, *tail)
        directory.write(struct.pack(zipfile.structCentralDir, *entry) + r.name)
    start, listing = out.tell(), directory.getvalue()
    count = len(records)
    end = (zipfile.stringEndArchive, 0, 0, count, count, len(listing), start, 0)
    return out.getvalue() + listing + struct.pack(zipfile.structEndArchive, *end)


_UTF8 = 0x800  # names are UTF-8
_DOS_DATE = 0x21  # 1980-01-01
_FILE_MODE = 0o100644 << 16


@functools.cache
def _zeros(mib: int) -> tuple[bytes, int]:
    """A deflate stream of ``mib`` MiB of zeros, and the checksum of those zeros."""
    block = bytes(MIB)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    unit = deflater.compress(block) + deflater.flush(zlib.Z_FULL_FLUSH)
    end = deflater.flush()
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(block, crc)
    return unit * mib + end, crc


def _bomb(path: Path, mib: int, claimed: int) -> Path:
    parts = _base_members()
    sheet = _first_sheet(parts)
    stream, crc = _zeros(mib)
    if claimed != mib * MIB:
        crc = zlib.crc32(bytes(claimed))
    records = [_deflated(part, data) for part, data in parts.items() if part != sheet]
    records.insert(0, _Raw(sheet.encode(), stream, zipfile.ZIP_DEFLATED, crc, claimed))
    return _write(path, _raw_zip(records))


# ---------------------------------------------------------------------------------------------
# OLE compound files and BIFF8, written by hand (olefile reads them; nothing here writes them)

_FREE, _END, _FAT, _NONE = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
_SECTOR = 512
_MINI_CUTOFF = 4096


def _compound_file(streams: Mapping[str, bytes], storages: Sequence[str] = ()) -> bytes:
    """A minimal compound file (CFB version 3).

    Streams are padded to 4096 bytes so that none lives in the mini stream, as Excel itself
    pads its Workbook stream. Siblings hang off the root as one right-leaning chain, in the
    order the format sorts names (length, then upper case).
    """
    entries = [(name, 2, data.ljust(_MINI_CUTOFF, b"\0")) for name, data in streams.items()]
    entries += [(name, 1, b"") for name in storages]
    entries.sort(key=lambda e: (len(e[0]), e[0].upper()))
    directory_sectors = -(-(len(entries) + 1) // 4)
    fat = [_FAT, *_chain(1, directory_sectors)]
    starts = []
    for _, _, data in entries:
        count = len(data) // _SECTOR
        starts.append(len(fat) if count else _END)
        fat += _chain(len(fat), count)
    assert len(fat) <= _SECTOR // 4, "one FAT sector is enough for a test file"
    fat += [_FREE] * (_SECTOR // 4 - len(fat))

    directory = [_directory_entry("Root Entry", 5, _NONE, 1 if entries else _NONE, _END, 0)]
    for i, (name, kind, data) in enumerate(entries):
        right = i + 2 if i + 1 < len(entries) else _NONE
        directory.append(_directory_entry(name, kind, right, _NONE, starts[i], len(data)))
    while len(directory) % 4:
        directory.append(_directory_entry("", 0, _NONE, _NONE, 0, 0))

    header = struct.pack(
        "<8s16s5H6s9I",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        bytes(16),
        0x3E, 3, 0xFFFE, 9, 6,
        bytes(6),
        0, 1, 1, 0, _MINI_CUTOFF, _END, 0, _END, 0,
    )  # fmt: skip
    header += struct.pack("<109I", 0, *([_FREE] * 108))
    body = struct.pack(f"<{len(fat)}I", *fat) + b"".join(directory)
    return header + body + b"".join(data for _, _, data in entries)


def _chain(first: int, count: int) -> list[int]:
    return [first + i + 1 if i + 1 < count else _END for i in range(count)]


def _directory_entry(name: str, kind: int, right: int, child: int, start: int, size: int) -> bytes:
    encoded = (name.encode("utf-16-le") + b"\0\0") if name else b""
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        encoded, len(encoded), kind, 1, _NONE, right, child, bytes(16), 0, 0, 0, start, size,
    )  # fmt: skip


def _biff_record(kind: int, body: bytes = b"") -> bytes:
    return struct.pack("<HH", kind, len(body)) + body


def _biff8(value: float, *, password: bool) -> bytes:
    """A BIFF8 workbook stream: globals with one sheet entry, then a sheet holding A1."""

    def bof(substream: int) -> bytes:
        return _biff_record(0x0809, struct.pack("<4H2I", 0x0600, substream, 0x0DBB, 0x07CC, 0, 6))

    sheet_name = b"Sheet1"
    globals_ = [bof(0x0005)]
    if password:
        globals_.append(_biff_record(0x002F, struct.pack("<3H", 1, 1, 1) + bytes(48)))
    globals_.append(_biff_record(0x0042, struct.pack("<H", 1200)))  # CODEPAGE: UTF-16
    globals_.append(b"")  # the BoundSheet8 record, once the sheet's offset is known
    globals_.append(_biff_record(0x000A))
    sheet_entry_size = 4 + 6 + 2 + len(sheet_name)
    sheet_offset = len(b"".join(globals_)) + sheet_entry_size
    globals_[-2] = _biff_record(
        0x0085, struct.pack("<IBBBB", sheet_offset, 0, 0, len(sheet_name), 0) + sheet_name
    )
    sheet = [
        bof(0x0010),
        _biff_record(0x0200, struct.pack("<2I3H", 0, 1, 0, 1, 0)),  # DIMENSIONS
        _biff_record(0x0203, struct.pack("<3Hd", 0, 0, 0, value)),  # NUMBER at A1
        _biff_record(0x000A),
    ]
    return b"".join(globals_) + b"".join(sheet)
