"""The class Store: opening, transactions, recording one file, and reading it all back."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import pandas as pd
from sqlalchemy import Connection, Engine, false, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from cpxl.findings import FileResult, Finding, Status, Value
from cpxl.store import care, frames, records, schema
from cpxl.store.engines import (
    BUSY_TIMEOUT_S,
    WRITE,
    AlreadyRecorded,
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
from cpxl.store.records import (
    Before,
    Explanation,
    Figures,
    NewSubmission,
    PendingFeedback,
    SubmissionRecord,
    repeat_result,
)

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
        self._read_only_mode = False

    @classmethod
    def open(
        cls,
        url_or_path: str | Path,
        *,
        create: bool = True,
        sqlite_max_page_count: int | None = None,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        read_only: bool = False,
        check: bool = True,
    ) -> Store:
        """Open (and when allowed create or upgrade) the store named by a path or a URL.

        ``read_only`` (a dry run) refuses every write, and an absent store is an empty one.
        ``check=False`` skips SQLite's check of the whole file (a second or more for a large
        store), for a process whose caller has just opened, checked and upgraded the same store.
        """
        if read_only:
            return cls._read_only(url_or_path, busy_timeout_s)
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
            if store._is_sqlite and check:
                store._check_sqlite_content()
            store._migrate(create)
        except BaseException:
            engine.dispose()
            raise
        return store

    @classmethod
    def _read_only(cls, url_or_path: str | Path, busy_timeout_s: float) -> Store:
        text = str(url_or_path)
        absent = "://" not in text and text != ":memory:" and not Path(text).exists()
        store = cls.open(":memory:" if absent else url_or_path, create=absent,
                         busy_timeout_s=busy_timeout_s)  # fmt: skip
        store._read_only_mode = True
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
        if self._read_only_mode:
            raise StoreError(f"The store {self.url} is open for reading only; nothing was saved.")
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

    def before(
        self,
        ministry: str,
        period: str,
        *,
        watched: Sequence[str] = (),
        earlier: Sequence[str] = (),
        others: Sequence[str] = (),
        digests: Mapping[str, str] | None = None,
    ) -> Before:
        """Everything deciding a return of this ministry and period reads, in one snapshot:
        the submission it would replace (its findings, and its values of the elements whose
        ``digests`` differ from the new return's: all of them when not given), and the history
        its checks compare with (see :func:`frames.history_of`)."""
        with self._reading() as conn:
            previous = records.current(conn, ministry, period)
            values: Figures = {}
            found: tuple[Finding, ...] = ()
            compared = None
            if previous is not None:
                compared = None if digests is None else records.differing(previous.digests, digests)
                values = records.stored_figures(conn, previous.id, compared)
                found = records.findings_of(conn, previous.id)
            history = frames.history_of(conn, ministry, period, watched, earlier, others)
            latest = records.latest(conn, ministry, period)
            latest_found = found
            if latest is not None and (previous is None or latest.id != previous.id):
                latest_found = records.findings_of(conn, latest.id)
        return Before(previous, values, found, history, latest, latest_found, compared)

    def results_of_run(self, run_id: int) -> tuple[FileResult, ...]:
        """What one run recorded, file by file, as it reported them."""
        subs = schema.submissions
        query = select(subs).where(subs.c.run_id == run_id).order_by(subs.c.id)
        with self._reading() as conn:
            found = [records.submission(row) for row in conn.execute(query)]
        findings = self.findings_of_many(r.id for r in found) if found else {}
        return tuple(records.result_of(r, findings[r.id]) for r in found)

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
    ) -> SubmissionRecord:
        """Record one file in one transaction; when accepted its values replace the previous.

        Its feedback workbook is named here (``sub.feedback``) and is pending until
        :meth:`confirm_feedback`; a file already recorded (by another run) is refused with
        :class:`AlreadyRecorded`.
        """
        stored = [v for v in values if not v.blank]
        for v in stored:
            if v.value is not None and math.isnan(v.value):
                raise ValueError(f"value of {v.key} at {v.sheet}!{v.cell} is NaN")
        try:
            return self._record(run_id, sub, stored, findings, explanations, accept)
        except StoreError as exc:
            # Two runs recording the same file at once on a server: the unique sha256 refused
            # the second, which is a duplicate, not a failure.
            if isinstance(exc.__cause__, IntegrityError):
                first = self.first_name(sub.sha256)
                if first is not None:
                    raise AlreadyRecorded(sub.name_received, first, self.url) from exc
            raise

    def _record(
        self,
        run_id: int,
        sub: NewSubmission,
        stored: Sequence[Value],
        findings: Sequence[Finding],
        explanations: Sequence[Explanation],
        accept: bool,
    ) -> SubmissionRecord:
        with self._write() as conn:
            if not self._is_sqlite:  # one writer per ministry and period at a time on a server
                key = f"{sub.ministry}|{sub.period}"
                conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))
            first = records.first_name(conn, sub.sha256)
            if first is not None:
                raise AlreadyRecorded(sub.name_received, first, self.url)
            previous = records.current(conn, sub.ministry, sub.period) if accept else None
            if previous is not None:
                records.replace_current(conn, previous)
            # Only a return whose values count is ever compared with the next one.
            sub = replace(sub, digests=(sub.digests or records.digests(stored)) if accept else None)
            new = records.insert_submission(conn, run_id, sub, previous, accept)
            records.insert_findings(conn, new.id, findings, explanations)
            if previous is None:
                _insert_values(conn, new.id, sub, stored if accept else ())
                return new
            assert sub.digests is not None
            compared = records.differing(previous.digests, sub.digests)
            old = records.stored_figures(conn, previous.id, compared)
            now = [v for v in stored if compared is None or v.element in compared]
            # The elements whose digests agree are said again exactly: nothing to write.
            fresh = records.restated(conn, new.id, sub, old.values(), now)
            _insert_values(conn, new.id, sub, fresh)
            found = records.differences(old, records.figures(now))
            audit = records.audit_rows(run_id, new.id, previous, found)
            records.insert_rows(conn, schema.audit, records.AUDIT_COLUMNS, audit)
        return new

    def record_repeat(
        self, run_id: int, sha256: str, name: str, received_at: datetime, feedback: str
    ) -> int:
        """Record a file received again under another name (its id); its feedback is pending
        too."""
        subs, rep = schema.submissions.c, schema.repeats
        with self._write() as conn:
            first = conn.execute(select(subs.id).where(subs.sha256 == sha256)).scalar()
            if first is None:
                raise StoreError(
                    f"The file {name} repeats a file that could not be saved. Run again."
                )
            done = conn.execute(
                insert(rep).values(
                    sha256=sha256,
                    name_received=name,
                    first_id=first,
                    run_id=run_id,
                    received_at=records.utc(received_at),
                    feedback=feedback,
                    feedback_written=False,
                )
            )
            return int(cast(Any, done.inserted_primary_key)[0])

    def received_before(self, sha256: str, name: str) -> tuple[str, Status, str | None] | None:
        """(first name, its status, feedback name of this very receipt or None) for bytes
        recorded before (see :func:`records.received_before`); None for new bytes."""
        with self._reading() as conn:
            return records.received_before(conn, sha256, name)

    def first_name(self, sha256: str) -> str | None:
        """The name under which these bytes were first recorded, if they were."""
        with self._reading() as conn:
            return records.first_name(conn, sha256)

    def feedback_names(self) -> set[str]:
        """Every feedback workbook name the store has given out (so none is given twice)."""
        with self._reading() as conn:
            return {
                str(name)
                for table in (schema.submissions, schema.repeats)
                for (name,) in conn.execute(select(table.c.feedback).where(table.c.feedback != ""))
            }

    def pending_feedback(self) -> tuple[PendingFeedback, ...]:
        """Feedback recorded but never confirmed written (a run stopped in between)."""
        subs, rep = schema.submissions, schema.repeats
        with self._reading() as conn:
            mine = conn.execute(
                select(subs).where(subs.c.feedback_written == false()).order_by(subs.c.id)
            ).all()
            records_ = [records.submission(row) for row in mine]
            found = self.findings_of_many(r.id for r in records_) if records_ else {}
            again = conn.execute(
                select(
                    rep,
                    subs.c.name_received.label("first_name"),
                    subs.c.status.label("first_status"),
                )
                .join(subs, subs.c.id == rep.c.first_id)
                .where(rep.c.feedback_written == false())
                .order_by(rep.c.id)
            ).all()
        out = [
            PendingFeedback(r.feedback, records.result_of(r, found[r.id]), r.archive_path, r.id)
            for r in records_
        ]
        for row in again:
            m = row._mapping
            at = records.from_db(m["received_at"])
            first, status = m["first_name"], Status(m["first_status"])
            result = repeat_result(m["name_received"], m["sha256"], at, first, status)
            out.append(PendingFeedback(m["feedback"], result, "", None, int(m["id"])))
        return tuple(out)

    def confirm_feedback(self, written: Iterable[PendingFeedback]) -> None:
        """Mark these feedback workbooks as written, in one transaction."""
        done = list(written)
        subs, rep = schema.submissions, schema.repeats
        sub_ids = [p.submission_id for p in done if p.submission_id is not None]
        rep_ids = [p.repeat_id for p in done if p.repeat_id is not None]
        if not sub_ids and not rep_ids:
            return
        with self._write() as conn:
            for start in range(0, len(sub_ids), _IDS_PER_QUERY):
                chunk = sub_ids[start : start + _IDS_PER_QUERY]
                conn.execute(update(subs).where(subs.c.id.in_(chunk)).values(feedback_written=True))
            for start in range(0, len(rep_ids), _IDS_PER_QUERY):
                chunk = rep_ids[start : start + _IDS_PER_QUERY]
                conn.execute(update(rep).where(rep.c.id.in_(chunk)).values(feedback_written=True))

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


def _insert_values(
    conn: Connection, new_id: int, sub: NewSubmission, values: Sequence[Value]
) -> None:
    """Store these values as stated by the return just inserted."""
    records.insert_rows(
        conn, schema.values, records.VALUE_COLUMNS, records.value_rows(new_id, sub, values)
    )
