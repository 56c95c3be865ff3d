"""The national store: one transaction per file, replacement with an audit trail, and refusal.

Behaviours covered (SQLite always; PostgreSQL too when CPXL_TEST_POSTGRES is set):
- a first submission stores exactly its non-blank values, its findings and explanations;
- a resubmission replaces the previous one atomically and audits every changed, removed and
  added value; a rejected submission stores no values and changes nothing current;
- a failure in the middle of recording a file leaves the store exactly as it was;
- a full disk, a busy store, a damaged, foreign, empty, missing or newer store each stop the run
  with a StoreError in plain words and leave the file byte for byte as it was;
- the long table and history come sorted by element, period, area, dimension and option (then
  ministry), in code-point order and with fixed column types, the same from either backend;
- the findings of many submissions are read at once, () for a submission without any;
- migrations are recorded; check() and backup() work; the fingerprint ignores ids and times;
- the kill hook kills the process right after the N-th committed transaction.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pandas as pd
import pytest
from builders import POSTGRES, new_submission, pg_schema, psycopg
from sqlalchemy import Engine, MetaData, create_engine, insert, inspect, text

import cpxl
from cpxl.findings import Code, Finding, Location, Severity, Value
from cpxl.store import (
    SCHEMA_VERSION,
    Explanation,
    NewSubmission,
    Store,
    StoreError,
    SubmissionRecord,
    digests,
    schema,
)

RECEIVED = datetime(2026, 2, 14, 8, 30, tzinfo=UTC)
TABLES = ["schema_migrations", "runs", "submissions", "values", "findings", "explanations"]
TABLES += ["audit", "repeats", "users", "uploads", "access_log"]


# --- fixtures and builders ----------------------------------------------------------------------


@pytest.fixture
def store(location: str) -> Iterator[Store]:
    with Store.open(location) as opened:
        yield opened


def _raw_engine(location: str) -> Engine:
    """An engine on the store's database that bypasses Store, to tamper with it."""
    if location.startswith("postgresql://"):
        return create_engine(psycopg(location))
    return create_engine(f"sqlite:///{location}")


def _sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _sub(
    name: str, *, ministry: str = "MOSVY", period: str = "2025", status: str = "accepted"
) -> NewSubmission:
    return new_submission(name, ministry, period, status=status, received_at=RECEIVED)


def _v(element: str, area: str, value: float | None, missing: str = "", option: str = "") -> Value:
    dimension = "sex" if option else ""
    return Value(element, area, dimension, option, value, missing, "Care", f"B{area}", "")


def _run(store: Store) -> int:
    return store.start_run(
        user="dara", host="cpims-01", cpxl_version="0.1.0", catalogue_version="1"
    )


def _audit(store: Store) -> list[tuple[object, ...]]:
    frame = store.audit_rows()
    columns = ["element", "area", "option", "action", "old_value", "old_missing"]
    columns += ["new_value", "new_missing"]
    return [
        tuple(None if isinstance(x, float) and x != x else x for x in row)
        for row in frame[columns].itertuples(index=False)
    ]


def _state(store: Store) -> tuple[str, dict[str, int]]:
    return store.fingerprint(), store.counts()


FIRST = [
    _v("children_in_care", "01", 5.0),
    _v("children_in_care", "02", None, "NC"),
    _v("children_in_care", "03", 7.0),
    _v("children_in_care", "04", None),  # blank: not stored
    _v("children_in_care", "05", 2.0, option="female"),
    _v("children_in_care", "06", 4.0),
]


def _record_first(store: Store, run: int) -> SubmissionRecord:
    warning = Finding.make(
        Code.CHANGE_TOO_LARGE,
        Severity.WARNING,
        Location(sheet="Care", cell="B3"),
        rule="CHG-children_in_care",
        seen="7",
        history="2, 3",
        change="133%",
    )
    explained = Explanation("CHG-children_in_care", "Care", "B3", "A new centre opened.")
    return store.record(run, _sub("first"), FIRST, [warning], [explained], accept=True)


# --- recording ----------------------------------------------------------------------------------


def test_first_submission_stores_exactly_its_non_blank_values(store: Store) -> None:
    """A first accepted return keeps its numbers and missing codes, and drops blank cells."""
    run = _run(store)
    first = _record_first(store, run)
    assert store.values_of(first.id) == (
        _v("children_in_care", "01", 5.0),
        _v("children_in_care", "02", None, "NC"),
        _v("children_in_care", "03", 7.0),
        _v("children_in_care", "05", 2.0, option="female"),
        _v("children_in_care", "06", 4.0),
    )
    assert (first.is_current, first.replaces, first.run_id, first.status) == (
        True,
        None,
        run,
        "accepted",
    )
    assert first.received_at == datetime(2026, 2, 14, 8, 30, tzinfo=UTC)
    assert store.current("MOSVY", "2025") == first
    assert store.by_sha256(_sha("first")) == first
    assert store.submissions() == (first,)
    assert store.counts()["audit"] == 0


