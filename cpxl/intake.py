"""One run over an inbox: every file gets exactly one status, and originals are never touched.

The parent scans, hashes and archives each file, then a small pool of worker processes runs
guard -> read -> validate on the archived copy under memory and CPU limits. A worker that dies
(a native reader aborting on a hostile file) costs that file a status, never the run. The parent
alone talks to the store: checks that need history, then one transaction per file, in order of
receipt, then the feedback workbook.
"""

from __future__ import annotations

import ctypes
import getpass
import hashlib
import multiprocessing
import os
import platform
import resource
import shutil
import signal
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from cpxl import __version__
from cpxl.catalogue import Catalogue, load, parse_period
from cpxl.feedback import existing_feedback, write_feedback, write_run_summary
from cpxl.findings import (
    Change,
    Code,
    FileResult,
    Finding,
    Location,
    RunReport,
    Severity,
    Status,
    Value,
    worst,
)
from cpxl.guard import Limits, inspect
from cpxl.numbers import format_number
from cpxl.reading import ReadFailure, Submission, read_workbook
from cpxl.store import Explanation, NewSubmission, Store, StoreError, SubmissionRecord
from cpxl.templates import read_register
from cpxl.validation import check_against_store, check_alone, finish
from cpxl.workspace import Workspace

# Worker limits: enough for any genuine return, far below what a hostile file would take.
WORKER_MEMORY_BYTES = 2 * 1024**3
WORKER_CPU_SECONDS = 120
IDENTITY_CODES = {
    Code.NO_IDENTITY,
    Code.IDENTITY_TAMPERED,
    Code.UNKNOWN_TEMPLATE,
    Code.RETIRED_TEMPLATE,
    Code.UNKNOWN_MINISTRY,
    Code.UNKNOWN_PERIOD,
}
UNSAFE_CODES = {
    Code.ZIP_BOMB,
    Code.TOO_MANY_PARTS,
    Code.UNSAFE_MEMBER_NAME,
    Code.XML_ENTITIES,
    Code.MACROS,
    Code.EXTERNAL_LINKS,
}


@dataclass(frozen=True, slots=True)
class Received:
    """A file found in the inbox, hashed and archived."""

    path: Path
    name: str  # relative to the inbox
    sha256: str
    archived: Path
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Checked:
    """What a worker hands back for one file: plain, picklable values."""

    kind: str = ""
    status: Status | None = None  # set when the file stops before the store
    reason: Code | None = None
    findings: tuple[Finding, ...] = ()
    submission: Submission | None = None


@dataclass(frozen=True, slots=True)
class Expectation:
    """The ministries and periods the officer is collecting (empty: any)."""

    ministries: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()

    def check(self, sub: Submission, file: str) -> list[Finding]:
        """Errors for a genuine return of a ministry or period nobody asked for."""
        out: list[Finding] = []
        where = Location(file=file)
        if self.ministries and sub.ministry not in self.ministries:
            out.append(
                Finding.make(
                    Code.UNEXPECTED_MINISTRY,
                    Severity.ERROR,
                    where,
                    ministry=sub.ministry,
                    expected=", ".join(self.ministries),
                )
            )
        if self.periods and sub.period not in self.periods:
            out.append(
                Finding.make(
                    Code.UNEXPECTED_PERIOD,
                    Severity.ERROR,
                    where,
                    period=sub.period,
                    expected=", ".join(self.periods),
                )
            )
        return out


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


# ---------------------------------------------------------------------------------------------
# The worker's part


_CATALOGUE: Catalogue | None = None
_REGISTER: dict[str, object] = {}


