"""National exports as a whole: numbers and periods, CSV, and write_exports.

Behaviours covered:
- numbers are written plainly (no exponent, no trailing .0) and read back as the same float;
- every period type becomes an ADX start/duration and an SDMX frequency and period, and a yearly
  export asks for the half-years, quarters and months inside the year too;
- CSV starts with the UTF-8 BOM, keeps Khmer, keeps missing-reason codes, leaves NaN empty,
  and escapes any text a spreadsheet would run as a formula;
- write_exports writes the requested formats (data and metadata) under their names, refuses
  unknown ones, reads a generator of chunks once and writes the same files as from one table,
  and after a failure leaves neither a partial file nor a changed earlier export;
- ten times the data in ten chunks takes no more memory than one chunk (tracemalloc peak);
- the DHIS2 and SDMX metadata are the same bytes on every run.
"""

from __future__ import annotations

import csv
import io
import math
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import defusedxml.ElementTree as DET
import pandas as pd
import pytest
from exportdata import (
    EXPORTED,
    INDICATOR_ROWS,
    KHMER_FILE,
    RATE,
    ROWS,
    SURVEY_ROWS,
    catalogue,
    indicators_frame,
    values_frame,
)

from cpxl.catalogue import Catalogue
from cpxl.exports import (
    EXPORT_FORMATS,
    INDICATOR_COLUMNS,
    NATIONAL_VALUE_COLUMNS,
    adx_period,
    csv_safe,
    number_text,
    periods_within,
    sdmx_time_period,
    write_exports,
)


@pytest.fixture(scope="module", name="cat")
def _cat() -> Catalogue:
    return catalogue()


def read_csv_bytes(data: bytes) -> list[list[str]]:
    """The cells of a CSV file written with a BOM."""
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


# --- numbers and periods ------------------------------------------------------------------------


def test_numbers_are_plain_and_read_back_exactly() -> None:
    """Numbers are written without exponent or trailing .0 and read back as the same float."""
    cases = [12.0, 12.5, 1e-05, 1e20, -0.0, 100 / 3, 250000.0, -4.75]
    assert [number_text(v) for v in cases] == [
        "12",
        "12.5",
        "0.00001",
        "100000000000000000000",
        "0",
        "33.333333333333336",
        "250000",
        "-4.75",
    ]
    assert all(float(number_text(v)) == v for v in cases)
    with pytest.raises(ValueError, match="not a number"):
        number_text(math.nan)


def test_periods_become_iso_8601_and_sdmx_periods() -> None:
    """Each period type becomes an ADX start/duration and an SDMX frequency and period."""
    ids = ["2025", "2025S2", "2025Q3", "202503"]
    assert [adx_period(p) for p in ids] == [
        "2025-01-01/P1Y",
        "2025-07-01/P6M",
        "2025-07-01/P3M",
        "2025-03-01/P1M",
    ]
    assert [sdmx_time_period(p) for p in ids] == [
        ("A", "2025"),
        ("S", "2025-S2"),
        ("Q", "2025-Q3"),
        ("M", "2025-03"),
    ]


def test_a_yearly_export_covers_every_shorter_period_of_the_year() -> None:
    """A year brings its half-years, quarters and months; a half-year its quarters and months."""
    assert periods_within(["2025"]) == [
        "2025",
        "2025S1",
        "2025S2",
        *(f"2025Q{q}" for q in range(1, 5)),
        *(f"2025{m:02d}" for m in range(1, 13)),
    ]
    assert periods_within(["2024S2", "2025Q1"]) == [
        "2024S2",
        "2024Q3",
        "2024Q4",
        *(f"2024{m:02d}" for m in range(7, 13)),
        "2025Q1",
        "202501",
        "202502",
        "202503",
    ]


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_has_a_bom_keeps_khmer_codes_and_blanks(cat: Catalogue, tmp_path: Path) -> None:
    """values.csv starts with the BOM, keeps Khmer and codes, and writes NaN as empty."""
    values = values_frame(ROWS[3:5])
    indicators = indicators_frame(INDICATOR_ROWS[4:5])
    written = write_exports(cat, values, indicators, tmp_path, "cpims_2025", ("csv",))
    values_path, indicators_path = written["csv"]
    assert (values_path.name, indicators_path.name) == (
        "cpims_2025.values.csv",
        "cpims_2025.indicators.csv",
    )
    data = values_path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert indicators_path.read_bytes().startswith(b"\xef\xbb\xbf")
    element, when, sha = "children_in_residential_care", "2026-02-10T09:15:00+00:00", "ab" * 32
    provenance = ["MOSVY", "7", "children_in_care"]
    assert read_csv_bytes(data) == [
        list(NATIONAL_VALUE_COLUMNS),
        [
            element,
            "2025",
            "01",
            "age_group_5yr",
            "age_0_4",
            "12",
            "",
            *provenance,
            "D8",
            KHMER_FILE,
            sha,
            when,
            "3",
        ],
        [element, "2025", "12", "", "", "", "NK", *provenance, "D9", KHMER_FILE, sha, when, ""],
    ]
    assert read_csv_bytes(indicators_path.read_bytes()) == [
        list(INDICATOR_COLUMNS),
        [
            *("CP-AC-03", "2025", "12", "", "sex", "male", "", "", "", RATE, "not-reported"),
            *("", "", "", "1"),
        ],
    ]


