"""The library face of cpxl: one call per thing a user does, and its one-screen summary.

A notebook calls these directly; ``cpxl.cli`` only parses options, calls one of them and prints
what it returns. Nothing here prints. Every failure the user can fix raises a
:class:`~cpxl.errors.CpxlError` that says what to do; anything else is a bug (:func:`record_bug`).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import multiprocessing
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import ParamSpec, TypeVar

from cpxl import __version__
from cpxl.catalogue import Catalogue, CatalogueError, load, parse_period
from cpxl.consolidation import StatusReport
from cpxl.errors import CannotWrite, CpxlError, UsageError
from cpxl.findings import RunReport, Severity
from cpxl.intake import TIME_LIMIT_S as TIME_LIMIT_S
from cpxl.intake import Expectation as Expectation
from cpxl.intake import Progress, run_inbox, scan
from cpxl.intake import RunStopped as RunStopped
from cpxl.portal import Portal
from cpxl.simulate import Simulated, simulate_returns
from cpxl.store import Store
from cpxl.store.users import Account, Accounts
from cpxl.templates import Reference, TemplateResult, column_key, generate_templates
from cpxl.workspace import Workspace, init_workspace

# What ``--json`` prints: a JSON object, as the domain types' ``to_dict`` methods make it.
JsonObject = dict[str, object]

_P = ParamSpec("_P")
_R = TypeVar("_R")

# What the place written to can refuse: it may not be written, is full, or is not there.
_PLACE_ERRORS = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.ENOENT,
        errno.ENOTDIR,
    }
)


def _writes(f: Callable[_P, _R]) -> Callable[_P, _R]:
    """Mark a call that writes files: a folder it may not write to is said in words (exit 3).

    Only the errors a place gives (permissions, a full disk, a missing folder) are turned into
    :class:`~cpxl.errors.CannotWrite`; any other OSError stays what it is, a bug.
    """

    @functools.wraps(f)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return f(*args, **kwargs)
        except OSError as exc:
            if exc.errno not in _PLACE_ERRORS:
                raise
            where = exc.filename or "a file"
            raise CannotWrite(
                f"Could not write {where} ({exc.strerror}). Check that the folder exists, "
                "that you may write to it and that the disk has room; then run the command "
                "again."
            ) from exc

    return call


def workspace(root: Path | str = ".") -> Workspace:
    """The workspace in a folder (the current one by default)."""
    return Workspace(Path(root))


def catalogue_of(ws: Workspace, rules: Path | None = None) -> Catalogue:
    """The workspace's catalogue (its own rules/, else the built-in one), loaded and checked."""
    return load(rules or ws.rules)


@_writes
def init(directory: Path) -> Workspace:
    """Create a workspace with an editable copy of the built-in catalogue."""
    return init_workspace(directory)


# ---------------------------------------------------------------------------------------------
# Catalogue


@dataclass(frozen=True, slots=True)
class CatalogueProblem:
    """One problem of a catalogue: where it is (file, JSON path) and what it is."""

    code: str
    file: str
    path: str
    detail: str


@dataclass(frozen=True, slots=True)
class CatalogueReport:
    """What ``cpxl catalogue check`` says: every problem, or the counts of a sound catalogue."""

    rules: Path
    problems: tuple[CatalogueProblem, ...] = ()
    version: str = ""
    indicators: int = 0
    indicators_by_provenance: Mapping[str, int] = field(default_factory=dict)
    elements: int = 0
    ministries: int = 0
    data_sets: int = 0
    rules_by_kind: Mapping[str, int] = field(default_factory=dict)
    khmer_to_review: int = 0

    @property
    def ok(self) -> bool:
        """Whether the catalogue is sound."""
        return not self.problems

    def to_dict(self) -> JsonObject:
        """The machine shape printed by ``--json``."""
        problems = [
            {"code": p.code, "file": p.file, "path": p.path, "detail": p.detail}
            for p in self.problems
        ]
        if not self.ok:
            return {"ok": False, "rules": str(self.rules), "problems": problems}
        return {
            "ok": True,
            "rules": str(self.rules),
            "version": self.version,
            "indicators": self.indicators,
            "indicators_by_provenance": dict(self.indicators_by_provenance),
            "elements": self.elements,
            "ministries": self.ministries,
            "data_sets": self.data_sets,
            "rules_by_kind": dict(self.rules_by_kind),
            "khmer_to_review": self.khmer_to_review,
            "problems": problems,
        }