def test_findings_and_explanations_come_back_as_recorded(store: Store) -> None:
    """The findings of a file read back equal to the ones recorded, params included."""
    first = _record_first(store, _run(store))
    assert [(f.location.sheet, f.location.cell, f.code) for f in store.findings_of(first.id)] == [
        ("Care", "B3", Code.CHANGE_TOO_LARGE)
    ]
    (finding,) = store.findings_of(first.id)
    assert dict(finding.params) == {"history": "2, 3", "change": "133%"}
    assert (finding.rule, finding.seen, finding.severity) == (
        "CHG-children_in_care",
        "7",
        Severity.WARNING,
    )
    assert store.counts()["explanations"] == 1


def test_resubmission_replaces_and_audits_every_difference(store: Store) -> None:
    """A corrected return replaces the old values and the audit lists each change exactly."""
    run = _run(store)
    first = _record_first(store, run)
    second_values = [
        _v("children_in_care", "01", 6.0),  # changed 5 -> 6
        _v("children_in_care", "02", None, "NK"),  # changed NC -> NK
        _v("children_in_care", "03", None),  # removed (now blank)
        _v("children_in_care", "05", 2.0, option="female"),  # unchanged
        _v("children_in_care", "06", None, "NA"),  # changed 4 -> NA
        _v("children_in_care", "07", 1.0),  # added
    ]
    second = store.record(run, _sub("second"), second_values, [], accept=True)
    assert (second.replaces, second.is_current) == (first.id, True)
    assert store.current("MOSVY", "2025") == second
    assert store.by_sha256(_sha("first")) == dataclasses.replace(first, is_current=False)
    assert _audit(store) == [
        ("children_in_care", "01", "", "changed", 5.0, "", 6.0, ""),
        ("children_in_care", "02", "", "changed", None, "NC", None, "NK"),
        ("children_in_care", "03", "", "removed", 7.0, "", None, None),
        ("children_in_care", "06", "", "changed", 4.0, "", None, "NA"),
        ("children_in_care", "07", "", "added", None, None, 1.0, ""),
    ]
    audit = store.audit_rows()
    assert set(audit["submission_id"]) == {second.id}
    assert set(audit["replaced_submission_id"]) == {first.id}
    table = store.long_table()
    assert list(zip(table["area"], table["value"].fillna(-1), table["missing"], strict=True)) == [
        ("01", 6.0, ""),
        ("02", -1, "NK"),
        ("05", 2.0, ""),
        ("06", -1, "NA"),
        ("07", 1.0, ""),
    ]
    assert set(table["name_received"]) == {"second.xlsx"}
    assert set(table["sha256"]) == {_sha("second")}


def test_resubmission_reads_back_only_the_elements_it_changed(store: Store) -> None:
    """Deciding a corrected return reads back only the elements whose digests differ: figures
    changed, or moved to another cell (which is no change to the sender, but the store keeps
    the cell each figure is in). The audit is exact all the same."""
    run = _run(store)
    first = [_v("children_in_care", "01", 5.0), _v("children_in_care", "02", 3.0)]
    first += [_v("children_adopted", "01", 1.0), _v("children_adopted", "02", 2.0)]
    first += [_v("children_reunified", "01", 7.0)]
    store.record(run, _sub("first"), first, [], accept=True)
    second = [
        _v("children_in_care", "02", 3.0),
        _v("children_in_care", "01", 5.0),
        _v("children_adopted", "01", 1.0),
        _v("children_adopted", "02", 4.0),  # changed 2 -> 4
        _v("children_reunified", "01", 7.0)._replace(cell="C9"),  # moved, same figure
    ]
    before = store.before("MOSVY", "2025", digests=digests(second))
    assert before.compared == frozenset({"children_adopted", "children_reunified"})
    assert sorted(f[:4] for f in before.previous_values) == [
        ("children_adopted", "01", "", ""),
        ("children_adopted", "02", "", ""),
        ("children_reunified", "01", "", ""),
    ]
    store.record(run, _sub("second"), second, [], accept=True)
    assert _audit(store) == [("children_adopted", "02", "", "changed", 2.0, "", 4.0, "")]