def _init_worker(rules: str, templates: str) -> None:
    """Load the catalogue once per worker, and cap what one hostile file can take.

    A worker dies with its parent (no orphan keeps files open after a kill) and leaves Ctrl-C
    to the parent, which stops the run in plain words.
    """
    global _CATALOGUE, _REGISTER
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    for limit, value in (
        (resource.RLIMIT_AS, WORKER_MEMORY_BYTES),
        (resource.RLIMIT_CPU, WORKER_CPU_SECONDS),
    ):
        _soft, hard = resource.getrlimit(limit)
        cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (cap, hard))
    _CATALOGUE = load(Path(rules))
    _REGISTER = dict(read_register(Path(templates)))


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the parent goes; elsewhere nothing happens."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def check_file(
    path: Path, name: str, catalogue: Catalogue, register: dict[str, object] | None = None
) -> Checked:
    """Guard, read and validate one file on its own (no store): the worker's whole job."""
    inspection = inspect(path, Limits())
    if inspection.blocked:
        status = inspection.status or Status.UNREADABLE
        codes = [f.code for f in inspection.findings]
        findings = tuple(replace(f, location=Location(file=name)) for f in inspection.findings)
        return Checked(inspection.kind, status, codes[0] if codes else None, findings)
    try:
        sub = read_workbook(
            path,
            catalogue,
            kind=inspection.kind or "xlsx",
            register=register,  # type: ignore[arg-type]
            display_name=name,
        )
    except ReadFailure as failure:
        code = failure.finding.code
        status = Status.NOT_A_TEMPLATE if code in IDENTITY_CODES else Status.UNREADABLE
        return Checked(inspection.kind, status, code, (failure.finding,))
    found = tuple(sub.findings) + tuple(check_alone(sub, catalogue))
    return Checked(inspection.kind, None, None, found, sub)


def _work(path: str, name: str) -> Checked:
    assert _CATALOGUE is not None
    try:
        return check_file(Path(path), name, _CATALOGUE, _REGISTER)
    except Exception as exc:  # a reader's own failure on a strange file: a status, not a crash
        return _crashed(name, type(exc).__name__)


def _crashed(name: str, reason: str = "the reader stopped") -> Checked:
    return Checked(
        "",
        Status.UNREADABLE,
        Code.READER_CRASHED,
        (Finding.make(Code.READER_CRASHED, Severity.ERROR, Location(file=name), reason=reason),),
    )


def check_all(
    received: Sequence[Received], workspace: Workspace, workers: int
) -> Iterator[tuple[Received, Checked]]:
    """Check files in worker processes, yielding results in order of receipt.

    A worker that dies breaks the whole pool; the file being waited for is then checked again
    alone, so that only a file that really kills a reader is marked as such, and the rest go
    on in a fresh pool.
    """
    args = (str(workspace.rules), str(workspace.templates))
    queue = list(received)
    while queue:
        broken_at: int | None = None
        with _pool(workers, args) as pool:
            futures = [(r, pool.submit(_work, str(r.archived), r.name)) for r in queue]
            for i, (r, fut) in enumerate(futures):
                try:
                    checked = fut.result()
                except BrokenProcessPool:
                    broken_at = i
                    break
                except Exception as exc:  # e.g. a result that could not be sent back
                    checked = _crashed(r.name, type(exc).__name__)
                yield r, checked
        if broken_at is None:
            return
        suspect = queue[broken_at]
        yield suspect, _check_alone_in_process(suspect, args)
        queue = queue[broken_at + 1 :]


def _pool(workers: int, args: tuple[str, str]) -> ProcessPoolExecutor:
    # fork: workers start in milliseconds with the libraries already imported.
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_init_worker,
        initargs=args,
    )


def _check_alone_in_process(r: Received, args: tuple[str, str]) -> Checked:
    with _pool(1, args) as pool:
        try:
            return pool.submit(_work, str(r.archived), r.name).result()
        except BrokenProcessPool:
            return _crashed(r.name)


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
        first = state.seen.get(r.sha256) or _stored_name(store, r.sha256)
        if first is not None:
            dup = _duplicate(r, first)
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
        result = _decide(r, checked, catalogue, store, store_run, dry_run, expect)
        # Feedback first, then the store: a run killed in between checks the file again next
        # time and writes the same feedback under the same name.
        path = write_feedback(feedback_dir, result, catalogue, checked.submission)
        try:
            _record(store, store_run, r, result, checked.submission, dry_run)
        except StoreError as exc:
            result = _not_processed(result, exc)
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


def _stored_name(store: Store | None, sha: str) -> str | None:
    if store is None:
        return None
    rec = store.by_sha256(sha)
    return rec.name_received if rec else None


