"""What the store takes in and gives back, and how each becomes a row and back again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from functools import cache
from hashlib import blake2b
from operator import itemgetter
from typing import Any, Final, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    exists,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import sqlite

from cpxl.findings import (
    ACCEPTED_STATUSES,
    Change,
    Code,
    FileResult,
    Finding,
    Location,
    Severity,
    Status,
    Stored,
    Value,
)
from cpxl.store import schema
from cpxl.store.engines import StoreError


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
    feedback: str = ""  # the feedback workbook's name in outbox/feedback, reserved
    outcome: Mapping[str, Any] | None = None  # see outcome_of
    digests: Mapping[str, str] | None = None  # see digests (made from the values when None)


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
    feedback: str = ""
    feedback_written: bool = True
    outcome: Mapping[str, Any] | None = None
    digests: Mapping[str, str] | None = None  # None: recorded before the store kept them


@dataclass(frozen=True, slots=True)
class Before:
    """What the store holds that deciding one return reads, from one snapshot."""

    previous: SubmissionRecord | None  # the current submission this return would replace
    previous_values: Figures  # its values of the elements compared
    previous_findings: tuple[Finding, ...]
    history: tuple[Stored, ...]  # what the checks against the store compare with
    latest: SubmissionRecord | None = None  # the latest return received, accepted or not
    latest_findings: tuple[Finding, ...] = ()
    compared: frozenset[str] | None = None  # the elements whose values were read (None: all)


@dataclass(frozen=True, slots=True)
class PendingFeedback:
    """A feedback workbook the store has named: what it says, and the original it marks up."""

    name: str  # in outbox/feedback
    result: FileResult
    archive_path: str  # the archived original ("" when the workbook needs none)
    submission_id: int | None = None
    repeat_id: int | None = None


def repeat_result(
    name: str, sha256: str, received_at: datetime, first: str, first_status: Status | None = None
) -> FileResult:
    """The result of a file received again under another name: a duplicate of the first. When
    the first was not accepted (``first_status``, None when unknown), sending it again is no
    answer to its feedback, and the duplicate says so."""
    accepted = first_status in (None, *ACCEPTED_STATUSES, Status.UNCHANGED)
    code = Code.DUPLICATE_FILE if accepted else Code.DUPLICATE_NOT_ACCEPTED
    severity = Severity.INFO if accepted else Severity.ERROR
    finding = Finding.make(code, severity, Location(file=name), first=first)
    return FileResult(
        name,
        sha256,
        Status.DUPLICATE,
        code,
        findings=(finding,),
        received_at=received_at.isoformat(timespec="seconds"),
        first=first,
    )


Key = tuple[str, str, str, str]  # (element, area, dimension, option) within one submission
KEY_FIELDS: Final = ("element", "area", "dimension", "option")
# What a return says of one cell: its key, and its number or missing-reason code. Two returns
# differ exactly where their figures do (a figure moved to another cell is no change).
Figure = tuple[str, str, str, str, float | None, str]
# A return's non-blank values (Values, or stored rows in Value's fields) by figure.
Figures = Mapping[Figure, Sequence[Any]]
_FIGURE = itemgetter(0, 1, 2, 3, 4, 5)


def figures(values: Sequence[Sequence[Any]]) -> dict[Figure, Sequence[Any]]:
    """Filled values (Values, or stored rows in Value's fields) by their figure.

    Made by C-level calls only: a return has thousands of values and most resubmissions change
    a few, so two returns are compared as sets, and only what differs becomes Python objects.
    """
    return dict(zip(map(_FIGURE, values), values, strict=True))


@dataclass(frozen=True, slots=True)
class Explanation:
    """What a sender wrote to explain a warning, kept beside the warning it answers."""

    rule: str
    sheet: str
    cell: str
    text: str


# --- times --------------------------------------------------------------------------------------


def now() -> datetime:
    """This moment, aware, in UTC."""
    return datetime.now(UTC)


def utc(moment: datetime) -> datetime:
    """Aware UTC; a naive time is taken as this computer's local time when stored."""
    return moment.astimezone(UTC)


def from_db(moment: datetime) -> datetime:
    """A stored time as aware UTC, from either backend."""
    # SQLite keeps the UTC wall time without a zone; PostgreSQL returns an aware time.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- submissions --------------------------------------------------------------------------------


# The statements read and written for every file are built once, with bound parameters:
# building a statement costs more than SQLite takes to run it.
_S = schema.submissions.c
_CURRENT = select(schema.submissions).where(
    _S.ministry == bindparam("ministry"), _S.period == bindparam("period"), _S.is_current == true()
)
# A return read as a genuine template: its figures can be compared with the next one's.
_READ_RETURNS = tuple(s.value for s in (*ACCEPTED_STATUSES, Status.NEEDS_CORRECTION))
_LATEST = (
    select(schema.submissions)
    .where(
        _S.ministry == bindparam("ministry"),
        _S.period == bindparam("period"),
        _S.status.in_(_READ_RETURNS),
    )
    .order_by(_S.id.desc())
    .limit(1)
)
_FINDINGS = (
    select(schema.findings)
    .where(schema.findings.c.submission_id == bindparam("id"))
    .order_by(schema.findings.c.id)
)
_FIRST_NAME = select(_S.name_received).where(_S.sha256 == bindparam("sha256"))
_FIRST_RECEIPT = select(_S.name_received, _S.status, _S.feedback).where(
    _S.sha256 == bindparam("sha256")
)
_REPEAT_RECEIPT = select(schema.repeats.c.feedback).where(
    schema.repeats.c.sha256 == bindparam("sha256"),
    schema.repeats.c.name_received == bindparam("name"),
)
_NOT_CURRENT = (
    update(schema.submissions).where(_S.id == bindparam("previous")).values(is_current=False)
)
_INSERT_SUBMISSION = insert(schema.submissions)
_INSERT_FINDINGS = insert(schema.findings)
_INSERT_EXPLANATIONS = insert(schema.explanations)


def current(conn: Connection, ministry: str, period: str) -> SubmissionRecord | None:
    """The current submission of one ministry and period, read within this transaction."""
    row = conn.execute(_CURRENT, {"ministry": ministry, "period": period}).first()
    return None if row is None else submission(row)


def latest(conn: Connection, ministry: str, period: str) -> SubmissionRecord | None:
    """The latest return of one ministry and period received and read, accepted or not."""
    row = conn.execute(_LATEST, {"ministry": ministry, "period": period}).first()
    return None if row is None else submission(row)


def findings_of(conn: Connection, submission_id: int) -> tuple[Finding, ...]:
    """The findings recorded for one submission, in the order they were given."""
    return tuple(finding(r) for r in conn.execute(_FINDINGS, {"id": submission_id}))


def first_name(conn: Connection, sha256: str) -> str | None:
    """The name under which these bytes were first recorded, if they were."""
    found = conn.execute(_FIRST_NAME, {"sha256": sha256}).first()
    return None if found is None else str(found[0])


def received_before(
    conn: Connection, sha256: str, name: str
) -> tuple[str, Status, str | None] | None:
    """Bytes recorded before: (the name they first came under, that file's status, the
    feedback name this very receipt was given, as a submission or as a repeat; None when it
    came under another name). None for bytes never recorded."""
    found = conn.execute(_FIRST_RECEIPT, {"sha256": sha256}).first()
    if found is None:
        return None
    first, status, feedback = str(found[0]), Status(found[1]), str(found[2])
    if first == name:
        return first, status, feedback
    again = conn.execute(_REPEAT_RECEIPT, {"sha256": sha256, "name": name}).first()
    return first, status, None if again is None else str(again[0])


def replace_current(conn: Connection, previous: SubmissionRecord) -> None:
    """The previous submission stops counting (the new one is inserted next)."""
    conn.execute(_NOT_CURRENT, {"previous": previous.id})


def submission(row: Any) -> SubmissionRecord:
    """A row of the submissions table as a record."""
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
        received_at=from_db(m["received_at"]),
        processed_at=from_db(m["processed_at"]),
        status=m["status"],
        reason=m["reason"],
        days_late=m["days_late"],
        replaces=m["replaces"],
        is_current=bool(m["is_current"]),
        run_id=int(m["run_id"]),
        feedback=m["feedback"],
        feedback_written=bool(m["feedback_written"]),
        outcome=m["outcome"],
        digests=m["digests"],
    )