DANGEROUS = ['=HYPERLINK("http://x")', "+1", "@SUM(A1)", "-2+3", "\t=1", "\r=1"]


@pytest.mark.parametrize("payload", DANGEROUS)
def test_csv_escapes_formula_text_in_every_text_column(
    cat: Catalogue, tmp_path: Path, payload: str
) -> None:
    """Text a spreadsheet would run as a formula is written with a leading apostrophe."""
    value_text = [
        c for c in NATIONAL_VALUE_COLUMNS if c not in ("value", "submission_id", "days_late")
    ]
    value_text.remove("received_at")
    numeric = ("numerator", "denominator", "value", "sources")
    indicator_text = [c for c in INDICATOR_COLUMNS if c not in numeric]
    values = values_frame(ROWS[:1], **dict.fromkeys(value_text, payload))
    indicators = indicators_frame([dict.fromkeys(indicator_text, payload) | {"value": 1.0}])
    values_path, indicators_path = write_exports(cat, values, indicators, tmp_path, "x", ("csv",))[
        "csv"
    ]
    header, row = read_csv_bytes(values_path.read_bytes())
    assert {name: cell for name, cell in zip(header, row, strict=True) if name in value_text} == (
        dict.fromkeys(value_text, "'" + payload)
    )
    assert row[NATIONAL_VALUE_COLUMNS.index("value")] == "120"
    header, row = read_csv_bytes(indicators_path.read_bytes())
    assert {
        name: cell for name, cell in zip(header, row, strict=True) if name in indicator_text
    } == (dict.fromkeys(indicator_text, "'" + payload))


@pytest.mark.parametrize("text", ["a, b", 'say "no"', "two\nlines", "cr\rlf", "", "Ṡ ក"])
def test_csv_quotes_as_the_csv_module_does(cat: Catalogue, tmp_path: Path, text: str) -> None:
    """A text holding a comma, a quote or a line break is quoted as Python's csv writes it, and
    reads back as it was."""
    values = values_frame(ROWS[:1], name_received=text)
    path = write_exports(cat, values, indicators_frame([]), tmp_path, "x", ("csv",))["csv"][0]
    lines = path.read_bytes().decode("utf-8-sig").split("\r\n", 1)[1]
    header, row = read_csv_bytes(path.read_bytes())
    expected = io.StringIO(newline="")
    csv.writer(expected, lineterminator="\r\n").writerow(row)
    assert lines == expected.getvalue()
    assert row[header.index("name_received")] == text


def test_ordinary_text_is_not_escaped() -> None:
    """Codes, names and Khmer that cannot run as a formula are written unchanged."""
    texts = ["CP-AC-02", "KH-1", "a=b", KHMER_FILE, "'quoted", ""]
    assert [csv_safe(t) for t in texts] == texts


# --- all at once --------------------------------------------------------------------------------

NAMES = {
    "csv": ["n.values.csv", "n.indicators.csv"],
    "dhis2": ["n.dhis2-metadata.json", "n.dhis2.json"],
    "adx": ["n.adx.xml"],
    "sdmx": ["n.sdmx-structure.xml", "n.sdmx.csv"],
}


def test_write_exports_writes_each_format_under_its_name(cat: Catalogue, tmp_path: Path) -> None:
    """Every format lands in the folder under the stem; a subset writes only that subset."""
    values, indicators = values_frame(ROWS), indicators_frame(INDICATOR_ROWS)
    written = write_exports(cat, values, indicators, tmp_path / "all", "n", exported=EXPORTED)
    assert {fmt: [p.name for p in paths] for fmt, paths in written.items()} == NAMES
    assert tuple(written) == EXPORT_FORMATS
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == sorted(
        name for names in NAMES.values() for name in names
    )
    some = write_exports(cat, values, indicators, tmp_path / "some", "n", ("adx",))
    assert {fmt: [p.name for p in paths] for fmt, paths in some.items()} == {
        "adx": ["n.dhis2-metadata.json", "n.adx.xml"]
    }
    assert sorted(p.name for p in (tmp_path / "some").iterdir()) == [
        "n.adx.xml",
        "n.dhis2-metadata.json",
    ]


