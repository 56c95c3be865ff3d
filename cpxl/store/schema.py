"""The store's tables and their migrations, oldest first.

Each migration owns a frozen copy of the tables it creates. The module-level tables below,
which the queries use, describe the newest schema; when a migration changes a table, change
them to match and leave the older migrations untouched, so that an old store upgrades step by
step.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    inspect,
    select,
    true,
)

from cpxl.store.engines import StoreError, not_found

PG_MIGRATION_LOCK: Final = 0x63_70_78_6C  # "cpxl": one migrator at a time on a server

METADATA = MetaData()
migrations = Table(
    "schema_migrations",
    METADATA,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)


def _schema_v1(md: MetaData) -> tuple[Table, ...]:
    """The first schema: runs, submissions, values, findings, explanations, audit."""
    runs = _runs_v1(md)
    subs = _submissions_v1(md)
    values = _values_v1(md)
    findings, explanations = _findings_v1(md)
    audit = _audit_v1(md)
    return runs, subs, values, findings, explanations, audit


def _text(name: str, **kw: Any) -> Column[str]:
    """A text column that is never null: blank is the empty string."""
    return Column(name, Text, nullable=False, server_default="", **kw)


def _key(name: str) -> Column[str]:
    """A text column of a value's key (ministry, element, period, area, dimension, option)."""
    return Column(name, Text, nullable=False)


def _of_a_submission() -> tuple[Column[int], Column[int]]:
    """A row's own id, and the submission it belongs to (rows are read by it)."""
    return (
        Column("id", Integer, primary_key=True),
        Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False, index=True),
    )


def _runs_v1(md: MetaData) -> Table:
    return Table(
        "runs",
        md,
        Column("id", Integer, primary_key=True),
        Column("started", DateTime(timezone=True), nullable=False),
        Column("finished", DateTime(timezone=True)),
        _text("user"),
        _text("host"),
        _text("cpxl_version"),
        _text("catalogue_version"),
        Column("totals", JSON),
    )


