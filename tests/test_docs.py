"""The README cannot drift from the code and the catalogue.

Covers: the finding-codes table is generated from rules/messages.yaml (rewrite it with
`CPXL_WRITE_DOCS=1 .venv/bin/pytest tests/test_docs.py`); every status is explained; `.ci/run`
runs exactly the README's test command; every label key the code asks the catalogue for exists.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from builders import catalogue

from cpxl.findings import Code, Status

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- codes:start -->", "<!-- codes:end -->"


def codes_table() -> str:
    """The finding codes, their scope and English title, from the catalogue."""
    messages = catalogue().messages
    lines = ["| code | scope | what it means |", "|---|---|---|"]
    for code in Code:
        text = messages[code]
        lines.append(f"| `{code.value}` | {text.scope.value} | {text.title.en} |")
    return "\n".join(lines)


def test_codes_table_is_generated_from_the_catalogue() -> None:
    """The README's finding-codes table is exactly what the catalogue says."""
    readme = README.read_text(encoding="utf-8")
    block = f"{START}\n{codes_table()}\n{END}"
    if os.environ.get("CPXL_WRITE_DOCS") == "1":
        readme = re.sub(re.escape(START) + ".*?" + re.escape(END), block, readme, flags=re.S)
        README.write_text(readme, encoding="utf-8")
    assert block in readme


def test_every_status_is_explained() -> None:
    """Each status has a row in the README's status table."""
    readme = README.read_text(encoding="utf-8")
    for status in Status:
        assert f"| `{status.value}` |" in readme


def test_ci_runs_the_readme_test_command() -> None:
    """`.ci/run` ends with exactly the test command the README gives."""
    readme = README.read_text(encoding="utf-8")
    command = next(line for line in readme.splitlines() if line.startswith(".venv/bin/ruff check"))
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == command


def test_every_label_the_code_asks_for_exists() -> None:
    """No label falls back to its key: every term(...) the code names is in rules/terms.yaml."""
    used: set[str] = set()
    for path in (ROOT / "cpxl").rglob("*.py"):
        used |= set(re.findall(r"""\.term\(\s*["']([a-z_0-9]+)["']""", path.read_text("utf-8")))
    missing = sorted(k for k in used if k not in catalogue().terms)
    assert used
    assert missing == []


def test_every_subpackage_is_installed() -> None:
    """A plain `pip install .` ships every package folder of cpxl (pyproject lists them)."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
            "packages"
        ]
    )
    found = {
        "cpxl" + "".join(f".{part}" for part in init.parent.relative_to(ROOT / "cpxl").parts)
        for init in (ROOT / "cpxl").rglob("__init__.py")
    }
    assert found <= listed