def test_a_resubmission_stores_only_what_it_changes(store: Store) -> None:
    """A figure is stored once while it stands: a resubmission writes only the cells it
    changes, moves, adds or removes, and every return still reads exactly as it was sent; the
    national table names the current file for every figure, and a rejected return holds none."""
    run = _run(store)
    first = [_v("e1", "01", 5.0), _v("e1", "02", 3.0), _v("e2", "01", 1.0), _v("e2", "02", 2.0)]
    a = store.record(run, _sub("a"), first, [], accept=True)
    second = [_v("e1", "01", 5.0), _v("e1", "02", 3.0), _v("e2", "01", 1.0)]  # e2 02 removed
    second += [_v("e3", "01", None, "NA")]  # added
    b = store.record(run, _sub("b"), second, [], accept=True)
    rejected = store.record(run, _sub("c", status="needs-correction"), [], [], accept=False)
    third = [_v("e1", "01", 6.0), _v("e1", "02", 3.0)._replace(cell="B9"), _v("e2", "01", 1.0)]
    third += [_v("e3", "01", None, "NA")]
    d = store.record(run, _sub("d"), third, [], accept=True)
    # 4 rows first, then e3 only, then e1 01 changed and e1 02 moved.
    assert store.counts()["values"] == 4 + 1 + 2
    assert store.values_of(a.id) == tuple(sorted(first))
    assert store.values_of(b.id) == tuple(sorted(second))
    assert store.values_of(rejected.id) == ()
    assert store.values_of(d.id) == tuple(sorted(third))
    table = store.long_table()
    columns = ["element", "area", "cell", "value", "missing"]
    cells = table[columns].itertuples(index=False)
    assert sorted((e, a, c, None if x != x else x, m) for e, a, c, x, m in cells) == [
        ("e1", "01", "B01", 6.0, ""),
        ("e1", "02", "B9", 3.0, ""),
        ("e2", "01", "B01", 1.0, ""),
        ("e3", "01", "B01", None, "NA"),
    ]
    assert set(table["name_received"]) == {"d.xlsx"}
    assert set(table["submission_id"]) == {d.id}


def test_a_return_recorded_before_digests_is_compared_whole(store: Store, location: str) -> None:
    """A current return from a store older than the digests has none: the next one is
    compared with all of it, and the audit still lists every difference."""
    run = _run(store)
    first = [_v("children_in_care", "01", 5.0), _v("children_adopted", "01", 1.0)]
    store.record(run, _sub("first"), first, [], accept=True)
    engine = _raw_engine(location)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE submissions SET digests = NULL"))
    finally:
        engine.dispose()
    second = [_v("children_in_care", "01", 6.0), _v("children_adopted", "01", 1.0)]
    before = store.before("MOSVY", "2025", digests=digests(second))
    assert before.compared is None
    assert len(before.previous_values) == 2
    store.record(run, _sub("second"), second, [], accept=True)
    assert _audit(store) == [("children_in_care", "01", "", "changed", 5.0, "", 6.0, "")]


def test_history_and_long_table_select_current_values(store: Store) -> None:
    """History gives the current values of the asked elements and areas, for every period."""
    run = _run(store)
    returns = {
        "a": ("2024", [_v("e1", "01", 1.0), _v("e2", "01", 9.0)]),
        "b": ("2025", [_v("e1", "01", 2.0), _v("e1", "02", 3.0)]),
        "c": ("2025", [_v("e1", "01", 4.0)]),
    }
    for name, (period, values) in returns.items():
        store.record(run, _sub(name, period=period), values, [], accept=True)
    history = store.history(["e1"], areas=["01"])
    assert list(history.columns) == [
        "element",
        "period",
        "area",
        "dimension",
        "option",
        "value",
        "missing",
        "ministry",
        "submission_id",
    ]
    assert list(zip(history["period"], history["value"], strict=True)) == [
        ("2024", 1.0),
        ("2025", 4.0),
    ]
    assert store.history(["nothing"]).empty
    assert list(store.long_table(["2024"])["element"]) == ["e1", "e2"]
    assert [s.period for s in store.submissions("2025")] == ["2025", "2025"]


LONG_TYPES = {
    "element": "str",
    "period": "str",
    "area": "str",
    "dimension": "str",
    "option": "str",
    "value": "float64",
    "missing": "str",
    "ministry": "str",
    "submission_id": "int64",
    "sheet": "str",
    "cell": "str",
    "name_received": "str",
    "sha256": "str",
    "received_at": "datetime64[us, UTC]",
    "days_late": "Int64",
}