def test_chunks_read_once_make_the_same_files_as_one_table(cat: Catalogue, tmp_path: Path) -> None:
    """A generator of small chunks is read once and gives byte-identical exports."""
    rows = ROWS + SURVEY_ROWS
    whole = write_exports(
        cat,
        values_frame(rows),
        indicators_frame(INDICATOR_ROWS),
        tmp_path / "whole",
        "n",
        exported=EXPORTED,
    )
    pulled: list[str] = []

    def pieces(frame: pd.DataFrame, what: str) -> Iterator[pd.DataFrame]:
        for start in range(0, len(frame), 2):
            pulled.append(what)
            yield frame.iloc[start : start + 2].reset_index(drop=True)

    chunked = write_exports(
        cat,
        pieces(values_frame(rows), "values"),
        pieces(indicators_frame(INDICATOR_ROWS), "indicators"),
        tmp_path / "chunked",
        "n",
        exported=EXPORTED,
    )
    assert pulled.count("values") == math.ceil(len(rows) / 2)
    assert pulled.count("indicators") == math.ceil(len(INDICATOR_ROWS) / 2)
    different = [
        p.name
        for paths in whole.values()
        for p in paths
        if p.suffix != ".xml" and p.read_bytes() != (tmp_path / "chunked" / p.name).read_bytes()
    ]
    assert different == []
    # ADX groups follow the chunks, so compare its values rather than its bytes.
    assert chunked.keys() == whole.keys()
    assert adx_values(tmp_path / "chunked" / "n.adx.xml") == adx_values(
        tmp_path / "whole" / "n.adx.xml"
    )


def adx_values(path: Path) -> list[tuple[tuple[str, str], ...]]:
    """Each ADX data value with its group's attributes, sorted."""
    root = DET.fromstring(path.read_bytes())
    return sorted(
        tuple(sorted({**group.attrib, **value.attrib, "note": value.findtext("*") or ""}.items()))
        for group in root
        for value in group
    )


def test_a_failure_leaves_no_partial_file_and_the_earlier_export(
    cat: Catalogue, tmp_path: Path
) -> None:
    """An unknown element stops the export; the earlier files stay as they were, no .partial."""
    good = write_exports(cat, values_frame(ROWS), indicators_frame([]), tmp_path, "n", ("dhis2",))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    bad = values_frame([*ROWS, ("no_such_element", "2025", "01", "", "", 1.0, "")])
    with pytest.raises(ValueError, match="no_such_element"):
        write_exports(cat, bad, indicators_frame([]), tmp_path, "n", ("csv", "dhis2"))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert [p.name for p in good["dhis2"]] == ["n.dhis2-metadata.json", "n.dhis2.json"]


def test_write_exports_refuses_an_unknown_format(cat: Catalogue, tmp_path: Path) -> None:
    """An unknown format name stops before anything is written."""
    with pytest.raises(ValueError, match="xlsx"):
        write_exports(cat, values_frame(ROWS), indicators_frame([]), tmp_path, "n", ("csv", "xlsx"))
    assert list(tmp_path.iterdir()) == []


def test_metadata_is_the_same_bytes_on_every_run(cat: Catalogue, tmp_path: Path) -> None:
    """Two runs write identical DHIS2 and SDMX metadata, so importing again changes nothing."""
    for run in ("one", "two"):
        write_exports(cat, [], [], tmp_path / run, "n", ("dhis2", "sdmx"), exported=EXPORTED)
    for name in ("n.dhis2-metadata.json", "n.sdmx-structure.xml"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_memory_follows_the_chunk_not_the_table(cat: Catalogue, tmp_path: Path) -> None:
    """Ten times the data in ten chunks needs about the memory of one chunk, in every format."""
    chunk = values_frame(ROWS * 150)
    indicators = indicators_frame(INDICATOR_ROWS[:10] * 150)

    def peak(copies: int) -> int:
        values = (chunk for _ in range(copies))
        inds = (indicators for _ in range(copies))
        tracemalloc.start()
        try:
            write_exports(cat, values, inds, tmp_path / str(copies), "n", exported=EXPORTED)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    one, ten = peak(1), peak(10)
    assert ten < 1.2 * one, (one, ten)
