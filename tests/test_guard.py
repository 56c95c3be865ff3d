"""The container check: what a received file's container alone decides, before any reader runs.

Behaviours covered:
- genuine xlsx, ods and legacy xls pass with no findings (a stray value is the reader's business);
- empty files, text, CSV, PDF, web pages, renamed Word/PowerPoint files and plain zips are
  not spreadsheets; truncated, damaged, hollow, Strict Open XML and .xlsb files are unreadable;
- password-protected xlsx, xls and ods files are reported as such;
- zip bombs are unsafe whether their headers are honest or lie, and the budget is respected;
- too many parts, escaping or colliding member names, XML entities (UTF-8 or UTF-16, xlsx or
  ods), macros (VBA, XLM, Basic, script events) and external links are unsafe;
- findings name the file and carry their limits; every hostile builder gets a verdict.
"""

from __future__ import annotations

import random
import re
import tracemalloc
import zipfile
from pathlib import Path

import hostile
import pytest

from cpxl.findings import Code, Location, Status
from cpxl.guard import MIB, Inspection, Limits, inspect

UNSAFE = Status.UNSAFE
UNREADABLE = Status.UNREADABLE


def verdict(ins: Inspection) -> tuple[str, tuple[str, ...], Status | None]:
    return ins.kind, tuple(f.code.value for f in ins.findings), ins.status


def finding(ins: Inspection, code: Code) -> dict[str, str]:
    (match,) = [f for f in ins.findings if f.code is code]
    return {"file": match.location.file, "seen": match.seen, **match.params}


# genuine files


def test_genuine_workbook_passes(tmp_path: Path) -> None:
    """A plain workbook saved by openpyxl passes the container check with no findings."""
    ins = inspect(hostile.workbook(tmp_path))
    assert verdict(ins) == ("xlsx", (), None)
    assert ins.findings == ()
    assert not ins.blocked


def test_stray_value_is_left_to_the_reader(tmp_path: Path) -> None:
    """A workbook with a value in the last cell (XFD1048576) is a sound container."""
    assert verdict(inspect(hostile.stray_value(tmp_path))) == ("xlsx", (), None)


def test_genuine_ods_passes(tmp_path: Path) -> None:
    """An OpenDocument spreadsheet is recognised by its mimetype member and passes."""
    assert verdict(inspect(hostile.ods(tmp_path))) == ("ods", (), None)


def test_legacy_xls_is_not_blocked(tmp_path: Path) -> None:
    """An Excel 97-2003 .xls passes as kind xls, for a reader that understands it."""
    assert verdict(inspect(hostile.legacy_xls(tmp_path))) == ("xls", (), None)


# not spreadsheets, or broken


def test_empty_file(tmp_path: Path) -> None:
    """A file of zero bytes is reported as empty."""
    ins = inspect(hostile.empty_file(tmp_path))
    assert verdict(ins) == ("", ("empty-file",), UNREADABLE)


def test_text_named_xlsx(tmp_path: Path) -> None:
    """A text file with an .xlsx name is not a spreadsheet."""
    ins = inspect(hostile.text_as_xlsx(tmp_path))
    assert verdict(ins) == ("", ("not-a-spreadsheet",), UNREADABLE)


def test_csv(tmp_path: Path) -> None:
    """A CSV export is not a spreadsheet workbook."""
    ins = inspect(hostile.csv_file(tmp_path))
    assert verdict(ins) == ("", ("not-a-spreadsheet",), UNREADABLE)


def test_pdf(tmp_path: Path) -> None:
    """A PDF is not a spreadsheet, and the finding says it looks like a PDF."""
    ins = inspect(hostile.pdf_file(tmp_path))
    assert verdict(ins) == ("", ("not-a-spreadsheet",), UNREADABLE)
    assert finding(ins, Code.NOT_A_SPREADSHEET)["seen"] == "PDF document"