def insert_submission(
    conn: Connection,
    run_id: int,
    sub: NewSubmission,
    previous: SubmissionRecord | None,
    accept: bool,
) -> SubmissionRecord:
    """Insert one submission and return it as the store now holds it, without reading it back."""
    # Both backends keep microseconds, so these times read back equal to the ones written.
    new = SubmissionRecord(
        id=0,  # given by the database below
        sha256=sub.sha256,
        name_received=sub.name_received,
        archive_path=sub.archive_path,
        ministry=sub.ministry,
        period=sub.period,
        template_id=sub.template_id,
        template_version=sub.template_version,
        received_at=utc(sub.received_at),
        processed_at=now(),
        status=sub.status,
        reason=sub.reason,
        days_late=sub.days_late,
        replaces=None if previous is None else previous.id,
        is_current=accept,
        run_id=run_id,
        feedback=sub.feedback,
        feedback_written=False,
        outcome=sub.outcome,
        digests=sub.digests,
    )
    row = {f.name: getattr(new, f.name) for f in fields(SubmissionRecord) if f.name != "id"}
    result = conn.execute(_INSERT_SUBMISSION, row)
    return replace(new, id=int(cast(Any, result.inserted_primary_key)[0]))


# --- values, findings, explanations, audit ------------------------------------------------------

