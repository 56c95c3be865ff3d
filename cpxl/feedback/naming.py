"""Where feedback goes: a safe, never-overwritten name per file received.

The intake names each file's feedback in the store when it records the file, so a receipt
(same bytes, same name) checked again finds its name there, and never gets a second workbook.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Container
from pathlib import Path

SUFFIX = ".feedback.xlsx"
_FEEDBACK = ".feedback"
# A name component may be 255 bytes on most file systems; Khmer letters take 3 bytes each.
MAX_STEM_BYTES = 150
_FORBIDDEN = frozenset('/\\:*?"<>|')
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
)
_RECEIVED_SUFFIXES = frozenset({"xlsx", "xlsm", "xlsb", "xls", "ods", "csv"})


def plain_name(text: str) -> str:
    """Text any file system accepts in a name, Khmer kept whole: the characters Windows refuses
    made ``_``, controls and invisible format characters (bidi overrides too) dropped, and each
    run of spaces made one."""
    kept: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        category = unicodedata.category(ch)
        if ch in _FORBIDDEN:
            kept.append("_")
        elif category[0] == "C" or category in ("Zl", "Zp"):
            continue  # control, invisible format, unassigned, private use
        else:
            kept.append(" " if category == "Zs" else ch)
    return re.sub(r" +", " ", "".join(kept))


def safe_stem(received_name: str) -> str:
    """A file-name stem any file system accepts, from the name of the file received."""
    text = plain_name(received_name)
    stem, dot, ext = text.rpartition(".")
    if dot and stem and ext.lower() in _RECEIVED_SUFFIXES:
        text = stem
    # A feedback workbook sent back as the return: its feedback is not "x.feedback.feedback".
    while text.lower().endswith(_FEEDBACK) and len(text) > len(_FEEDBACK):
        text = text[: -len(_FEEDBACK)]
    text = cap_bytes(text.lstrip(" .-"), MAX_STEM_BYTES).rstrip(" .")
    if not text:
        return "file"
    if text.split(".")[0].upper() in _WINDOWS_DEVICES:
        return "_" + text
    return text


def cap_bytes(text: str, limit: int) -> str:
    """The text cut to at most ``limit`` bytes of UTF-8, never inside a Khmer cluster."""
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


def feedback_name(received_name: str, taken: Container[str]) -> str:
    """The first free feedback name for a file received: ``stem``, then ``stem-2``, ...

    The store holds every name it gave out, so a run names each file's feedback before writing
    it and a rerun finds the same name there.
    """
    stem = safe_stem(received_name)
    for n in itertools.count(1):
        name = f"{stem}{SUFFIX}" if n == 1 else f"{stem}-{n}{SUFFIX}"
        if name not in taken:
            return name
    raise AssertionError("unreachable")  # pragma: no cover


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
