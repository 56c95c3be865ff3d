"""The command line: a thin shell over the library, with documented exit codes.

Covers: `cpxl run --json` prints exactly what the library returns; exit codes 0, 1, 2 and 3
(tests/test_cli_errors.py has every failure's code, and a bug's);
`cpxl init` refuses to overwrite; templates and simulate report what they wrote and which
mistakes they typed; the catalogue check; store check and backup; the pinned public API; every
command has help text and is named in the README.
"""

from __future__ import annotations

import gc
import json
import shutil
from pathlib import Path
from typing import Any

import click
import openpyxl
import pytest
from builders import SEED, catalogue, cell_of, layout, returned, workspace
from click.testing import CliRunner

import cpxl
from cpxl.cli import main
from cpxl.intake import run_inbox
from cpxl.simulate import KHMER, plan

ROOT = Path(__file__).resolve().parent.parent


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _without_volatile(data: dict[str, Any]) -> dict[str, Any]:
    """Drop what differs between two runs by design: run ids, times, output paths."""
    out = {k: v for k, v in data.items() if k not in ("run_id", "started", "finished", "summary")}
    out["files"] = [{k: v for k, v in f.items() if k != "feedback"} for f in data["files"]]
    return out


def test_run_json_is_the_library_result(tmp_path: Path) -> None:
    """`cpxl run --json` prints the same result as `run_inbox(...).to_dict()`."""
    ws = workspace(tmp_path / "a")
    sheet, cell = cell_of("MOJ", "children_in_detention", "01", "sex", "male")
    typed = plan(catalogue(), layout("MOJ"), SEED)[(sheet, cell)]
    returned(ws, "MOJ", cells={sheet: {cell: str(int(typed)).translate(KHMER)}})  # type: ignore[arg-type]
    returned(ws, "MOH")
    twin = tmp_path / "b"
    shutil.copytree(ws.root, twin)
    library = run_inbox(ws).to_dict(cpxl.load_catalogue(ws.rules).messages)
    code, out = _invoke("run", "--json", "--workspace", str(twin))
    assert code == 0
    assert _without_volatile(json.loads(out)) == _without_volatile(library)


def test_a_command_sets_pythons_collector_back_as_it_found_it(tmp_path: Path) -> None:
    """A command collects less often while it works, and leaves a process that called it (a
    notebook, a server) with its own collector settings, whether it succeeds or fails."""
    before = gc.get_threshold(), gc.get_freeze_count()
    ws = workspace(tmp_path)
    returned(ws, "MOH")
    assert _invoke("run", "--workspace", str(ws.root))[0] == 0
    assert _invoke("run", "--workspace", str(tmp_path / "missing"))[0] != 0
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_exit_code_one_when_a_file_needs_attention(tmp_path: Path) -> None:
    """A run with a file needing correction finishes every file and exits 1."""
    ws = workspace(tmp_path)
    sheet, cell = cell_of("MOJ", "children_in_detention", "01", "sex", "male")
    returned(ws, "MOJ", cells={sheet: {cell: "twelve"}})
    returned(ws, "MOH")
    code, out = _invoke("run", "--workspace", str(ws.root))
    assert code == 1
    assert "needs-correction" in out and "MOJ_2025.xlsx" in out


def test_exit_code_two_for_a_broken_catalogue(tmp_path: Path) -> None:
    """A catalogue with a problem is reported with its file and path, exit 2."""
    rules = tmp_path / "rules"
    shutil.copytree(cpxl.load_catalogue().source, rules)
    text = (rules / "indicators.yaml").read_text(encoding="utf-8")
    (rules / "indicators.yaml").write_text(
        text.replace("responsible: MOSVY", "responsible: NOBODY", 1), encoding="utf-8"
    )
    code, out = _invoke("catalogue", "check", "--rules", str(rules), "--json")
    report = json.loads(out)
    assert code == 2
    assert [(p["code"], p["path"]) for p in report["problems"]] == [
        ("catalogue-reference", "$.indicators[0].responsible")
    ]


def test_exit_code_three_when_the_workspace_is_busy(tmp_path: Path) -> None:
    """A second run while another holds the workspace stops with plain words, exit 3."""
    ws = workspace(tmp_path)
    returned(ws, "MOJ")
    with ws.lock():
        result = CliRunner().invoke(main, ["run", "--wait", "0", "--workspace", str(ws.root)])
    assert result.exit_code == 3
    assert "Another cpxl run is working" in result.output


def test_catalogue_check_summarises_a_sound_catalogue() -> None:
    """The built-in catalogue is sound: 50 indicators by provenance."""
    code, out = _invoke("catalogue", "check", "--json")
    report = json.loads(out)
    assert code == 0
    assert (report["indicators"], report["indicators_by_provenance"]) == (
        50,
        {"framework": 2, "framework_mentioned": 1, "inferred": 47},
    )


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    """`cpxl init` makes a workspace once and will not write over it."""
    assert _invoke("init", str(tmp_path / "w"))[0] == 0
    assert (tmp_path / "w" / "rules" / "catalogue.yaml").is_file()
    code, _ = _invoke("init", str(tmp_path / "w"))
    assert code == 3