VALUE_COLUMNS: Final[tuple[str, ...]] = (
    "submission_id", "ministry", "element", "period", "area", "dimension", "option",
    "value", "missing", "sheet", "cell", "original",
)  # fmt: skip


def value_rows(
    submission_id: int, sub: NewSubmission, values: Iterable[Value]
) -> list[tuple[Any, ...]]:
    """Rows of the values table, in the order of VALUE_COLUMNS."""
    ministry, period = sub.ministry, sub.period
    return [
        (
            submission_id, ministry, v.element, period, v.area, v.dimension, v.option,
            v.value, v.missing, v.sheet, v.cell, v.original,
        )
        for v in values
    ]  # fmt: skip


def finding_row(submission_id: int, f: Finding) -> dict[str, Any]:
    """A row of the findings table."""
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


def finding(row: Any) -> Finding:
    """A row of the findings table as a finding; a code this cpxl does not know stops the run."""
    return finding_from(row._mapping)


def finding_from(m: Mapping[str, Any]) -> Finding:
    """A finding from the fields of a findings row (as :func:`finding_row` gives them)."""
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


def insert_findings(
    conn: Connection,
    submission_id: int,
    findings: Sequence[Finding],
    explanations: Sequence[Explanation],
) -> None:
    """Insert a submission's findings and the explanations its sender wrote."""
    if findings:
        conn.execute(_INSERT_FINDINGS, [finding_row(submission_id, f) for f in findings])
    if explanations:
        rows = [explanation_row(submission_id, e) for e in explanations]
        conn.execute(_INSERT_EXPLANATIONS, rows)


def explanation_row(submission_id: int, e: Explanation) -> dict[str, Any]:
    """A row of the explanations table."""
    return {
        "submission_id": submission_id,
        "rule": e.rule,
        "sheet": e.sheet,
        "cell": e.cell,
        "text": e.text,
    }


# --- outcomes: what a file's feedback says beyond its findings -----------------------------------


def outcome_of(result: FileResult) -> dict[str, Any]:
    """The parts of a result that neither the submission's columns nor its findings hold."""
    return {
        "kind": result.kind,
        "received_stated": result.received_stated,
        "due": result.due,
        "first": result.first,
        "previous": result.previous,
        "values_stored": result.values_stored,
        "changes": [[c.sheet, c.cell, c.element, c.area, c.old, c.new] for c in result.changes],
        "fixed": [_finding_fields(f) for f in result.fixed],
        "still_open": [_finding_fields(f) for f in result.still_open],
    }


def _finding_fields(f: Finding) -> dict[str, Any]:
    return {k: v for k, v in finding_row(0, f).items() if k != "submission_id"}


