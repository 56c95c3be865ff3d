"""One run over an inbox: every file gets exactly one status, and originals are never touched.

The parent scans, hashes and archives each file, then a small pool of worker processes runs
guard -> read -> validate on the archived copy under memory and CPU limits. The parent alone
talks to the store: it decides each file in order of receipt (checks that need history, the
status), a worker writes its feedback workbook, and once that is written the parent records the
file in one transaction. While a workbook is being written the parent decides the next files,
unless one of them reads what an earlier file not yet recorded will change (see
``deciding.Reads``): that one waits, so every file is decided on the store as the files before it
left it.
"""

from __future__ import annotations

import getpass
import os
import platform
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from cpxl import __version__
from cpxl.catalogue import Catalogue, load
from cpxl.feedback import Receipts, existing_feedback, write_feedback, write_run_summary
from cpxl.findings import (
    FileResult,
    RunReport,
    Status,
)
from cpxl.intake.deciding import (
    Decision,
    Expectation,
    decide,
    duplicate,
    not_processed,
    own_elements,
    reads_of,
    record,
    stored_name,
)
from cpxl.intake.receiving import Received, archive, scan
from cpxl.intake.workers import Checked, FeedbackWriter, check_all
from cpxl.reading import Submission
from cpxl.store import Store, StoreError
from cpxl.workspace import Workspace


@dataclass(frozen=True, slots=True)
class Progress:
    """A step of a run, for a progress bar."""

    done: int
    total: int
    file: str
    status: str


# Files decided whose feedback is still being written; each holds its return in memory.
MAX_PENDING = 8


@dataclass(frozen=True, slots=True)
class _Pending:
    received: Received
    checked: Checked
    decision: Decision
    to: Path
    future: Future[str] | None
    writes: tuple[str, str, frozenset[str]] | None  # what recording it changes, when accepted


def _writes(decision: Decision, sub: Submission | None) -> tuple[str, str, frozenset[str]] | None:
    """(ministry, period, elements) a file changes in the store once recorded; None if nothing
    that another file's decision reads."""
    accepted = decision.result.status in (Status.ACCEPTED, Status.ACCEPTED_WITH_WARNINGS)
    if sub is None or not accepted:
        return None
    return (sub.ministry, sub.period, own_elements(sub.layout))


def _written(future: Future[str] | None) -> bool:
    return future is None or future.done()


@dataclass
class _RunState:
    seen: dict[str, str] = field(default_factory=dict)  # sha256 -> first name, this run
    results: list[FileResult] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# The parent's part: statuses, the store, feedback


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
) -> RunReport:
    """Process every file of an inbox once: statuses, store, feedback, and a run summary.

    ``expect`` names the ministries and periods the officer is collecting: a genuine return for
    another one is an error at the file, so it is not stored by mistake.
    """
    catalogue = load(workspace.rules)
    inbox = inbox or workspace.inbox
    outbox = outbox or workspace.outbox
    started = datetime.now(UTC)
    run_id = started.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    with workspace.lock(wait):
        store = _open_store(workspace, store_url, dry_run)
        try:
            report = _run(
                catalogue,
                workspace,
                inbox,
                outbox,
                store,
                dry_run,
                workers,
                on_progress,
                run_id,
                expect or Expectation(),
            )
        finally:
            if store is not None:
                store.close()
    run_dir = outbox / "runs" / run_id
    summary_xlsx, _ = write_run_summary(run_dir, report, catalogue)
    return replace(report, summary=str(summary_xlsx))


def _open_store(workspace: Workspace, url: str | None, dry_run: bool) -> Store | None:
    target = workspace.store_url(url)
    if dry_run:
        exists = "://" in target or Path(target).exists()
        return Store.open(target, create=False) if exists else None
    return Store.open(target, create=url is None or "://" in target)


def _run(
    catalogue: Catalogue,
    workspace: Workspace,
    inbox: Path,
    outbox: Path,
    store: Store | None,
    dry_run: bool,
    workers: int | None,
    on_progress: Callable[[Progress], None] | None,
    run_id: str,
    expect: Expectation,
) -> RunReport:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    files, skipped = scan(inbox)
    state = _RunState()
    state.results.extend(skipped)
    store_run = (
        store.start_run(
            user=getpass.getuser(),
            host=platform.node(),
            cpxl_version=__version__,
            catalogue_version=catalogue.version,
        )
        if store is not None and not dry_run
        else 0
    )
    received = [archive(p, rel, workspace.archive) for p, rel in files]
    fresh: list[Received] = []
    feedback_dir = outbox / "feedback"
    for r in received:
        first = state.seen.get(r.sha256) or stored_name(store, r.sha256)
        if first is not None:
            dup = duplicate(r, first)
            # Run again over the same inbox, a file keeps the feedback it was given.
            path = existing_feedback(feedback_dir, dup) or write_feedback(
                feedback_dir, dup, catalogue
            )
            state.results.append(replace(dup, feedback=str(path)))
        else:
            state.seen[r.sha256] = r.name
            fresh.append(r)
    n = max(1, min(workers or os.cpu_count() or 1, len(fresh)))
    receipts = Receipts(feedback_dir)
    pending: deque[_Pending] = deque()

    def finish_oldest() -> None:
        """Record the oldest file whose feedback is being written, once it is written."""
        p = pending.popleft()
        result, sub = p.decision.result, p.checked.submission
        # Feedback first, then the store: a run killed in between checks the file again next
        # time and writes the same feedback under the same name.
        path = writer.result(p.future, p.to, result, sub)
        try:
            record(store, store_run, p.received, result, sub, dry_run, p.decision.replacing)
        except StoreError as exc:
            result = not_processed(result, exc)
            path = write_feedback(feedback_dir, result, catalogue, to=p.to)
        state.results.append(replace(result, feedback=str(path)))
        if on_progress:
            done = len(state.results) - first_done
            on_progress(Progress(done, len(fresh), p.received.name, result.status.value))

    first_done = len(state.results)
    with FeedbackWriter(workspace, catalogue, enabled=len(fresh) > 1) as writer:
        for r, checked in check_all(fresh, workspace, n):
            sub = checked.submission
            if sub is not None:
                # Files are decided in order of receipt, on the store as every file before them
                # left it: wait for those not yet recorded that change what this one reads.
                reads = reads_of(catalogue, sub)
                while any(p.writes is not None and reads.touched_by(*p.writes) for p in pending):
                    finish_oldest()
            decision = decide(r, checked, catalogue, store, store_run, dry_run, expect)
            to = receipts.reserve(r.sha256, r.name)
            future = writer.submit(to, decision.result, sub)
            pending.append(_Pending(r, checked, decision, to, future, _writes(decision, sub)))
            while pending and (len(pending) > MAX_PENDING or _written(pending[0].future)):
                finish_oldest()
        while pending:
            finish_oldest()
    ordered = tuple(sorted(state.results, key=lambda f: (f.received_at or "", f.file)))
    report = RunReport(
        run_id, started, datetime.now(UTC).isoformat(timespec="seconds"), ordered, dry_run
    )
    if store is not None and not dry_run:
        store.finish_run(store_run, report.totals)
    return report