def check_catalogue(root: Path, rules: Path | None = None) -> CatalogueReport:
    """Every problem of a catalogue, or a summary of a sound one."""
    ws = workspace(root)
    folder = rules or ws.rules
    try:
        cat = load(folder)
    except CatalogueError as exc:
        return CatalogueReport(
            folder,
            tuple(
                CatalogueProblem(
                    f.code.value, f.location.file, f.location.path, str(f.params.get("detail", ""))
                )
                for f in exc.findings
            ),
        )
    provenance = Counter(i.provenance for i in cat.indicators)
    return CatalogueReport(
        folder,
        version=cat.version,
        indicators=len(cat.indicators),
        indicators_by_provenance=dict(sorted(provenance.items())),
        elements=len(cat.elements),
        ministries=len(cat.ministries),
        data_sets=len(cat.data_sets),
        rules_by_kind=dict(sorted(Counter(r.kind for r in cat.rules).items())),
        khmer_to_review=len(cat.khmer_to_review()),
    )


def render_catalogue_report(report: CatalogueReport) -> str:
    """The one-screen summary of ``cpxl catalogue check``."""
    if not report.ok:
        found = counted(len(report.problems), "problem")
        lines = [f"The catalogue in {report.rules} has {found}:"]
        lines += [f"  {p.file} {p.path}: {p.code}: {p.detail}" for p in report.problems]
        return "\n".join(lines)
    prov = ", ".join(f"{k} {v}" for k, v in report.indicators_by_provenance.items())
    kinds = ", ".join(f"{k} {v}" for k, v in report.rules_by_kind.items())
    return "\n".join(
        [
            f"Catalogue {report.version} in {report.rules} is sound.",
            f"  indicators  {report.indicators} ({prov})",
            f"  elements    {report.elements}",
            f"  ministries  {report.ministries} reporting, {report.data_sets} data sets",
            f"  rules       {kinds}",
            f"  Khmer texts still to review: {report.khmer_to_review}",
        ]
    )


def render_catalogue_problems(exc: CatalogueError) -> str:
    """Every problem of a broken catalogue, one per line."""
    lines = [f"The catalogue has {counted(len(exc.findings), 'problem')}; nothing was done:"]
    for f in exc.findings:
        lines.append(f"  {f.location.file} {f.location.path}: {f.code}: {f.params.get('detail')}")
    return "\n".join(lines)


@_writes
def book(root: Path, rules: Path | None = None, out: Path | None = None) -> Path:
    """Write the catalogue's metadata book (default: outbox/cpims-metadata-book.xlsx)."""
    from cpxl.book import write_book

    ws = workspace(root)
    cat = catalogue_of(ws, rules)
    target = out or ws.outbox / f"cpims-metadata-book-{cat.version}.xlsx"
    return write_book(cat, target)


# ---------------------------------------------------------------------------------------------
# Templates and simulated returns


def count_templates(root: Path, period: str, ministries: Sequence[str]) -> int:
    """How many templates ``templates`` would write (for a progress bar)."""
    try:
        cat = catalogue_of(workspace(root))
        return len(ministries) or len(cat.reporting_ministries(parse_period(period)))
    except CpxlError:
        return 0


