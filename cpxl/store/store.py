"""The class Store: opening, transactions, recording one file, and reading it all back."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import pandas as pd
from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from cpxl.findings import Finding, Value
from cpxl.store import care, frames, records, schema
from cpxl.store.engines import (
    BUSY_TIMEOUT_S,
    WRITE,
    StoreError,
    check_sqlite_file,
    damaged,
    engine_for_url,
    fire_hook,
    kill_hook,
    sqlite_engine,
    sqlite_pragma,
    translate,
)
from cpxl.store.records import Explanation, Key, NewSubmission, StoredValue, SubmissionRecord

_IDS_PER_QUERY = 500  # well under SQLite's oldest limit of 999 parameters per statement
T = TypeVar("T")


class Store:
    """The national store, on an SQLite file or a PostgreSQL server."""

    def __init__(self, engine: Engine, *, sqlite_path: Path | None = None) -> None:
        """Wrap an engine already set up by :meth:`open`; call :meth:`open` instead."""
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE: True})
        self._sqlite_path = sqlite_path
        self._is_sqlite = engine.dialect.name == "sqlite"
        self.url: str = engine.url.render_as_string(hide_password=True)
        self._commits = 0
        self._kill_after = kill_hook()

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
            engine, sqlite_path = engine_for_url(
                text, create, sqlite_max_page_count, busy_timeout_s
            )
        elif text == ":memory:":
            engine = sqlite_engine(None, sqlite_max_page_count, busy_timeout_s)
        else:
            sqlite_path = Path(text)
            check_sqlite_file(sqlite_path, create)
            engine = sqlite_engine(sqlite_path, sqlite_max_page_count, busy_timeout_s)
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

    def _pragma(self, statement: str) -> list[str]:
        return sqlite_pragma(self._engine, statement, str(self._sqlite_path or ":memory:"))

    def _check_sqlite_content(self) -> None:
        """Refuse a damaged file before anything writes to it."""
        problems = self._pragma("PRAGMA quick_check")
        if problems != ["ok"]:
            raise StoreError(damaged(self._sqlite_path, "; ".join(problems[:5])))

    def _migrate(self, create: bool) -> None:
        """Apply the pending migrations in order, in one transaction, and record each."""
        with self._reading() as conn:
            done = schema.version_of(conn, self.url, create)
        if self._is_sqlite:
            # Only now that the file is known to be ours (or new) may its journal mode change.
            # WAL lets readers go on while one writer writes, and survives a killed writer.
            self._pragma("PRAGMA journal_mode = WAL")
        if done == schema.SCHEMA_VERSION:
            return
        with self._write(count=False) as conn:
            schema.upgrade(conn, self.url, create)

    # --- transactions ---------------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """One consistent read (a snapshot) of the store."""
        try:
            with self._engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise translate(exc, self.url) from exc

    @contextmanager
    def _write(self, *, count: bool = True) -> Iterator[Connection]:
        """One write transaction: all of it is committed, or none of it."""
        try:
            with self._writer.begin() as conn:
                yield conn
        except DBAPIError as exc:
            raise translate(exc, self.url) from exc
        if count:
            self._commits += 1
            if self._commits == self._kill_after:
                fire_hook()  # test hook, see the package docstring

    # --- runs -----------------------------------------------------------------------------------

    def start_run(self, *, user: str, host: str, cpxl_version: str, catalogue_version: str) -> int:
        """Record that a run started, and return its id."""
        with self._write() as conn:
            result = conn.execute(
                insert(schema.runs).values(
                    started=records.now(),
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
                update(schema.runs)
                .where(schema.runs.c.id == run_id)
                .values(finished=records.now(), totals={str(k): int(v) for k, v in totals.items()})
            )

    # --- submissions ----------------------------------------------------------------------------

    def by_sha256(self, sha256: str) -> SubmissionRecord | None:
        """The submission of exactly this file content, if it was received before."""
        subs = schema.submissions
        with self._reading() as conn:
            row = conn.execute(select(subs).where(subs.c.sha256 == sha256)).first()
        return None if row is None else records.submission(row)

    def current(self, ministry: str, period: str) -> SubmissionRecord | None:
        """The accepted submission whose values count for this ministry and period."""
        with self._reading() as conn:
            return records.current(conn, ministry, period)

    def submissions(self, period: str | None = None) -> tuple[SubmissionRecord, ...]:
        """Every file received (for one period when given), in order of recording."""
        query = select(schema.submissions).order_by(schema.submissions.c.id)
        if period is not None:
            query = query.where(schema.submissions.c.period == period)
        with self._reading() as conn:
            return tuple(records.submission(row) for row in conn.execute(query))

    def values_of(self, submission_id: int) -> tuple[Value, ...]:
        """The non-blank values stored for one submission (none unless it was accepted)."""
        # Sorted in Python, not in SQL, for the same order from either backend (see frames).
        return tuple(
            Value(*key, x.value, x.missing, x.sheet, x.cell, x.original)
            for key, x in sorted(self.stored_values(submission_id).items())
        )

    def stored_values(self, submission_id: int) -> dict[Key, StoredValue]:
        """The same values as plain fields by (element, area, dimension, option), unordered."""
        with self._reading() as conn:
            return records.stored_values(conn, submission_id)

    def findings_of(self, submission_id: int) -> tuple[Finding, ...]:
        """The findings recorded for one submission, in the order they were given."""
        return self.findings_of_many([submission_id])[submission_id]

    def findings_of_many(self, submission_ids: Iterable[int]) -> dict[int, tuple[Finding, ...]]:
        """The findings of each of these submissions (() for one with none), in one read."""
        ids = sorted({int(i) for i in submission_ids})
        out: dict[int, list[Finding]] = {i: [] for i in ids}
        f = schema.findings.c
        with self._reading() as conn:
            for start in range(0, len(ids), _IDS_PER_QUERY):
                chunk = ids[start : start + _IDS_PER_QUERY]
                query = select(schema.findings).where(f.submission_id.in_(chunk)).order_by(f.id)
                for row in conn.execute(query):
                    out[int(row.submission_id)].append(records.finding(row))
        return {i: tuple(found) for i, found in out.items()}

    def record(
        self,
        run_id: int,
        sub: NewSubmission,
        values: Sequence[Value],
        findings: Sequence[Finding],
        explanations: Sequence[Explanation] = (),
        *,
        accept: bool,
        replacing: tuple[int, Mapping[Key, StoredValue]] | None = None,
    ) -> SubmissionRecord:
        """Record one file in one transaction; when accepted its values replace the previous.

        ``replacing`` is (id, :meth:`stored_values`) of the submission this one replaces, when
        the caller has just read them; they are read again only if another is current by now.
        """
        stored = [v for v in values if not v.blank]
        for v in stored:
            if v.value is not None and math.isnan(v.value):
                raise ValueError(f"value of {v.key} at {v.sheet}!{v.cell} is NaN")
        subs = schema.submissions
        with self._write() as conn:
            if conn.execute(select(subs.c.id).where(subs.c.sha256 == sub.sha256)).first():
                raise StoreError(
                    f"The file {sub.name_received} (sha256 {sub.sha256[:12]}…) is already in "
                    f"the store {self.url}. Nothing was saved again. Run again: cpxl skips "
                    "files it has already recorded."
                )
            previous = records.current(conn, sub.ministry, sub.period) if accept else None
            if previous is not None:
                conn.execute(update(subs).where(subs.c.id == previous.id).values(is_current=False))
            new = records.insert_submission(conn, run_id, sub, previous, accept)
            if findings:
                rows = [records.finding_row(new.id, f) for f in findings]
                conn.execute(insert(schema.findings), rows)
            if explanations:
                rows = [records.explanation_row(new.id, e) for e in explanations]
                conn.execute(insert(schema.explanations), rows)
            if accept:
                value_rows = records.value_rows(new.id, sub, stored)
                records.insert_rows(conn, schema.values, records.VALUE_COLUMNS, value_rows)
            if previous is not None:
                if replacing is not None and replacing[0] == previous.id:
                    replaced = replacing[1]
                else:
                    replaced = records.stored_values(conn, previous.id)
                changes = records.audit_rows(run_id, new.id, previous, replaced, stored)
                records.insert_rows(conn, schema.audit, records.AUDIT_COLUMNS, changes)
        return new

    # --- tables for consolidation and exports ---------------------------------------------------

    def history(
        self,
        elements: Sequence[str],
        areas: Sequence[str] | None = None,
        periods: Sequence[str] | None = None,
        *,
        totals_only: bool = False,
    ) -> pd.DataFrame:
        """Current accepted values of these elements: every period, or only those named.

        ``totals_only`` leaves out the disaggregated cells (what change checks need).
        """
        with self._reading() as conn:
            return frames.history(conn, elements, areas, periods, totals_only)

    def long_table(self, periods: Sequence[str] | None = None) -> pd.DataFrame:
        """Every current accepted value with the file it came from (the national long table)."""
        with self._reading() as conn:
            return frames.long_table(conn, periods)

    def read(self, query: Callable[[Connection], T]) -> T:
        """Run one read query (see :mod:`cpxl.store.national`) on a snapshot of the store."""
        with self._reading() as conn:
            return query(conn)

    def audit_rows(self) -> pd.DataFrame:
        """Every value a resubmission changed, removed or added, in order of recording."""
        with self._reading() as conn:
            return frames.audit(conn)

    # --- care of the store ----------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many rows each table holds."""
        with self._reading() as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in schema.TABLES
            }

    def check(self) -> tuple[str, ...]:
        """Integrity problems in plain words; () when the store is sound."""
        with self._reading() as conn:
            return care.problems(conn)

    def backup(self, dest: Path) -> None:
        """Copy the whole store, consistently, while it stays in use."""
        dest = Path(dest)
        if self._is_sqlite:
            care.sqlite_backup(self._engine, self._sqlite_path, dest)
            return
        with self._reading() as conn:
            schema_name = str(conn.execute(select(func.current_schema())).scalar_one())
        care.pg_dump(self._engine, self.url, schema_name, dest)

    def fingerprint(self) -> str:
        """A digest of the data alone, equal for stores that hold the same files and values.

        Left out, because they differ between equally good stores: surrogate ids (a submission
        is named by its sha256 instead), timestamps, and the runs table with every run_id (a
        run killed and rerun leaves two runs where a clean run leaves one).
        """
        with self._reading() as conn:
            return care.fingerprint(conn)
