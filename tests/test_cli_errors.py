"""How a command ends when it fails: the officer's mistake in words, a bug said to be one.

Covers: click's own usage errors and every kind of expected failure (an unknown ministry, a
missing template, periods out of order, an unknown ministry for an account, a short password, a
broken catalogue) end with exit 2 and words, without a traceback; a workspace or store that
cannot be used, or an output folder that cannot be written, ends with exit 3; a bug (a library
function raising KeyError or ValueError) ends with exit 70, its traceback kept in outbox/errors/
and a line in English and Khmer asking to report it with that file; without an outbox the
traceback goes to stderr and nothing is created; Ctrl-C ends with 130; a real process exits
with the same codes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from builders import returned, workspace
from click.testing import CliRunner, Result

import cpxl
from cpxl.cli import main
from cpxl.store import Store

KHMER_REPORT = "សូមទាក់ទងផ្នែកជំនួយ"  # "please contact support", in the bug's line


def _invoke(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def _stored(tmp_path: Path) -> Path:
    """A workspace whose store holds one accepted return."""
    ws = workspace(tmp_path)
    returned(ws, "MOJ")
    assert _invoke("run", "-w", str(ws.root)).exit_code == 0
    return ws.root


def test_click_usage_errors_stay_exit_two(tmp_path: Path) -> None:
    """A mistyped option is click's usage error: exit 2, with the usage line."""
    result = _invoke("run", "--no-such-option", "-w", str(workspace(tmp_path).root))
    assert result.exit_code == 2
    assert "No such option '--no-such-option'" in result.stderr


def _broken_rules(root: Path) -> None:
    shutil.copytree(cpxl.load_catalogue().source, root / "rules")
    indicators = root / "rules" / "indicators.yaml"
    text = indicators.read_text(encoding="utf-8")
    indicators.write_text(text.replace("responsible: MOSVY", "responsible: NOBODY", 1), "utf-8")


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        (
            ["templates", "--period", "2025", "--ministry", "NOBODY"],
            None,
            "unknown ministry: NOBODY",
        ),
        (
            ["simulate", "--period", "2025", "--ministry", "MOJ"],
            None,
            "No template MOJ_2025.xlsx",
        ),
        (
            ["consolidate", "--from", "2025", "--to", "2024"],
            None,
            "--from 2025 --to 2024: give two periods of one type, in order",
        ),
        (
            ["users", "add", "ana", "--role", "sender", "--ministry", "NOBODY"],
            "a long password\n",
            "'NOBODY' is not a ministry of the catalogue; nothing was changed.",
        ),
        (
            ["users", "add", "ana", "--role", "officer"],
            "short\n",
            "The password must have at least 8 characters.",
        ),
    ],
    ids=["ministry", "no-template", "periods", "account-ministry", "password"],
)
def test_expected_failures_are_exit_two_in_words(
    tmp_path: Path, args: list[str], stdin: str | None, words: str
) -> None:
    """What the officer asked cannot be done: exit 2, what to do in words, no traceback."""
    ws = workspace(tmp_path)
    result = _invoke(*args, "-w", str(ws.root), stdin=stdin)
    assert (result.exit_code, words in result.stderr) == (2, True), result.output
    assert "Traceback" not in result.output and "bug" not in result.output
    assert not (ws.outbox / "errors").exists()


def test_a_broken_catalogue_is_exit_two_with_its_problem(tmp_path: Path) -> None:
    """A command in a workspace whose rules/ is broken: exit 2, the file and path named."""
    ws = workspace(tmp_path)
    _broken_rules(ws.root)
    result = _invoke("templates", "--period", "2025", "-w", str(ws.root))
    assert result.exit_code == 2
    assert "The catalogue has 1 problem; nothing was done:" in result.stderr
    assert (
        "$.indicators[0].responsible: catalogue-reference: unknown ministry 'NOBODY'"
        in result.stderr
    )
    assert list(ws.templates.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["users", "disable", "ana"], "does not exist"),
        (["status", "--period", "2025"], "does not exist"),
    ],
)
def test_a_store_that_cannot_be_used_is_exit_three(
    tmp_path: Path, args: list[str], words: str
) -> None:
    """A workspace without its store: exit 3, said in words; no store is created."""
    ws = workspace(tmp_path)
    result = _invoke(*args, "-w", str(ws.root))
    assert (result.exit_code, words in result.stderr) == (3, True), result.output
    assert not Path(ws.store_url()).exists()


