"""The library's face: ``cpxl.api``, typed, and one function per thing a user does.

Covers: no public function or result type of ``cpxl.api`` says ``Any`` in its signature;
``cpxl.consolidate`` is ``cpxl.api.consolidate``; a consolidation returns what it wrote as a
typed value, the same that ``cpxl consolidate --json`` prints; an error of the process writing
the indicators' exports reaches the caller; one process writes the same exports.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import typing
from pathlib import Path

import pytest
from builders import returned, workspace
from click.testing import CliRunner

import cpxl
from cpxl import api
from cpxl.cli import main
from cpxl.errors import CannotWrite
from cpxl.store import StoreError
from cpxl.workspace import STORE_FILE


def _mentions_any(hint: object) -> bool:
    if hint is typing.Any:
        return True
    return any(_mentions_any(arg) for arg in typing.get_args(hint))


def test_no_signature_of_the_api_says_any() -> None:
    """Every public function and result type of cpxl.api is typed, none with Any."""
    untyped = []
    for name, obj in vars(api).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != "cpxl.api":
            continue
        if dataclasses.is_dataclass(obj):
            hints = typing.get_type_hints(obj)
        elif inspect.isfunction(obj):
            hints = typing.get_type_hints(obj)
            assert "return" in hints, name
        else:
            continue
        untyped += [f"{name}.{k}" for k, v in hints.items() if _mentions_any(v)]
    assert _mentions_any(dict[str, typing.Any])  # the check itself can see Any
    assert untyped == []


def test_consolidate_is_one_function() -> None:
    """The package's consolidate and the API's are the same function."""
    assert cpxl.consolidate is api.consolidate


def test_consolidate_returns_what_it_wrote(tmp_path: Path) -> None:
    """The files a consolidation names exist in outbox/national/, and --json prints the same."""
    ws = workspace(tmp_path)
    returned(ws, "MOJ")
    assert api.run(ws.root).exit_code == 0
    result = api.consolidate(ws.root, period="2025", formats=["csv"])
    assert result.periods == ("2025",)
    assert set(result.written) == {"csv"}
    assert result.written["csv"] and all(
        p.is_file() and p.parent == ws.outbox / "national" for p in result.written["csv"]
    )
    shown = CliRunner().invoke(
        main, ["consolidate", "--period", "2025", "--format", "csv", "--json", "-w", str(ws.root)]
    )
    assert shown.exit_code == 0
    assert json.loads(shown.stdout) == result.to_dict()


def test_a_damaged_store_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """Consolidation checks the store's file once, before its parts start: a damaged store
    stops it with words that name the file, and no export or workbook is begun."""
    ws = workspace(tmp_path)
    returned(ws, "MOJ")
    assert api.run(ws.root).exit_code == 0
    store = ws.root / STORE_FILE
    data = bytearray(store.read_bytes())
    page = 4096
    data[3 * page : 4 * page] = b"\x0d" + b"\xee" * (page - 1)
    store.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged") as raised:
        api.consolidate(ws.root, period="2025")
    assert str(store) in str(raised.value)
    national = ws.outbox / "national"
    assert not national.exists() or list(national.iterdir()) == []
    assert store.read_bytes() == bytes(data)


def test_an_error_writing_the_indicators_exports_reaches_the_caller(tmp_path: Path) -> None:
    """The indicators' exports are written by a second process; its error is raised by
    consolidate as the error it is, naming the file, and the values' exports are whole."""
    ws = workspace(tmp_path)
    returned(ws, "MOJ")
    assert api.run(ws.root).exit_code == 0
    national = ws.outbox / "national"
    (national / "cpims-national-2025.sdmx.csv.partial").mkdir(parents=True)
    with pytest.raises(IsADirectoryError) as raised:
        api.consolidate(ws.root, period="2025", formats=["csv", "sdmx"])
    assert raised.value.filename == str(national / "cpims-national-2025.sdmx.csv.partial")
    assert sorted(p.name for p in national.iterdir()) == [
        "cpims-national-2025.sdmx-structure.xml",
        "cpims-national-2025.sdmx.csv.partial",
        "cpims-national-2025.values.csv",
    ]


def test_an_export_process_that_dies_is_said_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process writing the exports that dies (killed for lack of memory) ends the command
    with words that say what to do, not as a bug."""
    ws = workspace(tmp_path)
    returned(ws, "MOJ")
    assert api.run(ws.root).exit_code == 0
    monkeypatch.setattr(api, "_exports", lambda *args: os._exit(9))  # forked with it in place
    with pytest.raises(CannotWrite, match=r"exit code 9\).*--one-process"):
        api.consolidate(ws.root, period="2025", formats=["csv"])


def test_one_process_writes_the_same_exports(tmp_path: Path) -> None:
    """Run one after the other in one process, consolidate writes the same exports, byte for
    byte, as with its parts side by side."""
    ws = workspace(tmp_path)
    returned(ws, "MOJ")
    returned(ws, "MOSVY")
    assert api.run(ws.root).exit_code == 0
    files = {}
    for side_by_side in (True, False):
        out = tmp_path / f"side-by-side-{side_by_side}"
        written = api.consolidate(ws.root, period="2025", out=out, side_by_side=side_by_side)
        names = [p.name for paths in written.written.values() for p in paths]
        files[side_by_side] = {
            n: (out / n).read_bytes() for n in names if n.endswith((".csv", ".json"))
        }
    assert len(files[True]) == 5
    assert files[True] == files[False]