@_writes
def templates(
    root: Path,
    period: str,
    ministries: Sequence[str] = (),
    out: Path | None = None,
    *,
    prefill_previous: bool = False,
    store_url: str | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> TemplateResult:
    """Issue the templates of a period into templates_xlsx/ (or ``out``)."""
    ws = workspace(root).require()
    cat = catalogue_of(ws)
    previous = previous_values(root, cat, period, store_url) if prefill_previous else None
    return generate_templates(
        cat,
        period,
        out or ws.templates,
        ministries,
        previous=previous,
        on_progress=on_progress,
    )


def previous_values(
    root: Path, cat: Catalogue, period: str, store_url: str | None = None
) -> dict[str, Reference]:
    """Each ministry's accepted values of the period before, as a template reference."""
    before = parse_period(period).previous()
    out: dict[str, Reference] = {}
    with open_store(root, store_url) as store:
        for ministry in cat.ministries:
            current = store.current(ministry, before.id)
            if current is None:
                continue
            values: dict[tuple[str, str], float | str] = {}
            for v in store.values_of(current.id):
                shown = v.missing or v.value
                if shown is not None:
                    values[(v.area, column_key(v.element, v.dimension, v.option))] = shown
            out[ministry] = Reference(before.id, values)
    return out


@_writes
def simulate(
    root: Path,
    period: str,
    ministries: Sequence[str] = (),
    seed: int = 0,
    mistakes: bool = False,
    out: Path | None = None,
) -> tuple[Simulated, ...]:
    """Fill the issued templates of a period as officials would (default: into inbox/)."""
    ws = workspace(root).require()
    return simulate_returns(
        catalogue_of(ws),
        period,
        ws.templates,
        out or ws.inbox,
        ministries,
        seed=seed,
        mistakes=mistakes,
    )


# ---------------------------------------------------------------------------------------------
# A run over the inbox


def check_period(text: str) -> str:
    """A period id as every command takes it (2025, 2025S1, 2025Q1, 202503); PeriodError else."""
    return parse_period(text).id


def count_inbox(root: Path, inbox: Path | None = None) -> int:
    """How many files a run will check (for a progress bar)."""
    folder = inbox or workspace(root).inbox
    if not folder.is_dir():
        return 0
    files, _ = scan(folder)
    return len(files)


@_writes
def run(
    root: Path,
    inbox: Path | None = None,
    outbox: Path | None = None,
    store_url: str | None = None,
    dry_run: bool = False,
    workers: int | None = None,
    *,
    wait: float = 10.0,
    expect: Expectation | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    time_limit: float = TIME_LIMIT_S,
    received: datetime | None = None,
    catalogue: Catalogue | None = None,
) -> RunReport:
    """Process every file in the inbox: one status each, feedback, and the store.

    ``catalogue`` is the workspace's when the caller has loaded it already (see
    :func:`catalogue_of`), so that it is loaded and checked once."""
    ws = workspace(root)
    ws.require(inbox=inbox or ws.inbox)
    return run_inbox(
        ws,
        inbox=inbox,
        outbox=outbox,
        store_url=store_url,
        dry_run=dry_run,
        workers=workers,
        wait=wait,
        expect=expect,
        on_progress=on_progress,
        time_limit=time_limit,
        received=received,
        catalogue=catalogue,
    )


def render_stopped(report: RunReport) -> str:
    """What a stopped run finished, in one line, and where its summary is."""
    line = f"Finished before stopping: {counted(len(report.files), 'file')}"
    return line + (f"; summary: {report.summary}" if report.summary else "")


def report_dict(report: RunReport, catalogue: Catalogue) -> JsonObject:
    """A run's machine shape, with every finding's message in English and Khmer."""
    return report.to_dict(catalogue.messages)


def render_run(report: RunReport) -> str:
    """The one-screen summary of a run."""
    files = counted(len(report.files), "file")
    lines = [f"Run {report.run_id}: {files}" + (" (dry run)" * report.dry_run)]
    for status, n in sorted(report.totals.items()):
        lines.append(f"  {status:<24}{n:>5}")
    need = report.attention()
    if need:
        lines.append("Needs your attention:")
        for f in need[:15]:
            errors = sum(1 for x in f.findings if x.severity == Severity.ERROR)
            reason = f.reason.value if f.reason else ""
            lines.append(f"  {f.status.value:<18} {f.file}  {reason} ({counted(errors, 'error')})")
        if len(need) > 15:
            lines.append(f"  … and {len(need) - 15} more: see the run summary")
    if report.summary:
        lines.append(f"Run summary: {report.summary}")
    feedback = {str(Path(f.feedback).parent) for f in report.files if f.feedback}
    if feedback:
        lines.append(f"Feedback to send back: {', '.join(sorted(feedback))}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The store


def open_store(root: Path, store_url: str | None = None, *, create: bool = False) -> Store:
    """Open the workspace's store (or the one named); a missing store is an error."""
    return Store.open(workspace(root).require().store_url(store_url), create=create)


def store_check(root: Path, store_url: str | None = None) -> tuple[str, ...]:
    """The store's integrity problems; empty when it is sound."""
    with open_store(root, store_url) as store:
        return store.check()


def store_backup(root: Path, dest: Path, store_url: str | None = None) -> Path:
    """Back the store up with the database's own mechanism."""
    with open_store(root, store_url) as store:
        store.backup(dest)
    return dest


def status(root: Path, period: str, store_url: str | None = None) -> StatusReport:
    """Who has reported for a period, who is late, who is missing."""
    from cpxl.consolidation import status_report

    ws = workspace(root).require()
    with open_store(root, store_url) as store:
        return status_report(catalogue_of(ws), store, period)


def render_status(report: StatusReport) -> str:
    """The one-screen 'who do I chase today'."""
    return "\n".join(report.rows())


# ---------------------------------------------------------------------------------------------
# National outputs


def periods_between(first: str, last: str) -> list[str]:
    """Every period of the same type from first to last, inclusive."""
    a, b = parse_period(first), parse_period(last)
    if a.type != b.type or b < a:
        raise UsageError(f"--from {first} --to {last}: give two periods of one type, in order")
    out, p = [], b
    while a <= p:
        out.append(p.id)
        p = p.previous()
    return out[::-1]


# What ``consolidate`` can write: the national workbook, then the exports.
CONSOLIDATE_FORMATS = ("xlsx", "csv", "dhis2", "adx", "sdmx")


def counted(n: int, one: str, many: str | None = None) -> str:
    """``1 cell``, ``2 cells``: a count with its noun in the right number."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def in_words(items: Sequence[str]) -> str:
    """``a, b and c``: a list as a sentence says it."""
    listed = list(items)
    if len(listed) < 2:
        return "".join(listed)
    return ", ".join(listed[:-1]) + " and " + listed[-1]


@dataclass(frozen=True, slots=True)
class Consolidation:
    """What ``consolidate`` wrote: the periods, and the files of each format."""

    periods: tuple[str, ...]
    written: Mapping[str, tuple[Path, ...]]

    def to_dict(self) -> JsonObject:
        """The machine shape printed by ``--json``."""
        written = {fmt: [str(p) for p in paths] for fmt, paths in self.written.items()}
        return {"periods": list(self.periods), "written": written}


@_writes
def consolidate(
    root: Path,
    period: str | None = None,
    first: str | None = None,
    last: str | None = None,
    out: Path | None = None,
    formats: Sequence[str] = CONSOLIDATE_FORMATS,
    store_url: str | None = None,
    side_by_side: bool = True,
) -> Consolidation:
    """Build the national workbook and exports from the store.

    Three independent parts, each in its own process on its own connection to the store, so
    that they share the machine's cores: the values' exports (CSV, DHIS2, ADX: one pass over
    the national long table) and the indicators' exports (CSV, SDMX: computed period by
    period) in two forked processes, the workbook in this one. Each writes its own files, each
    whole or not at all; the first error met is raised once all three have ended. With
    ``side_by_side=False`` the three run one after the other in this process: about twice the
    time, and the memory of one process.
    """
    from cpxl.consolidation import write_national_workbook
    from cpxl.exports import merge_written

    ws = workspace(root).require()
    cat = catalogue_of(ws)
    periods = [period] if period else periods_between(first or "", last or "")
    for p in periods:
        parse_period(p)
    target = out or ws.outbox / "national"
    target.mkdir(parents=True, exist_ok=True)
    url = ws.store_url(store_url)
    others = tuple(f for f in formats if f != "xlsx")
    stem = f"cpims-national-{periods[0]}" + (f"-{periods[-1]}" if len(periods) > 1 else "")
    written: dict[str, tuple[Path, ...]] = {}
    job = (cat, url, periods, target, stem, others)
    # Checked (and upgraded) once, here, and closed before the forks, so that no connection
    # is shared; the three parts then open it without checking the whole file again.
    Store.open(url, create=False).close()
    run = _beside if side_by_side and others else _here
    with run(_exports, "values", *job) as values, run(_exports, "indicators", *job) as indicators:
        if "xlsx" in formats:
            with Store.open(url, create=False, check=False) as store:
                result = write_national_workbook(cat, store, periods, target)
            written["xlsx"] = (result.workbook,)
        paths = merge_written(values(), indicators())
    written.update({f: tuple(paths[f]) for f in others if f in paths})
    return Consolidation(tuple(periods), written)


def _exports(
    table: str,
    cat: Catalogue,
    url: str,
    periods: Sequence[str],
    target: Path,
    stem: str,
    formats: Sequence[str],
) -> dict[str, list[Path]]:
    """One national table's exports, on a connection of their own: ``values`` (CSV, DHIS2, ADX,
    one pass over the long table) or ``indicators`` (CSV, SDMX, computed chunk by chunk)."""
    from cpxl.consolidation import indicator_chunks, national_values
    from cpxl.exports import periods_within, write_indicator_exports, write_value_exports

    if not formats:
        return {}
    with Store.open(url, create=False, check=False) as store:
        if table == "values":
            # Every value at its own period (a year's export holds its half-yearly, quarterly
            # and monthly returns too), so anyone can recompute every figure from it.
            values = national_values(store, periods_within(periods))
            return write_value_exports(cat, values, target, stem, formats)
        indicators = indicator_chunks(cat, store, periods)
        return write_indicator_exports(cat, indicators, target, stem, formats)


@contextlib.contextmanager
def _beside(
    work: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs
) -> Iterator[Callable[[], _R]]:
    """Run ``work`` in a forked process while the caller goes on; gives a function that waits
    for its result (or raises its error). The caller's own error wins, once the process ended.

    Forked, so the arguments (the catalogue) are inherited, never pickled; only the result or
    the error comes back, through a pipe.
    """
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    process = context.Process(target=_send_result, args=(writer, work, args, kwargs))
    process.start()
    writer.close()
    got: list[_R] = []

    def result() -> _R:
        if not got:
            try:
                ok, value = reader.recv()
            except EOFError:
                process.join()
                raise CannotWrite(
                    f"The process writing the national exports stopped before it finished "
                    f"(exit code {process.exitcode}), perhaps for lack of memory. Run the "
                    "command again with --one-process."
                ) from None
            if not ok:
                raise value
            got.append(value)
        return got[0]

    try:
        yield result
    finally:
        process.join()
        reader.close()


@contextlib.contextmanager
def _here(
    work: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs
) -> Iterator[Callable[[], _R]]:
    """As :func:`_beside`, in this process: ``work`` runs when its result is asked for."""
    yield functools.partial(work, *args, **kwargs)


def _send_result(
    pipe: Connection,
    work: Callable[..., object],
    args: tuple[object, ...],
    kwargs: dict[str, object],
) -> None:
    try:
        pipe.send((True, work(*args, **kwargs)))
    except BaseException as exc:  # handed to the parent, which raises it
        # The traceback does not travel with the error; its text does, as a note.
        exc.add_note("In the worker process:\n" + traceback.format_exc())
        pipe.send((False, exc))
    finally:
        pipe.close()


def render_consolidation(result: Consolidation) -> str:
    """The one-screen summary of a consolidation."""
    lines = [f"National outputs for {', '.join(result.periods)}:"]
    for fmt, paths in result.written.items():
        for p in paths:
            lines.append(f"  {fmt:<6} {p}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The portal: accounts, and serving


def users_add(
    root: Path,
    login: str,
    password: str,
    role: str,
    ministry: str | None = None,
    store_url: str | None = None,
) -> Account:
    """Create a portal account; a sender's ministry must be one of the catalogue's."""
    code = (ministry or "").strip()
    if code and code not in catalogue_of(workspace(root)).ministries:
        raise UsageError(f"{code!r} is not a ministry of the catalogue; nothing was changed.")
    with open_store(root, store_url, create=True) as store:
        return Accounts(store).add(login, password, role, code)


def users_list(root: Path, store_url: str | None = None) -> tuple[Account, ...]:
    """Every portal account, by login."""
    with open_store(root, store_url, create=True) as store:
        return Accounts(store).all()


def users_disable(root: Path, login: str, store_url: str | None = None) -> Account:
    """Stop an account from signing in; what it did stays in the access log."""
    with open_store(root, store_url) as store:
        return Accounts(store).disable(login)


def render_users(accounts: Sequence[Account]) -> str:
    """The one-screen list of ``cpxl users list``."""
    if not accounts:
        return "No accounts yet: add one with cpxl users add LOGIN --role ROLE."
    lines = [f"{'login':<24}{'role':<10}{'ministry':<12}state"]
    for a in accounts:
        state = "disabled" if a.disabled else "active"
        lines.append(f"{a.login:<24}{a.role:<10}{a.ministry or '-':<12}{state}")
    return "\n".join(lines)


def portal(root: Path, store_url: str | None = None) -> Portal:
    """The portal's view of a workspace and its store (open until closed)."""
    return Portal(Path(root), store_url)