@pytest.mark.parametrize("command", ["templates", "consolidate"])
def test_a_folder_that_cannot_be_written_is_exit_three(tmp_path: Path, command: str) -> None:
    """--out inside a file (no folder can be made there): exit 3, the place named in words."""
    root = _stored(tmp_path)
    blocker = tmp_path / "report.txt"
    blocker.write_text("not a folder", encoding="utf-8")
    out = blocker / "national"
    result = _invoke(command, "--period", "2025", "--out", str(out), "-w", str(root))
    assert result.exit_code == 3, result.output
    assert f"Could not write {out}" in result.stderr
    assert "that you may write to it" in result.stderr and "bug" not in result.stderr
    assert not (root / "outbox" / "errors").exists()


def _bug_log(root: Path) -> Path:
    (log,) = (root / "outbox" / "errors").glob("*.log")
    return log


def test_a_bug_says_it_is_one_and_keeps_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KeyError inside the library: exit 70, the traceback in outbox/errors/, and one line in
    English and Khmer asking to report it with that file."""
    root = _stored(tmp_path)

    def broken(self: Store) -> tuple[str, ...]:
        raise KeyError("children_in_detention")

    monkeypatch.setattr(Store, "check", broken)
    result = _invoke("store", "check", "-w", str(root))
    assert result.exit_code == 70
    log = _bug_log(root)
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text
    assert "KeyError: 'children_in_detention'" in text and "in broken" in text
    (line,) = result.stderr.splitlines()
    assert "a bug in cpxl" in line and "not a mistake of yours" in line
    assert f"Please report it with the file {log}" in line
    assert KHMER_REPORT in line and line.count(str(log)) == 2


def test_a_value_error_is_a_bug_not_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ValueError from a library function is not the officer's mistake: exit 70, not 2."""
    root = _stored(tmp_path)

    def broken(*_args: object, **_kw: object) -> None:
        raise ValueError("could not convert string to float: 'x'")

    monkeypatch.setattr("cpxl.consolidation.status_report", broken)
    result = _invoke("status", "--period", "2025", "-w", str(root))
    assert result.exit_code == 70
    assert "usage" not in result.output.lower()
    assert "ValueError: could not convert" in _bug_log(root).read_text(encoding="utf-8")


def test_a_bug_without_an_outbox_shows_its_traceback_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside a workspace the traceback goes to stderr, and the folder stays as it was."""

    def broken(*_args: object) -> None:
        raise KeyError("elements")

    monkeypatch.setattr("cpxl.catalogue.Catalogue.khmer_to_review", broken)
    result = _invoke("catalogue", "check", "-w", str(tmp_path))
    assert result.exit_code == 70
    assert "Traceback (most recent call last)" in result.stderr
    assert "KeyError: 'elements'" in result.stderr
    assert "Please report it with the error text above" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_is_exit_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped by Ctrl-C: exit 130, saying how to finish."""
    root = _stored(tmp_path)

    def pressed(self: Store) -> tuple[str, ...]:
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "check", pressed)
    result = _invoke("store", "check", "-w", str(root))
    assert result.exit_code == 130
    assert "run the same command again to finish" in result.stderr


_PATCHED = """
import sys
from cpxl.store import Store
def broken(self):
    raise KeyError("area")
Store.check = broken
from cpxl.cli import main
main(sys.argv[1:])
"""


def test_a_real_process_exits_with_the_documented_codes(tmp_path: Path) -> None:
    """As a shell sees it: 2 for a bad period, 3 for a missing store, 70 for a bug."""
    ws = workspace(tmp_path)

    def cpxl_(*args: str, code: str = "from cpxl.cli import main; main()") -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
        )
        return done.returncode, done.stderr

    assert cpxl_("status", "--period", "2025-01", "-w", str(ws.root))[0] == 2
    assert cpxl_("store", "check", "-w", str(ws.root))[0] == 3
    returned(ws, "MOJ")
    assert cpxl_("run", "--json", "-w", str(ws.root))[0] == 0
    code, err = cpxl_("store", "check", "-w", str(ws.root), code=_PATCHED)
    assert (code, "a bug in cpxl" in err) == (70, True), err
    log = _bug_log(ws.root).read_text(encoding="utf-8")
    assert f"command: cpxl store check -w {ws.root}" in log and "KeyError: 'area'" in log
    assert json.dumps(err, ensure_ascii=False).count("Traceback") == 0
