"""The catalogue's YAML files with their node trees, so every problem names file, line and path.

A data officer editing ``rules/`` fixes a broken catalogue from these findings alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cpxl.findings import Code, Finding, Location, Severity

# libyaml's loader is about ten times faster; PyYAML falls back to Python where it is missing.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Raw:
    """Parsed YAML of one file with its node tree, for line numbers (shared with loading.py)."""

    name: str
    data: Any
    node: yaml.Node | None


def _line_of(node: yaml.Node | None, path: Sequence[str | int]) -> int | None:
    """The 1-based line of the YAML node at ``path``, as near as the tree allows."""
    best = node
    for key in path:
        if isinstance(best, yaml.MappingNode):
            nxt = next((v for k, v in best.value if getattr(k, "value", None) == key), None)
        elif isinstance(best, yaml.SequenceNode) and isinstance(key, int):
            nxt = best.value[key] if key < len(best.value) else None
        else:
            nxt = None
        if nxt is None:
            break
        best = nxt
    return best.start_mark.line + 1 if best is not None else None


def _json_path(path: Sequence[str | int]) -> str:
    out = "$"
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


class Problems:
    """Collects catalogue findings with file, line and path.

    Public because every step of loading (schemas, sections, cross-checks) adds to one.
    """

    def __init__(self, raws: Mapping[str, Raw]) -> None:
        self.raws = raws
        self.items: list[Finding] = []

    def add(self, code: Code, file: str, path: Sequence[str | int], detail: str) -> None:
        raw = self.raws.get(file)
        line = _line_of(raw.node if raw else None, path)
        where = f"{file}.yaml" + (f":{line}" if line else "")
        self.items.append(
            Finding.make(
                code,
                Severity.ERROR,
                Location(file=where, path=_json_path(path), row=line),
                detail=detail,
            )
        )

    def reference(self, file: str, path: Sequence[str | int], detail: str) -> None:
        """A name that points at nothing in the catalogue, or at the wrong kind of thing."""
        self.add(Code.CATALOGUE_REFERENCE, file, path, detail)


def read_yaml(path: Path, problems: list[Finding]) -> Raw | None:
    """One catalogue file with its node tree, or None (and a finding) when it cannot be read."""
    name = path.stem
    if not path.is_file():
        problems.append(
            Finding.make(
                Code.CATALOGUE_YAML,
                Severity.ERROR,
                Location(file=path.name, path="$"),
                detail="the file is missing",
            )
        )
        return None
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader: the C one when built)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problems.append(
            Finding.make(
                Code.CATALOGUE_YAML,
                Severity.ERROR,
                Location(file=f"{path.name}" + (f":{line}" if line else ""), path="$", row=line),
                detail=str(getattr(exc, "problem", exc)),
            )
        )
        return None
    return Raw(name, data, node)
