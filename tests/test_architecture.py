"""The house's shape holds: each step imports only earlier steps, and only the CLI knows click.

Covers: the import direction along the data's path; click confined to cli.py; no print() in
the library (progress goes through callbacks).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "cpxl"

# step -> the cpxl steps it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
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
    "portal": {"catalogue", "consolidation", "findings", "guard", "intake", "store", "workspace"},
    "web": {"api", "portal", "store"},
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
        extra = _imports(path) - ALLOWED[step] - {step}
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