def test_long_table_is_sorted_and_typed_the_same_on_every_backend(store: Store) -> None:
    """The long table lists values by element, period, area, dimension, option, then ministry."""
    run = _run(store)
    returns = {
        ("MOSVY", "2025"): [
            _v("zeta", "02", 1.0),
            _v("Zeta", "01", 2.0, option="female"),
            _v("zeta", "01", 3.0, option="male"),
            _v("zeta", "01", None, "NC"),
            _v("éta", "03", 4.0),
            _v("eta", "10", 5.0),
            _v("zeta", "01", 6.0, option="female"),
        ],
        ("MOSVY", "2024"): [_v("zeta", "01", 7.0), _v("eta", "02", 8.0)],
        ("MOEYS", "2025"): [_v("eta", "10", 9.0), _v("Zeta", "01", 10.0)],
    }
    for (ministry, period), values in returns.items():
        sub = _sub(f"{ministry}-{period}", ministry=ministry, period=period)
        store.record(run, sub, values, [], accept=True)
    table = store.long_table(["2024", "2025"])
    assert {name: str(kind) for name, kind in table.dtypes.items()} == LONG_TYPES
    assert list(table.index) == list(range(11))
    columns = ["element", "period", "area", "option", "ministry", "value", "missing"]
    assert [
        tuple(None if isinstance(x, float) and x != x else x for x in row)
        for row in table[columns].itertuples(index=False)
    ] == [
        ("Zeta", "2025", "01", "", "MOEYS", 10.0, ""),
        ("Zeta", "2025", "01", "female", "MOSVY", 2.0, ""),
        ("eta", "2024", "02", "", "MOSVY", 8.0, ""),
        ("eta", "2025", "10", "", "MOEYS", 9.0, ""),
        ("eta", "2025", "10", "", "MOSVY", 5.0, ""),
        ("zeta", "2024", "01", "", "MOSVY", 7.0, ""),
        ("zeta", "2025", "01", "", "MOSVY", None, "NC"),
        ("zeta", "2025", "01", "female", "MOSVY", 6.0, ""),
        ("zeta", "2025", "01", "male", "MOSVY", 3.0, ""),
        ("zeta", "2025", "02", "", "MOSVY", 1.0, ""),
        ("éta", "2025", "03", "", "MOSVY", 4.0, ""),
    ]
    assert set(table["received_at"]) == {pd.Timestamp("2026-02-14 08:30", tz="UTC")}
    assert list(table["days_late"]) == [0] * 11
    history = store.history(["zeta", "Zeta", "eta", "éta"])
    assert history.equals(table[list(history.columns)])


def test_findings_of_many_reads_each_submissions_findings(store: Store) -> None:
    """The findings of several files come back per file, in recorded order, () for a clean one."""
    run = _run(store)
    first = _record_first(store, run)
    b2 = Finding.make(Code.NOT_A_NUMBER, Severity.ERROR, Location(sheet="Care", cell="B2"))
    b1 = Finding.make(Code.NOT_A_NUMBER, Severity.ERROR, Location(sheet="Care", cell="B1"))
    rejected = store.record(
        run, _sub("rejected", status="needs-correction"), [], [b2, b1], accept=False
    )
    clean = store.record(
        run, _sub("clean", ministry="MOEYS"), [_v("e", "01", 1.0)], [], accept=True
    )
    found = store.findings_of_many([clean.id, rejected.id, first.id, rejected.id])
    assert found == {
        first.id: store.findings_of(first.id),
        rejected.id: (b2, b1),
        clean.id: (),
    }
    assert [f.code for f in found[first.id]] == [Code.CHANGE_TOO_LARGE]
    many = store.findings_of_many(range(1, 1201))
    assert (len(many), many[rejected.id], many[1200]) == (1200, (b2, b1), ())
    assert store.findings_of_many([]) == {}


def test_rejected_submission_stores_no_values(store: Store) -> None:
    """A return that needs correction is recorded with its findings but changes no values."""
    run = _run(store)
    first = _record_first(store, run)
    before = store.long_table()
    error = Finding.make(Code.NOT_A_NUMBER, Severity.ERROR, Location(sheet="Care", cell="B1"))
    rejected = store.record(
        run,
        _sub("rejected", status="needs-correction"),
        [_v("children_in_care", "01", 99.0)],
        [error],
        accept=False,
    )
    assert (rejected.is_current, rejected.replaces, rejected.status) == (
        False,
        None,
        "needs-correction",
    )
    assert store.values_of(rejected.id) == ()
    assert store.findings_of(rejected.id) == (error,)
    assert store.current("MOSVY", "2025") == first
    assert store.long_table().equals(before)
    assert store.counts()["audit"] == 0


