"""The store's tables as pandas frames, read in bulk and typed the same on either backend.

Rows are sorted in pandas, not in SQL: a server's collation may order text differently from
SQLite, and the national workbooks must come out the same from either store. pandas compares
text by code point, as Python does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, Final, cast

import numpy as np
import pandas as pd
from sqlalchemy import BindParameter, Connection, Select, bindparam, select

from cpxl.findings import Stored
from cpxl.store import schema
from cpxl.store.records import CURRENT, driver_rows, from_db

HISTORY_COLUMNS: Final = {
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
_VALUE_COLUMNS: Final = HISTORY_COLUMNS | {"sheet": "str", "cell": "str"}
_FILE_COLUMNS: Final = {
    "name_received": "str",
    "sha256": "str",
    "received_at": "datetime",
    "days_late": "Int64",
}
LONG_COLUMNS: Final = _VALUE_COLUMNS | _FILE_COLUMNS
AUDIT_COLUMNS: Final = {
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
# One current submission per (ministry, period) and one value per (element, area, dimension,
# option) in it: with the ministry last, these keys name a current value, so the order is total.
SORT_KEYS: Final = ["element", "period", "area", "dimension", "option", "ministry"]


def frame(rows: Sequence[Any], columns: Mapping[str, str]) -> pd.DataFrame:
    """A frame with these columns and types, also when there are no rows."""
    # Column by column from plain tuples: pandas would probe each Row for namedtuple fields.
    # Objects first, so that None stays None in the "object" columns. Through itemgetter:
    # zip(*rows) over thousands of rows costs three times more.
    cells = [list(map(itemgetter(j), rows)) for j in range(len(columns))]
    out: dict[str, Any] = {}
    for (name, kind), column in zip(columns.items(), cells, strict=True):
        if kind == "float64":  # None (a missing-reason code) becomes NaN
            out[name] = np.array(column, dtype=np.float64)
        elif kind == "int64":
            out[name] = np.array(column, dtype=np.int64)
        elif kind == "datetime":
            out[name] = pd.to_datetime(pd.Series(column, dtype=object).map(from_db), utc=True)
        elif kind == "str":
            # One object per distinct text: the database driver makes a new one for every row,
            # and a national table repeats a few hundred codes (a sixth less memory at the
            # national workbook's peak).
            one = {text: text for text in set(column)}
            out[name] = pd.Series(list(map(one.__getitem__, column)), dtype="str")
        elif kind == "object":
            out[name] = pd.Series(column, dtype=object)
        else:
            out[name] = pd.Series(column, dtype=object).astype(cast(Any, kind))
    return pd.DataFrame(out)


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values(SORT_KEYS, kind="stable", ignore_index=True)


def _current(columns: Iterable[str]) -> Select[Any]:
    """These columns of the values that count, ``submission_id`` naming the current return."""
    v, s = schema.values.c, schema.submissions.c
    named = [s.id if name == "submission_id" else v[name] for name in columns]
    return select(*named).select_from(CURRENT)


def history(
    conn: Connection,
    elements: Sequence[str],
    areas: Sequence[str] | None,
    periods: Sequence[str] | None = None,
    totals_only: bool = False,
) -> pd.DataFrame:
    """Current accepted values of these elements (and areas, and periods when named)."""
    v, s = schema.values.c, schema.submissions.c
    query = _current(HISTORY_COLUMNS).where(v.element.in_(list(elements)))
    if periods is not None:
        query = query.where(s.period.in_(list(periods)))
    if areas is not None:
        query = query.where(v.area.in_(list(areas)))
    if totals_only:
        query = query.where(v.dimension == "")
    # A few hundred rows per return at intake: sorted as tuples (by code point, as pandas does),
    # which costs far less than sorting the frame.
    at = [list(HISTORY_COLUMNS).index(k) for k in SORT_KEYS]
    rows = sorted(conn.execute(query).all(), key=lambda r: [r[i] for i in at])
    return frame(rows, HISTORY_COLUMNS)


def _history_statements() -> tuple[Select[Any], Select[Any]]:
    """The two reads of :func:`history_of`, built once with bound parameters (building a
    statement costs more than running it)."""
    v, s = schema.values.c, schema.submissions.c
    held = _current(Stored._fields)
    watched: BindParameter[str] = bindparam("elements", expanding=True)
    return (
        held.where(
            s.ministry == bindparam("ministry"),
            s.period.in_(bindparam("earlier", expanding=True)),
            v.element.in_(watched),
            v.dimension == "",
        ),
        held.where(
            s.ministry != bindparam("ministry"),
            s.period == bindparam("period"),
            v.element.in_(watched),
        ),
    )


_OWN_EARLIER, _OTHERS_NOW = _history_statements()
_SORT_KEY = itemgetter(*(Stored._fields.index(k) for k in SORT_KEYS))


def history_of(
    conn: Connection,
    ministry: str,
    period: str,
    watched: Sequence[str],
    earlier: Sequence[str],
    others: Sequence[str],
) -> tuple[Stored, ...]:
    """What the checks against the store read for one return, as plain rows sorted like
    ``history``: this ministry's totals of ``watched`` elements in the ``earlier`` periods,
    and the other ministries' values of ``others`` in this period. Each part names the few
    current submissions it needs first, so the read stays small however large the store grows;
    no frame is built, since pandas' fixed cost is larger than the read itself."""
    rows: list[Any] = []
    if watched and earlier:
        own = {"ministry": ministry, "earlier": list(earlier), "elements": list(watched)}
        rows += driver_rows(conn, _OWN_EARLIER, own)
    if others:
        theirs = {"ministry": ministry, "period": period, "elements": list(others)}
        rows += driver_rows(conn, _OTHERS_NOW, theirs)
    rows.sort(key=_SORT_KEY)
    return tuple(map(Stored._make, rows))


def long_table(conn: Connection, periods: Sequence[str] | None) -> pd.DataFrame:
    """Every current accepted value with the file it came from."""
    s = schema.submissions.c
    query = _current(_VALUE_COLUMNS)
    if periods is not None:
        query = query.where(s.period.in_(list(periods)))
    rows = conn.execute(query).all()
    if not rows:
        return frame([], LONG_COLUMNS)
    values = frame(rows, _VALUE_COLUMNS)
    # The file's columns come from one row per submission, not one per value. Read after the
    # values: a submission is never deleted and its row precedes its values, so every value
    # finds its file even if a resubmission commits in between.
    files = frame(
        conn.execute(select(s.id, *(s[name] for name in _FILE_COLUMNS))).all(),
        {"id": "int64"} | _FILE_COLUMNS,
    ).set_index("id")
    of_each_value = files.loc[values["submission_id"]].reset_index(drop=True)
    return _sorted(pd.concat([values, of_each_value], axis=1))


def audit(conn: Connection) -> pd.DataFrame:
    """Every audit row, in order of recording."""
    rows = conn.execute(select(schema.audit).order_by(schema.audit.c.id)).all()
    return frame(rows, AUDIT_COLUMNS)
