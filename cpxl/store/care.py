"""Care of the store: integrity problems in plain words, backups, and a fingerprint of the data."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, cast

from sqlalchemy import (
    JSON,
    URL,
    Column,
    Connection,
    DateTime,
    Engine,
    Table,
    func,
    inspect,
    select,
    true,
)
from sqlalchemy.exc import DBAPIError

from cpxl.store import schema
from cpxl.store.engines import StoreError, first_line

_SUBMISSION_REFERENCES: Final = frozenset(
    {"submission_id", "replaced_by", "replaced_submission_id", "replaces", "first_id"}
)


def problems(conn: Connection) -> tuple[str, ...]:
    """Integrity problems in plain words; () when the store is sound."""
    out: list[str] = []
    names = set(inspect(conn).get_table_names())
    out += [f"The table {t.name} is missing." for t in schema.TABLES if t.name not in names]
    if conn.dialect.name == "sqlite":
        out += _sqlite_problems(conn)
    for t in schema.TABLES:
        if t.name in names:
            conn.execute(select(func.count()).select_from(t)).scalar_one()
    if "schema_migrations" in names:
        version = conn.execute(select(func.max(schema.migrations.c.version))).scalar()
        if version != schema.SCHEMA_VERSION:
            out.append(
                f"The store is at version {version}; this cpxl expects {schema.SCHEMA_VERSION}."
            )
    if "submissions" in names:
        s = schema.submissions.c
        doubled = conn.execute(
            select(s.ministry, s.period)
            .where(s.is_current == true())
            .group_by(s.ministry, s.period)
            .having(func.count() > 1)
        ).all()
        out += [f"{m} {p} has more than one current submission." for m, p in doubled]
    return tuple(out)


def _sqlite_problems(conn: Connection) -> list[str]:
    out = [
        f"The file's structure is damaged: {text}."
        for (text,) in conn.exec_driver_sql("PRAGMA integrity_check")
        if text != "ok"
    ]
    for table, rowid, parent, _fk in conn.exec_driver_sql("PRAGMA foreign_key_check"):
        row = "A row" if rowid is None else f"Row {rowid}"  # the values table has no row ids
        out.append(f"{row} of the table {table} points to a missing row of {parent}.")
    return out


def sqlite_backup(engine: Engine, store_path: Path | None, dest: Path) -> None:
    """Copy an SQLite store with SQLite's online backup, into a file renamed when complete."""
    if store_path is not None and dest.resolve() == store_path.resolve():
        raise StoreError(f"The backup {dest} would overwrite the store itself. Name another.")
    partial = dest.with_name(dest.name + ".partial")
    try:
        partial.unlink(missing_ok=True)  # our own leftover from an interrupted backup
        raw = engine.raw_connection()
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
            f"The backup to {dest} failed ({first_line(exc)}). Check that the folder "
            "exists, that you may write to it and that the disk has room; then try again. "
            "The store itself was not changed."
        ) from exc


def pg_dump(engine: Engine, shown: str, schema_name: str, dest: Path) -> None:
    """Dump a PostgreSQL store's schema with pg_dump (custom format) into ``dest``."""
    program = shutil.which("pg_dump")
    if program is None:
        raise StoreError(
            "A backup of a PostgreSQL store needs the program pg_dump, which is not "
            "installed on this computer. Install the PostgreSQL client programs (on Debian: "
            "apt-get install postgresql-client) or ask the database administrator for a "
            "backup of the store's database."
        )
    url = engine.url
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
    command = [program, "--format=custom", f"--schema={schema_name}", "--no-owner"]
    command += [f"--file={partial}", f"--dbname={plain}"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode == 0:
        partial.replace(dest)
    else:
        partial.unlink(missing_ok=True)
        raise StoreError(
            f"pg_dump could not back up the store {shown}: "
            f"{first_line(done.stderr)}. Check the server and the disk, then try again."
        )


def fingerprint(conn: Connection) -> str:
    """A digest of the data alone (see Store.fingerprint for what is left out, and why)."""
    digest = hashlib.sha256()
    s = schema.submissions.c
    sha = {int(i): str(h) for i, h in conn.execute(select(s.id, s.sha256))}
    for table in schema.TABLES:
        if table is schema.runs or table in schema.PORTAL_TABLES:
            continue
        digest.update(_table_text(conn, table, sha).encode())
    return digest.hexdigest()


def _table_text(conn: Connection, table: Table, sha: Mapping[int, str]) -> str:
    """A table's stable columns, then its rows in canonical form, sorted: what is digested."""
    kept = [c for c in table.columns if _stable(c)]
    lines = sorted(
        json.dumps([_canonical(c, row[i], sha) for i, c in enumerate(kept)])
        for row in conn.execute(select(*kept))
    )
    return f"{table.name}:{','.join(c.name for c in kept)}\n" + "".join(
        line + "\n" for line in lines
    )


def _stable(column: Column[Any]) -> bool:
    """Whether a column belongs in the fingerprint."""
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