def test_failure_mid_record_leaves_the_store_exactly_as_before(store: Store) -> None:
    """When recording a file fails half-way, nothing of it stays and the old return is current."""
    run = _run(store)
    first = _record_first(store, run)
    before = _state(store)
    twice = [_v("children_in_care", "01", 6.0), _v("children_in_care", "01", 8.0)]
    with pytest.raises(StoreError) as caught:
        store.record(run, _sub("twice"), twice, [], accept=True)
    assert caught.value.code is Code.ENVIRONMENT_FAILED
    no_element = [_v("children_in_care", "01", 6.0), _v(cast(str, None), "02", 1.0)]
    with pytest.raises(StoreError):
        store.record(run, _sub("no-element"), no_element, [], accept=True)
    assert _state(store) == before
    assert store.current("MOSVY", "2025") == first
    assert store.by_sha256(_sha("twice")) is None
    assert store.check() == ()


def test_same_file_recorded_twice_is_refused(store: Store) -> None:
    """Recording a file whose content is already stored raises and saves nothing again."""
    run = _run(store)
    _record_first(store, run)
    before = _state(store)
    with pytest.raises(StoreError, match="already in the store"):
        store.record(run, _sub("first"), FIRST, [], accept=True)
    assert _state(store) == before


def test_fingerprint_ignores_ids_times_and_runs(location: str, tmp_path: Path) -> None:
    """A store filled in two runs with a failed attempt between equals one filled cleanly."""
    with Store.open(location) as messy:
        run = _run(messy)
        messy.record(run, _sub("a"), [_v("e", "01", 1.0)], [], accept=True)
        with pytest.raises(StoreError):
            messy.record(run, _sub("b"), [_v("e", "01", 2.0), _v("e", "01", 3.0)], [], accept=True)
        run = _run(messy)
        messy.record(run, _sub("b"), [_v("e", "01", 2.0)], [], accept=True)
        messy_state = _state(messy)
    with Store.open(tmp_path / "clean.sqlite") as clean:
        run = _run(clean)
        clean.record(run, _sub("a"), [_v("e", "01", 1.0)], [], accept=True)
        clean.record(run, _sub("b"), [_v("e", "01", 2.0)], [], accept=True)
        clean_state = _state(clean)
    assert messy_state[0] == clean_state[0]
    assert messy_state[1] == {**clean_state[1], "runs": 2}


def test_nan_is_refused_before_anything_is_written(store: Store) -> None:
    """A NaN value is a reader fault: record() refuses it and the store is unchanged."""
    run = _run(store)
    before = _state(store)
    with pytest.raises(ValueError, match="NaN"):
        store.record(run, _sub("nan"), [_v("e", "01", float("nan"))], [], accept=True)
    assert _state(store) == before


# --- opening, refusing and migrating ------------------------------------------------------------


def test_migrations_are_recorded_once(location: str) -> None:
    """A new store records its schema version, and reopening applies nothing again."""
    with Store.open(location) as store:
        assert store.counts() == dict.fromkeys(TABLES, 0) | {"schema_migrations": SCHEMA_VERSION}
    with Store.open(location, create=False) as store:
        assert store.counts()["schema_migrations"] == SCHEMA_VERSION
        assert store.check() == ()
    engine = _raw_engine(location)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version FROM schema_migrations")).all()
            names = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert [tuple(v) for v in versions] == [(v,) for v in range(1, SCHEMA_VERSION + 1)]
    assert names == set(TABLES)


