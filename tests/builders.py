"""Build test workbooks from readable tables, through cpxl's real templates.

``returned(tmp_path, "MOSVY", "2025", {"Residential care": {"E7": "twelve"}})`` issues the real
template, fills it with a clean simulated return, types the given cells over it with openpyxl
(as a user's edit would) and returns the file's path. Nothing binary is committed.

``pg_schema()`` gives a store address on the PostgreSQL test server (``CPXL_TEST_POSTGRES``):
a fresh, empty schema of its own, dropped afterwards.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from cpxl.catalogue import Catalogue, builtin_rules, load
from cpxl.findings import Finding
from cpxl.simulate import add_mistakes, fill_return, plan
from cpxl.store import NewSubmission
from cpxl.templates import Layout, build_layout, generate_templates
from cpxl.workspace import Workspace

SEED = 7
# Returns arrive on time unless a test says otherwise: annual 2025 returns are due in 2026.
ON_TIME = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
Cells = Mapping[str, Mapping[str, object]]


@cache
def catalogue() -> Catalogue:
    """The built-in catalogue, loaded once per test session."""
    return load(builtin_rules())


def layout(ministry: str = "MOSVY", period: str = "2025") -> Layout:
    """The layout of a ministry's template."""
    return build_layout(catalogue(), ministry, period)


def workspace(tmp_path: Path) -> Workspace:
    """A fresh workspace using the built-in catalogue."""
    root = tmp_path / "ws"
    for sub in ("inbox", "outbox", "templates_xlsx"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return Workspace(root)


def issue(ws: Workspace, period: str = "2025") -> Path:
    """Issue the period's templates into the workspace (once) and return the folder."""
    if not (ws.templates / f"MOSVY_{period}.xlsx").exists():
        generate_templates(catalogue(), period, ws.templates)
    return ws.templates


def returned(
    ws: Workspace,
    ministry: str = "MOSVY",
    period: str = "2025",
    cells: Cells | None = None,
    *,
    name: str | None = None,
    mistakes: bool = False,
    seed: int = SEED,
    received: datetime = ON_TIME,
) -> Path:
    """A filled return in the inbox: clean simulated values, with ``cells`` typed over them."""
    issue(ws, period)
    lay = layout(ministry, period)
    values: dict[tuple[str, str], object] = dict(plan(catalogue(), lay, seed))
    if mistakes:
        add_mistakes(catalogue(), lay, values, seed)  # type: ignore[arg-type]
    for sheet, typed in (cells or {}).items():
        for cell, value in typed.items():
            values[(sheet, cell)] = value
    target = ws.inbox / (name or f"{ministry}_{period}.xlsx")
    fill_return(
        ws.templates / f"{ministry}_{period}.xlsx",
        target,
        values,  # type: ignore[arg-type]
    )
    os.utime(target, (received.timestamp(), received.timestamp()))  # its time of receipt
    return target


def copy_in(ws: Workspace, source: Path, name: str) -> Path:
    """Put a copy of a file into the inbox under another name."""
    target = ws.inbox / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def where(findings: tuple[Finding, ...] | list[Finding]) -> set[tuple[str, str, str]]:
    """The (sheet, cell, code) of every finding: what tests compare."""
    return {(f.location.sheet, f.location.cell, f.code.value) for f in findings}


def cell_of(
    ministry: str, element: str, area: str, dimension: str = "", option: str = ""
) -> tuple[str, str]:
    """(sheet, A1) of an input cell in a ministry's 2025 template."""
    lay = layout(ministry)
    for sheet in lay.sheets:
        for col in sheet.columns:
            if (col.element, col.dimension, col.option) == (element, dimension, option):
                return sheet.name, sheet.cell(area, col)
    raise KeyError((ministry, element, dimension, option))


# --- submissions recorded straight into a store ---------------------------------------------

RECEIVED = datetime(2026, 1, 20, 9, 0, tzinfo=UTC)


def new_submission(
    name: str,
    ministry: str = "MOSVY",
    period: str = "2025",
    *,
    status: str = "accepted",
    days_late: int | None = 0,
    received_at: datetime = RECEIVED,
    template_id: str = "",
    template_version: int = 1,
) -> NewSubmission:
    """A file ``<name>.xlsx`` as the store records it, archived under the hash of its name."""
    sha = hashlib.sha256(name.encode()).hexdigest()
    return NewSubmission(
        sha256=sha,
        name_received=f"{name}.xlsx",
        archive_path=f"archive/{sha[:2]}/{sha}.xlsx",
        ministry=ministry,
        period=period,
        template_id=template_id or f"{ministry}-{period}",
        template_version=template_version,
        received_at=received_at,
        status=status,
        reason="",
        days_late=days_late,
    )


# --- stores on the PostgreSQL test server -------------------------------------------------------

POSTGRES = os.environ.get("CPXL_TEST_POSTGRES", "")


def psycopg(url: str) -> str:
    """A ``postgresql://`` address as SQLAlchemy's psycopg 3 dialect spells it."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def new_pg_schema(prefix: str = "cpxl_test") -> str:
    """A new, empty schema on the test server, as a store address (skips without a server)."""
    if not POSTGRES:
        pytest.skip("CPXL_TEST_POSTGRES is not set (see .ci/postgres.sh)")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _on_server(f'CREATE SCHEMA "{schema}"')
    joiner = "&" if "?" in POSTGRES else "?"
    return f"{POSTGRES}{joiner}options=-csearch_path%3D{schema}"


@contextmanager
def pg_schema(prefix: str = "cpxl_test") -> Iterator[str]:
    """A new, empty schema on the test server, as a store address; dropped afterwards."""
    url = new_pg_schema(prefix)
    schema = url.rsplit("%3D", 1)[1]
    try:
        yield url
    finally:
        _on_server(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _on_server(sql: str) -> None:
    """One statement on the test server, outside any store."""
    admin = create_engine(psycopg(POSTGRES))
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(sql)
    finally:
        admin.dispose()
