"""One run over an inbox: every file gets exactly one status, and originals are never touched.

The run, as a newcomer reads it:

1. Rebuild any feedback workbook the store recorded but never saw written (a run stopped
   between the two), under its stored name.
2. Scan the inbox; hash and archive each file, in order of receipt, as the workers have room
   for it. A file already recorded (same bytes, same name) is reported as processed before;
   the same bytes under another name is a repeat.
3. A small pool of worker processes runs guard -> read -> validate on each new file, the first
   while the next are still being archived.
4. For each checked file, in order of receipt: decide its status (reading the history its
   checks need), record it in one transaction with the name of its feedback workbook, then hand
   the workbook to a writer process without waiting.
5. At the end, wait for the writer and confirm in the store each workbook written.

Recording before writing keeps every decision on the store as the files before it left it,
with no bookkeeping: the store is the truth, and a feedback workbook is a view of it.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import platform
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from cpxl import __version__
from cpxl.catalogue import Catalogue, load
from cpxl.feedback import feedback_name, write_run_summary
from cpxl.findings import FileResult, RunReport, Status
from cpxl.guard import Limits
from cpxl.intake.deciding import Expectation, decide, duplicate, not_processed, record
from cpxl.intake.receiving import Received, archive, scan
from cpxl.intake.workers import (
    TIME_LIMIT_S,
    Checked,
    FeedbackWriter,
    Setup,
    check_all,
    write_pending,
)
from cpxl.store import AlreadyRecorded, PendingFeedback, Store, StoreError
from cpxl.templates import IssuedTemplate, read_register
from cpxl.workspace import Workspace


@dataclass(frozen=True, slots=True)
class Progress:
    """A step of a run, for a progress bar."""

    done: int
    total: int
    file: str
    status: str


def run_inbox(
    workspace: Workspace,
    *,
    inbox: Path | None = None,
    outbox: Path | None = None,
    store_url: str | None = None,
    dry_run: bool = False,
    workers: int | None = None,
    wait: float = 10.0,
    expect: Expectation | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    time_limit: float = TIME_LIMIT_S,
    received: datetime | None = None,
    within: Path | None = None,
    catalogue: Catalogue | None = None,
) -> RunReport:
    """Process every file of an inbox once: statuses, store, feedback, and a run summary.

    ``expect`` names the ministries and periods the officer is collecting: a genuine return for
    another one is an error at the file, so it is not stored by mistake. A dry run reads the
    store without writing to it and leaves its feedback beside its summary. ``time_limit`` is
    the wall-clock seconds one file may take to check. ``received`` is when the officer says
    these files arrived (a batch saved from e-mail days later); without it, each file's time
    in the inbox counts. Either way the feedback says which was used. ``within`` limits the run
    to one folder of the inbox (the portal's upload), names still relative to the inbox.
    ``catalogue`` is the workspace's, when the caller keeps it loaded (the portal).
    """
    catalogue = catalogue or load(workspace.rules)
    outbox = outbox or workspace.outbox
    started = datetime.now(UTC)
    # Unique even for two runs of one process in the same second (the portal's uploads).
    run_id = started.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{secrets.token_hex(3)}"
    run_dir = outbox / "runs" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    with workspace.lock(wait):
        target = workspace.store_url(store_url)
        with Store.open(
            target, create=store_url is None or "://" in target, read_only=dry_run
        ) as store:
            run = _Run(
                catalogue,
                workspace,
                store,
                feedback=run_dir / "feedback" if dry_run else outbox / "feedback",
                dry_run=dry_run,
                expect=expect or Expectation(),
                on_progress=on_progress,
                time_limit=time_limit,
                log=run_dir / "workers.log",
                received=received,
            )
            try:
                report = run.over(inbox or workspace.inbox, run_id, workers, within)
            except KeyboardInterrupt:
                stopped = _summarised(run_dir, run.finished(run_id), catalogue)
                raise RunStopped(stopped) from None
    return _summarised(run_dir, report, catalogue)


class RunStopped(KeyboardInterrupt):
    """The run was stopped (Ctrl-C, SIGTERM); ``report`` holds the files it finished."""

    def __init__(self, report: RunReport) -> None:
        super().__init__()
        self.report = report


def _summarised(run_dir: Path, report: RunReport, catalogue: Catalogue) -> RunReport:
    """The report with its run summary written (none when the disk is full: the JSON and the
    terminal still say everything)."""
    try:
        summary_xlsx, _ = write_run_summary(run_dir, report, catalogue)
    except OSError:
        return report
    return replace(report, summary=str(summary_xlsx))


@dataclass(frozen=True, slots=True)
class Seen:
    """A file whose bytes were received before: under which name first, with which status
    (None until that file is decided in this run), and the feedback an earlier run wrote for
    this very file (None: the same bytes under a new name)."""

    first: str
    status: Status | None = None
    feedback: str | None = None


@dataclass
class _Run:
    """One run's parent: the only process that talks to the store."""

    catalogue: Catalogue
    workspace: Workspace
    store: Store
    feedback: Path  # the folder feedback workbooks go to
    dry_run: bool
    expect: Expectation
    on_progress: Callable[[Progress], None] | None
    time_limit: float
    log: Path  # what worker processes print (a native reader's last words) goes here
    received: datetime | None = None  # when the officer says the files arrived
    run: int = 0  # the store's id of this run
    started: str = ""
    results: list[FileResult] = field(default_factory=list)  # the files done so far
    taken: set[str] = field(default_factory=set)  # feedback names given out
    register: dict[str, IssuedTemplate] = field(default_factory=dict)  # templates issued
    total: int = 0  # the files to take in: what the progress bar counts to
    counted: int = 0  # of them, those done

    def over(
        self, inbox: Path, run_id: str, workers: int | None, within: Path | None = None
    ) -> RunReport:
        """Steps 1 to 5 of the module docstring."""
        self.started = datetime.now(UTC).isoformat(timespec="seconds")
        self.register = dict(read_register(self.workspace.templates))
        if not self.dry_run:
            self.rebuild_feedback()
        files, skipped = scan(inbox, within)
        self.results.extend(skipped)
        self.total = len(files)
        self.run = 0 if self.dry_run else self._start_run()
        self.taken = self.store.feedback_names() | _on_disk(self.feedback)
        seen: dict[str, Seen] = {}
        n = max(1, min(workers or os.cpu_count() or 1, len(files)))
        setup = Setup(self.catalogue, self.register, str(self.log))
        # Files are taken in as the workers have room, so checking starts with the first one.
        arrivals = self.receive(files, seen)
        checks = check_all(
            arrivals, setup, n, time_limit=self.time_limit, skip=lambda r: r.name in seen
        )
        with FeedbackWriter(self.feedback, setup, enabled=len(files) > 1) as writer:
            for r, checked in checks:
                if checked is None:
                    result = self.seen_before(r, seen[r.name], writer)
                else:
                    result = self.decide_and_record(r, checked, writer)
                self.done(result)
            written, failed = writer.finish()
        if not self.dry_run:
            self.store.confirm_feedback(written)
        lost = {p.result.file for p, _ in failed}  # written by the next run, once there is room
        self.results = [replace(f, feedback=None) if f.file in lost else f for f in self.results]
        report = self.finished(run_id)
        if not self.dry_run:
            self.store.finish_run(self.run, report.totals)
        return replace(report, stopped=False)

    def receive(
        self, files: Sequence[tuple[Path, str]], seen: dict[str, Seen]
    ) -> Iterator[Received]:
        """Step 2, one file at a time: each archived in order of receipt (a file that cannot be,
        gone, unreadable, too large or without room, gets its status here), and those whose
        bytes came before noted in ``seen``: this very file recorded by an earlier run, or the
        same bytes under another name (earlier, or earlier in this run)."""
        first_of: dict[str, str] = {}  # sha256 -> the first name it came under, this run
        for path, name in files:
            r = archive(path, name, self.workspace.archive, Limits().max_bytes, self.received)
            if not isinstance(r, Received):
                self.done(r)
                continue
            known = self.store.received_before(r.sha256, r.name)
            if known is not None:
                seen[r.name] = Seen(first=known[0], status=known[1], feedback=known[2])
            elif (first := first_of.get(r.sha256)) is not None:
                seen[r.name] = Seen(first=first)
            else:
                first_of[r.sha256] = r.name
            yield r

    def done(self, result: FileResult) -> None:
        """One more file with its status, for the report and the progress bar."""
        self.results.append(result)
        self.counted += 1
        if self.on_progress:
            self.on_progress(Progress(self.counted, self.total, result.file, result.status.value))

    def seen_before(self, r: Received, seen: Seen, writer: FeedbackWriter) -> FileResult:
        """A duplicate: reported with the feedback an earlier run wrote for this very file, or
        with a feedback workbook of its own that says which file it repeats, and whether that
        one was accepted (sent again, a refused return is still to be corrected)."""
        if seen.feedback is not None:
            return replace(duplicate(r, seen.first), feedback=self._path(seen.feedback))
        result = duplicate(r, seen.first, seen.status or self._status_of(seen.first))
        name, recorded = self._reserve(r.name), None
        if not self.dry_run:
            try:
                recorded = self.store.record_repeat(self.run, r.sha256, r.name, r.received_at, name)
            except StoreError as exc:
                self.taken.discard(name)
                return not_processed(result, exc)
        writer.submit(PendingFeedback(name, result, "", repeat_id=recorded))
        return replace(result, feedback=self._path(name))

    def finished(self, run_id: str) -> RunReport:
        """The files done so far, in order of receipt (all of them once the run is over).

        A run stopped mid-file may have recorded a file it had not yet reported: the store says.
        """
        done = list(self.results)
        if self.run:
            with contextlib.suppress(StoreError):
                shown = {f.file for f in done}
                for f in self.store.results_of_run(self.run):
                    if f.file not in shown:
                        done.append(replace(f, feedback=self._path(f.feedback or "")))
        ordered = tuple(sorted(done, key=lambda f: (f.received_at or "", f.file)))
        now = datetime.now(UTC).isoformat(timespec="seconds")
        return RunReport(run_id, self.started, now, ordered, self.dry_run, stopped=True)

    def decide_and_record(
        self, r: Received, checked: Checked, writer: FeedbackWriter
    ) -> FileResult:
        """Step 4 for one new file."""
        result = decide(r, checked, self.catalogue, self.store, self.expect, self.register)
        if result.status == Status.NOT_PROCESSED:
            return result
        name, recorded = self._reserve(r.name), None
        if not self.dry_run:
            try:
                recorded = record(self.store, self.run, r, result, checked, name)
            except AlreadyRecorded as exc:  # another officer's run recorded it meanwhile
                self.taken.discard(name)
                return duplicate(r, exc.first)
            except StoreError as exc:
                self.taken.discard(name)
                return not_processed(result, exc)
        writer.submit(PendingFeedback(name, result, str(r.archived), submission_id=recorded))
        return replace(result, feedback=self._path(name))

    def rebuild_feedback(self) -> None:
        """Step 1: feedback recorded but never confirmed written, rebuilt under its own name."""
        pending = self.store.pending_feedback()
        if not pending:
            return
        written = []
        for p in pending:
            try:
                write_pending(self.feedback, p, self.catalogue, self.register)
            except OSError:
                continue  # the disk is still full or locked: the next run tries again
            written.append(p)
        self.store.confirm_feedback(written)

    def _start_run(self) -> int:
        return self.store.start_run(
            user=getpass.getuser(),
            host=platform.node(),
            cpxl_version=__version__,
            catalogue_version=self.catalogue.version,
        )

    def _status_of(self, name: str) -> Status | None:
        """The status this run gave a file it took in (None for none)."""
        return next((f.status for f in reversed(self.results) if f.file == name), None)

    def _reserve(self, received_name: str) -> str:
        name = feedback_name(received_name, self.taken)
        self.taken.add(name)
        return name

    def _path(self, name: str) -> str | None:
        return str(self.feedback / name) if name else None


def _on_disk(folder: Path) -> set[str]:
    """Names already used in the feedback folder (written by hand, or by an older cpxl)."""
    try:
        return {p.name for p in folder.iterdir()}
    except OSError:
        return set()