def _old_store(location: str, version: int, rows: dict[int, list[tuple[str, str, float]]]) -> None:
    """A store as cpxl left it at an earlier schema version (its own migrations), holding
    returns of MOSVY 2025 (ids 1, 2, ...: each replaces the one before, the last counts) with
    a full copy of their values, as every version before 6 stored them."""
    md = MetaData()
    runs, subs, values = schema.tables_at(version, md)[:3]
    engine = _raw_engine(location)
    try:
        with engine.begin() as conn:
            schema.migrations.create(conn)
            for n, migrate in enumerate(schema.MIGRATIONS[:version], start=1):
                migrate(conn)
                conn.execute(insert(schema.migrations).values(version=n, applied_at=RECEIVED))
            run = conn.execute(insert(runs).values(started=RECEIVED)).inserted_primary_key[0]
            ids: dict[int, int] = {}
            for n in rows:  # ids as the database gives them (in order: 1, 2, ...)
                ids[n] = conn.execute(
                    insert(subs).values(
                        sha256=_sha(str(n)), name_received=f"{n}.xlsx", ministry="MOSVY",
                        period="2025", received_at=RECEIVED, processed_at=RECEIVED,
                        status="accepted", replaces=ids.get(n - 1), is_current=n == max(rows),
                        run_id=run,
                    )  # only these columns: those of every version
                ).inserted_primary_key[0]  # fmt: skip
            conn.execute(
                insert(values),
                [
                    {"submission_id": ids[n], "ministry": "MOSVY", "element": e, "period": "2025",
                     "area": a, "dimension": "", "option": "", "value": x, "sheet": "Care",
                     "cell": f"B{a}"}
                    for n, found in rows.items()
                    for e, a, x in found
                ],
            )  # fmt: skip
            assert list(ids.values()) == list(rows)
            if version == 1:
                conn.execute(
                    text(
                        'CREATE INDEX ix_values_element_area_period ON "values" '
                        "(element, area, period)"
                    )
                )
    finally:
        engine.dispose()


def test_a_version_1_store_is_upgraded_in_place(location: str) -> None:
    """A store made by the first release loses its index by element, gains the feedback
    columns, the repeats table and the digests, and keeps its data."""
    _old_store(location, 1, {1: [("e1", "01", 5.0), ("e1", "02", 3.0)]})
    with Store.open(location, create=False) as store:
        assert store.counts()["schema_migrations"] == SCHEMA_VERSION
        assert store.check() == ()
        assert store.values_of(1) == (_v("e1", "01", 5.0), _v("e1", "02", 3.0))
        assert store.current("MOSVY", "2025") is not None
    engine = _raw_engine(location)
    try:
        with engine.connect() as conn:
            indexes = {i["name"] for i in inspect(conn).get_indexes("values")}
            columns = {c["name"] for c in inspect(conn).get_columns("submissions")}
    finally:
        engine.dispose()
    assert "ix_values_element_area_period" not in indexes
    assert {"feedback", "feedback_written", "outcome", "digests"} <= columns


def test_a_version_5_store_keeps_each_returns_values(location: str) -> None:
    """A store from before figures were stored once holds a full copy per return: upgraded, each
    return still reads exactly as it was sent, the later one counts, and the next resubmission
    writes only what it changes."""
    _old_store(location, 5, {1: [("e1", "01", 5.0), ("e1", "02", 3.0)], 2: [("e1", "01", 6.0)]})
    with Store.open(location, create=False) as store:
        assert store.counts()["schema_migrations"] == SCHEMA_VERSION
        assert store.check() == ()
        assert store.values_of(1) == (_v("e1", "01", 5.0), _v("e1", "02", 3.0))
        assert store.values_of(2) == (_v("e1", "01", 6.0),)
        table = store.long_table()
        assert list(table[["area", "value", "name_received"]].itertuples(index=False)) == [
            ("01", 6.0, "2.xlsx")
        ]
        third = store.record(
            _run(store), _sub("c"), [_v("e1", "01", 6.0), _v("e1", "03", 1.0)], [], accept=True
        )
        assert store.values_of(third.id) == (_v("e1", "01", 6.0), _v("e1", "03", 1.0))
        assert store.values_of(2) == (_v("e1", "01", 6.0),)
        assert store.counts()["values"] == 3 + 1


def test_newer_schema_version_is_refused(location: str) -> None:
    """A store written by a newer cpxl stops the run and asks for an upgrade."""
    with Store.open(location):
        pass
    engine = _raw_engine(location)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO schema_migrations (version, applied_at) VALUES (99, :t)"),
                {"t": datetime(2030, 1, 1, tzinfo=UTC)},
            )
    finally:
        engine.dispose()
    before = Path(location).read_bytes() if not location.startswith("postgresql") else b""
    with pytest.raises(StoreError) as caught:
        Store.open(location)
    assert "Upgrade cpxl" in caught.value.instructions_en
    assert caught.value.code is Code.ENVIRONMENT_FAILED
    if before:
        assert Path(location).read_bytes() == before


def test_missing_store_is_refused_when_not_creating(location: str) -> None:
    """Opening a store that does not exist, without asking to create it, raises."""
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(location, create=False)
    if location.startswith("postgresql"):
        engine = _raw_engine(location)
        try:
            with engine.connect() as conn:
                assert inspect(conn).get_table_names() == []
        finally:
            engine.dispose()
    else:
        assert not Path(location).exists()


