"""Checking files in worker processes under memory and CPU limits, and writing feedback.

A worker that dies (a native reader aborting on a hostile file) costs that file a status, never
the run: the pool is rebuilt and the file is checked again alone to be sure it was the culprit.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import multiprocessing
import os
import resource
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from itertools import compress
from pathlib import Path
from typing import Any

from cpxl.catalogue import Catalogue
from cpxl.feedback import NO_CONTENT, write_feedback
from cpxl.findings import (
    Code,
    Finding,
    Location,
    Severity,
    Status,
    Value,
)
from cpxl.guard import Limits, inspect
from cpxl.intake.receiving import Received
from cpxl.reading import ReadFailure, Submission, layout_of, read_workbook
from cpxl.store import PendingFeedback, digests
from cpxl.templates import IssuedTemplate
from cpxl.validation import check_alone

# Worker limits: enough for any genuine return, far below what a hostile file would take.
WORKER_MEMORY_BYTES = 2 * 1024**3
WORKER_CPU_SECONDS = 120
TIME_LIMIT_S = 60.0  # wall-clock seconds a file may take to check, once its turn has come
# Workers yield the cores to the run's parent, whose one-file-at-a-time deciding and recording
# is the step nothing can run beside; they only ever run ahead of it.
WORKER_NICENESS = 5
IDENTITY_CODES = {
    Code.NO_IDENTITY,
    Code.IDENTITY_TAMPERED,
    Code.UNKNOWN_TEMPLATE,
    Code.RETIRED_TEMPLATE,
    Code.UNKNOWN_MINISTRY,
    Code.UNKNOWN_PERIOD,
}


@dataclass(frozen=True, slots=True)
class Checked:
    """What a worker hands back for one file: plain, picklable values."""

    kind: str = ""
    status: Status | None = None  # set when the file stops before the store
    reason: Code | None = None
    findings: tuple[Finding, ...] = ()
    submission: Submission | None = None
    digests: Mapping[str, str] | None = None  # what each element says (see store.digests)
    entered: bytes = b""  # which of the submission's values hold something, a byte each

    @property
    def filled(self) -> tuple[Value, ...]:
        """The submission's values with something entered (found once, by the worker)."""
        return tuple(compress(self.submission.values, self.entered)) if self.submission else ()


# ---------------------------------------------------------------------------------------------
# The worker's part


@dataclass(frozen=True, slots=True)
class Setup:
    """What every worker process starts with: the parent's own catalogue and template register
    (inherited by fork, not loaded again), and the file its native readers' words go to."""

    catalogue: Catalogue
    register: Mapping[str, IssuedTemplate]
    log: str = ""


_SETUP: Setup | None = None


def _init_worker(setup: Setup) -> None:
    """Take the run's setup, and cap what one hostile file can take.

    A worker runs below the parent's priority (see WORKER_NICENESS), dies with its parent (no
    orphan keeps files open after a kill) and leaves Ctrl-C and SIGTERM to the parent, which
    stops the run in plain words. What a native reader prints (a Rust panic, a failed
    allocation) goes to the run's log.
    """
    global _SETUP
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if setup.log:
        with contextlib.suppress(OSError):
            fd = os.open(setup.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(fd, 2)
            os.close(fd)
            if faulthandler.is_enabled():  # its dump too (PYTHONFAULTHANDLER, test runners)
                faulthandler.enable(file=sys.stderr)
    _die_with_parent()
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    for limit, value in (
        (resource.RLIMIT_AS, WORKER_MEMORY_BYTES),
        (resource.RLIMIT_CPU, WORKER_CPU_SECONDS),
    ):
        _soft, hard = resource.getrlimit(limit)
        cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (cap, hard))
    _SETUP = setup


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the parent goes; elsewhere nothing happens."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def check_file(
    path: Path,
    name: str,
    catalogue: Catalogue,
    register: Mapping[str, IssuedTemplate] | None = None,
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
            register=register,
            display_name=name,
            inspection=inspection,
        )
    except ReadFailure as failure:
        code = failure.finding.code
        status = Status.NOT_A_TEMPLATE if code in IDENTITY_CODES else Status.UNREADABLE
        return Checked(inspection.kind, status, code, (failure.finding,))
    found = tuple(sub.findings) + tuple(check_alone(sub, catalogue))
    entered = bytes(not v.blank for v in sub.values)
    found_digests = digests(compress(sub.values, entered))
    return Checked(inspection.kind, None, None, found, sub, found_digests, entered)


# What a worker sends back: the Checked fields, with the return's values as columns, which of
# them are filled as one byte each, and without its layout, which the parent has (pickling a
# Layout costs more than checking a file).
Payload = tuple[str, Status | None, Code | None, tuple[Finding, ...], tuple[Any, ...] | None]