def result_of(record: SubmissionRecord, findings: Sequence[Finding]) -> FileResult:
    """A recorded file's result as the run that recorded it gave it (feedback rebuilt from it)."""
    out = record.outcome or {}
    return FileResult(
        file=record.name_received,
        sha256=record.sha256,
        status=Status(record.status),
        reason=Code(record.reason) if record.reason else None,
        ministry=record.ministry,
        period=record.period,
        findings=tuple(findings),
        feedback=record.feedback or None,
        received_at=record.received_at.isoformat(timespec="seconds"),
        values_stored=int(out.get("values_stored", 0)),
        days_late=record.days_late,
        due=str(out.get("due", "")),
        first=str(out.get("first", "")),
        previous=str(out.get("previous", "")),
        changes=tuple(Change(*c) for c in out.get("changes", ())),
        fixed=tuple(finding_from(f) for f in out.get("fixed", ())),
        still_open=tuple(finding_from(f) for f in out.get("still_open", ())),
        kind=str(out.get("kind", "")),
        received_stated=bool(out.get("received_stated", False)),
    )


AUDIT_COLUMNS: Final[tuple[str, ...]] = (
    "run_id", "submission_id", "replaced_submission_id", "ministry", "period",
    "element", "area", "dimension", "option", "old_value", "old_missing",
    "new_value", "new_missing", "action",
)  # fmt: skip


def stated_in(s: Any, v: Any) -> ColumnElement[bool]:
    """The values (columns ``v``) a return (submission columns ``s``) holds: those of its
    ministry and period stated by it or a return before it, and not replaced when it came.

    The one way the store says which figures a return holds, current or not: a figure is
    stored once while it stands (see schema._values_v6). Only an accepted return holds any:
    one that counts, or counted until a later one replaced it.
    """
    later = schema.submissions.alias("later")
    return and_(
        or_(s.is_current == true(), exists().where(later.c.replaces == s.id)),
        v.period == s.period,
        v.ministry == s.ministry,
        v.submission_id <= s.id,
        or_(v.replaced_by.is_(None), v.replaced_by > s.id),
    )


# Every return joined to the values it holds: read from it, whether current or not.
HELD: Final = schema.submissions.join(schema.values, stated_in(_S, schema.values.c))
# The current returns joined to the values that count: those never replaced. The same rows as
# HELD for a current return, with less to test per value (what national readings scan).
CURRENT: Final = schema.submissions.join(
    schema.values,
    and_(
        _S.is_current == true(),
        schema.values.c.period == _S.period,
        schema.values.c.ministry == _S.ministry,
        schema.values.c.replaced_by.is_(None),
    ),
)
_STORED_VALUES = (
    select(*(schema.values.c[k] for k in Value._fields))
    .select_from(HELD)
    .where(_S.id == bindparam("id"))
)
_STORED_ELEMENT = _STORED_VALUES.where(schema.values.c.element == bindparam("element"))
# A figure of the current return replaced: found by its key among those that still count.
_REPLACED_AT: Final = ("period", "ministry", *KEY_FIELDS)
_REPLACED_PARAMS: Final = ("by", *(f"at_{k}" for k in _REPLACED_AT))
_REPLACED = (
    update(schema.values)
    .where(
        *(schema.values.c[k] == bindparam(f"at_{k}") for k in _REPLACED_AT),
        schema.values.c.replaced_by.is_(None),
    )
    .values(replaced_by=bindparam("by"))
)


def stored_figures(
    conn: Connection, submission_id: int, elements: Iterable[str] | None = None
) -> dict[Figure, Sequence[Any]]:
    """The values stored for one submission, by figure (rows in Value's fields): all of them,
    or those of these elements only."""
    if elements is None:
        return figures(driver_rows(conn, _STORED_VALUES, {"id": submission_id}))
    rows: list[Any] = []
    for element in elements:  # each a range of the primary key
        rows += driver_rows(conn, _STORED_ELEMENT, {"id": submission_id, "element": element})
    return figures(rows)


def digests(filled: Iterable[Value]) -> dict[str, str]:
    """What a return says of each element, in a few bytes: its filled values hashed, with the
    cells they were typed in.

    Kept with each submission, so that a resubmission reads back, and writes, only the
    elements whose digest differs (a corrected return usually changes one or two).
    """
    by_element: dict[str, list[tuple[Any, ...]]] = {}
    for v in filled:
        by_element.setdefault(v.element, []).append(v[1:])
    return {
        element: blake2b(repr(sorted(found)).encode(), digest_size=16).hexdigest()
        for element, found in by_element.items()
    }


