"""Read queries of the national consolidation: the database aggregates, Python receives figures.

The same SQLAlchemy Core statements run on SQLite and PostgreSQL. A consolidation never reads
the long table whole: element values per period asked for (a year built from its quarters by
sum, last or mean), returns' cell counts and the cells behind national values come back already
grouped, so what crosses into Python grows with the catalogue and the periods asked for, not
with every stored cell. The national long table for exports is read in chunks of periods.

Rows are sorted in pandas, never by SQL, for the reason given in :mod:`cpxl.store.frames`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Select,
    and_,
    case,
    func,
    select,
)

from cpxl.store import frames, schema
from cpxl.store.records import CURRENT, HELD, driver_rows, from_db

# A period asked for (target) and the stored period inside it: its place and how many there are.
PeriodMap = Sequence[tuple[str, str, int, int]]  # stored, target, sub_index, n_sub

ELEMENT_COLUMNS: Final = {
    "element": "str",
    "target": "str",
    "area": "str",
    "dimension": "str",
    "option": "str",
    "total": "float64",
    "mean": "float64",
    "last": "float64",
    "first": "float64",
    "n": "int64",
    "top": "int64",
    "bottom": "int64",
    "late": "int64",
    "n_sub": "int64",
}
COUNT_COLUMNS: Final = {
    "ministry": "str",
    "period": "str",
    "area": "str",
    "present": "int64",
    "rows": "int64",
    "submission_id": "int64",
}
CELL_COLUMNS: Final = {
    "element": "str",
    "period": "str",
    "area": "str",
    "dimension": "str",
    "option": "str",
    "submission_id": "int64",
    "name_received": "str",
    "sha256": "str",
    "sheet": "str",
    "cell": "str",
}
LIST_COLUMNS: Final = {
    "element": "str",
    "period": "str",
    "dimension": "str",
    "option": "str",
    "name_received": "str",
    "sha256": "str",
    "sheet": "str",
    "cells": "str",
}
_IDS_PER_QUERY: Final = 500


def _layers(period_map: PeriodMap) -> list[list[tuple[str, str, int, int]]]:
    """The map split so that each stored period feeds one target per query (usually one)."""
    layers: list[list[tuple[str, str, int, int]]] = []
    for row in period_map:
        for layer in layers:
            if all(r[0] != row[0] for r in layer):
                layer.append(tuple(row))  # type: ignore[arg-type]
                break
        else:
            layers.append([tuple(row)])  # type: ignore[list-item]
    return layers


def _current_values(periods: Sequence[str]) -> tuple[Any, Any]:
    """The current submissions of these periods joined to the values that count."""
    return CURRENT, schema.submissions.c.period.in_(sorted(set(periods)))


def element_aggregates(
    conn: Connection, period_map: PeriodMap, elements: Sequence[str]
) -> pd.DataFrame:
    """Per cell of these elements and period asked for: sum, mean, last and first of its returns.

    ``n`` counts the returns with a value, ``top`` is the place of the last one and ``bottom``
    of the first one (-1: none),
    ``late`` says whether one of them came late, ``n_sub`` how many returns make the period.
    """
    wanted = sorted(set(elements))
    # A period stored as it is asked for (a year from an annual return) is one row per cell:
    # read as it is. Only periods built from shorter returns are grouped and ranked.
    whole = [r for r in period_map if r[3] == 1]
    parts = [_as_stored(conn, whole, wanted)] if whole else []
    parts += [
        _element_aggregates(conn, layer, wanted)
        for layer in _layers([r for r in period_map if r[3] != 1])
    ]
    if not parts:
        return frames.frame([], ELEMENT_COLUMNS)
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def _as_stored(
    conn: Connection, rows: Sequence[tuple[str, str, int, int]], elements: Sequence[str]
) -> pd.DataFrame:
    s, v = schema.submissions.c, schema.values.c
    joined, where = _current_values([r[0] for r in rows])
    target = case({r[0]: r[1] for r in rows}, value=s.period)
    # Only what varies crosses into Python; the aggregates of one value are filled in here.
    query = (
        select(
            v.element, target, v.area, v.dimension, v.option, v.value,
            case((func.coalesce(s.days_late, 0) > 0, 1), else_=0),
        )
        .select_from(joined)
        .where(where, v.element.in_(elements))
    )  # fmt: skip
    read = frames.frame(driver_rows(conn, query), _STORED_COLUMNS)
    present = read["value"].notna().to_numpy()
    return read[["element", "target", "area", "dimension", "option"]].assign(
        total=read["value"],
        mean=read["value"],
        last=read["value"],
        first=read["value"],
        n=present.astype("int64"),
        top=np.where(present, 0, -1),
        bottom=np.where(present, 0, -1),
        late=np.where(present, read["late"].to_numpy(), 0),
        n_sub=1,
    )


_STORED_COLUMNS: Final = {
    "element": "str",
    "target": "str",
    "area": "str",
    "dimension": "str",
    "option": "str",
    "value": "float64",
    "late": "int64",
}


def _element_aggregates(
    conn: Connection, layer: Sequence[tuple[str, str, int, int]], elements: Sequence[str]
) -> pd.DataFrame:
    s, v = schema.submissions.c, schema.values.c
    joined, where = _current_values([r[0] for r in layer])
    # Each stored period's target, place and count, written into the statement as CASEs: the
    # values are then read by primary key from the current submissions, never scanned.
    target = case({r[0]: r[1] for r in layer}, value=s.period)
    place = case({r[0]: r[2] for r in layer}, value=s.period)
    n_sub = case({r[0]: r[3] for r in layer}, value=s.period)
    keys = [v.element, target, v.area, v.dimension, v.option]
    present = v.value.is_not(None)
    # The last value is the one with the highest place among those present: the first of the
    # places, from the highest down, that holds a value (a handful of places: 2, 4 or 12).
    # The first likewise, from the lowest place up.
    places = range(max(r[3] for r in layer))
    by_place = [func.max(case((place == i, v.value))) for i in places]
    last = func.coalesce(*reversed(by_place), None)
    first = func.coalesce(*by_place, None)
    late = case((and_(present, func.coalesce(s.days_late, 0) > 0), 1), else_=0)
    query = (
        select(
            *keys,
            func.sum(v.value),
            func.avg(v.value),
            last,
            first,
            func.count(v.value),
            func.coalesce(func.max(case((present, place))), -1),
            func.coalesce(func.min(case((present, place))), -1),
            func.max(late),
            func.max(n_sub),
        )
        .select_from(joined)
        .where(where, v.element.in_(elements))
        .group_by(*keys)
    )
    return frames.frame(driver_rows(conn, query), ELEMENT_COLUMNS)


def sent_returns(conn: Connection, periods: Sequence[str]) -> list[tuple[str, str]]:
    """(ministry, period) of the current returns of these periods that hold any cell."""
    if not periods:
        return []
    s = schema.submissions.c
    joined, where = _current_values(periods)
    query = select(s.ministry, s.period).select_from(joined).where(where).distinct()
    return [(str(m), str(p)) for m, p in conn.execute(query).all()]


def return_counts(conn: Connection, periods: Sequence[str]) -> pd.DataFrame:
    """Per current return and area: the numbers stored (present) and the cells stored (rows)."""
    if not periods:
        return frames.frame([], COUNT_COLUMNS)
    v = schema.values.c
    joined, where = _current_values(periods)
    query = (
        select(
            v.ministry,
            v.period,
            v.area,
            func.count(v.value),
            func.count(),
            func.min(schema.submissions.c.id),
        )
        .select_from(joined)
        .where(where)
        .group_by(v.ministry, v.period, v.area)
    )
    return frames.frame(driver_rows(conn, query), COUNT_COLUMNS)


def _cells_query(conn: Connection, query: Select[Any]) -> pd.DataFrame:
    return frames.frame(driver_rows(conn, query), CELL_COLUMNS)


def _cells_select(joined: Any) -> Select[Any]:
    v, s = schema.values.c, schema.submissions.c
    return select(
        v.element, v.period, v.area, v.dimension, v.option, s.id,
        s.name_received, s.sha256, v.sheet, v.cell,
    ).select_from(joined)  # fmt: skip


def cells(conn: Connection, periods: Sequence[str], elements: Sequence[str]) -> pd.DataFrame:
    """The cells holding a number of these elements in the current returns of these periods."""
    if not periods or not elements:
        return frames.frame([], CELL_COLUMNS)
    v = schema.values.c
    joined, where = _current_values(periods)
    query = _cells_select(joined).where(
        where,
        v.value.is_not(None),
        v.element.in_(sorted(set(elements))),
    )
    return _cells_query(conn, query)


def cell_lists(conn: Connection, periods: Sequence[str], elements: Sequence[str]) -> pd.DataFrame:
    """Per element cell key, return and sheet: the addresses holding a number, comma-joined."""
    if not periods or not elements:
        return frames.frame([], LIST_COLUMNS)
    v, s = schema.values.c, schema.submissions.c
    joined, where = _current_values(periods)
    query = (
        select(
            v.element, v.period, v.dimension, v.option, s.name_received, s.sha256, v.sheet,
            func.aggregate_strings(v.cell, ","),
        )
        .select_from(joined)
        .where(where, v.value.is_not(None), v.element.in_(sorted(set(elements))))
        .group_by(
            v.element, v.period, v.dimension, v.option, s.id, s.name_received, s.sha256, v.sheet,
        )
    )  # fmt: skip
    return frames.frame(driver_rows(conn, query), LIST_COLUMNS)


def cells_of(conn: Connection, submission_ids: Sequence[int]) -> pd.DataFrame:
    """Every stored cell of these submissions (to place findings on elements and areas)."""
    ids = sorted(set(submission_ids))
    parts = [
        _cells_query(
            conn,
            _cells_select(HELD).where(schema.submissions.c.id.in_(ids[i : i + _IDS_PER_QUERY])),
        )
        for i in range(0, len(ids), _IDS_PER_QUERY)
    ]
    return pd.concat(parts, ignore_index=True) if parts else frames.frame([], CELL_COLUMNS)


# The columns of :func:`long_rows`: the long table's, in the order the exports write them.


def _by_code_point(conn: Connection, column: Any) -> Any:
    """A text column ordered by code point, as SQLite does: PostgreSQL is told to (collation C)."""
    return column.collate("C") if conn.dialect.name == "postgresql" else column


def long_rows(conn: Connection, periods: Sequence[str]) -> list[tuple[Any, ...]]:
    """The national long table of these periods as plain rows (:data:`NATIONAL_VALUE_COLUMNS`).

    For the exports, which write row by row: no frame is built. Rows come by period, element,
    ministry, area, dimension and option (by code point on either backend); a missing value is
    None. The file's columns are read once per return and added to its rows.
    """
    if not periods:
        return []
    v, s = schema.values.c, schema.submissions.c
    joined, where = _current_values(periods)
    # In the order of the values' primary key, which SQLite then reads without sorting.
    keys = (v.period, v.element, v.ministry, v.area, v.dimension, v.option)
    query = (
        select(
            v.element, v.period, v.area, v.dimension, v.option, v.value, v.missing, v.ministry,
            s.id, v.sheet, v.cell,
        )
        .select_from(joined)
        .where(where)
        .order_by(*(_by_code_point(conn, k) for k in keys))
    )  # fmt: skip
    rows = driver_rows(conn, query)
    # The files after their values, by the ids found: a submission is never deleted, so every
    # value finds its file even if a resubmission commits in between.
    found = sorted({row[8] for row in rows})
    files = {
        sid: (name, sha, from_db(at), late)
        for sid, name, sha, at, late in conn.execute(
            select(s.id, s.name_received, s.sha256, s.received_at, s.days_late).where(
                s.id.in_(found)
            )
        )
    }
    return [row + files[row[8]] for row in rows]
