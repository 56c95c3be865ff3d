"""Receiving files: scanning the inbox without following links, hashing, archiving.

Nothing is ever written, moved, renamed or deleted in the inbox: each file is copied once into a
content-addressed archive and every later step works on that copy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
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

    path: Path
    name: str  # relative to the inbox
    sha256: str
    archived: Path
    received_at: datetime


# ---------------------------------------------------------------------------------------------
# Scanning and archiving


def scan(inbox: Path) -> tuple[list[tuple[Path, str]], list[FileResult]]:
    """Files to process (in order of receipt) and the files skipped, without following links."""
    todo: list[tuple[float, str, Path]] = []
    skipped: list[FileResult] = []
    for root, dirs, files in os.walk(inbox, followlinks=False):
        dirs.sort()
        base = Path(root)
        for entry in sorted(files) + [d for d in dirs if (base / d).is_symlink()]:
            path = base / entry
            rel = path.relative_to(inbox).as_posix()
            if rel == "README.md":
                continue  # the inbox folder's own note
            reason = _skip_reason(path, entry)
            if reason is not None:
                skipped.append(
                    FileResult(rel, "", Status.SKIPPED, reason, findings=_one(reason, rel))
                )
                continue
            todo.append((path.stat().st_mtime, rel, path))
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


def archive(path: Path, name: str, archive_dir: Path) -> Received:
    """Hash a received file and copy it, once, into the content-addressed archive."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    sha = digest.hexdigest()
    suffix = "".join(Path(name).suffixes[-1:]).lower()[:8]
    target = archive_dir / sha[:2] / f"{sha}{suffix}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        os.close(fd)
        tmp = Path(tmp_name)
        shutil.copyfile(path, tmp)
        tmp.chmod(0o444)
        tmp.replace(target)
    mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return Received(path, name, sha, target, mtime)