def restated(
    conn: Connection,
    new_id: int,
    sub: NewSubmission,
    old: Iterable[Sequence[Any]],
    now: Iterable[Value],
) -> list[Value]:
    """What a resubmission changes in the store, given the current return's rows and its own
    (in Value's fields; of the elements compared): the figures it no longer says are marked
    replaced, and those it says differently, or newly, are returned to be inserted. A figure
    said again exactly (the same cell too) stays as it was stored."""
    was, said = set(map(tuple, old)), set(map(tuple, now))
    head = (new_id, sub.period, sub.ministry)
    gone = [(*head, *row[:4]) for row in was - said]
    execute_rows(conn, _REPLACED, _REPLACED_PARAMS, gone)
    return [Value._make(row) for row in said - was]


def differing(old: Mapping[str, str] | None, new: Mapping[str, str]) -> frozenset[str] | None:
    """The elements two returns' digests say differ; None (all) when the old has none, or when
    every element of the old differs (one read of the whole return, not one per element)."""
    if old is None:
        return None
    changed = frozenset(e for e in old.keys() | new.keys() if old.get(e) != new.get(e))
    return None if changed >= old.keys() else changed


def driver_rows(
    conn: Connection, statement: Select[Any], params: dict[str, Any] | None = None
) -> list[Any]:
    """The rows of a query whose columns need no conversion (no dates), as the database driver
    gives them: SQLAlchemy's own rows take longer to make than the read for thousands of
    values."""
    return list(conn.execute(statement, params or {}).cursor.fetchall())


def stored_values(conn: Connection, submission_id: int) -> tuple[Value, ...]:
    """The values stored for one submission, in key order."""
    return tuple(sorted(map(Value._make, conn.execute(_STORED_VALUES, {"id": submission_id}))))


Difference = tuple[Key, Value | None, Value | None]


def differences(old: Figures, new: Figures) -> list[Difference]:
    """Every key whose figure differs between an earlier return and a new one, in key order:
    (key, old, new), with old None for a figure added and new None for one removed.

    The one comparison of two returns: what the sender is told changed and the audit trail
    are both read from it.
    """
    was = {f[:4]: Value._make(old[f]) for f in old.keys() - new.keys()}
    now = {f[:4]: Value._make(new[f]) for f in new.keys() - old.keys()}
    return [(key, was.get(key), now.get(key)) for key in sorted(was.keys() | now.keys())]


def audit_rows(
    run_id: int, new_id: int, previous: SubmissionRecord, found: Iterable[Difference]
) -> list[tuple[Any, ...]]:
    """Rows of the audit table (in the order of AUDIT_COLUMNS) for the values an accepted
    return changed, removed or added against the one it replaces."""
    head = (run_id, new_id, previous.id, previous.ministry, previous.period)
    rows = []
    for key, a, b in found:
        action = "added" if a is None else "removed" if b is None else "changed"
        old = (None, None) if a is None else (a.value, a.missing)
        now = (None, None) if b is None else (b.value, b.missing)
        rows.append((*head, *key, *old, *now, action))
    return rows


def insert_rows(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Insert many prepared rows (tuples in the order of ``columns``) in one executemany."""
    execute_rows(conn, _insert(table), columns, rows)


@cache
def _insert(table: Table) -> Any:
    return insert(table)


def execute_rows(
    conn: Connection, statement: Any, names: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Run a statement built once (an insert or an update) for each of many prepared rows
    (tuples in the order of its parameters ``names``), in one executemany."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(statement, [dict(zip(names, row, strict=True)) for row in rows])
        return
    # SQLAlchemy prepares each row's parameters in Python, which takes longer than SQLite's own
    # insert. These columns (text, numbers) need no conversion on SQLite, so the tuples go to
    # the driver as they are, under the statement SQLAlchemy compiled.
    conn.exec_driver_sql(_sqlite_statement(statement, names), rows)


@cache
def _sqlite_statement(statement: Any, names: tuple[str, ...]) -> str:
    compiled = statement.compile(dialect=sqlite.dialect(), column_keys=list(names))
    if tuple(compiled.positiontup or ()) != names:
        raise ValueError(f"parameters {compiled.positiontup} are not {names}")
    return str(compiled.string)