def test_garbage_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    """A file that is not an SQLite database raises and stays byte for byte the same."""
    path = tmp_path / "cpxl.sqlite"
    garbage = bytes(range(256)) * 40
    path.write_bytes(garbage)
    with pytest.raises(StoreError, match="not an SQLite database"):
        Store.open(path)
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cpxl.sqlite"]


def test_damaged_store_is_refused_and_left_untouched(tmp_path: Path) -> None:
    """A store whose pages are damaged fails the quick check and is not changed."""
    path = tmp_path / "cpxl.sqlite"
    with Store.open(path) as store:
        run = _run(store)
        many = [_v("e", f"{i:04d}", float(i)) for i in range(400)]
        store.record(run, _sub("a"), many, [], accept=True)
    data = bytearray(path.read_bytes())
    page = 4096
    data[3 * page : 4 * page] = b"\x0d" + b"\xee" * (page - 1)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged"):
        Store.open(path)
    assert path.read_bytes() == bytes(data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cpxl.sqlite"]


def test_empty_file_is_refused(tmp_path: Path) -> None:
    """An empty file where the store should be is refused rather than filled afresh."""
    path = tmp_path / "cpxl.sqlite"
    path.touch()
    with pytest.raises(StoreError, match="empty"):
        Store.open(path)
    assert path.read_bytes() == b""


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    """An SQLite database made by another program is not taken over."""
    path = tmp_path / "other.sqlite"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE people (name TEXT)")
    other.commit()
    other.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a cpxl store"):
        Store.open(path)
    assert path.read_bytes() == before


def test_memory_store_keeps_data_while_open() -> None:
    """A store in memory (for notebooks and quick trials) records and reads like a file."""
    with Store.open(":memory:") as store:
        first = _record_first(store, _run(store))
        assert store.current("MOSVY", "2025") == first
        assert len(store.values_of(first.id)) == 5
        assert store.check() == ()


def test_url_hides_the_password(location: str) -> None:
    """The address shown to officers never carries the database password."""
    with Store.open(location) as store:
        if location.startswith("postgresql"):
            assert ":***@" in store.url
            assert ":cpxl@" not in store.url
        else:
            assert store.url == f"sqlite:///{location}"


# --- limits of the machine ----------------------------------------------------------------------


def test_full_disk_raises_and_keeps_earlier_data(tmp_path: Path) -> None:
    """When the disk fills up mid-file, the run stops and everything recorded before is intact."""
    path = tmp_path / "cpxl.sqlite"
    with Store.open(path) as store:
        run = _run(store)
        first = _record_first(store, run)
    probe = sqlite3.connect(path)
    (pages,) = probe.execute("PRAGMA page_count").fetchone()
    probe.close()
    with Store.open(path, sqlite_max_page_count=pages + 1) as store:
        before = _state(store)
        big = [_v("e", f"{i:05d}", float(i)) for i in range(5000)]
        with pytest.raises(StoreError) as caught:
            store.record(run, _sub("big"), big, [], accept=True)
        assert "disk holding the store" in caught.value.instructions_en
        assert _state(store) == before
        assert store.current("MOSVY", "2025") == first
        assert store.values_of(first.id)[0] == _v("children_in_care", "01", 5.0)
        assert store.check() == ()


def test_lock_held_too_long_becomes_a_store_error(tmp_path: Path) -> None:
    """A store locked by another writer beyond the timeout raises StoreError, not a lock error."""
    path = tmp_path / "cpxl.sqlite"
    Store.open(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with Store.open(path, busy_timeout_s=0.2) as store:
            before = store.counts()
            with pytest.raises(StoreError, match="busy") as caught:
                _run(store)
            assert "locked" in str(caught.value.__cause__)
            holder.execute("ROLLBACK")
            assert store.counts() == before
    finally:
        holder.close()


def test_two_stores_on_one_file_write_concurrently(tmp_path: Path) -> None:
    """Two store objects writing to one SQLite file at once both finish without lock errors."""
    path = tmp_path / "cpxl.sqlite"
    Store.open(path).close()
    errors: list[BaseException] = []

    def work(ministry: str) -> None:
        try:
            with Store.open(path) as store:
                run = _run(store)
                for i in range(15):
                    values = [_v("e", f"{a:02d}", float(i)) for a in range(1, 26)]
                    sub = _sub(f"{ministry}-{i}", ministry=ministry, period=str(2000 + i % 3))
                    store.record(run, sub, values, [], accept=True)
        except BaseException as exc:  # collected, then asserted empty
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(m,)) for m in ("MOSVY", "MOEYS")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Store.open(path) as store:
        assert store.counts()["submissions"] == 30
        assert len(store.long_table()) == 2 * 3 * 25
        assert store.counts()["audit"] == 2 * 12 * 25
        assert store.check() == ()


# --- care of the store --------------------------------------------------------------------------


def test_check_reports_a_dangling_reference(tmp_path: Path) -> None:
    """check() is empty on a sound store and names a value whose submission is missing."""
    path = tmp_path / "cpxl.sqlite"
    with Store.open(path) as store:
        assert store.check() == ()
    raw = sqlite3.connect(path)
    raw.execute(
        'INSERT INTO "values" (submission_id, ministry, element, period, area, dimension, '
        "option, value) VALUES (999, 'MOSVY', 'e', '2025', '01', '', '', 1.0)"
    )
    raw.commit()
    raw.close()
    with Store.open(path) as store:
        assert store.check() == (
            "A row of the table values points to a missing row of submissions.",
        )


def test_backup_opens_with_the_same_fingerprint(tmp_path: Path) -> None:
    """An SQLite backup is a complete store holding exactly the same data."""
    path = tmp_path / "cpxl.sqlite"
    copy = tmp_path / "backups" / "cpxl-copy.sqlite"
    copy.parent.mkdir()
    with Store.open(path) as store:
        run = _run(store)
        _record_first(store, run)
        store.record(run, _sub("second"), [_v("children_in_care", "01", 6.0)], [], accept=True)
        store.finish_run(run, {"accepted": 2})
        store.backup(copy)
        with pytest.raises(StoreError, match="overwrite the store itself"):
            store.backup(path)
        original = _state(store)
    with Store.open(copy, create=False) as restored:
        assert _state(restored) == original
        assert restored.check() == ()
    assert sorted(p.name for p in copy.parent.iterdir()) == ["cpxl-copy.sqlite"]


@pytest.mark.postgres
def test_postgres_backup_is_a_dump_of_every_table(tmp_path: Path) -> None:
    """A PostgreSQL store backs up with pg_dump into a custom-format dump of its tables."""
    if not POSTGRES:
        pytest.skip("CPXL_TEST_POSTGRES is not set (see .ci/postgres.sh)")
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump and pg_restore are not installed")
    with pg_schema() as url:
        with Store.open(url) as store:
            _record_first(store, _run(store))
            store.backup(tmp_path / "store.dump")
        dump = tmp_path / "store.dump"
        assert dump.read_bytes()[:5] == b"PGDMP"
        listing = subprocess.run(
            ["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=True
        ).stdout
        tables = {line.split()[-2] for line in listing.splitlines() if " TABLE DATA " in line}
        assert tables == set(TABLES)


KILLED_SCRIPT = textwrap.dedent(
    """
    import hashlib, sys
    from datetime import UTC, datetime
    from cpxl.findings import Value
    from cpxl.store import NewSubmission, Store

    store = Store.open(sys.argv[1], create=False)
    run = store.start_run(user="u", host="h", cpxl_version="t", catalogue_version="t")
    for i in range(5):
        sha = hashlib.sha256(f"killed-{i}".encode()).hexdigest()
        sub = NewSubmission(sha, f"{i}.xlsx", "", "MOSVY", str(2020 + i), "t", 1,
                            datetime(2026, 1, 1, tzinfo=UTC), "accepted", "", None)
        store.record(run, sub, [Value("e", "01", "", "", float(i))], [], accept=True)
    print("not killed")
    """
)


def test_kill_hook_kills_right_after_the_nth_commit(location: str) -> None:
    """With CPXL_FAULT_KILL_AFTER_COMMITS=3 the process dies holding a run and two files."""
    Store.open(location).close()
    env = dict(os.environ)
    env["CPXL_FAULT_KILL_AFTER_COMMITS"] = "3"
    env["PYTHONPATH"] = str(Path(cpxl.__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", KILLED_SCRIPT, location],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (-signal.SIGKILL, ""), done.stderr
    with Store.open(location, create=False) as store:
        assert [s.sha256 for s in store.submissions()] == [
            hashlib.sha256(f"killed-{i}".encode()).hexdigest() for i in range(2)
        ]
        assert store.counts() == {
            "schema_migrations": SCHEMA_VERSION,
            "runs": 1,
            "submissions": 2,
            "values": 2,
            "findings": 0,
            "explanations": 0,
            "audit": 0,
            "repeats": 0,
            "users": 0,
            "uploads": 0,
            "access_log": 0,
        }
        assert store.check() == ()
