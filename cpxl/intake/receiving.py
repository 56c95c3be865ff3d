"""Receiving files: scanning the inbox without following links, hashing, archiving.

Nothing is ever written, moved, renamed or deleted in the inbox: each file is copied once into a
content-addressed archive and every later step works on that copy.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cpxl.findings import (
    Code,
    FileResult,
    Finding,
    Location,
    Severity,
    Status,
)


@dataclass(frozen=True, slots=True)
class Received:
    """A file found in the inbox, hashed and archived."""

    path: Path  # in the inbox, as the file system names it
    name: str  # relative to the inbox, as every output shows it (see display_name)
    sha256: str
    archived: Path  # the copy every later step reads (the original, when it was too large)
    received_at: datetime
    stated: bool = False  # the officer stated when it was received (not the file's own time)


def display_name(relative: str) -> str:
    """A file's name as the terminal, JSON, store, summary and feedback all show it.

    Names are bytes: one unzipped from an old Windows archive may not be UTF-8, and a name may
    hold a newline. Bytes that are not UTF-8 show as ``\\xNN``, control characters as
    ``\\n`` or ``\\uNNNN``, and a backslash as two, so no two names show the same.
    """
    out: list[str] = []
    for ch in os.fsencode(relative).decode("utf-8", "surrogateescape"):
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch == "\\":
            out.append("\\\\")
        elif ch in _NAMED:
            out.append(_NAMED[ch])
        elif unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in _BIDI:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


# ---------------------------------------------------------------------------------------------
# Scanning and archiving


def scan(
    inbox: Path, within: Path | None = None
) -> tuple[list[tuple[Path, str]], list[FileResult]]:
    """Files to process (in order of receipt) and the files skipped, without following links.

    Each file comes with its display name, relative to the inbox, also when only the folder
    ``within`` it is scanned. A file that vanishes or cannot be looked at while
    the inbox is scanned is left for the step that copies it, which says what happened.
    """
    todo: list[tuple[float, str, Path]] = []
    skipped: list[FileResult] = []
    for root, dirs, files in os.walk(within or inbox, followlinks=False):
        dirs.sort()
        base = Path(root)
        for entry in sorted(files) + [d for d in dirs if (base / d).is_symlink()]:
            path = base / entry
            rel = display_name(path.relative_to(inbox).as_posix())
            if rel == "README.md":
                continue  # the inbox folder's own note
            try:
                reason = _skip_reason(path, entry)
                when = path.lstat().st_mtime
            except OSError:
                reason, when = None, 0.0
            if reason is not None:
                skipped.append(
                    FileResult(rel, "", Status.SKIPPED, reason, findings=_one(reason, rel))
                )
                continue
            todo.append((when, rel, path))
    todo.sort()
    return [(p, rel) for _, rel, p in todo], skipped


def _skip_reason(path: Path, name: str) -> Code | None:
    if name.startswith("~$") or name.startswith(".~lock."):
        return Code.LOCK_FILE
    if name.startswith("."):
        return Code.HIDDEN_FILE
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        return Code.NOT_A_REGULAR_FILE
    return None


def _one(code: Code, file: str, severity: Severity = Severity.INFO) -> tuple[Finding, ...]:
    return (Finding.make(code, severity, Location(file=file)),)


def archive(
    path: Path, name: str, archive_dir: Path, max_bytes: int, stated: datetime | None = None
) -> Received | FileResult:
    """Hash a received file and copy it, once, into the content-addressed archive.

    A file larger than ``max_bytes`` is neither copied nor read: the guard refuses it from the
    original, and it is known by its size, time and name. The copy stops at the limit too, for
    a file that grows while it is copied. A file that cannot be read, or a full archive disk,
    costs this file a ``not-processed`` status that says why; the run goes on. ``stated`` is
    the time of receipt the officer gave; without it the file's time in the inbox counts.
    """
    try:
        info = path.stat()
        received_at = stated or datetime.fromtimestamp(info.st_mtime, UTC)
        if info.st_size > max_bytes:
            return _too_large(path, name, info, received_at, stated is not None)
        sha, tmp = _copy(path, archive_dir, max_bytes)
    except _TooLarge:
        return _too_large(path, name, path.stat(), received_at, stated is not None)
    except OSError as exc:
        return _not_received(name, exc)
    suffix = "".join(Path(name).suffixes[-1:]).lower()[:8]
    target = archive_dir / sha[:2] / f"{sha}{suffix}"
    try:
        if target.exists():
            tmp.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp.chmod(0o444)
            tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        return _not_received(name, exc)
    return Received(path, name, sha, target, received_at, stated is not None)


class _TooLarge(Exception):
    """The file grew past the size limit while it was being copied."""


def _copy(path: Path, archive_dir: Path, max_bytes: int) -> tuple[str, Path]:
    """Copy and hash in one pass, into a temporary file of the archive; (sha256, that file)."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=archive_dir, prefix=".incoming-")
    tmp = Path(tmp_name)
    try:
        with path.open("rb") as source, os.fdopen(fd, "wb") as target:
            copied = 0
            for chunk in iter(lambda: source.read(1 << 20), b""):
                copied += len(chunk)
                if copied > max_bytes:
                    raise _TooLarge
                digest.update(chunk)
                target.write(chunk)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digest.hexdigest(), tmp


def _too_large(path: Path, name: str, info: os.stat_result, at: datetime, stated: bool) -> Received:
    # Known without reading it: hashing gigabytes would take as long as copying them.
    key = hashlib.sha256(f"too-large:{info.st_size}:{info.st_mtime_ns}:{name}".encode())
    return Received(path, name, key.hexdigest(), path, at, stated)


def _not_received(name: str, exc: OSError) -> FileResult:
    """The file could not be taken in: removed meanwhile, not readable, or no room to copy."""
    if isinstance(exc, FileNotFoundError):
        what = "it was removed from the inbox while the run was going on"
    elif isinstance(exc, PermissionError):
        what = "this computer's account may not read it (check the file's permissions)"
    elif exc.errno == errno.ENOSPC:
        what = "the disk holding the archive is full (free some space)"
    else:
        what = exc.strerror or type(exc).__name__
    finding = Finding.make(
        Code.ENVIRONMENT_FAILED, Severity.ERROR, Location(file=name), detail=what
    )
    return FileResult(name, "", Status.NOT_PROCESSED, Code.ENVIRONMENT_FAILED, findings=(finding,))