def check_in_worker(path: str, name: str) -> Payload:
    """What the pool runs: one file checked with the worker's setup, sent back compact."""
    assert _SETUP is not None
    try:
        return _packed(check_file(Path(path), name, _SETUP.catalogue, _SETUP.register))
    except Exception:  # a reader's own failure on a strange file: a status, not a crash
        return _packed(_crashed(name))


def _packed(c: Checked) -> Payload:
    sub = c.submission
    if sub is None:
        return (c.kind, c.status, c.reason, c.findings, None)
    columns = tuple(zip(*sub.values, strict=True)) if sub.values else ()
    return (c.kind, c.status, c.reason, c.findings, (
        sub.file, sub.identity, sub.ministry, sub.period, columns, c.entered,
        sub.explanations, sub.findings, dict(sub.sheet_names), c.digests,
    ))  # fmt: skip


def _unpacked(payload: Payload, catalogue: Catalogue) -> Checked:
    kind, status, reason, findings, packed = payload
    if packed is None:
        return Checked(kind, status, reason, findings)
    file, identity, ministry, period, columns, entered, explanations, read, names, found = packed
    values = tuple(map(Value._make, zip(*columns, strict=True))) if columns else ()
    layout = layout_of(catalogue, ministry, period)
    sub = Submission(file, identity, layout, values, explanations, read, names)
    return Checked(kind, status, reason, findings, sub, found, entered)


def _crashed(name: str, reason: str = "the reader stopped") -> Checked:
    return Checked(
        "",
        Status.UNREADABLE,
        Code.READER_CRASHED,
        (Finding.make(Code.READER_CRASHED, Severity.ERROR, Location(file=name), reason=reason),),
    )


def check_all(
    received: Iterable[Received],
    setup: Setup,
    workers: int,
    *,
    time_limit: float = TIME_LIMIT_S,
    skip: Callable[[Received], bool] = lambda r: False,
) -> Iterator[tuple[Received, Checked | None]]:
    """Check files in worker processes, yielding results in order of receipt (None for a file
    that ``skip`` says needs no check).

    Files are taken from ``received`` only as the workers have room for them: the first is
    being checked while the next are still taken in, and a long inbox never piles up in memory.
    A worker that dies breaks the whole pool; the file being waited for is then checked again
    alone, so that only a file that really kills a reader is marked as such, and the rest go
    on in a fresh pool. A file still being checked ``time_limit`` seconds after its turn came
    is stopped (with its pool) and gets a status of its own. Whatever a native reader prints
    goes to the setup's log, never to the officer's terminal.
    """
    catalogue = setup.catalogue
    source = iter(received)
    queue: list[Received] = []  # taken from the source, not yet handed back

    def taken(k: int) -> int:
        """Take files until ``k`` are queued (or none are left): how many of those k are."""
        while len(queue) < k and (r := next(source, None)) is not None:
            queue.append(r)
        return min(k, len(queue))

    ahead = IN_FLIGHT_PER_WORKER * workers
    while taken(1):
        stopped_at: int | None = None
        slow = False
        with _quiet_ctrl_c():  # the pool's processes and threads start without Ctrl-C
            pool = _pool(workers, setup)
        with pool:
            futures: list[Future[Payload] | None] = []  # None: a file that needs no check
            i = 0
            while taken(i + 1) > i:
                r = queue[i]
                try:
                    while len(futures) < taken(i + ahead):
                        nxt = queue[len(futures)]
                        futures.append(None if skip(nxt) else _submit(pool, nxt))
                    future = futures[i]
                    checked = (
                        None
                        if future is None
                        else _unpacked(future.result(timeout=time_limit), catalogue)
                    )
                except BrokenProcessPool:
                    stopped_at = i
                    break
                except TimeoutError:
                    stopped_at, slow = i, True
                    _stop(pool)
                    break
                except Exception:  # e.g. a result that could not be sent back
                    checked = _crashed(r.name)
                futures[i] = _DONE
                i += 1
                yield r, checked
        if stopped_at is None:
            return
        suspect = queue[stopped_at]
        if slow:
            yield suspect, _too_slow(suspect.name, time_limit)
        else:
            alone = _check_alone_in_process(suspect, setup, time_limit)
            yield suspect, _unpacked(alone, catalogue)
        del queue[: stopped_at + 1]


def _submit(pool: ProcessPoolExecutor, r: Received) -> Future[Payload]:
    with _quiet_ctrl_c():
        return pool.submit(check_in_worker, str(r.archived), r.name)