def _submissions_v1(md: MetaData) -> Table:
    subs = Table(
        "submissions",
        md,
        Column("id", Integer, primary_key=True),
        Column("sha256", String(64), nullable=False, unique=True),
        _text("name_received"),
        _text("archive_path"),
        _text("ministry"),
        _text("period"),
        _text("template_id"),
        Column("template_version", Integer),
        Column("received_at", DateTime(timezone=True), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
        _text("status"),
        _text("reason"),
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
    return subs


def _values_v1(md: MetaData) -> Table:
    # Long form: one row per (element, area, dimension, option). A new disaggregation or option
    # in the catalogue is new rows, never a schema change. dimension/option are "" for a total.
    return Table(
        "values",
        md,
        Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
        _key("ministry"),
        _key("element"),
        _key("period"),
        _key("area"),
        _key("dimension"),
        _key("option"),
        Column("value", Double),  # null when the sender typed a missing-reason code
        _text("missing"),
        _text("sheet"),
        _text("cell"),
        _text("original"),
        PrimaryKeyConstraint("submission_id", "element", "area", "dimension", "option"),
    )


def _findings_v1(md: MetaData) -> tuple[Table, Table]:
    """A submission's findings, and the explanations its sender typed next to them."""
    findings = Table(
        "findings",
        md,
        *_of_a_submission(),
        _text("code"),
        _text("severity"),
        _text("file"),
        _text("sheet"),
        _text("cell"),
        Column("row", Integer),
        Column("column", Integer),
        _text("path"),
        _text("rule"),
        _text("seen"),
        _text("expected"),
        Column("params", JSON, nullable=False),
    )
    explanations = Table(
        "explanations",
        md,
        *_of_a_submission(),
        _text("rule"),
        _text("sheet"),
        _text("cell"),
        _text("text"),
    )
    return findings, explanations


def _audit_v1(md: MetaData) -> Table:
    audit = Table(
        "audit",
        md,
        Column("id", Integer, primary_key=True),
        Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
        Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
        Column("replaced_submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
        _key("ministry"),
        _key("period"),
        _key("element"),
        _key("area"),
        _key("dimension"),
        _key("option"),
        Column("old_value", Double),
        Column("old_missing", Text),  # null (with old_value) when the value was not there
        Column("new_value", Double),
        Column("new_missing", Text),
        Column("action", Text, nullable=False),  # changed | removed | added
    )
    Index("ix_audit_ministry_period", audit.c.ministry, audit.c.period)
    return audit


def _schema_v3(md: MetaData) -> tuple[Table, ...]:
    """Version 3: each file's feedback workbook is named in the store and confirmed once written.

    ``feedback`` is the workbook's name in outbox/feedback, reserved when the file is recorded;
    ``feedback_written`` turns true once it is on disk, so a run killed in between rebuilds it.
    ``outcome`` keeps what the feedback says beyond the findings (changes, fixed errors, the
    files it repeats or replaces), so that it can be rebuilt exactly. ``repeats`` holds a file
    received again under another name: it gets feedback of its own, once.
    """
    runs, subs, values, findings, explanations, audit = _schema_v1(md)
    subs.append_column(Column("feedback", Text, nullable=False, server_default=""))
    subs.append_column(Column("feedback_written", Boolean, nullable=False, server_default=true()))
    subs.append_column(Column("outcome", JSON))
    repeats = Table(
        "repeats",
        md,
        Column("id", Integer, primary_key=True),
        Column("sha256", String(64), nullable=False),
        Column("name_received", Text, nullable=False),
        Column("first_id", Integer, ForeignKey("submissions.id"), nullable=False),
        Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False),
        Column("feedback", Text, nullable=False),
        Column("feedback_written", Boolean, nullable=False, server_default=true()),
        UniqueConstraint("sha256", "name_received"),
    )
    return runs, subs, values, findings, explanations, audit, repeats


def _schema_v5(md: MetaData) -> tuple[Table, ...]:
    """Version 5: ``digests`` keeps what each element of a return says, hashed (see
    :func:`cpxl.store.records.digests`), so a resubmission reads back only what it changed.
    Submissions recorded before have none and are compared whole."""
    tables = _schema_v3(md)
    tables[1].append_column(Column("digests", JSON))
    return tables


_VALUE_KEY: Final = (
    "period",
    "element",
    "ministry",
    "area",
    "dimension",
    "option",
    "submission_id",
)


def _values_v6(md: MetaData, name: str = "values") -> Table:
    # A figure is stored once while it stands: ``submission_id`` is the return that first said
    # it, ``replaced_by`` the return that first said otherwise (null while it counts). A
    # resubmission writes only the cells it changes, so a return's values are those of its
    # ministry and period stated by it or before it and not yet replaced when it came (see
    # records.stated_in). Keyed by period and element first: every reading names periods, and
    # most name elements.
    return Table(
        name,
        md,
        Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
        Column("replaced_by", Integer, ForeignKey("submissions.id")),
        _key("ministry"),
        _key("element"),
        _key("period"),
        _key("area"),
        _key("dimension"),
        _key("option"),
        Column("value", Double),  # null when the sender typed a missing-reason code
        _text("missing"),
        _text("sheet"),
        _text("cell"),
        _text("original"),
        PrimaryKeyConstraint(*_VALUE_KEY, name=f"pk_{name}"),
        sqlite_with_rowid=False,
    )


def _schema_v6(md: MetaData) -> tuple[Table, ...]:
    """Version 6: a figure is stored once while it stands (see _values_v6)."""
    runs, subs, _, findings, explanations, audit, repeats = _schema_v5(md)
    md.remove(md.tables["values"])
    return runs, subs, _values_v6(md), findings, explanations, audit, repeats


def tables_at(version: int, md: MetaData) -> tuple[Table, ...]:
    """The national tables (runs, submissions, values, ...) as migration ``version`` left them,
    in ``md``: what an old store is made of, to test its upgrade."""
    made = {1: _schema_v1, 3: _schema_v3, 5: _schema_v5, 6: _schema_v6}
    return made[max(v for v in made if v <= version)](md)


runs, submissions, values, findings, explanations, audit, repeats = _schema_v6(METADATA)
TABLES: tuple[Table, ...] = (
    migrations,
    runs,
    submissions,
    values,
    findings,
    explanations,
    audit,
    repeats,
)


def _migration_1(conn: Connection) -> None:
    md = MetaData()
    _schema_v1(md)
    md.create_all(conn)


def _migration_2(conn: Connection) -> None:
    # Values are read by submission (the primary key) since current submissions are looked up
    # first; an index by element only slowed every insert. Stores made at version 1 had one.
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_values_element_area_period")


def _migration_3(conn: Connection) -> None:
    for ddl in (
        "ALTER TABLE submissions ADD COLUMN feedback TEXT NOT NULL DEFAULT ''",
        # Files recorded before version 3 already have their feedback: nothing to rebuild.
        "ALTER TABLE submissions ADD COLUMN feedback_written BOOLEAN NOT NULL DEFAULT TRUE",
        "ALTER TABLE submissions ADD COLUMN outcome JSON",
    ):
        conn.exec_driver_sql(ddl)
    _schema_v3(MetaData())[-1].create(conn)


def _schema_users(md: MetaData) -> tuple[Table, ...]:
    """The portal's accounts, the uploads it received, and its access log."""
    users = Table(
        "users",
        md,
        Column("login", String(64), primary_key=True),
        Column("password_hash", Text, nullable=False),
        Column("role", String(16), nullable=False),  # sender | officer | national
        Column("ministry", Text, nullable=False, server_default=""),  # a sender's ministry
        Column("disabled", Boolean, nullable=False, default=False),
        Column("failures", Integer, nullable=False, default=0),  # failed sign-ins in a row
        Column("locked_until", DateTime(timezone=True)),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    uploads = Table(
        "uploads",
        md,
        Column("id", String(32), primary_key=True),  # a random token: it names the upload in URLs
        Column("login", String(64), nullable=False),
        Column("ministry", Text, nullable=False),  # whose it is: only they (and staff) see it
        Column("name_sent", Text, nullable=False),  # the sender's file name, shown, never a path
        Column("inbox_name", Text, nullable=False),  # where it lies, relative to inbox/
        Column("received_at", DateTime(timezone=True), nullable=False),
        Column("status", Text, nullable=False, server_default=""),
        Column("period", Text, nullable=False, server_default=""),
        Column("feedback", Text, nullable=False, server_default=""),  # relative to the workspace
        Column("result", JSON),  # the entry of ``cpxl run --json`` for this file
    )
    Index("ix_uploads_ministry", uploads.c.ministry, uploads.c.received_at)
    access = Table(
        "access_log",
        md,
        Column("id", Integer, primary_key=True),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("login", Text, nullable=False),
        Column("action", Text, nullable=False),  # sign-in | sign-in-refused | upload | download
        Column("target", Text, nullable=False, server_default=""),
        Column("outcome", Text, nullable=False, server_default=""),
        Column("address", Text, nullable=False, server_default=""),
    )
    return users, uploads, access


users, uploads, access_log = _schema_users(METADATA)
PORTAL_TABLES: Final = (users, uploads, access_log)  # who may do what, not national data
TABLES = (*TABLES, *PORTAL_TABLES)


def _migration_users(conn: Connection) -> None:
    md = MetaData()
    _schema_users(md)
    md.create_all(conn)


def _migration_5(conn: Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE submissions ADD COLUMN digests JSON")


def _migration_6(conn: Connection) -> None:
    # Each return's copy of its values is kept as it was, now replaced by the return that
    # replaced it; figures stated once start with the next resubmission.
    md = MetaData()
    old = _schema_v5(md)[2]  # with the tables its foreign keys name
    _values_v6(md, "values_v6").create(conn)
    columns = [c.name for c in old.columns]
    conn.exec_driver_sql(
        f"INSERT INTO values_v6 ({', '.join(columns)}, replaced_by) "
        f"SELECT {', '.join('v.' + c for c in columns)}, n.id "
        'FROM "values" v LEFT JOIN submissions n ON n.replaces = v.submission_id'
    )
    conn.exec_driver_sql('DROP TABLE "values"')
    conn.exec_driver_sql('ALTER TABLE values_v6 RENAME TO "values"')


# Applied in order, all pending ones in one transaction; version n is MIGRATIONS[n - 1].
MIGRATIONS: Final[tuple[Callable[[Connection], None], ...]] = (
    _migration_1,
    _migration_2,
    _migration_3,
    _migration_users,
    _migration_5,
    _migration_6,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)


def version_of(conn: Connection, url: str, create: bool) -> int:
    """The store's schema version (0 when new), or a StoreError when cpxl may not use it."""
    names = set(inspect(conn).get_table_names())
    if "schema_migrations" not in names:
        if names:
            raise StoreError(
                f"The store {url} holds tables that cpxl did not make "
                f"({', '.join(sorted(names)[:5])}). It is not a cpxl store. "
                "Name a new file or an empty database for cpxl."
            )
        if not create:
            raise StoreError(not_found(url))
        return 0
    version = conn.execute(select(func.max(migrations.c.version))).scalar()
    version = int(version or 0)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"The store {url} was written by a newer version of cpxl (store version "
            f"{version}; this cpxl knows up to {SCHEMA_VERSION}). Upgrade cpxl on this "
            "computer to the version your colleagues use, then run again. "
            "The store was not changed."
        )
    return version


def upgrade(conn: Connection, url: str, create: bool) -> None:
    """Apply the pending migrations in order, inside the caller's write transaction."""
    if conn.dialect.name != "sqlite":
        conn.execute(select(func.pg_advisory_xact_lock(PG_MIGRATION_LOCK)))
    done = version_of(conn, url, create)  # again: another process may have won
    if done == 0 and not inspect(conn).has_table("schema_migrations"):
        migrations.create(conn)
    for version in range(done + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[version - 1](conn)
        conn.execute(insert(migrations).values(version=version, applied_at=datetime.now(UTC)))
