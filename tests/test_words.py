"""Every word a sender, an officer or the national team reads: in words, and in the right number.

Covers: the top-level help opens with an officer's round, not with the code's design; a
`--format` the command does not write is refused with every format in words; no templates for
a period says why; counts take the right number ("1 file", "2 files"); a feedback workbook sent
back as a return gets a feedback name without a doubled ".feedback"; the template names itself
as a return, not as the catalogue; rule ids stay out of sight of senders (a hidden column for
the officer); data-validation titles are never cut, a long label going whole into the message.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
from builders import SEED, catalogue, cell_of, layout, returned, workspace
from click.testing import CliRunner

from cpxl import api
from cpxl.cli import main
from cpxl.feedback import feedback_path
from cpxl.feedback.naming import feedback_name
from cpxl.findings import FileResult, RunReport, Status
from cpxl.intake import run_inbox
from cpxl.simulate import plan
from cpxl.templates import FINDINGS_SHEET, generate_templates

MOJ = "MOJ"


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_top_level_help_is_for_officers() -> None:
    """`cpxl --help` opens with what cpxl does and an officer's round, with the exit codes."""
    code, out = _invoke("--help")
    assert code == 0
    first = out.split("\n\n")[1].strip()
    assert first.startswith("Collect the child protection figures ministries report")
    assert "cpxl run " in out and "cpxl templates --period 2025" in out
    assert "library function" not in out
    assert "130 stopped by Ctrl-C" in out


def test_an_unknown_format_is_refused_in_words(tmp_path: Path) -> None:
    """`--format pdf` exits 2 and names every format it can write, xlsx included, in words."""
    ws = str(tmp_path / "ws")
    assert _invoke("init", ws)[0] == 0
    code, out = _invoke("consolidate", "--period", "2025", "--format", "xlsx,pdf", "-w", ws)
    assert code == 2
    assert "pdf is not a format cpxl writes; choose among xlsx, csv, dhis2, adx and sdmx." in out
    assert "('" not in out


def test_no_templates_says_why(tmp_path: Path) -> None:
    """A period for which no data set is reported gets no templates and the reason."""
    ws = str(tmp_path / "ws")
    assert _invoke("init", ws)[0] == 0
    code, out = _invoke("templates", "--period", "202503", "-w", ws)
    assert code == 0
    assert out.startswith(
        "No templates for 202503: no data set of any ministry is reported for a period of "
        "this kind."
    )
    code, out = _invoke("templates", "--period", "2025", "--ministry", "MOJ", "-w", ws)
    assert out.startswith("1 template for 2025 in ")


def test_counts_take_the_right_number() -> None:
    """One file, one error: no "(s)" and no "1 files"."""
    one = FileResult("a.xlsx", "0" * 64, Status.ACCEPTED)
    report = RunReport("1", "", "", (one,))
    assert api.render_run(report).splitlines()[0] == "Run 1: 1 file"
    two = RunReport("2", "", "", (one, one))
    assert api.render_run(two).splitlines()[0] == "Run 2: 2 files"
    assert (api.counted(1, "cell"), api.counted(0, "cell")) == ("1 cell", "0 cells")


def test_feedback_sent_back_is_not_named_feedback_twice(tmp_path: Path) -> None:
    """A feedback workbook returned as the return gets ``x-2.feedback.xlsx``, not doubled."""
    taken = {"MOJ_2025.feedback.xlsx"}
    assert feedback_name("MOJ_2025.feedback.xlsx", taken) == "MOJ_2025-2.feedback.xlsx"
    assert feedback_name("MOJ_2025-2.feedback.xlsx", set()) == "MOJ_2025-2.feedback.xlsx"
    assert feedback_path(tmp_path, "MOJ_2025.FEEDBACK.xlsx").name == "MOJ_2025.feedback.xlsx"


def test_template_names_itself_as_a_return(tmp_path: Path) -> None:
    """The Instructions open with the return's title, ministry and period, not the catalogue."""
    generate_templates(catalogue(), "2025", tmp_path, [MOJ])
    ws = openpyxl.load_workbook(tmp_path / "MOJ_2025.xlsx")["Instructions"]
    ministry = catalogue().ministries[MOJ]
    assert ws["A1"].value == f"Child protection data return (CPIMS): {ministry.name.en}, 2025"
    assert ws["A2"].value.endswith(f"{ministry.name.km} 2025")
    texts = [str(c.value) for row in ws.iter_rows() for c in row if c.value]
    assert not [t for t in texts if "catalogue" in t.lower()]


def test_validation_titles_are_never_cut(tmp_path: Path) -> None:
    """Each input column's data-validation title is its label, or (when Excel's 32 characters
    cannot hold it) a short word, with the whole label in the message."""
    generate_templates(catalogue(), "2025", tmp_path, [MOJ])
    book = openpyxl.load_workbook(tmp_path / "MOJ_2025.xlsx")
    checked = 0
    for sheet in layout(MOJ).sheets:
        by_col = {
            str(dv.sqref).split(":")[0].rstrip("0123456789"): dv
            for dv in book[sheet.name].data_validations.dataValidation
        }
        for column in sheet.columns:
            dv = by_col[column.letter]
            if len(column.label.en) <= 32:
                assert dv.promptTitle == column.label.en
            else:
                assert dv.promptTitle == "Value"
                assert dv.prompt.startswith(column.label.en + "\n")
                checked += 1
    assert checked  # "Awaiting trial (pre-trial detention)" is longer than 32 characters


def test_rule_ids_are_out_of_the_senders_sight(tmp_path: Path) -> None:
    """A wrong total's feedback shows no rule id: the rule column is hidden, for the officer."""
    ws = workspace(tmp_path)
    sheet, total = cell_of(MOJ, "children_in_detention", "03")
    old = plan(catalogue(), layout(MOJ), SEED)[(sheet, total)]
    assert isinstance(old, float)
    returned(ws, MOJ, cells={sheet: {total: old + 4}})
    (result,) = run_inbox(ws, workers=1).files
    assert result.status == Status.NEEDS_CORRECTION
    assert result.feedback is not None
    book = openpyxl.load_workbook(result.feedback)
    findings = book[FINDINGS_SHEET]
    shown = []
    for ws_ in book.worksheets:
        hidden = {k for k, d in ws_.column_dimensions.items() if d.hidden}
        for row in ws_.iter_rows():
            for c in row:
                if c.value is not None and c.column_letter not in hidden:
                    shown.append(str(c.value))
    assert not [t for t in shown if "SUM-" in t]
    assert findings["I2"].value == "SUM-children_in_detention"  # kept for the officer
    assert findings.column_dimensions["I"].hidden