def _too_slow(name: str, limit: float) -> Checked:
    finding = Finding.make(Code.TOO_SLOW, Severity.ERROR, Location(file=name), seconds=f"{limit:g}")
    return Checked("", Status.UNREADABLE, Code.TOO_SLOW, (finding,))


def _stop(pool: ProcessPoolExecutor) -> None:
    """End a pool whose worker is stuck on one file: its processes are killed, not awaited."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public way before 3.14
    for process in processes:
        process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


IN_FLIGHT_PER_WORKER = 4


def write_pending(
    folder: Path, pending: PendingFeedback, catalogue: Catalogue, register: Mapping[str, Any]
) -> Path:
    """Write one feedback workbook the store has named, from its result and archived original.

    Only a marked-up copy needs the return itself, and it is read again from the archive:
    the same bytes read the same way, so a workbook rebuilt after a stopped run is the one an
    uninterrupted run writes.
    """
    result, sub = pending.result, None
    at_cells = any(f.location.cell for f in result.findings)
    if pending.archive_path and at_cells and result.status not in NO_CONTENT:
        with contextlib.suppress(ReadFailure):
            sub = read_workbook(
                Path(pending.archive_path),
                catalogue,
                kind=result.kind or "xlsx",
                register=register,
                display_name=result.file,
            )
    return write_feedback(folder, result, catalogue, sub, to=folder / pending.name)


class FeedbackWriter:
    """Writes feedback workbooks in a worker process, so that the run's parent goes on deciding.

    Each file is recorded before its workbook is handed over; :meth:`finish` waits for them all
    and says which were written. A workbook the worker fails to write (or a worker that dies)
    is written by the parent instead: feedback is never lost, only slower.
    """

    def __init__(self, folder: Path, setup: Setup, *, enabled: bool = True) -> None:
        self.folder = folder
        self.setup = setup
        self.pool: ProcessPoolExecutor | None = None
        self.handed: list[tuple[PendingFeedback, Future[str] | None]] = []
        if enabled:
            with _quiet_ctrl_c():
                self.pool = _pool(1, self.setup)

    def submit(self, pending: PendingFeedback) -> None:
        """Hand one workbook over without waiting."""
        future: Future[str] | None = None
        if self.pool is not None:
            try:
                with _quiet_ctrl_c():
                    future = self.pool.submit(_write, str(self.folder), pending)
            except BrokenProcessPool:
                self._restart()
        self.handed.append((pending, future))

    def finish(self) -> tuple[list[PendingFeedback], list[tuple[PendingFeedback, str]]]:
        """Wait for every workbook handed over: those written, and those that could not be
        (with the reason in words)."""
        written: list[PendingFeedback] = []
        failed: list[tuple[PendingFeedback, str]] = []
        for pending, future in self.handed:
            if future is not None and _finished(future):
                written.append(pending)
                continue
            try:
                write_pending(self.folder, pending, self.setup.catalogue, self.setup.register)
                written.append(pending)
            except OSError as exc:
                failed.append((pending, f"{exc.strerror or exc}"))
        self.handed = []
        return written, failed

    def _restart(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            with _quiet_ctrl_c():
                self.pool = _pool(1, self.setup)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def __enter__(self) -> FeedbackWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _finished(future: Future[str]) -> bool:
    """Whether the writer wrote it; if not, the parent writes it again, where errors show."""
    try:
        future.result()
    except Exception:
        return False
    return True


def _write(folder: str, pending: PendingFeedback) -> str:
    assert _SETUP is not None
    return str(write_pending(Path(folder), pending, _SETUP.catalogue, _SETUP.register))


_DONE: Future[Payload] = Future()  # stands in for a result already handed on


@contextlib.contextmanager
def _quiet_ctrl_c() -> Iterator[None]:
    """Hold Ctrl-C back while the pool forks or hands out work; it arrives right after.

    A Ctrl-C landing inside the pool's own start-up leaves it half made; held back for those
    few milliseconds, it stops the run cleanly instead.
    """
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _pool(workers: int, setup: Setup) -> ProcessPoolExecutor:
    # fork: workers start in milliseconds with the libraries and the catalogue already loaded
    # (the setup is inherited, never pickled).
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_init_worker,
        initargs=(setup,),
    )


def _check_alone_in_process(r: Received, setup: Setup, limit: float) -> Payload:
    with _quiet_ctrl_c():
        pool = _pool(1, setup)
    with pool:
        try:
            return pool.submit(check_in_worker, str(r.archived), r.name).result(timeout=limit)
        except BrokenProcessPool:
            return _packed(_crashed(r.name))
        except TimeoutError:
            _stop(pool)
            return _packed(_too_slow(r.name, limit))