def _duplicate(r: Received, first: str) -> FileResult:
    finding = Finding.make(Code.DUPLICATE_FILE, Severity.INFO, Location(file=r.name), first=first)
    return FileResult(
        r.name,
        r.sha256,
        Status.DUPLICATE,
        Code.DUPLICATE_FILE,
        findings=(finding,),
        received_at=r.received_at.isoformat(timespec="seconds"),
        first=first,
    )


def _decide(
    r: Received,
    checked: Checked,
    catalogue: Catalogue,
    store: Store | None,
    run: int,
    dry_run: bool,
    expect: Expectation,
) -> FileResult:
    base = FileResult(
        r.name,
        r.sha256,
        Status.UNREADABLE,
        received_at=r.received_at.isoformat(timespec="seconds"),
        kind=checked.kind,
    )
    sub = checked.submission
    try:
        if sub is None:
            result = replace(
                base,
                status=checked.status or Status.UNREADABLE,
                reason=checked.reason,
                findings=checked.findings,
            )
            return result
        checked = replace(checked, findings=(*checked.findings, *expect.check(sub, r.name)))
        return _decide_return(base, r, sub, checked, catalogue, store, run, dry_run)
    except StoreError as exc:
        return _not_processed(base, exc)


def _not_processed(result: FileResult, exc: StoreError) -> FileResult:
    """The environment failed for this file: nothing of it is stored, the next run retries."""
    finding = Finding.make(
        Code.ENVIRONMENT_FAILED, Severity.ERROR, Location(file=result.file), detail=str(exc)
    )
    return replace(
        result,
        status=Status.NOT_PROCESSED,
        reason=Code.ENVIRONMENT_FAILED,
        findings=(finding,),
        values_stored=0,
        changes=(),
        fixed=(),
    )


def _decide_return(
    base: FileResult,
    r: Received,
    sub: Submission,
    checked: Checked,
    catalogue: Catalogue,
    store: Store | None,
    run: int,
    dry_run: bool,
) -> FileResult:
    period = parse_period(sub.period)
    due = catalogue.due_date(sub.ministry, period)
    days_late = (r.received_at.date() - due).days
    result = replace(
        base,
        ministry=sub.ministry,
        period=sub.period,
        due=due.isoformat(),
        days_late=days_late if days_late > 0 else None,
    )
    if catalogue.is_closed(period):
        finding = Finding.make(
            Code.PERIOD_CLOSED, Severity.ERROR, Location(file=r.name), period=sub.period
        )
        return replace(
            result, status=Status.PERIOD_CLOSED, reason=Code.PERIOD_CLOSED, findings=(finding,)
        )
    own = {c.element for s in sub.layout.sheets for c in s.columns}
    # The checks against the store need this period (other ministries' figures) and the
    # three periods before it (change): reading only those keeps a run flat in the store's size.
    needed = [period.id]
    for _ in range(3):
        needed.append(parse_period(needed[-1]).previous().id)
    history = (
        store.history(sorted(_related(catalogue, own)), periods=needed)
        if store is not None
        else None
    )
    findings = list(checked.findings) + check_against_store(sub, catalogue, history)
    if days_late > 0:
        findings.append(
            Finding.make(
                Code.LATE_SUBMISSION,
                Severity.INFO,
                Location(file=r.name),
                days=days_late,
                due=due.isoformat(),
            )
        )
    previous = store.current(sub.ministry, sub.period) if store is not None else None
    old_values = store.values_of(previous.id) if store is not None and previous else ()
    changes = _changes(old_values, sub.values) if previous is not None else []
    final = finish(findings, sub.explanations)
    level = worst([f for f in final if f.code != Code.LATE_SUBMISSION])
    if level == Severity.ERROR:
        status, reason = Status.NEEDS_CORRECTION, _first_error(final)
    elif previous is not None and not changes and not sub.explanations:
        status, reason = Status.UNCHANGED, Code.UNCHANGED_SUBMISSION
        final = (
            *final,
            Finding.make(
                Code.UNCHANGED_SUBMISSION,
                Severity.INFO,
                Location(file=r.name),
                first=previous.name_received,
            ),
        )
    elif level == Severity.WARNING:
        status, reason = Status.ACCEPTED_WITH_WARNINGS, None
    else:
        status, reason = Status.ACCEPTED, None
    accepted = status in (Status.ACCEPTED, Status.ACCEPTED_WITH_WARNINGS)
    if previous is not None and accepted:
        final = (*final, *_resubmission_findings(r.name, previous, changes))
    fixed = _fixed(store, previous, final) if accepted and previous is not None else ()
    result = replace(
        result,
        status=status,
        reason=reason,
        findings=tuple(final),
        previous=previous.name_received if previous and accepted else "",
        first=previous.name_received if status == Status.UNCHANGED and previous else "",
        changes=tuple(changes) if accepted else (),
        fixed=fixed,
        values_stored=sum(1 for v in sub.values if not v.blank) if accepted else 0,
    )
    return result


