"""Read queries of the national consolidation: the database aggregates, Python receives figures.

The same SQLAlchemy Core statements run on SQLite and PostgreSQL. A consolidation never reads
the long table whole: element values per period asked for (a year built from its quarters by
sum, last or mean), returns' cell counts and the cells behind national values come back already
grouped, so what crosses into Python grows with the catalogue and the periods asked for, not
with every stored cell. The national long table for exports is read in chunks of periods.

Rows are sorted in pandas, never by SQL, for the reason given in :mod:`cpxl.store.frames`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final

import pandas as pd
from sqlalchemy import (
    Connection,
    Integer,
    Select,
    Subquery,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    true,
    union_all,
)

from cpxl.store import frames, schema

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
    "n": "int64",
    "top": "int64",
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
_IDS_PER_QUERY: Final = 500


def _period_map(rows: PeriodMap) -> Subquery:
    """The period map as a derived table (a UNION ALL of literal rows: SQLite and PostgreSQL)."""
    parts = [
        select(
            cast(literal(stored), Text).label("stored"),
            cast(literal(tgt), Text).label("target"),
            cast(literal(i), Integer).label("sub_index"),
            cast(literal(n), Integer).label("n_sub"),
        )
        for stored, tgt, i, n in rows
    ]
    if len(parts) == 1:
        return parts[0].subquery("period_map")
    return union_all(*parts).subquery("period_map")


def _current(periods: Sequence[str]) -> Subquery:
    s = schema.submissions.c
    query = select(s.id, s.days_late).where(s.is_current == true(), s.period.in_(list(periods)))
    return query.subquery("current")


def element_aggregates(conn: Connection, period_map: PeriodMap) -> pd.DataFrame:
    """Per element cell and period asked for: sum, mean and last of its returns, and counts.

    ``n`` counts the returns with a value, ``top`` is the place of the last one (-1: none),
    ``late`` says whether one of them came late, ``n_sub`` how many returns make the period.
    """
    if not period_map:
        return frames.frame([], ELEMENT_COLUMNS)
    v = schema.values.c
    pm = _period_map(period_map)
    cur = _current(sorted({r[0] for r in period_map}))
    keys = [v.element, pm.c.target, v.area, v.dimension, v.option]
    present = v.value.is_not(None)
    # The last value is the one with the highest place among those present.
    rank = func.row_number().over(
        partition_by=keys, order_by=[case((present, 0), else_=1), pm.c.sub_index.desc()]
    )
    inner = (
        select(
            *keys,
            v.value,
            pm.c.sub_index,
            pm.c.n_sub,
            case((and_(present, func.coalesce(cur.c.days_late, 0) > 0), 1), else_=0).label("late"),
            rank.label("rank"),
        )
        .select_from(schema.values.join(cur, v.submission_id == cur.c.id))
        .join(pm, v.period == pm.c.stored)
        .subquery("cells")
    )
    c = inner.c
    query = select(
        c.element,
        c.target,
        c.area,
        c.dimension,
        c.option,
        func.sum(c.value),
        func.avg(c.value),
        func.max(case((c.rank == 1, c.value))),
        func.count(c.value),
        func.coalesce(func.max(case((c.value.is_not(None), c.sub_index))), -1),
        func.max(c.late),
        func.max(c.n_sub),
    ).group_by(c.element, c.target, c.area, c.dimension, c.option)
    return frames.frame(conn.execute(query).all(), ELEMENT_COLUMNS)


def return_counts(conn: Connection, periods: Sequence[str]) -> pd.DataFrame:
    """Per current return and area: the numbers stored (present) and the cells stored (rows)."""
    if not periods:
        return frames.frame([], COUNT_COLUMNS)
    v = schema.values.c
    cur = _current(periods)
    query = (
        select(
            v.ministry,
            v.period,
            v.area,
            func.count(v.value),
            func.count(),
            func.min(v.submission_id),
        )
        .select_from(schema.values.join(cur, v.submission_id == cur.c.id))
        .group_by(v.ministry, v.period, v.area)
    )
    return frames.frame(conn.execute(query).all(), COUNT_COLUMNS)


def _cells_query(conn: Connection, query: Select[Any]) -> pd.DataFrame:
    return frames.frame(conn.execute(query).all(), CELL_COLUMNS)


def _cells_select() -> Select[Any]:
    v, s = schema.values.c, schema.submissions.c
    return select(
        v.element, v.period, v.area, v.dimension, v.option, v.submission_id,
        s.name_received, s.sha256, v.sheet, v.cell,
    ).select_from(schema.values.join(schema.submissions, v.submission_id == s.id))  # fmt: skip


def cells(conn: Connection, periods: Sequence[str], elements: Sequence[str]) -> pd.DataFrame:
    """The cells holding a number of these elements in the current returns of these periods."""
    if not periods or not elements:
        return frames.frame([], CELL_COLUMNS)
    v = schema.values.c
    cur = _current(periods)
    query = _cells_select().where(
        v.submission_id.in_(select(cur.c.id)),
        v.value.is_not(None),
        v.element.in_(sorted(set(elements))),
    )
    return _cells_query(conn, query)


def cells_of(conn: Connection, submission_ids: Sequence[int]) -> pd.DataFrame:
    """Every stored cell of these submissions (to place findings on elements and areas)."""
    ids = sorted(set(submission_ids))
    parts = [
        _cells_query(
            conn,
            _cells_select().where(schema.values.c.submission_id.in_(ids[i : i + _IDS_PER_QUERY])),
        )
        for i in range(0, len(ids), _IDS_PER_QUERY)
    ]
    return pd.concat(parts, ignore_index=True) if parts else frames.frame([], CELL_COLUMNS)


def long_chunks(conn: Connection, periods: Sequence[str], per_chunk: int) -> Iterator[pd.DataFrame]:
    """The national long table (as :func:`frames.long_table`), ``per_chunk`` periods at a time."""
    ordered = list(dict.fromkeys(periods))
    for i in range(0, len(ordered), per_chunk):
        yield frames.long_table(conn, ordered[i : i + per_chunk])
