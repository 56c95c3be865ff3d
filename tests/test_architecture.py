"""The house's shape holds: each step imports only earlier steps, and only the CLI knows click.

Covers: the import direction along the data's path; click confined to cli.py; no print() in
the library (progress goes through callbacks); no `_private` name shared between modules.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent / "cpxl"

# Every step may raise the expected failures of cpxl.errors, which imports nothing of cpxl.
FLOOR = "errors"

# step -> the cpxl steps it may import (besides itself and the floor)
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "findings": set(),
    "numbers": {"findings"},
    "catalogue": {"findings"},
    "templates": {"catalogue", "findings"},
    "guard": {"findings"},
    "reading": {"templates", "catalogue", "findings", "numbers", "guard"},
    "simulate": {"templates", "catalogue", "findings"},
    "validation": {"reading", "templates", "catalogue", "findings", "numbers"},
    "feedback": {"reading", "templates", "catalogue", "findings"},
    "store": {"findings"},
    "workspace": {"catalogue"},
    "intake": {
        "guard",
        "reading",
        "validation",
        "feedback",
        "store",
        "templates",
        "catalogue",
        "findings",
        "numbers",
        "workspace",
    },
    "consolidation": {"catalogue", "store", "templates", "findings"},
    "exports": {"catalogue", "findings"},
    "book": {"catalogue", "templates", "findings"},
    "portal": {
        "catalogue",
        "consolidation",
        "feedback",
        "findings",
        "guard",
        "intake",
        "store",
        "workspace",
    },
    "web": {"api", "portal", "store"},
    # the library's face over every step (serve() starts the web app); the demo is its user
    "api": {
        "book",
        "catalogue",
        "consolidation",
        "exports",
        "findings",
        "intake",
        "portal",
        "simulate",
        "store",
        "templates",
        "web",
        "workspace",
    },
    "demo": {"api", "catalogue", "consolidation", "findings", "simulate", "templates", "workspace"},
}


def _step(path: Path) -> str:
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cpxl."):
            out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("cpxl.")}
    return out


def test_steps_import_only_earlier_steps() -> None:
    """No step reaches forward along the data's path."""
    wrong = {}
    for path in ROOT.rglob("*.py"):
        step = _step(path)
        if step not in ALLOWED:
            continue
        extra = _imports(path) - ALLOWED[step] - {step, FLOOR}
        if extra:
            wrong[str(path.relative_to(ROOT))] = sorted(extra)
    assert wrong == {}


def test_only_the_cli_knows_click_and_the_library_never_prints() -> None:
    """click lives in cli.py alone, and no library module prints."""
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {
            a.name.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.Import | ast.ImportFrom)
            for a in (n.names if isinstance(n, ast.Import) else [ast.alias(n.module or "")])
        }
        if path.name != "cli.py":
            assert "click" not in names, path
            prints = [
                n
                for n in ast.walk(tree)
                if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "print"
            ]
            assert prints == [], path


def _measures() -> ModuleType:
    path = ROOT.parent / "benchmarks" / "measures.py"
    spec = importlib.util.spec_from_file_location("measures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["measures"] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def test_no_private_name_is_imported_across_modules() -> None:
    """A name another module needs is public: no module takes a `_private` name from another."""
    measures = _measures()
    paths = [*ROOT.rglob("*.py"), *(ROOT.parent / "tests").glob("*.py")]
    places = [place for path in paths for place in measures.private_imports(path)]
    assert [str(place) for place in places] == []