def test_templates_and_simulate_report_what_they_wrote(tmp_path: Path) -> None:
    """Templates list their files; simulate --mistakes lists every cell it changed."""
    ws = str(workspace(tmp_path).root)
    code, out = _invoke("templates", "--period", "2025", "--ministry", "MOJ", "--json", "-w", ws)
    assert code == 0
    assert [Path(f).name for f in json.loads(out)["files"]] == ["MOJ_2025.xlsx"]
    code, out = _invoke(
        "simulate", "--period", "2025", "--ministry", "MOJ", "--mistakes", "--json", "-w", ws
    )
    made = json.loads(out)
    assert code == 0
    assert [m["ministry"] for m in made] == ["MOJ"]
    kinds = [x["kind"] for x in made[0]["mistakes"]]
    assert kinds and set(kinds) <= {
        "khmer-digits",
        "number-as-text",
        "word-in-count",
        "negative-count",
        "decimal-in-count",
        "wrong-total",
        "blank-required",
    }


def test_store_check_and_backup(tmp_path: Path) -> None:
    """The store's integrity check passes and a backup is written."""
    ws = workspace(tmp_path)
    returned(ws, "MOJ")
    assert _invoke("run", "-w", str(ws.root))[0] == 0
    assert _invoke("store", "check", "-w", str(ws.root)) == (0, "The store is sound.\n")
    code, _ = _invoke("store", "backup", str(tmp_path / "copy.sqlite"), "-w", str(ws.root))
    assert code == 0 and (tmp_path / "copy.sqlite").stat().st_size > 0


def test_store_check_refuses_a_missing_store(tmp_path: Path) -> None:
    """Asking to check a store that does not exist is exit 3, and no store is created."""
    code, _ = _invoke("store", "check", "-w", str(tmp_path))
    assert code == 3
    assert not (tmp_path / "cpxl.sqlite").exists()


def test_public_api_is_pinned() -> None:
    """The names a notebook may rely on are exactly these."""
    assert cpxl.__all__ == [
        "Catalogue",
        "CatalogueError",
        "Code",
        "CpxlError",
        "FileResult",
        "Finding",
        "Layout",
        "RunReport",
        "Severity",
        "Status",
        "Store",
        "StoreError",
        "Submission",
        "Value",
        "Workspace",
        "__version__",
        "build_layout",
        "consolidate",
        "generate_templates",
        "indicator_table",
        "init_workspace",
        "load_catalogue",
        "read_workbook",
        "run_inbox",
        "simulate_returns",
        "validate",
        "write_feedback",
        "write_national_workbook",
    ]


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, full + " "))
        else:
            out.append((full, cmd))
    return out


@pytest.mark.parametrize("name", [n for n, _ in _commands(main)])
def test_every_command_has_help_and_is_in_the_readme(name: str) -> None:
    """Each command explains itself and the README shows how to use it."""
    cmd = dict(_commands(main))[name]
    assert (cmd.help or "").strip()
    assert f"cpxl {name}" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", [["run"], ["status", "--period", "2025"], ["store", "check"]])
def test_a_missing_or_mistyped_workspace_stops_in_words_and_creates_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    """A workspace folder that does not exist, or a folder that is not a workspace: exit 3, the
    reason in words, and nothing is created there."""
    missing, plain = tmp_path / "mistyped", tmp_path / "documents"
    plain.mkdir()
    for folder, words in ((missing, "There is no folder"), (plain, "is not a cpxl workspace")):
        code, out = _invoke(*command, "--workspace", str(folder))
        assert (code, words in out) == (3, True), out
    assert not missing.exists()
    assert list(plain.iterdir()) == []


def test_a_workspace_without_its_inbox_stops_in_words(tmp_path: Path) -> None:
    """`cpxl run` in a workspace whose inbox/ is gone: exit 3, saying so; no store is made."""
    ws = workspace(tmp_path)
    shutil.rmtree(ws.inbox)
    code, out = _invoke("run", "--workspace", str(ws.root))
    assert (code, "The inbox" in out) == (3, True), out
    assert not Path(ws.store_url()).exists()


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--period", "2025-01"],
        ["status", "--period", "2025-01"],
        ["templates", "--period", "2025-01"],
        ["consolidate", "--period", "2025-01"],
        ["consolidate", "--from", "2024", "--to", "2025-01"],
    ],
)
def test_every_command_checks_a_period_the_same_way(tmp_path: Path, command: list[str]) -> None:
    """A period that is not one (2025-01) is a usage error, exit 2, by every command."""
    ws = workspace(tmp_path)
    code, out = _invoke(*command, "--workspace", str(ws.root))
    assert code == 2
    assert "not a period: '2025-01' (write 2025, 2025S1, 2025Q1 or 202503)" in out


def test_the_officer_can_state_when_a_batch_was_received(tmp_path: Path) -> None:
    """Files saved into the inbox days after they arrived by e-mail: --received gives the day
    they arrived, lateness counts from it, and the feedback says the time was stated."""
    ws = workspace(tmp_path)
    path = returned(ws, "MOJ")  # saved into the inbox on time
    code, out = _invoke("run", "--json", "--received", "2027-01-05", "--workspace", str(ws.root))
    (only,) = json.loads(out)["files"]
    assert only["days_late"] is not None and only["days_late"] > 0
    summary = openpyxl.load_workbook(only["feedback"])["Summary"]
    texts = " ".join(str(c.value) for row in summary.iter_rows() for c in row if c.value)
    assert "2027-01-0" in texts and "as stated by the data officer" in texts
    assert path.exists() and code in (0, 1)
