"""Fixtures more than one test module uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import pg_schema


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a fresh store lives: an SQLite file, or an empty schema on the test server."""
    if request.param == "sqlite":
        yield str(tmp_path / "cpxl.sqlite")
        return
    with pg_schema() as url:
        yield url