def test_web_page_saved_as_xls(tmp_path: Path) -> None:
    """A web-page table saved with an .xls name is not a spreadsheet."""
    ins = inspect(hostile.html_as_xls(tmp_path))
    assert verdict(ins) == ("", ("not-a-spreadsheet",), UNREADABLE)


def test_truncated_workbook(tmp_path: Path) -> None:
    """A workbook cut short in transit is unreadable."""
    ins = inspect(hostile.truncated_xlsx(tmp_path))
    assert verdict(ins) == ("", ("unreadable-workbook",), UNREADABLE)


def test_word_document_renamed(tmp_path: Path) -> None:
    """A Word document renamed to .xlsx is not a spreadsheet."""
    ins = inspect(hostile.docx_as_xlsx(tmp_path))
    assert verdict(ins) == ("", ("not-a-spreadsheet",), UNREADABLE)
    assert finding(ins, Code.NOT_A_SPREADSHEET)["seen"] == "Word document"


def test_macro_document_renamed(tmp_path: Path) -> None:
    """A macro-enabled Word document is unsafe first and not a spreadsheet second."""
    ins = inspect(hostile.docm_as_xlsx(tmp_path))
    assert verdict(ins) == ("", ("macros", "not-a-spreadsheet"), UNSAFE)


def test_presentation_renamed(tmp_path: Path) -> None:
    """A PowerPoint presentation renamed to .xlsx is not a spreadsheet."""
    ins = inspect(hostile.pptx_as_xlsx(tmp_path))
    assert verdict(ins) == ("", ("not-a-spreadsheet",), UNREADABLE)


def test_plain_zip(tmp_path: Path) -> None:
    """A zip of ordinary files is not a spreadsheet."""
    ins = inspect(hostile.plain_zip(tmp_path))
    assert verdict(ins) == ("", ("not-a-spreadsheet",), UNREADABLE)


def test_missing_workbook_part(tmp_path: Path) -> None:
    """A workbook package without its workbook part is unreadable."""
    ins = inspect(hostile.missing_workbook_part(tmp_path))
    assert verdict(ins) == ("xlsx", ("unreadable-workbook",), UNREADABLE)


def test_missing_content_types(tmp_path: Path) -> None:
    """A workbook package without [Content_Types].xml is unreadable."""
    ins = inspect(hostile.missing_content_types(tmp_path))
    assert verdict(ins) == ("xlsx", ("unreadable-workbook",), UNREADABLE)


def test_damaged_member(tmp_path: Path) -> None:
    """A member whose bytes do not match its stored checksum makes the workbook unreadable."""
    ins = inspect(hostile.wrong_checksum(tmp_path))
    assert verdict(ins) == ("xlsx", ("unreadable-workbook",), UNREADABLE)


def test_strict_open_xml(tmp_path: Path) -> None:
    """A Strict Open XML workbook is unreadable, and the finding asks for a normal workbook."""
    ins = inspect(hostile.strict_xlsx(tmp_path))
    assert verdict(ins) == ("xlsx", ("unreadable-workbook",), UNREADABLE)
    (strict,) = ins.findings
    assert (strict.seen, strict.expected) == (
        "Strict Open XML Spreadsheet",
        "Excel Workbook (.xlsx)",
    )


def test_binary_workbook(tmp_path: Path) -> None:
    """An Excel Binary Workbook (.xlsb) is unreadable, with a normal workbook expected."""
    ins = inspect(hostile.xlsb_like(tmp_path))
    assert verdict(ins) == ("xlsx", ("unreadable-workbook",), UNREADABLE)
    assert ins.findings[0].seen == "Excel Binary Workbook (.xlsb)"


def test_word97_document_renamed(tmp_path: Path) -> None:
    """An OLE file without a workbook stream (a Word 97 document) is not a spreadsheet."""
    ins = inspect(hostile.word97_as_xls(tmp_path))
    assert verdict(ins) == ("", ("not-a-spreadsheet",), UNREADABLE)


