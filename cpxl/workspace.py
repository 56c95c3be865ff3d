"""A workspace: the folder a data officer works in (rules, templates, inbox, outbox, store).

The repository itself is one. A command run outside a workspace with its own rules/ uses the
catalogue built into the package.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cpxl.catalogue import builtin_rules
from cpxl.errors import CannotStart

STORE_FILE = "cpxl.sqlite"
LOCK_FILE = ".cpxl.lock"


class WorkspaceError(CannotStart):
    """The workspace cannot be used as asked (already exists, busy, missing)."""


@dataclass(frozen=True, slots=True)
class Workspace:
    """Where everything of one data officer's work lives."""

    root: Path

    @property
    def rules(self) -> Path:
        """The workspace's own catalogue, or the built-in one when it has none."""
        own = self.root / "rules"
        return own if (own / "catalogue.yaml").is_file() else builtin_rules()

    @property
    def templates(self) -> Path:
        """Issued templates and their register."""
        return self.root / "templates_xlsx"

    @property
    def inbox(self) -> Path:
        """Files as received; cpxl never writes here."""
        return self.root / "inbox"

    @property
    def outbox(self) -> Path:
        """Feedback, run summaries and national workbooks."""
        return self.root / "outbox"

    @property
    def archive(self) -> Path:
        """Received originals, content-addressed, never changed."""
        return self.root / "archive"

    def require(self, *, inbox: Path | None = None) -> Workspace:
        """This workspace, if it is one (and its inbox exists, when a run needs it).

        A mistyped ``-w`` or a command run in the wrong folder is said in words, before
        anything is created there.
        """
        if not self.root.is_dir():
            raise WorkspaceError(
                f"There is no folder {self.root}. Give the workspace folder with -w DIR (or "
                "make a new workspace with: cpxl init DIR). Nothing was created."
            )
        marks = ("inbox", "outbox", "templates_xlsx", "rules", STORE_FILE)
        if not any((self.root / mark).exists() for mark in marks):
            raise WorkspaceError(
                f"{self.root} is not a cpxl workspace (it has no inbox/, outbox/, "
                "templates_xlsx/, rules/ or store). Go to the workspace folder or give it with "
                "-w DIR (a new one is made with: cpxl init DIR). Nothing was created."
            )
        if inbox is not None and not inbox.is_dir():
            raise WorkspaceError(
                f"The inbox {inbox} does not exist. Save the returns received into it (or give "
                "another with --inbox DIR). Nothing was created."
            )
        return self

    def store_url(self, explicit: str | None = None) -> str:
        """The store to use: --store, else $CPXL_STORE, else the workspace's SQLite file."""
        return explicit or os.environ.get("CPXL_STORE") or str(self.root / STORE_FILE)

    @contextlib.contextmanager
    def lock(self, wait_seconds: float = 10.0) -> Iterator[None]:
        """Hold the workspace for one run; a second run waits briefly, then gives up clearly."""
        path = self.root / LOCK_FILE
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = path.open("a+")
        except OSError as exc:
            raise WorkspaceError(
                f"cpxl may not write in the workspace {self.root} ({exc.strerror}). Ask the "
                "system administrator to let this account write there, or work in another "
                "folder. Nothing was changed."
            ) from exc
        with handle:
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise WorkspaceError(
                            f"Another cpxl run is working in {self.root}. "
                            "Wait until it has finished, then run again."
                        ) from None
                    time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def init_workspace(root: Path) -> Workspace:
    """Create a workspace with its own editable copy of the built-in catalogue."""
    if (root / "rules").exists() or (root / STORE_FILE).exists():
        raise WorkspaceError(f"{root} is already a workspace; nothing was changed.")
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(builtin_rules(), root / "rules", ignore=shutil.ignore_patterns("__*"))
    for sub in ("templates_xlsx", "inbox", "outbox/feedback", "outbox/runs", "outbox/national"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return Workspace(root)
