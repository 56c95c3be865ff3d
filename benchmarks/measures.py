"""How readable the tree is, in the numbers the code-shape work tracks.

Prints four measures for ``cpxl/`` (and, for private imports, the scripts and tests that use it):

- functions radon rates C or worse (cyclomatic complexity above 10);
- functions longer than 50 lines;
- ``_private`` names one module takes from another cpxl module (``from cpxl.x import _name``,
  or ``x._name`` on a cpxl module it imported);
- pairs of places sharing six or more lines, when the ``duplicates`` tool is on PATH.

Not a benchmark (nothing is timed): it sits here because it measures the tree, not behaviour.
Run ``.venv/bin/python benchmarks/measures.py`` (``--list`` names every place counted,
``--json`` prints the same for machines).
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cpxl"
LONG = 50


@dataclass(frozen=True, slots=True)
class Place:
    """One function or import the measures count, named as ``path:line name (detail)``."""

    path: str
    line: int
    name: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.name} ({self.detail})"


def module_name(path: Path) -> str:
    """``cpxl/store/users.py`` → ``cpxl.store.users``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(dotted: str) -> bool:
    """Whether ``cpxl.x.y`` names a module or package (not a class or function in one)."""
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def module_path(dotted: str) -> str:
    """``cpxl.store.users`` → ``cpxl/store/users.py``; a package → its ``__init__.py``."""
    path = Path(*dotted.split("."))
    if (ROOT / path / "__init__.py").is_file():
        return str(path / "__init__.py")
    return str(path.with_suffix(".py"))


def sources(*folders: Path) -> Iterator[Path]:
    """The Python files under each folder, in a stable order."""
    for folder in folders:
        yield from sorted(p for p in folder.rglob("*.py") if ".venv" not in p.parts)


def complex_functions(paths: list[Path]) -> list[Place]:
    """Functions radon rates C or worse, most complex first."""
    from radon.complexity import cc_rank, cc_visit  # here, so the tests can import the rest

    out = []
    for path in paths:
        for block in cc_visit(path.read_text(encoding="utf-8")):
            rank = cc_rank(block.complexity)
            if rank >= "C":
                name = block.fullname if hasattr(block, "fullname") else block.name
                out.append(
                    Place(
                        str(path.relative_to(ROOT)),
                        block.lineno,
                        name,
                        f"{rank} {block.complexity}",
                    )
                )
    return sorted(out, key=lambda p: (-int(p.detail.split()[1]), p.path, p.line))


def long_functions(paths: list[Path]) -> list[Place]:
    """Functions (methods too) longer than ``LONG`` lines, longest first."""
    out = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > LONG:
                    out.append(
                        Place(str(path.relative_to(ROOT)), node.lineno, node.name, f"{lines} lines")
                    )
    return sorted(out, key=lambda p: (-int(p.detail.split()[0]), p.path, p.line))


def is_private(name: str) -> bool:
    """A single-underscore name (not a dunder such as ``__version__``)."""
    return name.startswith("_") and not name.startswith("__")


def private_imports(path: Path) -> list[Place]:
    """The ``_private`` names ``path`` takes from another cpxl module (the detail names it)."""
    here = module_name(path) if path.is_relative_to(PACKAGE) else ""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = str(path.relative_to(ROOT))
    out: list[Place] = []
    aliases: dict[str, str] = {}  # local name -> the cpxl module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "cpxl":
            for alias in node.names:
                if node.module == here:
                    continue
                if is_private(alias.name):
                    out.append(Place(rel, node.lineno, alias.name, node.module))
                elif is_module(f"{node.module}.{alias.name}"):
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "cpxl" and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and is_private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and aliases[node.value.id] != here
        ):
            out.append(Place(rel, node.lineno, node.attr, aliases[node.value.id]))
    return out


def duplicate_pairs() -> tuple[int | None, list[str]]:
    """The pairs ``duplicates`` lists for the tree, or None when the tool is missing."""
    if shutil.which("duplicates") is None:
        return None, []
    done = subprocess.run(
        ["duplicates", "--most", "200", "--seconds", "120"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.splitlines()
    rows = [line for line in lines if line.startswith("D")]
    more = [line for line in lines if line.startswith("(+") and "more pairs" in line]
    extra = int(more[0].split()[0].lstrip("(+")) if more else 0
    return len(rows) + extra, rows


def main() -> int:
    """Print the measures (``--list`` for the places, ``--json`` for machines)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="name every place counted")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--no-duplicates", action="store_true", help="skip the duplicates tool")
    args = parser.parse_args()

    package = list(sources(PACKAGE))
    users = package + list(sources(ROOT / "benchmarks", ROOT / "tests"))
    privates = [place for path in users for place in private_imports(path)]
    in_package = [p for p in privates if p.path.startswith("cpxl/")]
    pairs, rows = (None, []) if args.no_duplicates else duplicate_pairs()
    measures = {
        "complex": complex_functions(package),
        "long": long_functions(package),
        "private_imports": in_package,
        "private_imports_outside": [p for p in privates if not p.path.startswith("cpxl/")],
    }
    if args.json:
        out = {key: [asdict(p) for p in value] for key, value in measures.items()}
        print(json.dumps({"duplicate_pairs": pairs, "duplicates": rows, **out}, indent=2))
        return 0
    titles = {
        "complex": "functions rated C or worse by radon",
        "long": f"functions over {LONG} lines",
        "private_imports": "_private names imported across modules in cpxl/",
        "private_imports_outside": "_private cpxl names used by benchmarks/ and tests/",
    }
    for key, places in measures.items():
        print(f"{len(places):4d}  {titles[key]}")
        if args.list:
            for place in places:
                print(f"        {place}")
    print(f"{'-' if pairs is None else pairs:>4}  pairs of places sharing six or more lines")
    if args.list:
        for row in rows:
            print(f"        {row}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