def test_directory_is_not_a_regular_file(tmp_path: Path) -> None:
    """A folder dropped where a file was expected is not a regular file."""
    ins = inspect(tmp_path)
    assert verdict(ins) == ("", ("not-a-regular-file",), UNREADABLE)


def test_vanished_file(tmp_path: Path) -> None:
    """A file that disappears before it is checked is unreadable, not a crash."""
    ins = inspect(tmp_path / "gone.xlsx")
    assert verdict(ins) == ("", ("unreadable-workbook",), UNREADABLE)


def test_file_too_large(tmp_path: Path) -> None:
    """A file over the size cap is refused unread, with its size and the cap in words."""
    path = tmp_path / "huge.xlsx"
    path.write_bytes(bytes(3 * MIB // 2))
    ins = inspect(path, Limits(max_bytes=MIB))
    assert verdict(ins) == ("", ("file-too-large",), UNREADABLE)
    assert finding(ins, Code.FILE_TOO_LARGE) == {
        "file": "huge.xlsx",
        "seen": "",
        "size": "1.5 MB",
        "limit": "1 MB",
    }


# password protected


def test_encrypted_workbook(tmp_path: Path) -> None:
    """A workbook with a password to open (an OLE-wrapped encrypted package) is reported so."""
    ins = inspect(hostile.encrypted_xlsx(tmp_path))
    assert verdict(ins) == ("xlsx", ("password-protected",), UNREADABLE)


def test_encrypted_legacy_xls(tmp_path: Path) -> None:
    """An .xls with a password to open is reported as password protected."""
    ins = inspect(hostile.legacy_xls(tmp_path, password=True))
    assert verdict(ins) == ("xls", ("password-protected",), UNREADABLE)


def test_encrypted_ods(tmp_path: Path) -> None:
    """An OpenDocument spreadsheet saved with a password is reported as password protected."""
    ins = inspect(hostile.ods_encrypted(tmp_path))
    assert verdict(ins) == ("ods", ("password-protected",), UNREADABLE)


def test_zip_password(tmp_path: Path) -> None:
    """A workbook zipped with a password is reported as password protected."""
    ins = inspect(hostile.zip_password(tmp_path))
    assert verdict(ins) == ("xlsx", ("password-protected",), UNREADABLE)


# zip bombs


def test_honest_zip_bomb(tmp_path: Path) -> None:
    """A 1 GiB bomb whose headers admit its size is unsafe, named and never inflated."""
    ins = inspect(hostile.honest_bomb(tmp_path))
    assert verdict(ins) == ("xlsx", ("zip-bomb",), UNSAFE)
    assert finding(ins, Code.ZIP_BOMB) == {
        "file": "bomb.xlsx",
        "seen": "xl/worksheets/sheet1.xml",
        "limit": "300 MB",
    }


def test_lying_zip_bomb(tmp_path: Path) -> None:
    """A 1 GiB bomb whose headers claim 4 KiB is caught by inflating it, not by its headers."""
    ins = inspect(hostile.lying_bomb(tmp_path))
    assert verdict(ins) == ("xlsx", ("zip-bomb",), UNSAFE)
    assert finding(ins, Code.ZIP_BOMB)["seen"] == "xl/worksheets/sheet1.xml"


def test_lying_bomb_fools_zipfile(tmp_path: Path) -> None:
    """Read through the zip directory alone, the lying bomb's sheet looks like 4 KiB of data."""
    with (
        zipfile.ZipFile(hostile.lying_bomb(tmp_path)) as archive,
        archive.open("xl/worksheets/sheet1.xml") as sheet,
    ):
        assert len(sheet.read(MIB)) == 4096


def test_inflate_budget_stops_the_pass(tmp_path: Path) -> None:
    """With the ratio check off, the inflate budget alone stops a lying bomb in bounded memory."""
    path = hostile.lying_bomb(tmp_path)
    tracemalloc.start()
    try:
        ins = inspect(path, Limits(max_inflated=8 * MIB, max_ratio=float("inf")))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert verdict(ins) == ("xlsx", ("zip-bomb",), UNSAFE)
    assert finding(ins, Code.ZIP_BOMB)["limit"] == "8 MB"
    assert peak < 4 * MIB


# structure


def test_too_many_parts(tmp_path: Path) -> None:
    """A package with more members than the cap is unsafe, with its count and the cap."""
    ins = inspect(hostile.too_many_parts(tmp_path))
    assert verdict(ins) == ("", ("too-many-parts",), UNSAFE)
    assert finding(ins, Code.TOO_MANY_PARTS) == {
        "file": "parts.xlsx",
        "seen": "",
        "count": "2001",
        "limit": "2000",
    }


@pytest.mark.parametrize(
    "member",
    [
        "../evil.xml",
        "xl/../../evil.xml",
        "/etc/evil.xml",
        "C:/evil.xml",
        "xl\\evil.xml",
        "xl/a\0.xml",
    ],
)
def test_unsafe_member_name(tmp_path: Path, member: str) -> None:
    """A member whose name could escape a folder (.., absolute, drive, backslash, NUL) is unsafe."""
    ins = inspect(hostile.unsafe_member(tmp_path, member))
    assert verdict(ins) == ("xlsx", ("unsafe-member-name",), UNSAFE)
    assert finding(ins, Code.UNSAFE_MEMBER_NAME)["seen"] == member.replace("\0", "\\0")


def test_duplicate_member_name(tmp_path: Path) -> None:
    """Two members with the same name (ignoring case) are unsafe: readers would disagree."""
    ins = inspect(hostile.duplicate_member(tmp_path))
    assert verdict(ins) == ("xlsx", ("unsafe-member-name",), UNSAFE)


# XML entities


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_external_entity(tmp_path: Path, encoding: str) -> None:
    """A sheet declaring an external entity is unsafe, in whatever encoding it is written."""
    ins = inspect(hostile.xxe(tmp_path, port=8765, encoding=encoding))
    assert verdict(ins) == ("xlsx", ("xml-entities",), UNSAFE)
    assert finding(ins, Code.XML_ENTITIES)["seen"] == "xl/worksheets/sheet1.xml"


def test_billion_laughs(tmp_path: Path) -> None:
    """A sheet with nested entity expansions is unsafe."""
    ins = inspect(hostile.billion_laughs(tmp_path))
    assert verdict(ins) == ("xlsx", ("xml-entities",), UNSAFE)


def test_external_dtd(tmp_path: Path) -> None:
    """A sheet that loads an external DTD is unsafe."""
    ins = inspect(hostile.external_dtd(tmp_path))
    assert verdict(ins) == ("xlsx", ("xml-entities",), UNSAFE)


def test_ods_external_entity(tmp_path: Path) -> None:
    """An OpenDocument content.xml declaring an external entity is unsafe."""
    ins = inspect(hostile.ods_xxe(tmp_path))
    assert verdict(ins) == ("ods", ("xml-entities",), UNSAFE)
    assert finding(ins, Code.XML_ENTITIES)["seen"] == "content.xml"


# macros


def test_macro_enabled_workbook(tmp_path: Path) -> None:
    """A macro-enabled workbook (VBA project and macro content types) is unsafe."""
    ins = inspect(hostile.macro_enabled(tmp_path))
    assert verdict(ins) == ("xlsx", ("macros",), UNSAFE)


def test_vba_project_part_alone(tmp_path: Path) -> None:
    """A VBA project part is unsafe even when the content types do not mention macros."""
    ins = inspect(hostile.macro_enabled(tmp_path, content_type=False))
    assert verdict(ins) == ("xlsx", ("macros",), UNSAFE)


def test_macro_content_type_alone(tmp_path: Path) -> None:
    """A macro-enabled content type is unsafe even without a vbaProject.bin part."""
    ins = inspect(hostile.macro_enabled(tmp_path, vba_part=False))
    assert verdict(ins) == ("xlsx", ("macros",), UNSAFE)
    assert finding(ins, Code.MACROS)["seen"] == "[Content_Types].xml"


def test_excel4_macro_sheet(tmp_path: Path) -> None:
    """An Excel 4.0 macro sheet is unsafe."""
    ins = inspect(hostile.macro_sheet(tmp_path))
    assert verdict(ins) == ("xlsx", ("macros",), UNSAFE)


def test_legacy_xls_with_vba(tmp_path: Path) -> None:
    """An .xls carrying a VBA project is unsafe."""
    ins = inspect(hostile.legacy_xls(tmp_path, vba=True))
    assert verdict(ins) == ("xls", ("macros",), UNSAFE)


def test_ods_basic_library(tmp_path: Path) -> None:
    """An OpenDocument spreadsheet with a Basic library is unsafe."""
    ins = inspect(hostile.ods_with_macros(tmp_path))
    assert verdict(ins) == ("ods", ("macros",), UNSAFE)


def test_ods_script_event(tmp_path: Path) -> None:
    """An OpenDocument spreadsheet that runs a script when opened is unsafe."""
    ins = inspect(hostile.ods_script_event(tmp_path))
    assert verdict(ins) == ("ods", ("macros",), UNSAFE)


# external links


def test_external_links(tmp_path: Path) -> None:
    """A workbook linked to another workbook is unsafe."""
    ins = inspect(hostile.external_links(tmp_path))
    assert verdict(ins) == ("xlsx", ("external-links",), UNSAFE)


def test_external_link_relationship_alone(tmp_path: Path) -> None:
    """An externalLink relationship is unsafe even without its part."""
    ins = inspect(hostile.external_links(tmp_path, part=False))
    assert verdict(ins) == ("xlsx", ("external-links",), UNSAFE)
    assert finding(ins, Code.EXTERNAL_LINKS)["seen"] == "xl/_rels/workbook.xml.rels"


# every builder


def _builders() -> dict[str, object]:
    return {
        name: value
        for name, value in vars(hostile).items()
        if callable(value) and not name.startswith("_") and value.__module__ == hostile.__name__
    }


def test_every_builder_gets_a_verdict(tmp_path: Path) -> None:
    """Every hostile builder's file gets a decided verdict, each code at most once, and a test."""
    source = Path(__file__).read_text(encoding="utf-8")
    tested = set(re.findall(r"hostile\.(\w+)\(", source))
    for name, build in _builders().items():
        assert callable(build)
        ins = inspect(build(tmp_path))
        codes = [f.code for f in ins.findings]
        assert len(codes) == len(set(codes)), name
        assert ins.status in (None, UNSAFE, UNREADABLE), name
        assert all(f.location == Location(file=f.location.file) for f in ins.findings), name
        assert name in tested, f"{name} has no test in test_guard.py"


def test_damaged_copies_get_a_verdict(tmp_path: Path) -> None:
    """Randomly damaged copies of good files each get a verdict whose first finding explains it."""
    unsafe_codes = {"zip-bomb", "too-many-parts", "unsafe-member-name", "xml-entities"}
    unsafe_codes |= {"macros", "external-links"}
    originals = [
        build(tmp_path).read_bytes()
        for build in (hostile.workbook, hostile.ods, hostile.legacy_xls, hostile.encrypted_xlsx)
    ]
    rng = random.Random(20260101)
    path = tmp_path / "damaged.xlsx"
    for _ in range(400):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data))
            data[at : at + rng.randint(1, 4)] = rng.randbytes(rng.randint(0, 4))
        path.write_bytes(bytes(data))
        kind, codes, status = verdict(inspect(path))
        assert kind in ("xlsx", "ods", "xls", "")
        assert len(codes) == len(set(codes))
        if not codes:
            assert status is None
        else:
            assert status is (UNSAFE if codes[0] in unsafe_codes else UNREADABLE)
