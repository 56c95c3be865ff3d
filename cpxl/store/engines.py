"""Opening a store's database: SQLite or PostgreSQL engines, and failures in plain words.

Everything an officer may read when the store cannot be used is written here, so that the
words stay consistent: a :class:`StoreError` carries them, with the database's own error kept
as ``__cause__`` for the log.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path
from typing import Any, Final

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.pool import StaticPool

from cpxl.errors import CannotStart
from cpxl.findings import Code

KILL_HOOK_VARIABLE: Final = "CPXL_FAULT_KILL_AFTER_COMMITS"
SIGNAL_HOOK_VARIABLE: Final = "CPXL_FAULT_SIGNAL"
BUSY_TIMEOUT_S: Final = 5.0
SQLITE_HEADER: Final = b"SQLite format 3\x00"
WRITE: Final = "cpxl_write"  # execution option: this transaction writes, so lock up front


class StoreError(CannotStart):
    """The store cannot be used: the run stops and an officer reads ``instructions_en``."""

    code: Code = Code.ENVIRONMENT_FAILED

    def __init__(self, instructions_en: str) -> None:
        super().__init__(instructions_en)
        self.instructions_en = instructions_en


class AlreadyRecorded(StoreError):
    """This very file (same bytes) is in the store already: another run recorded it."""

    def __init__(self, name: str, first: str, url: str) -> None:
        super().__init__(
            f"The file {name} is already in the store {url} (as {first}). Nothing was saved again."
        )
        self.first = first


def kill_hook() -> int | None:
    """After how many committed writes the test hook kills the process (None: never)."""
    text = os.environ.get(KILL_HOOK_VARIABLE, "").strip()
    return int(text) if text else None


def fire_hook() -> None:
    """The test hook's blow: SIGKILL to this process, or with CPXL_FAULT_SIGNAL=INT a Ctrl-C
    (TERM: a SIGTERM) to its whole process group, as a terminal (or a shutdown) sends it."""
    kind = os.environ.get(SIGNAL_HOOK_VARIABLE, "").strip().upper()
    if kind in ("INT", "TERM"):
        os.killpg(os.getpgrp(), signal.SIGINT if kind == "INT" else signal.SIGTERM)
    else:
        os.kill(os.getpid(), signal.SIGKILL)


def engine_for_url(
    text: str, create: bool, max_page_count: int | None, busy_timeout_s: float
) -> tuple[Engine, Path | None]:
    """An engine for a store address (sqlite:/// or postgresql://), and its SQLite file."""
    try:
        url = make_url(text)
    except ArgumentError as exc:
        raise StoreError(f"{text!r} is not a store address cpxl understands.") from exc
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = Path(url.database) if url.database and url.database != ":memory:" else None
        if path is not None:
            check_sqlite_file(path, create)
        return sqlite_engine(path, max_page_count, busy_timeout_s), path
    if backend != "postgresql":
        raise StoreError(
            f"cpxl keeps its store in an SQLite file or on a PostgreSQL server, not in "
            f"{backend}. Give a file path or a postgresql://user:password@host/database address."
        )
    url = url.set(drivername="postgresql+psycopg")  # psycopg 3, whatever the address said
    engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    return engine, None


def check_sqlite_file(path: Path, create: bool) -> None:
    """Refuse what is not an SQLite file before SQLite opens it (and might write to it)."""
    if not path.exists():
        if not create:
            raise StoreError(not_found(str(path)))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot make the folder for the store {path} ({first_line(exc)}). "
                "Check the path and that you may write there."
            ) from exc
        return
    if not path.is_file():
        raise StoreError(f"The store {path} is not a file. Give the path of the store file.")
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(
            f"cannot read the store {path} ({first_line(exc)}). Check that you may read it."
        ) from exc
    if not header:
        raise StoreError(
            f"The store file {path} is empty (0 bytes), so it holds no data. If it once held "
            "data, restore it from the latest backup. If you meant to start a new store, delete "
            "the empty file (or name a new one) and run again."
        )
    if header != SQLITE_HEADER:
        raise StoreError(damaged(path, "it is not an SQLite database"))


def sqlite_engine(path: Path | None, max_page_count: int | None, busy_timeout_s: float) -> Engine:
    """An engine on an SQLite file (or one shared in-memory database) set up for the store."""
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
        # In WAL mode, NORMAL keeps every commit whole through a kill or a power cut; a power cut
        # may undo the last few commits, and those files are simply checked again next run.
        cursor.execute("PRAGMA synchronous = NORMAL")
        if max_page_count is not None:
            cursor.execute(f"PRAGMA max_page_count = {int(max_page_count)}")
        cursor.close()

    def on_begin(conn: Connection) -> None:
        # A writer takes the write lock at BEGIN, where busy_timeout waits for it; a reader
        # that later wants to write could be refused at once, without waiting.
        immediate = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
    return engine


def sqlite_pragma(engine: Engine, statement: str, where: str) -> list[str]:
    """Run a PRAGMA outside any transaction (some refuse to run inside one)."""
    try:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(statement)
            rows = [str(row[0]) for row in cursor.fetchall()]
            cursor.close()
            return rows
        finally:
            raw.close()
    except (sqlite3.Error, DBAPIError) as exc:
        raise translate(exc, where) from exc


# --- errors in plain words ----------------------------------------------------------------------


def first_line(exc: object) -> str:
    """The first line of a failure's text (the database's own, when SQLAlchemy wrapped it)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def not_found(where: str) -> str:
    """What to do when the named store does not exist."""
    return (
        f"The store {where} does not exist. Check the name and folder of the store (or the "
        "database address). A new, empty store is made only when you ask for one."
    )


def damaged(where: object, detail: str) -> str:
    """What to do with a damaged or foreign store: restore, never delete."""
    return (
        f"The store {where} is damaged or is not a cpxl store ({detail}). cpxl has not changed "
        "it. Do not delete it: restore the latest backup copy of the store, or ask the system "
        "administrator to look at it; then run again."
    )


# A database failure known by the words of its message, and what the officer is told of it.
_BY_WORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("locked", "busy"),
        "The store {where} is busy: another cpxl run (or another program) has been "
        "writing to it for too long. Wait until it has finished, then run again. Nothing "
        "was lost: what was being saved was not, and the next run takes it up again.",
    ),
    (
        ("full", "no space", "could not extend"),
        "The disk holding the store {where} is full. Free some space (or move the "
        "workspace to a larger disk), then run again. What was being saved was not; "
        "everything saved before it is intact.",
    ),
    (
        ("readonly", "read-only", "unable to open", "permission"),
        "cpxl may not write to the store {where} ({detail}). The file, or the folder "
        "holding it, is read-only for this account, or on a disk mounted read-only. Ask "
        "the system administrator to let this account write there (or give another "
        "store with --store). Nothing was changed.",
    ),
    (("not a database", "malformed", "corrupt"), damaged("{where}", "{detail}")),
)


def translate(exc: BaseException, where: str) -> StoreError:
    """Our words for a database failure; the original stays attached as __cause__."""
    detail = first_line(exc)
    low = detail.lower()
    for words, message in _BY_WORDS:
        if any(word in low for word in words):
            return StoreError(message.format(where=where, detail=detail))
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