NATIONAL_FORMATS = ("xlsx", "csv", "dhis2", "adx", "sdmx")


def build_national(
    p: Portal, account: Account, span: str, formats: Sequence[str] = NATIONAL_FORMATS
) -> list[str]:
    """Build the national workbook and exports of a period or span ("2024-2025") for the portal."""
    target = p.national_folder(account, span)
    first, _, last = target.name.partition("-")
    result = consolidate(
        p.workspace.root,
        None if last else first,
        first if last else None,
        last or None,
        out=target,
        formats=formats,
        store_url=p.store_url,
    )
    p.accounts.log(account.login, "build-national", target.name)
    return [f.name for files in result.written.values() for f in files]


def serve(
    root: Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    store_url: str | None = None,
    *,
    secure_cookies: bool = False,
) -> None:
    """Serve the portal over HTTP until stopped (Ctrl-C or the service manager).

    ``secure_cookies`` keeps the session cookie to HTTPS: set it when a TLS proxy is in front.
    """
    import uvicorn

    from cpxl.web import create_app

    app = create_app(portal(root, store_url), secure_cookies=secure_cookies)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True)


# ---------------------------------------------------------------------------------------------
# When a command fails


def describe(exc: CpxlError) -> str:
    """An expected failure in words: what went wrong and what to do (every problem, if many)."""
    if isinstance(exc, CatalogueError):
        return render_catalogue_problems(exc)
    return f"cpxl: {exc}"


