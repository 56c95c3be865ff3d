"""The national store: every file received, what was found in it, and the accepted values.

One SQLAlchemy Core code path serves an SQLite file in the workspace and a PostgreSQL server
(``postgresql://user:password@host/db``, driven by psycopg 3). Each file received is recorded in
exactly one transaction, so a crash leaves the store as it was before that file or after it,
never in between. The store refuses, rather than repairs: a damaged, foreign or newer store
stops the run with a :class:`StoreError` that says in plain words what to do, and is left
byte for byte as it was.

Test hook: when the environment variable ``CPXL_FAULT_KILL_AFTER_COMMITS=N`` is set at
:meth:`Store.open`, the process sends itself SIGKILL right after this store's N-th committed
data transaction (``start_run``, ``finish_run`` and ``record`` count; opening and migrating do
not). The kill tests use it to prove that a killed-and-rerun store equals a clean one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, cast

import pandas as pd
from sqlalchemy import (
    JSON,
    URL,
    Boolean,
    Column,
    Connection,
    DateTime,
    Double,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    inspect,
    make_url,
    select,
    true,
    update,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.pool import StaticPool

from cpxl.findings import Code, Finding, Location, Severity, Value

KILL_HOOK_VARIABLE: Final = "CPXL_FAULT_KILL_AFTER_COMMITS"
BUSY_TIMEOUT_S: Final = 5.0
_SQLITE_HEADER: Final = b"SQLite format 3\x00"
_WRITE: Final = "cpxl_write"  # execution option: this transaction writes, so lock up front
_PG_MIGRATION_LOCK: Final = 0x63_70_78_6C  # "cpxl": one migrator at a time on a server


class StoreError(Exception):
    """The store cannot be used: the run stops and an officer reads ``instructions_en``."""

    code: Code = Code.ENVIRONMENT_FAILED

    def __init__(self, instructions_en: str) -> None:
        super().__init__(instructions_en)
        self.instructions_en = instructions_en


@dataclass(frozen=True, slots=True)
class NewSubmission:
    """A file received, as intake knows it before the store gives it an id."""

    sha256: str
    name_received: str
    archive_path: str
    ministry: str
    period: str
    template_id: str
    template_version: int | None
    received_at: datetime
    status: str
    reason: str
    days_late: int | None


@dataclass(frozen=True, slots=True)
class SubmissionRecord:
    """A file received, as the store holds it (times in UTC)."""

    id: int
    sha256: str
    name_received: str
    archive_path: str
    ministry: str
    period: str
    template_id: str
    template_version: int | None
    received_at: datetime
    processed_at: datetime
    status: str
    reason: str
    days_late: int | None
    replaces: int | None
    is_current: bool
    run_id: int


@dataclass(frozen=True, slots=True)
class Explanation:
    """What a sender wrote to explain a warning, kept beside the warning it answers."""

    rule: str
    sheet: str
    cell: str
    text: str


# --- schema -------------------------------------------------------------------------------------
# Each migration owns a frozen copy of the tables it creates. The tables the queries below use
# describe the newest schema; when a migration changes a table, change the query tables to match
# and leave the older migrations untouched, so that an old store upgrades step by step.

_META = MetaData()
_migrations = Table(
    "schema_migrations",
    _META,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)


def _schema_v1(md: MetaData) -> tuple[Table, ...]:
    """The first schema: runs, submissions, values, findings, explanations, audit."""

    def text(name: str, **kw: Any) -> Column[str]:
        return Column(name, Text, nullable=False, server_default="", **kw)

    runs = Table(
        "runs",
        md,
        Column("id", Integer, primary_key=True),
        Column("started", DateTime(timezone=True), nullable=False),
        Column("finished", DateTime(timezone=True)),
        text("user"),
        text("host"),
        text("cpxl_version"),
        text("catalogue_version"),
        Column("totals", JSON),
    )
    subs = Table(
        "submissions",
        md,
        Column("id", Integer, primary_key=True),
        Column("sha256", String(64), nullable=False, unique=True),
        text("name_received"),
        text("archive_path"),
        text("ministry"),
        text("period"),
        text("template_id"),
        Column("template_version", Integer),
        Column("received_at", DateTime(timezone=True), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
        text("status"),
        text("reason"),
        Column("days_late", Integer),
        Column("replaces", Integer, ForeignKey("submissions.id")),
        Column("is_current", Boolean, nullable=False, default=False),
        Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    )
    Index("ix_submissions_current", subs.c.ministry, subs.c.period, subs.c.is_current)
    # At most one current submission per (ministry, period), whatever code writes the store.
    one_current = subs.c.is_current == true()
    Index(
        "ux_submissions_one_current",
        subs.c.ministry,
        subs.c.period,
        unique=True,
        sqlite_where=one_current,
        postgresql_where=one_current,
    )
    # Long form: one row per (element, area, dimension, option). A new disaggregation or option
    # in the catalogue is new rows, never a schema change. dimension/option are "" for a total.
    values = Table(
        "values",
        md,
        Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
        Column("ministry", Text, nullable=False),
        Column("element", Text, nullable=False),
        Column("period", Text, nullable=False),
        Column("area", Text, nullable=False),
        Column("dimension", Text, nullable=False),
        Column("option", Text, nullable=False),
        Column("value", Double),  # null when the sender typed a missing-reason code
        text("missing"),
        text("sheet"),
        text("cell"),
        text("original"),
        PrimaryKeyConstraint("submission_id", "element", "area", "dimension", "option"),
    )
    Index("ix_values_element_area_period", values.c.element, values.c.area, values.c.period)
    findings = Table(
        "findings",
        md,
        Column("id", Integer, primary_key=True),
        Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False, index=True),
        text("code"),
        text("severity"),
        text("file"),
        text("sheet"),
        text("cell"),
        Column("row", Integer),
        Column("column", Integer),
        text("path"),
        text("rule"),
        text("seen"),
        text("expected"),
        Column("params", JSON, nullable=False),
    )
    explanations = Table(
        "explanations",
        md,
        Column("id", Integer, primary_key=True),
        Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False, index=True),
        text("rule"),
        text("sheet"),
        text("cell"),
        text("text"),
    )
    audit = Table(
        "audit",
        md,
        Column("id", Integer, primary_key=True),
        Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
        Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
        Column("replaced_submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
        Column("ministry", Text, nullable=False),
        Column("period", Text, nullable=False),
        Column("element", Text, nullable=False),
        Column("area", Text, nullable=False),
        Column("dimension", Text, nullable=False),
        Column("option", Text, nullable=False),
        Column("old_value", Double),
        Column("old_missing", Text),  # null (with old_value) when the value was not there
        Column("new_value", Double),
        Column("new_missing", Text),
        Column("action", Text, nullable=False),  # changed | removed | added
    )
    Index("ix_audit_ministry_period", audit.c.ministry, audit.c.period)
    return runs, subs, values, findings, explanations, audit


_runs, _subs, _values, _findings, _explanations, _audit = _schema_v1(_META)
_TABLES: Final = (_migrations, _runs, _subs, _values, _findings, _explanations, _audit)


def _migration_1(conn: Connection) -> None:
    md = MetaData()
    _schema_v1(md)
    md.create_all(conn)


# Applied in order, all pending ones in one transaction; version n is MIGRATIONS[n - 1].
MIGRATIONS: Final[tuple[Callable[[Connection], None], ...]] = (_migration_1,)
SCHEMA_VERSION: Final = len(MIGRATIONS)


# --- opening ------------------------------------------------------------------------------------


class Store:
    """The national store, on an SQLite file or a PostgreSQL server."""

    def __init__(self, engine: Engine, *, sqlite_path: Path | None = None) -> None:
        """Wrap an engine already set up by :meth:`open`; call :meth:`open` instead."""
        self._engine = engine
        self._writer = engine.execution_options(**{_WRITE: True})
        self._sqlite_path = sqlite_path
        self._is_sqlite = engine.dialect.name == "sqlite"
        self.url: str = engine.url.render_as_string(hide_password=True)
        self._commits = 0
        self._kill_after = _kill_hook()

    @classmethod
    def open(
        cls,
        url_or_path: str | Path,
        *,
        create: bool = True,
        sqlite_max_page_count: int | None = None,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
    ) -> Store:
        """Open (and when allowed create or upgrade) the store named by a path or a URL."""
        text = str(url_or_path)
        sqlite_path: Path | None = None
        if isinstance(url_or_path, str) and re.match(r"^[A-Za-z][\w+.-]*://", text):
            engine, sqlite_path = _engine_for_url(
                text, create, sqlite_max_page_count, busy_timeout_s
            )
        elif text == ":memory:":
            engine = _sqlite_engine(None, sqlite_max_page_count, busy_timeout_s)
        else:
            sqlite_path = Path(text)
            _check_sqlite_file(sqlite_path, create)
            engine = _sqlite_engine(sqlite_path, sqlite_max_page_count, busy_timeout_s)
        store = cls(engine, sqlite_path=sqlite_path)
        try:
            if store._is_sqlite:
                store._check_sqlite_content()
            store._migrate(create)
        except BaseException:
            engine.dispose()
            raise
        return store

    def close(self) -> None:
        """Release every connection (SQLite then folds its write-ahead log into the file)."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def _sqlite_pragma(self, statement: str) -> list[str]:
        """Run a PRAGMA outside any transaction (some refuse to run inside one)."""
        where = str(self._sqlite_path or ":memory:")
        try:
            raw = self._engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute(statement)
                rows = [str(row[0]) for row in cursor.fetchall()]
                cursor.close()
                return rows
            finally:
                raw.close()
        except (sqlite3.Error, DBAPIError) as exc:
            raise _translate(exc, where) from exc

    def _check_sqlite_content(self) -> None:
        """Refuse a damaged file before anything writes to it."""
        problems = self._sqlite_pragma("PRAGMA quick_check")
        if problems != ["ok"]:
            raise StoreError(_damaged(self._sqlite_path, "; ".join(problems[:5])))

    def _migrate(self, create: bool) -> None:
        """Apply the pending migrations in order, in one transaction, and record each."""
        with self._reading() as conn:
            done = self._schema_version(conn, create)
        if self._is_sqlite:
            # Only now that the file is known to be ours (or new) may its journal mode change.
            # WAL lets readers go on while one writer writes, and survives a killed writer.
            self._sqlite_pragma("PRAGMA journal_mode = WAL")
        if done == SCHEMA_VERSION:
            return
        with self._write(count=False) as conn:
            if not self._is_sqlite:
                conn.execute(select(func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
            done = self._schema_version(conn, create)  # again: another process may have won
            if done == 0 and not inspect(conn).has_table("schema_migrations"):
                _migrations.create(conn)
            for version in range(done + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[version - 1](conn)
                conn.execute(insert(_migrations).values(version=version, applied_at=_now()))

    def _schema_version(self, conn: Connection, create: bool) -> int:
        names = set(inspect(conn).get_table_names())
        if "schema_migrations" not in names:
            if names:
                raise StoreError(
                    f"The store {self.url} holds tables that cpxl did not make "
                    f"({', '.join(sorted(names)[:5])}). It is not a cpxl store. "
                    "Name a new file or an empty database for cpxl."
                )
            if not create:
                raise StoreError(_not_found(self.url))
            return 0
        version = conn.execute(select(func.max(_migrations.c.version))).scalar()
        version = int(version or 0)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The store {self.url} was written by a newer version of cpxl (store version "
                f"{version}; this cpxl knows up to {SCHEMA_VERSION}). Upgrade cpxl on this "
                "computer to the version your colleagues use, then run again. "
                "The store was not changed."
            )
        return version

    # --- transactions ---------------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """One consistent read (a snapshot) of the store."""
        try:
            with self._engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise _translate(exc, self.url) from exc

    @contextmanager
    def _write(self, *, count: bool = True) -> Iterator[Connection]:
        """One write transaction: all of it is committed, or none of it."""
        try:
            with self._writer.begin() as conn:
                yield conn
        except DBAPIError as exc:
            raise _translate(exc, self.url) from exc
        if count:
            self._commits += 1
            if self._kill_after is not None and self._commits >= self._kill_after:
                os.kill(os.getpid(), signal.SIGKILL)  # test hook, see the module docstring

    # --- runs -----------------------------------------------------------------------------------

    def start_run(self, *, user: str, host: str, cpxl_version: str, catalogue_version: str) -> int:
        """Record that a run started, and return its id."""
        with self._write() as conn:
            result = conn.execute(
                insert(_runs).values(
                    started=_now(),
                    user=user,
                    host=host,
                    cpxl_version=cpxl_version,
                    catalogue_version=catalogue_version,
                )
            )
            return int(cast(Any, result.inserted_primary_key)[0])

    def finish_run(self, run_id: int, totals: Mapping[str, int]) -> None:
        """Record that a run finished, with how many files ended in each status."""
        with self._write() as conn:
            conn.execute(
                update(_runs)
                .where(_runs.c.id == run_id)
                .values(finished=_now(), totals={str(k): int(v) for k, v in totals.items()})
            )

    # --- submissions ----------------------------------------------------------------------------

    def by_sha256(self, sha256: str) -> SubmissionRecord | None:
        """The submission of exactly this file content, if it was received before."""
        with self._reading() as conn:
            row = conn.execute(select(_subs).where(_subs.c.sha256 == sha256)).first()
        return None if row is None else _submission(row)

    def current(self, ministry: str, period: str) -> SubmissionRecord | None:
        """The accepted submission whose values count for this ministry and period."""
        with self._reading() as conn:
            return _current(conn, ministry, period)

    def submissions(self, period: str | None = None) -> tuple[SubmissionRecord, ...]:
        """Every file received (for one period when given), in order of recording."""
        query = select(_subs).order_by(_subs.c.id)
        if period is not None:
            query = query.where(_subs.c.period == period)
        with self._reading() as conn:
            return tuple(_submission(row) for row in conn.execute(query))

    def values_of(self, submission_id: int) -> tuple[Value, ...]:
        """The non-blank values stored for one submission (none unless it was accepted)."""
        v = _values.c
        query = (
            select(v.element, v.area, v.dimension, v.option, v.value, v.missing)
            .add_columns(v.sheet, v.cell, v.original)
            .where(v.submission_id == submission_id)
        )
        with self._reading() as conn:
            return tuple(sorted((Value(*row) for row in conn.execute(query)), key=_value_key))

    def findings_of(self, submission_id: int) -> tuple[Finding, ...]:
        """The findings recorded for one submission, in the order they were given."""
        f = _findings.c
        query = select(_findings).where(f.submission_id == submission_id).order_by(f.id)
        with self._reading() as conn:
            return tuple(_finding(row) for row in conn.execute(query))

    def record(
        self,
        run_id: int,
        sub: NewSubmission,
        values: Sequence[Value],
        findings: Sequence[Finding],
        explanations: Sequence[Explanation] = (),
        *,
        accept: bool,
    ) -> SubmissionRecord:
        """Record one file in one transaction; when accepted its values replace the previous."""
        stored = [v for v in values if not v.blank]
        for v in stored:
            if v.value is not None and math.isnan(v.value):
                raise ValueError(f"value of {v.key} at {v.sheet}!{v.cell} is NaN")
        with self._write() as conn:
            if conn.execute(select(_subs.c.id).where(_subs.c.sha256 == sub.sha256)).first():
                raise StoreError(
                    f"The file {sub.name_received} (sha256 {sub.sha256[:12]}…) is already in "
                    f"the store {self.url}. Nothing was saved again. Run again: cpxl skips "
                    "files it has already recorded."
                )
            previous = _current(conn, sub.ministry, sub.period) if accept else None
            if previous is not None:
                conn.execute(
                    update(_subs).where(_subs.c.id == previous.id).values(is_current=False)
                )
            new_id = _insert_submission(conn, run_id, sub, previous, accept)
            if findings:
                conn.execute(insert(_findings), [_finding_row(new_id, f) for f in findings])
            if explanations:
                rows = [_explanation_row(new_id, e) for e in explanations]
                conn.execute(insert(_explanations), rows)
            if accept and stored:
                rows = [_value_row(new_id, sub, v) for v in stored]
                conn.execute(insert(_values), rows)
            if previous is not None:
                changes = _audit_rows(conn, run_id, new_id, previous, stored)
                if changes:
                    conn.execute(insert(_audit), changes)
            row = conn.execute(select(_subs).where(_subs.c.id == new_id)).one()
        return _submission(row)

    # --- tables for consolidation and exports ---------------------------------------------------

    def history(self, elements: Sequence[str], areas: Sequence[str] | None = None) -> pd.DataFrame:
        """Current accepted values of these elements, every period (for change checks)."""
        v, s = _values.c, _subs.c
        query = (
            select(v.element, v.period, v.area, v.dimension, v.option, v.value, v.missing)
            .add_columns(v.ministry, v.submission_id)
            .join_from(_values, _subs, v.submission_id == s.id)
            .where(s.is_current == true(), v.element.in_(list(elements)))
        )
        if areas is not None:
            query = query.where(v.area.in_(list(areas)))
        with self._reading() as conn:
            rows = sorted(conn.execute(query), key=_row_key)
        return _frame(rows, _HISTORY_COLUMNS)

    def long_table(self, periods: Sequence[str] | None = None) -> pd.DataFrame:
        """Every current accepted value with the file it came from (the national long table)."""
        v, s = _values.c, _subs.c
        query = (
            select(v.element, v.period, v.area, v.dimension, v.option, v.value, v.missing)
            .add_columns(v.ministry, v.submission_id, v.sheet, v.cell, s.name_received)
            .add_columns(s.sha256, s.received_at, s.days_late)
            .join_from(_values, _subs, v.submission_id == s.id)
            .where(s.is_current == true())
        )
        if periods is not None:
            query = query.where(v.period.in_(list(periods)))
        with self._reading() as conn:
            rows = sorted(conn.execute(query), key=_row_key)
        return _frame(rows, _LONG_COLUMNS)

    def audit_rows(self) -> pd.DataFrame:
        """Every value a resubmission changed, removed or added, in order of recording."""
        with self._reading() as conn:
            rows = conn.execute(select(_audit).order_by(_audit.c.id)).all()
        return _frame(rows, _AUDIT_COLUMNS)

    # --- care of the store ----------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many rows each table holds."""
        with self._reading() as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in _TABLES
            }

    def check(self) -> tuple[str, ...]:
        """Integrity problems in plain words; () when the store is sound."""
        problems: list[str] = []
        with self._reading() as conn:
            names = set(inspect(conn).get_table_names())
            problems += [f"The table {t.name} is missing." for t in _TABLES if t.name not in names]
            if self._is_sqlite:
                problems += _sqlite_problems(conn)
            for t in _TABLES:
                if t.name in names:
                    conn.execute(select(func.count()).select_from(t)).scalar_one()
            if "schema_migrations" in names:
                version = conn.execute(select(func.max(_migrations.c.version))).scalar()
                if version != SCHEMA_VERSION:
                    problems.append(
                        f"The store is at version {version}; this cpxl expects {SCHEMA_VERSION}."
                    )
            if "submissions" in names:
                doubled = conn.execute(
                    select(_subs.c.ministry, _subs.c.period)
                    .where(_subs.c.is_current == true())
                    .group_by(_subs.c.ministry, _subs.c.period)
                    .having(func.count() > 1)
                ).all()
                problems += [f"{m} {p} has more than one current submission." for m, p in doubled]
        return tuple(problems)

    def backup(self, dest: Path) -> None:
        """Copy the whole store, consistently, while it stays in use."""
        dest = Path(dest)
        if not self._is_sqlite:
            self._pg_dump(dest)
            return
        if self._sqlite_path is not None and dest.resolve() == self._sqlite_path.resolve():
            raise StoreError(f"The backup {dest} would overwrite the store itself. Name another.")
        partial = dest.with_name(dest.name + ".partial")
        try:
            partial.unlink(missing_ok=True)  # our own leftover from an interrupted backup
            raw = self._engine.raw_connection()
            try:
                target = sqlite3.connect(partial)
                try:
                    cast(sqlite3.Connection, raw.dbapi_connection).backup(target)
                finally:
                    target.close()
            finally:
                raw.close()
            partial.replace(dest)
        except (sqlite3.Error, DBAPIError, OSError) as exc:
            partial.unlink(missing_ok=True)
            raise StoreError(
                f"The backup to {dest} failed ({_first_line(exc)}). Check that the folder "
                "exists, that you may write to it and that the disk has room; then try again. "
                "The store itself was not changed."
            ) from exc

    def _pg_dump(self, dest: Path) -> None:
        program = shutil.which("pg_dump")
        if program is None:
            raise StoreError(
                "A backup of a PostgreSQL store needs the program pg_dump, which is not "
                "installed on this computer. Install the PostgreSQL client programs (on Debian: "
                "apt-get install postgresql-client) or ask the database administrator for a "
                "backup of the store's database."
            )
        url = self._engine.url
        with self._reading() as conn:
            schema = str(conn.execute(select(func.current_schema())).scalar_one())
        plain = URL.create(
            "postgresql",
            username=url.username,
            host=url.host,
            port=url.port,
            database=url.database,
            query=url.query,
        ).render_as_string(hide_password=False)
        env = dict(os.environ)
        if url.password:
            env["PGPASSWORD"] = str(url.password)  # not on the command line, where ps shows it
        partial = dest.with_name(dest.name + ".partial")
        command = [program, "--format=custom", f"--schema={schema}", "--no-owner"]
        command += [f"--file={partial}", f"--dbname={plain}"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            partial.replace(dest)
        else:
            partial.unlink(missing_ok=True)
            raise StoreError(
                f"pg_dump could not back up the store {self.url}: "
                f"{_first_line(done.stderr)}. Check the server and the disk, then try again."
            )

    def fingerprint(self) -> str:
        """A digest of the data alone, equal for stores that hold the same files and values.

        Left out, because they differ between equally good stores: surrogate ids (a submission
        is named by its sha256 instead), timestamps, and the runs table with every run_id (a
        run killed and rerun leaves two runs where a clean run leaves one).
        """
        digest = hashlib.sha256()
        with self._reading() as conn:
            sha = {int(i): str(h) for i, h in conn.execute(select(_subs.c.id, _subs.c.sha256))}
            for table in _TABLES:
                if table is _runs:
                    continue
                kept = [c for c in table.columns if _stable(c)]
                lines = sorted(
                    json.dumps([_canonical(c, row[i], sha) for i, c in enumerate(kept)])
                    for row in conn.execute(select(*kept))
                )
                digest.update(f"{table.name}:{','.join(c.name for c in kept)}\n".encode())
                digest.update("".join(line + "\n" for line in lines).encode())
        return digest.hexdigest()


# --- helpers: opening ---------------------------------------------------------------------------


def _kill_hook() -> int | None:
    text = os.environ.get(KILL_HOOK_VARIABLE, "").strip()
    return int(text) if text else None


def _engine_for_url(
    text: str, create: bool, max_page_count: int | None, busy_timeout_s: float
) -> tuple[Engine, Path | None]:
    try:
        url = make_url(text)
    except ArgumentError as exc:
        raise StoreError(f"{text!r} is not a store address cpxl understands.") from exc
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = Path(url.database) if url.database and url.database != ":memory:" else None
        if path is not None:
            _check_sqlite_file(path, create)
        return _sqlite_engine(path, max_page_count, busy_timeout_s), path
    if backend != "postgresql":
        raise StoreError(
            f"cpxl keeps its store in an SQLite file or on a PostgreSQL server, not in "
            f"{backend}. Give a file path or a postgresql://user:password@host/database address."
        )
    url = url.set(drivername="postgresql+psycopg")  # psycopg 3, whatever the address said
    engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    return engine, None


def _check_sqlite_file(path: Path, create: bool) -> None:
    """Refuse what is not an SQLite file before SQLite opens it (and might write to it)."""
    if not path.exists():
        if not create:
            raise StoreError(_not_found(str(path)))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot make the folder for the store {path} ({_first_line(exc)}). "
                "Check the path and that you may write there."
            ) from exc
        return
    if not path.is_file():
        raise StoreError(f"The store {path} is not a file. Give the path of the store file.")
    try:
        with path.open("rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(
            f"cannot read the store {path} ({_first_line(exc)}). Check that you may read it."
        ) from exc
    if not header:
        raise StoreError(
            f"The store file {path} is empty (0 bytes), so it holds no data. If it once held "
            "data, restore it from the latest backup. If you meant to start a new store, delete "
            "the empty file (or name a new one) and run again."
        )
    if header != _SQLITE_HEADER:
        raise StoreError(_damaged(path, "it is not an SQLite database"))


def _sqlite_engine(path: Path | None, max_page_count: int | None, busy_timeout_s: float) -> Engine:
    url = URL.create("sqlite", database=str(path) if path else None)
    connect_args: dict[str, Any] = {"timeout": busy_timeout_s, "check_same_thread": False}
    if path is None:  # one shared in-memory database, not one per pooled connection
        engine = create_engine(url, connect_args=connect_args, poolclass=StaticPool)
    else:
        engine = create_engine(url, connect_args=connect_args)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy, not the sqlite3 module, says when a transaction begins (see on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = FULL")  # a committed file survives a power cut
        if max_page_count is not None:
            cursor.execute(f"PRAGMA max_page_count = {int(max_page_count)}")
        cursor.close()

    def on_begin(conn: Connection) -> None:
        # A writer takes the write lock at BEGIN, where busy_timeout waits for it; a reader
        # that later wants to write could be refused at once, without waiting.
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
    return engine


# --- helpers: errors in plain words -------------------------------------------------------------


def _first_line(exc: object) -> str:
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _not_found(where: str) -> str:
    return (
        f"The store {where} does not exist. Check the name and folder of the store (or the "
        "database address). A new, empty store is made only when you ask for one."
    )


def _damaged(where: object, detail: str) -> str:
    return (
        f"The store {where} is damaged or is not a cpxl store ({detail}). cpxl has not changed "
        "it. Do not delete it: restore the latest backup copy of the store, or ask the system "
        "administrator to look at it; then run again."
    )


def _translate(exc: BaseException, where: str) -> StoreError:
    """Our words for a database failure; the original stays attached as __cause__."""
    detail = _first_line(exc)
    low = detail.lower()
    if "locked" in low or "busy" in low:
        return StoreError(
            f"The store {where} is busy: another cpxl run (or another program) has been "
            "writing to it for too long. Wait until it has finished, then run again. Nothing "
            "was lost: what was being saved was not, and the next run takes it up again."
        )
    if "full" in low or "no space" in low or "could not extend" in low:
        return StoreError(
            f"The disk holding the store {where} is full. Free some space (or move the "
            "workspace to a larger disk), then run again. What was being saved was not; "
            "everything saved before it is intact."
        )
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return StoreError(_damaged(where, detail))
    if isinstance(exc, IntegrityError):
        return StoreError(
            f"The store {where} refused the data of one file ({detail}), so nothing of that "
            "file was saved. This is a fault in cpxl: please report it with this message."
        )
    if (isinstance(exc, DBAPIError) and exc.connection_invalidated) or "connect" in low:
        return StoreError(
            f"cpxl could not reach the store {where} ({detail}). Check that the database "
            "server is running and that the address, user name and password are right."
        )
    return StoreError(
        f"The store {where} failed ({detail}). Nothing of the file being recorded was saved. "
        "Run again; if this happens again, ask the system administrator."
    )


# --- helpers: rows ------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    """Aware UTC; a naive time is taken as this computer's local time when stored."""
    return moment.astimezone(UTC)


def _from_db(moment: datetime) -> datetime:
    # SQLite keeps the UTC wall time without a zone; PostgreSQL returns an aware time.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _current(conn: Connection, ministry: str, period: str) -> SubmissionRecord | None:
    s = _subs.c
    query = select(_subs).where(s.ministry == ministry, s.period == period, s.is_current == true())
    row = conn.execute(query).first()
    return None if row is None else _submission(row)


def _submission(row: Any) -> SubmissionRecord:
    m = row._mapping
    return SubmissionRecord(
        id=int(m["id"]),
        sha256=m["sha256"],
        name_received=m["name_received"],
        archive_path=m["archive_path"],
        ministry=m["ministry"],
        period=m["period"],
        template_id=m["template_id"],
        template_version=m["template_version"],
        received_at=_from_db(m["received_at"]),
        processed_at=_from_db(m["processed_at"]),
        status=m["status"],
        reason=m["reason"],
        days_late=m["days_late"],
        replaces=m["replaces"],
        is_current=bool(m["is_current"]),
        run_id=int(m["run_id"]),
    )


def _insert_submission(
    conn: Connection,
    run_id: int,
    sub: NewSubmission,
    previous: SubmissionRecord | None,
    accept: bool,
) -> int:
    result = conn.execute(
        insert(_subs).values(
            sha256=sub.sha256,
            name_received=sub.name_received,
            archive_path=sub.archive_path,
            ministry=sub.ministry,
            period=sub.period,
            template_id=sub.template_id,
            template_version=sub.template_version,
            received_at=_utc(sub.received_at),
            processed_at=_now(),
            status=sub.status,
            reason=sub.reason,
            days_late=sub.days_late,
            replaces=None if previous is None else previous.id,
            is_current=accept,
            run_id=run_id,
        )
    )
    return int(cast(Any, result.inserted_primary_key)[0])


def _value_row(submission_id: int, sub: NewSubmission, v: Value) -> dict[str, Any]:
    return {
        "submission_id": submission_id,
        "ministry": sub.ministry,
        "element": v.element,
        "period": sub.period,
        "area": v.area,
        "dimension": v.dimension,
        "option": v.option,
        "value": v.value,
        "missing": v.missing,
        "sheet": v.sheet,
        "cell": v.cell,
        "original": v.original,
    }


def _finding_row(submission_id: int, f: Finding) -> dict[str, Any]:
    loc = f.location
    return {
        "submission_id": submission_id,
        "code": f.code.value,
        "severity": f.severity.value,
        "file": loc.file,
        "sheet": loc.sheet,
        "cell": loc.cell,
        "row": loc.row,
        "column": loc.column,
        "path": loc.path,
        "rule": f.rule,
        "seen": f.seen,
        "expected": f.expected,
        "params": dict(f.params),
    }


def _finding(row: Any) -> Finding:
    m = row._mapping
    try:
        code = Code(m["code"])
    except ValueError as exc:
        raise StoreError(
            f"The store holds a finding with the code {m['code']!r}, which this version of cpxl "
            "does not know. Upgrade cpxl to the version your colleagues use."
        ) from exc
    location = Location(
        file=m["file"],
        sheet=m["sheet"],
        cell=m["cell"],
        row=m["row"],
        column=m["column"],
        path=m["path"],
    )
    params = cast(dict[str, Any], m["params"])
    return Finding.make(
        code, Severity(m["severity"]), location, rule=m["rule"], seen=m["seen"],
        expected=m["expected"], **params,
    )  # fmt: skip


def _explanation_row(submission_id: int, e: Explanation) -> dict[str, Any]:
    return {
        "submission_id": submission_id,
        "rule": e.rule,
        "sheet": e.sheet,
        "cell": e.cell,
        "text": e.text,
    }


def _audit_rows(
    conn: Connection,
    run_id: int,
    new_id: int,
    previous: SubmissionRecord,
    stored: Sequence[Value],
) -> list[dict[str, Any]]:
    """One row per value that the new submission changed, removed or added."""
    v = _values.c
    query = select(v.element, v.area, v.dimension, v.option, v.value, v.missing).where(
        v.submission_id == previous.id
    )
    old = {tuple(row[:4]): (row[4], row[5]) for row in conn.execute(query)}
    new = {x.key: (x.value, x.missing) for x in stored}
    rows: list[dict[str, Any]] = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if before is not None and after is not None and before == after:
            continue
        if before is not None and after is not None:
            action = "changed"
        else:
            action = "removed" if before is not None else "added"
        element, area, dimension, option = key
        rows.append(
            {
                "run_id": run_id,
                "submission_id": new_id,
                "replaced_submission_id": previous.id,
                "ministry": previous.ministry,
                "period": previous.period,
                "element": element,
                "area": area,
                "dimension": dimension,
                "option": option,
                "old_value": None if before is None else before[0],
                "old_missing": None if before is None else before[1],
                "new_value": None if after is None else after[0],
                "new_missing": None if after is None else after[1],
                "action": action,
            }
        )
    return rows


_HISTORY_COLUMNS: Final = {
    "element": "str",
    "period": "str",
    "area": "str",
    "dimension": "str",
    "option": "str",
    "value": "float64",
    "missing": "str",
    "ministry": "str",
    "submission_id": "int64",
}
_LONG_COLUMNS: Final = _HISTORY_COLUMNS | {
    "sheet": "str",
    "cell": "str",
    "name_received": "str",
    "sha256": "str",
    "received_at": "datetime",
    "days_late": "Int64",
}
_AUDIT_COLUMNS: Final = {
    "id": "int64",
    "run_id": "int64",
    "submission_id": "int64",
    "replaced_submission_id": "int64",
    "ministry": "str",
    "period": "str",
    "element": "str",
    "area": "str",
    "dimension": "str",
    "option": "str",
    "old_value": "float64",
    "old_missing": "object",
    "new_value": "float64",
    "new_missing": "object",
    "action": "str",
}


# Sorted in Python, not in SQL: a server's collation may order text differently from SQLite,
# and the national workbooks must come out the same from either store.
def _value_key(v: Value) -> tuple[str, str, str, str]:
    return v.key


def _row_key(row: Any) -> tuple[str, str, str, str, str]:
    return (row[0], row[1], row[2], row[3], row[4])  # element, period, area, dimension, option


def _frame(rows: Sequence[Any], columns: Mapping[str, str]) -> pd.DataFrame:
    """A frame with these columns and types, also when there are no rows."""
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(columns), dtype=object)
    for name, kind in columns.items():
        if kind == "datetime":
            frame[name] = pd.to_datetime(frame[name].map(_from_db), utc=True)
        elif kind != "object":
            frame[name] = frame[name].astype(cast(Any, kind))
    return frame


def _sqlite_problems(conn: Connection) -> list[str]:
    problems = [
        f"The file's structure is damaged: {text}."
        for (text,) in conn.exec_driver_sql("PRAGMA integrity_check")
        if text != "ok"
    ]
    for table, rowid, parent, _fk in conn.exec_driver_sql("PRAGMA foreign_key_check"):
        problems.append(f"Row {rowid} of the table {table} points to a missing row of {parent}.")
    return problems


_SUBMISSION_REFERENCES: Final = frozenset({"submission_id", "replaced_submission_id", "replaces"})


def _stable(column: Column[Any]) -> bool:
    """Whether a column belongs in the fingerprint (see Store.fingerprint)."""
    if isinstance(column.type, DateTime) or column.name == "run_id":
        return False
    return not (column.name == "id" and column.table.name != "schema_migrations")


def _canonical(column: Column[Any], value: Any, sha: Mapping[int, str]) -> Any:
    if value is None:
        return None
    if column.name in _SUBMISSION_REFERENCES:
        return sha[int(value)]
    if isinstance(value, float):
        return repr(value)
    if isinstance(column.type, JSON):
        return json.dumps(value, sort_keys=True)
    return value
