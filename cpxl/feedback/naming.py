"""Where feedback goes: a safe, never-overwritten name per file received, and receipts.

A receipt (same bytes, same name) checked again finds the feedback it got before, so an
interrupted run or an inbox run twice never writes a second workbook for one file.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from pathlib import Path

from cpxl.findings import FileResult

SUFFIX = ".feedback.xlsx"
# A name component may be 255 bytes on most file systems; Khmer letters take 3 bytes each.
MAX_STEM_BYTES = 150
_FORBIDDEN = frozenset('/\\:*?"<>|')
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
)
_RECEIVED_SUFFIXES = frozenset({"xlsx", "xlsm", "xlsb", "xls", "ods", "csv"})

RECEIPTS = ".receipts"


def safe_stem(received_name: str) -> str:
    """A file-name stem any file system accepts, from the name of the file received."""
    kept: list[str] = []
    for ch in unicodedata.normalize("NFC", received_name):
        category = unicodedata.category(ch)
        if ch in _FORBIDDEN:
            kept.append("_")
        elif category[0] == "C" or category in ("Zl", "Zp"):
            continue  # control, invisible format (incl. bidi overrides), unassigned, private use
        else:
            kept.append(" " if category == "Zs" else ch)
    text = re.sub(r" +", " ", "".join(kept))
    stem, dot, ext = text.rpartition(".")
    if dot and stem and ext.lower() in _RECEIVED_SUFFIXES:
        text = stem
    text = _cap_bytes(text.lstrip(" .-"), MAX_STEM_BYTES).rstrip(" .")
    if not text:
        return "file"
    if text.split(".")[0].upper() in _WINDOWS_DEVICES:
        return "_" + text
    return text


def _cap_bytes(text: str, limit: int) -> str:
    out: list[str] = []
    size = 0
    for ch in text:
        size += len(ch.encode("utf-8"))
        if size > limit:
            # a cut Khmer cluster must not end in a coeng or a dependent vowel
            while out and (unicodedata.category(out[-1])[0] == "M" or out[-1] == "\u17d2"):
                out.pop()
            break
        out.append(ch)
    return "".join(out)


def feedback_path(out_dir: Path, received_name: str) -> Path:
    """A new feedback file named after the file received; reserved, so it is never overwritten."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = safe_stem(received_name)
    for n in itertools.count(1):
        candidate = out_dir / (f"{stem}{SUFFIX}" if n == 1 else f"{stem}-{n}{SUFFIX}")
        try:
            with candidate.open("x"):
                return candidate
        except FileExistsError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def _receipt_key(result: FileResult) -> str:
    return f"{result.sha256}|{result.file}"


def _receipts(out_dir: Path) -> dict[str, str]:
    """Which feedback file each receipt got: one line per write, the last one counts.

    Appending a line is cheap however long the outbox grows; a line cut short by a crash is
    simply not read.
    """
    try:
        text = (out_dir / RECEIPTS).read_text(encoding="utf-8")
    except OSError:
        return {}
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, tab, name = line.partition("\t")
        if tab and name.endswith(SUFFIX):
            out[key] = name
    return out


def existing_feedback(out_dir: Path, result: FileResult) -> Path | None:
    """The feedback already written for this very receipt (same bytes, same name), if any.

    A run that was interrupted and run again, or an inbox run twice, then finds the feedback it
    wrote before instead of writing a second one.
    """
    name = _receipts(out_dir).get(_receipt_key(result))
    path = out_dir / name if name else None
    return path if path is not None and path.is_file() else None


def remember(out_dir: Path, result: FileResult, path: Path) -> None:
    _append(out_dir, _receipt_key(result), path)


def _append(out_dir: Path, key: str, path: Path) -> None:
    with (out_dir / RECEIPTS).open("a", encoding="utf-8") as handle:
        handle.write(f"{key}\t{path.name}\n")


class Receipts:
    """The feedback file of each receipt, read once for a whole run.

    A run reserves each file's feedback name in order of receipt, before the file is checked,
    so names never depend on which process writes first; the receipt is remembered at once, so
    a run killed before the workbook is written gets the same name back next time.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._names = _receipts(out_dir)

    def reserve(self, sha256: str, file: str) -> Path:
        """This receipt's feedback file: the one it had before, or a new name, remembered."""
        key = f"{sha256}|{file}"
        name = self._names.get(key)
        if name is not None and (self.out_dir / name).is_file():
            return self.out_dir / name
        path = feedback_path(self.out_dir, file)
        _append(self.out_dir, key, path)
        self._names[key] = path.name
        return path