def record_bug(
    root: Path, exc: BaseException, outbox: Path | None = None, command: Sequence[str] = ()
) -> Path | None:
    """Write a bug's traceback (and the command that met it) into the workspace's outbox/errors/.

    Only an existing outbox is written to: a command run in the wrong folder creates nothing.
    None when there is none or it may not be written; the caller then shows the traceback.
    """
    folder = outbox or workspace(root).outbox
    if not folder.is_dir():
        return None
    now = datetime.now(UTC)
    log = (folder / "errors" / f"{now:%Y-%m-%dT%H-%M-%S.%fZ}.log").resolve()
    head = f"cpxl {__version__} at {now.isoformat()}\ncommand: {' '.join(command)}\n"
    try:
        log.parent.mkdir(exist_ok=True)
        log.write_text(head + "".join(traceback.format_exception(exc)), encoding="utf-8")
    except OSError:
        return None
    return log


def render_bug(log: Path | None) -> str:
    """The one line a bug ends a command with, in English and Khmer: not the user's mistake."""
    en = f"the file {log}" if log else "the error text above"
    km = f"ឯកសារ {log}" if log else "អត្ថបទកំហុសខាងលើ"
    return (
        f"cpxl: a bug in cpxl stopped this command; it is not a mistake of yours. Please report "
        f"it with {en}. / មានបញ្ហាក្នុងកម្មវិធី cpxl មិនមែនជាកំហុសរបស់អ្នកទេ។ "
        f"សូមទាក់ទងផ្នែកជំនួយ ហើយផ្ញើ{km}។"
    )