def _related(catalogue: Catalogue, own: set[str]) -> set[str]:
    """This return's elements and those its compare rules name."""
    out = set(own)
    for rule in catalogue.rules_of("compare"):
        assert rule.left is not None and rule.right is not None
        refs = {x.element for x in (*rule.left.refs, *rule.right.refs)}
        if refs & own:
            out |= refs
    return out


def _first_error(findings: Sequence[Finding]) -> Code | None:
    return next((f.code for f in findings if f.severity == Severity.ERROR), None)


def _show(v: Value | None) -> str:
    if v is None or v.blank:
        return ""
    return v.missing or format_number(v.value or 0.0)


def _changes(old: Sequence[Value], new: Sequence[Value]) -> list[Change]:
    """Every cell whose value differs from the submission being replaced."""
    before = {v.key: v for v in old if not v.blank}
    after = {v.key: v for v in new}
    out: list[Change] = []
    for key in sorted(set(before) | {k for k, v in after.items() if not v.blank}):
        a, b = before.get(key), after.get(key)
        if _show(a) == _show(b):
            continue
        where = b if b is not None else a
        assert where is not None
        out.append(Change(where.sheet, where.cell, key[0], key[1], _show(a), _show(b)))
    return out


def _resubmission_findings(
    name: str, previous: SubmissionRecord, changes: Sequence[Change]
) -> list[Finding]:
    out = [
        Finding.make(
            Code.RESUBMISSION,
            Severity.INFO,
            Location(file=name),
            previous=previous.name_received,
        )
    ]
    for c in changes:
        if c.new == "":
            out.append(
                Finding.make(
                    Code.VALUE_REMOVED,
                    Severity.INFO,
                    Location(file=name, sheet=c.sheet, cell=c.cell),
                    old=c.old,
                )
            )
    return out


def _fixed(
    store: Store | None, previous: SubmissionRecord | None, now: Sequence[Finding]
) -> tuple[Finding, ...]:
    if store is None or previous is None:
        return ()
    current = {(f.code, f.location.sheet, f.location.cell) for f in now}
    return tuple(
        f
        for f in store.findings_of(previous.id)
        if f.severity != Severity.INFO
        and (f.code, f.location.sheet, f.location.cell) not in current
    )


def _record(
    store: Store | None,
    run: int,
    r: Received,
    result: FileResult,
    sub: Submission | None,
    dry_run: bool,
) -> None:
    """One transaction for one file; nothing from a file with errors is stored as data."""
    if store is None or dry_run:
        return
    accept = result.status in (Status.ACCEPTED, Status.ACCEPTED_WITH_WARNINGS)
    explanations = [
        Explanation(f.rule, f.location.sheet, f.location.cell, f.params.get("explanation", ""))
        for f in result.findings
        if "explanation" in f.params
    ]
    store.record(
        run,
        NewSubmission(
            sha256=r.sha256,
            name_received=r.name,
            archive_path=str(r.archived),
            ministry=result.ministry,
            period=result.period,
            template_id=sub.identity.template_id if sub else "",
            template_version=int(sub.identity.template_version) if sub else None,
            received_at=r.received_at,
            status=result.status.value,
            reason=result.reason.value if result.reason else "",
            days_late=result.days_late,
        ),
        sub.values if sub is not None and accept else (),
        result.findings,
        explanations,
        accept=accept,
    )
