"""One run over an inbox: every file gets exactly one status, and originals are never touched.

The parent scans, hashes and archives each file, then a small pool of worker processes runs
guard -> read -> validate on the archived copy under memory and CPU limits. The parent alone
talks to the store: checks that need history, then feedback, then one transaction per file, in
order of receipt.
"""

from __future__ import annotations

import getpass
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from cpxl import __version__
from cpxl.catalogue import Catalogue, load
from cpxl.feedback import existing_feedback, write_feedback, write_run_summary
from cpxl.findings import (
    FileResult,
    RunReport,
)
from cpxl.intake.deciding import Expectation, decide, duplicate, not_processed, record, stored_name
from cpxl.intake.receiving import Received, archive, scan
from cpxl.intake.workers import check_all
from cpxl.store import Store, StoreError
from cpxl.workspace import Workspace


@dataclass(frozen=True, slots=True)
class Progress:
    """A step of a run, for a progress bar."""

    done: int
    total: int
    file: str
    status: str


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
    for done, (r, checked) in enumerate(check_all(fresh, workspace, n), start=1):
        decision = decide(r, checked, catalogue, store, store_run, dry_run, expect)
        result = decision.result
        # Feedback first, then the store: a run killed in between checks the file again next
        # time and writes the same feedback under the same name.
        path = write_feedback(feedback_dir, result, catalogue, checked.submission)
        try:
            record(store, store_run, r, result, checked.submission, dry_run, decision.replacing)
        except StoreError as exc:
            result = not_processed(result, exc)
            path = write_feedback(feedback_dir, result, catalogue)
        result = replace(result, feedback=str(path))
        state.results.append(result)
        if on_progress:
            on_progress(Progress(done, len(fresh), r.name, result.status.value))
    ordered = tuple(sorted(state.results, key=lambda f: (f.received_at or "", f.file)))
    report = RunReport(
        run_id, started, datetime.now(UTC).isoformat(timespec="seconds"), ordered, dry_run
    )
    if store is not None and not dry_run:
        store.finish_run(store_run, report.totals)
    return report
