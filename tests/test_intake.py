"""Intake: every file in the inbox gets exactly one status, and originals are never touched.

Covers: accepted returns stored value for value; returns with errors stored as nothing; the
same file under two names or twice; unchanged resubmissions; corrected resubmissions replacing
the earlier return with an audit of each change; late files; closed periods; retired templates;
hostile and broken files; skipped lock and hidden files and links; the feedback workbook sent
back as the corrected return; a dry run; two runs at once; the inbox byte-identical after all.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hostile
import openpyxl
import pytest
from builders import SEED, catalogue, cell_of, copy_in, layout, returned, where, workspace

from cpxl.catalogue import parse_period
from cpxl.findings import Code, RunReport, Severity, Status, Value
from cpxl.intake import Expectation, run_inbox, workers
from cpxl.reading import read_workbook
from cpxl.simulate import plan
from cpxl.store import Store
from cpxl.workspace import Workspace

MOJ = "MOJ"
MOWA = "MOWA"


def _snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    return {
        p.relative_to(folder).as_posix(): (
            p.stat().st_size,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _run(ws: Workspace, **kw: object) -> RunReport:
    before = _snapshot(ws.inbox)
    report = run_inbox(ws, workers=2, **kw)  # type: ignore[arg-type]
    assert _snapshot(ws.inbox) == before  # originals are never touched
    return report


def _statuses(report: RunReport) -> dict[str, tuple[str, str | None]]:
    return {f.file: (f.status.value, f.reason.value if f.reason else None) for f in report.files}


def _received(path: Path, when: datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def test_clean_return_is_accepted_and_stored(tmp_path: Path) -> None:
    """A clean return is accepted and every value it holds is in the store, nothing more."""
    ws = workspace(tmp_path)
    path = returned(ws, MOJ)
    _received(path, datetime(2026, 1, 10, tzinfo=UTC))
    report = _run(ws)
    assert _statuses(report) == {"MOJ_2025.xlsx": ("accepted", None)}
    result = report.files[0]
    assert (result.findings, result.ministry, result.period) == ((), MOJ, "2025")
    assert (result.previous, result.changes) == ("", ())  # a first return replaces nothing
    with Store.open(ws.store_url(), create=False) as store:
        current = store.current(MOJ, "2025")
        assert current is not None
        stored = {v.key: v.value for v in store.values_of(current.id)}
    assert stored == {
        (v.element, v.area, v.dimension, v.option): v.value
        for v in read_workbook(path, catalogue()).values
    }
    assert report.exit_code == 0


def test_errors_store_nothing_and_ask_for_correction(tmp_path: Path) -> None:
    """A return with errors is needs-correction, its errors are listed, no value is stored."""
    ws = workspace(tmp_path)
    sheet, cell = cell_of(MOJ, "children_in_detention", "01", "sex", "male")
    returned(ws, MOJ, cells={sheet: {cell: "twelve"}})
    report = _run(ws)
    assert _statuses(report) == {"MOJ_2025.xlsx": ("needs-correction", "not-a-number")}
    assert where(report.files[0].findings) == {(sheet, cell, "not-a-number")}
    with Store.open(ws.store_url(), create=False) as store:
        assert store.current(MOJ, "2025") is None
        assert store.counts()["values"] == 0
    assert report.exit_code == 1


def test_same_file_under_two_names_and_twice(tmp_path: Path) -> None:
    """A byte-identical copy is a duplicate pointing at the first; a second run adds nothing."""
    ws = workspace(tmp_path)
    path = returned(ws, MOJ)
    _received(path, datetime(2026, 1, 10, tzinfo=UTC))
    copy = copy_in(ws, path, "copy of MOJ.xlsx")
    _received(copy, datetime(2026, 1, 11, tzinfo=UTC))
    first = _run(ws)
    assert _statuses(first) == {
        "MOJ_2025.xlsx": ("accepted", None),
        "copy of MOJ.xlsx": ("duplicate", "duplicate-file"),
    }
    assert first.files[1].first == "MOJ_2025.xlsx"
    with Store.open(ws.store_url(), create=False) as store:
        fingerprint, counts = store.fingerprint(), store.counts()
    second = _run(ws)
    assert {s for s, _ in _statuses(second).values()} == {"duplicate"}
    with Store.open(ws.store_url(), create=False) as store:
        assert store.fingerprint() == fingerprint
        assert {k: v for k, v in store.counts().items() if k != "runs"} == {
            k: v for k, v in counts.items() if k != "runs"
        }


def test_same_values_in_a_new_file_are_unchanged(tmp_path: Path) -> None:
    """A re-saved copy with the same figures is 'unchanged' and replaces nothing."""
    ws = workspace(tmp_path)
    path = returned(ws, MOJ)
    _received(path, datetime(2026, 1, 10, tzinfo=UTC))
    _run(ws)
    again = ws.inbox / "MOJ resaved.xlsx"
    openpyxl.load_workbook(path).save(again)
    report = _run(ws)
    assert _statuses(report)["MOJ resaved.xlsx"] == ("unchanged", "unchanged-submission")


def test_corrected_resubmission_replaces_and_is_audited(tmp_path: Path) -> None:
    """A later return for the same ministry and period replaces the earlier one, cell by cell."""
    ws = workspace(tmp_path)
    first = returned(ws, MOJ, name="a.xlsx")
    _received(first, datetime(2026, 1, 10, tzinfo=UTC))
    _run(ws)
    sheet, total = cell_of(MOJ, "children_in_detention", "02")
    _, part = cell_of(MOJ, "children_in_detention", "02", "justice_status", "sentenced")
    _, male = cell_of(MOJ, "children_in_detention", "02", "sex", "male")
    wb = openpyxl.load_workbook(first)
    old = {c: wb[sheet][c].value for c in (total, part, male)}
    second = returned(
        ws,
        MOJ,
        name="b.xlsx",
        cells={sheet: {total: old[total] + 1, part: old[part] + 1, male: old[male] + 1}},
    )
    _received(second, datetime(2026, 1, 12, tzinfo=UTC))
    report = _run(ws)
    result = next(f for f in report.files if f.file == "b.xlsx")
    assert (result.status, result.previous) == (Status.ACCEPTED, "a.xlsx")
    assert {(c.cell, c.old, c.new) for c in result.changes} == {
        (c, f"{old[c]:,.0f}", f"{old[c] + 1:,.0f}") for c in (total, part, male)
    }
    with Store.open(ws.store_url(), create=False) as store:
        audit = store.audit_rows()
        current = store.current(MOJ, "2025")
        assert current is not None and current.name_received == "b.xlsx"
    assert sorted(audit["action"]) == ["changed"] * 3


def test_one_run_decides_each_file_on_the_store_the_files_before_it_left(tmp_path: Path) -> None:
    """A first return, its correction and a re-saved copy of the correction in the same run:
    each is decided as if the ones received before it had been run on their own."""
    ws = workspace(tmp_path)
    first = returned(ws, MOJ, name="a.xlsx")
    _received(first, datetime(2026, 1, 10, tzinfo=UTC))
    sheet, total = cell_of(MOJ, "children_in_detention", "02")
    _, part = cell_of(MOJ, "children_in_detention", "02", "justice_status", "sentenced")
    _, male = cell_of(MOJ, "children_in_detention", "02", "sex", "male")
    old = {c: openpyxl.load_workbook(first)[sheet][c].value for c in (total, part, male)}
    new = {c: old[c] + 1 for c in old}
    second = returned(ws, MOJ, name="b.xlsx", cells={sheet: new})
    _received(second, datetime(2026, 1, 11, tzinfo=UTC))
    third = returned(ws, MOJ, name="c.xlsx", cells={sheet: new})
    openpyxl.load_workbook(third).save(third)  # the same figures, other bytes
    _received(third, datetime(2026, 1, 12, tzinfo=UTC))
    other = returned(ws, MOWA, name="d.xlsx")
    _received(other, datetime(2026, 1, 11, 12, tzinfo=UTC))
    report = _run(ws)
    assert _statuses(report) == {
        "a.xlsx": ("accepted", None),
        "d.xlsx": ("accepted", None),
        "b.xlsx": ("accepted", None),
        "c.xlsx": ("unchanged", "unchanged-submission"),
    }
    b = next(f for f in report.files if f.file == "b.xlsx")
    assert b.previous == "a.xlsx"
    assert {(c.cell, c.old, c.new) for c in b.changes} == {
        (c, f"{old[c]:,.0f}", f"{new[c]:,.0f}") for c in old
    }
    names = sorted(Path(f.feedback or "").name for f in report.files)
    assert names == [f"{n}.feedback.xlsx" for n in "abcd"]
    with Store.open(ws.store_url(), create=False) as store:
        current = store.current(MOJ, "2025")
        assert current is not None and current.name_received == "b.xlsx"


def test_late_file_is_processed_and_flagged(tmp_path: Path) -> None:
    """A file received after its due date is accepted, with its days late."""
    ws = workspace(tmp_path)
    path = returned(ws, MOJ)
    due = catalogue().due_date(MOJ, parse_period("2025"))
    _received(path, datetime(due.year, due.month, due.day, 12, tzinfo=UTC) + timedelta(days=10))
    report = _run(ws)
    result = report.files[0]
    assert (result.status, result.days_late) == (Status.ACCEPTED, 10)
    assert where(result.findings) == {("", "", "late-submission")}


def test_closed_period_is_refused(tmp_path: Path) -> None:
    """A return for a period before the catalogue's open_from is period-closed."""
    ws = workspace(tmp_path)
    returned(ws, MOJ, period="2019")
    report = _run(ws)
    assert _statuses(report) == {"MOJ_2019.xlsx": ("period-closed", "period-closed")}


def test_retired_template_is_not_a_template(tmp_path: Path) -> None:
    """After the catalogue moves to template version 2, a version 1 return is refused."""
    ws = workspace(tmp_path)
    returned(ws, MOJ)
    shutil.copytree(catalogue().source, ws.root / "rules")
    calendar = ws.root / "rules" / "calendar.yaml"
    text = calendar.read_text(encoding="utf-8")
    text = text.replace("version: 1", "version: 2").replace(
        "accepted_versions: [1]", "accepted_versions: [2]"
    )
    calendar.write_text(text, encoding="utf-8")
    report = _run(ws)
    assert _statuses(report) == {"MOJ_2025.xlsx": ("not-a-template", "retired-template")}


def test_files_that_are_not_returns_get_a_calm_status(tmp_path: Path) -> None:
    """Broken, foreign and hostile files each get one status with its reason; the run goes on."""
    ws = workspace(tmp_path)
    returned(ws, MOJ)
    odd = ws.inbox / "odd"
    odd.mkdir()
    hostile.empty_file(odd, name="empty.xlsx")
    hostile.text_as_xlsx(odd, name="notes.xlsx")
    hostile.truncated_xlsx(odd, name="cut.xlsx")
    hostile.honest_bomb(odd, name="bomb.xlsx")
    hostile.macro_enabled(odd, name="macro.xlsm")
    hostile.xxe(odd, name="xxe.xlsx")
    hostile.encrypted_xlsx(odd, name="locked.xlsx")
    foreign = odd / "foreign.xlsx"
    wb = openpyxl.Workbook()
    wb.save(foreign)
    (ws.inbox / "~$MOJ_2025.xlsx").write_bytes(b"lock")
    (ws.inbox / ".hidden.xlsx").write_bytes(b"x")
    outside = tmp_path / "secret.txt"
    outside.write_text("outside the inbox", encoding="utf-8")
    (ws.inbox / "link.xlsx").symlink_to(outside)
    report = _run(ws)
    assert _statuses(report) == {
        "MOJ_2025.xlsx": ("accepted", None),
        "odd/empty.xlsx": ("unreadable", "empty-file"),
        "odd/notes.xlsx": ("unreadable", "not-a-spreadsheet"),
        "odd/cut.xlsx": ("unreadable", "unreadable-workbook"),
        "odd/bomb.xlsx": ("unsafe", "zip-bomb"),
        "odd/macro.xlsm": ("unsafe", "macros"),
        "odd/xxe.xlsx": ("unsafe", "xml-entities"),
        "odd/locked.xlsx": ("unreadable", "password-protected"),
        "odd/foreign.xlsx": ("not-a-template", "no-identity"),
        "~$MOJ_2025.xlsx": ("skipped", "lock-file"),
        ".hidden.xlsx": ("skipped", "hidden-file"),
        "link.xlsx": ("skipped", "not-a-regular-file"),
    }
    archived = b"".join(p.read_bytes() for p in ws.archive.rglob("*") if p.is_file())
    assert b"outside the inbox" not in archived
    for f in report.files:
        if f.status != Status.SKIPPED:
            assert f.feedback and Path(f.feedback).is_file()


def test_feedback_workbook_sent_back_is_the_corrected_return(tmp_path: Path) -> None:
    """The sender corrects the marked-up copy and sends the feedback workbook itself back."""
    ws = workspace(tmp_path)
    sheet, cell = cell_of(MOJ, "children_in_detention", "01", "sex", "male")
    path = returned(ws, MOJ, cells={sheet: {cell: "twelve"}})
    _received(path, datetime(2026, 1, 10, tzinfo=UTC))
    first = _run(ws)
    feedback = Path(first.files[0].feedback or "")
    right = openpyxl.load_workbook(returned(workspace(tmp_path / "clean"), MOJ))[sheet][cell].value
    wb = openpyxl.load_workbook(feedback)
    wb[sheet][cell] = right
    corrected = ws.inbox / "MOJ_2025 corrected.xlsx"
    wb.save(corrected)
    _received(corrected, datetime(2026, 1, 12, tzinfo=UTC))
    second = _run(ws)
    assert _statuses(second)["MOJ_2025 corrected.xlsx"] == ("accepted", None)


def test_dry_run_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    """A dry run checks and writes feedback but creates or changes no store."""
    ws = workspace(tmp_path)
    returned(ws, MOJ)
    report = _run(ws, dry_run=True)
    assert _statuses(report) == {"MOJ_2025.xlsx": ("accepted", None)}
    assert not Path(ws.store_url()).exists()
    assert Path(report.files[0].feedback or "").is_file()


def test_dry_run_on_a_store_writes_nothing_to_it_and_takes_no_feedback_name(
    tmp_path: Path,
) -> None:
    """A dry run over a store reads it (a correction is seen as one) but changes nothing in it;
    its feedback stays beside its summary, so the real run's feedback keeps the plain name."""
    ws = workspace(tmp_path)
    _received(returned(ws, MOJ), datetime(2026, 1, 10, tzinfo=UTC))
    _run(ws)
    sheet, total = cell_of(MOJ, "children_in_detention", "02")
    _, part = cell_of(MOJ, "children_in_detention", "02", "justice_status", "sentenced")
    _, male = cell_of(MOJ, "children_in_detention", "02", "sex", "male")
    old = {
        c: openpyxl.load_workbook(ws.inbox / "MOJ_2025.xlsx")[sheet][c].value
        for c in (total, part, male)
    }
    corrected = returned(
        ws, MOJ, name="MOJ_2025 v2.xlsx", cells={sheet: {c: old[c] + 1 for c in old}}
    )
    _received(corrected, datetime(2026, 1, 11, tzinfo=UTC))
    with Store.open(ws.store_url(), create=False) as store:
        before = store.fingerprint(), store.counts()
    dry = _run(ws, dry_run=True)
    assert _statuses(dry)["MOJ_2025 v2.xlsx"] == ("accepted", None)
    assert "resubmission" in [f.code.value for f in dry.files[1].findings]
    assert Path(dry.files[1].feedback or "").parent.parent == Path(dry.summary or "").parent
    with Store.open(ws.store_url(), create=False) as store:
        assert (store.fingerprint(), store.counts()) == before
    real = _run(ws)
    assert Path(real.files[1].feedback or "").name == "MOJ_2025 v2.feedback.xlsx"


def test_feedback_recorded_but_never_written_is_rebuilt_byte_for_byte(tmp_path: Path) -> None:
    """A correction's feedback (changed cells, the file it replaces) lost before it was written
    is rebuilt from the store by the next run, under its name, with the same bytes."""
    ws = workspace(tmp_path)
    first = returned(ws, MOJ, name="a.xlsx")
    _received(first, datetime(2026, 1, 10, tzinfo=UTC))
    _run(ws)
    sheet, total = cell_of(MOJ, "children_in_detention", "02")
    _, part = cell_of(MOJ, "children_in_detention", "02", "justice_status", "sentenced")
    _, male = cell_of(MOJ, "children_in_detention", "02", "sex", "male")
    old = {c: openpyxl.load_workbook(first)[sheet][c].value for c in (total, part, male)}
    second = returned(ws, MOJ, name="b.xlsx", cells={sheet: {c: old[c] + 1 for c in old}})
    _received(second, datetime(2026, 1, 11, tzinfo=UTC))
    report = _run(ws)
    b = next(f for f in report.files if f.file == "b.xlsx")
    assert (len(b.changes), b.previous) == (3, "a.xlsx")
    written = Path(b.feedback or "")
    original = written.read_bytes()
    written.unlink()  # as if the run had stopped between recording and writing
    with Store.open(ws.store_url(), create=False) as store:
        engine = store._engine  # the test plays a run that died
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE submissions SET feedback_written = 0 WHERE name_received = 'b.xlsx'"
            )
    again = _run(ws)
    assert _statuses(again)["b.xlsx"] == ("duplicate", "duplicate-file")
    assert written.read_bytes() == original


def test_two_runs_at_once_process_each_file_once(tmp_path: Path) -> None:
    """Two runs started together record each file exactly once; nobody sees a raw error."""
    ws = workspace(tmp_path)
    for i, m in enumerate(("MOJ", "MOH", "MOFA")):
        _received(returned(ws, m), datetime(2026, 1, 10 + i, tzinfo=UTC))
    cmd = [sys.executable, "-m", "cpxl.cli", "run", "--json", "--workspace", str(ws.root)]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert sorted(p.returncode for p in procs) in ([0, 0], [0, 3])
    for _, err in outs:
        assert b"Traceback" not in err and b"database is locked" not in err
    with Store.open(ws.store_url(), create=False) as store:
        assert sorted(s.name_received for s in store.submissions()) == [
            "MOFA_2025.xlsx",
            "MOH_2025.xlsx",
            "MOJ_2025.xlsx",
        ]


def test_warning_explained_in_the_feedback_workbook(tmp_path: Path) -> None:
    """A sender explains a warning in the feedback's Findings sheet and sends it back: accepted."""
    ws = workspace(tmp_path)
    _received(returned(ws, MOJ, period="2024"), datetime(2025, 1, 20, tzinfo=UTC))
    _run(ws)
    sheet = layout(MOJ).sheets[0]
    values = plan(catalogue(), layout(MOJ), SEED)
    tenfold = {
        sheet.cell("05", col): float(values[(sheet.name, sheet.cell("05", col))]) * 10
        for col in sheet.columns
        if col.element == "children_in_detention"
    }
    returned(ws, MOJ, cells={sheet.name: tenfold})
    report = _run(ws)
    result = next(f for f in report.files if f.file == "MOJ_2025.xlsx")
    _, total = cell_of(MOJ, "children_in_detention", "05")
    assert result.status == Status.ACCEPTED_WITH_WARNINGS
    assert where(result.findings) == {(sheet.name, total, "change-too-large")}
    wb = openpyxl.load_workbook(result.feedback or "")
    findings = wb["Findings"]
    row = next(r for r in range(2, findings.max_row + 1) if findings.cell(r, 3).value == total)
    findings.cell(row, 10).value = "A new detention centre opened in 2025"
    back = ws.inbox / "MOJ_2025 explained.xlsx"
    wb.save(back)
    _received(back, datetime(2026, 1, 20, tzinfo=UTC))
    again = next(f for f in _run(ws).files if f.file == back.name)
    assert again.status == Status.ACCEPTED
    assert [(f.code, f.severity, f.params.get("explanation")) for f in again.findings] == [
        (Code.CHANGE_TOO_LARGE, Severity.INFO, "A new detention centre opened in 2025"),
        (Code.RESUBMISSION, Severity.INFO, None),
    ]
    with Store.open(ws.store_url(), create=False) as store:
        assert store.counts()["explanations"] == 1


def test_returns_nobody_asked_for_are_errors(tmp_path: Path) -> None:
    """Collecting MoJ 2025, last year's return and another ministry's are refused."""
    ws = workspace(tmp_path)
    returned(ws, MOJ)
    returned(ws, MOJ, period="2024")
    returned(ws, "MOH")
    report = _run(ws, expect=Expectation((MOJ,), ("2025",)))
    assert _statuses(report) == {
        "MOJ_2025.xlsx": ("accepted", None),
        "MOJ_2024.xlsx": ("needs-correction", "unexpected-period"),
        "MOH_2025.xlsx": ("needs-correction", "unexpected-ministry"),
    }


def test_values_cross_from_worker_to_parent_intact() -> None:
    """A value pickles as the arguments of one call and comes back equal, blank or not."""
    values = [
        Value("e", "01", "sex", "female", 3.0, "", "Care", "C5", "៣"),
        Value("e", "02", "", "", None, "NK", "Care", "B6", "NK"),
        Value("e", "03", "", "", None),
    ]
    again = pickle.loads(pickle.dumps(values))  # noqa: S301 (bytes made here)
    assert again == values
    assert [v.blank for v in again] == [False, False, True]


def _failing_writer(folder: str, pending: object) -> str:
    raise OSError("the worker could not write")


def _dying_writer(folder: str, pending: object) -> str:
    os._exit(1)  # as a worker killed mid-write would


@pytest.mark.parametrize("writer", [_failing_writer, _dying_writer], ids=["fails", "dies"])
def test_feedback_is_written_when_its_worker_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: object
) -> None:
    """A feedback worker that fails or dies costs nothing: the parent writes each workbook."""
    monkeypatch.setattr(workers, "_write", writer)  # the workers fork with it in place
    ws = workspace(tmp_path)
    for i, ministry in enumerate((MOJ, MOWA)):
        _received(returned(ws, ministry), datetime(2026, 1, 10 + i, tzinfo=UTC))
    report = _run(ws)
    assert _statuses(report) == {
        "MOJ_2025.xlsx": ("accepted", None),
        "MOWA_2025.xlsx": ("accepted", None),
    }
    for f in report.files:
        book = openpyxl.load_workbook(f.feedback or "")
        assert book.sheetnames == ["Summary", "Findings"]
    with Store.open(ws.store_url(), create=False) as store:
        assert {s.name_received for s in store.submissions()} == {"MOJ_2025.xlsx", "MOWA_2025.xlsx"}


def test_a_corrected_feedback_workbook_sent_back_is_accepted_and_acknowledged(
    tmp_path: Path,
) -> None:
    """A return with an error gets a marked-up copy; the sender corrects the red cell in it and
    sends the feedback workbook back: it is accepted, and it is told which file it was compared
    with, which error is fixed and which cell changed (old -> new)."""
    ws = workspace(tmp_path)
    sheet, cell = cell_of(MOJ, "children_in_detention", "02")
    meant = dict(plan(catalogue(), layout(MOJ, "2025"), SEED))[(sheet, cell)]
    _received(returned(ws, MOJ, cells={sheet: {cell: "twelve"}}), datetime(2026, 1, 10, tzinfo=UTC))
    first = _run(ws)
    assert _statuses(first) == {"MOJ_2025.xlsx": ("needs-correction", "not-a-number")}
    assert (sheet, cell, "not-a-number") in where(first.files[0].findings)
    book = openpyxl.load_workbook(first.files[0].feedback or "")
    book[sheet][cell] = meant  # the sender types the figure into the red cell
    corrected = ws.inbox / "MOJ_2025 corrected.xlsx"
    book.save(corrected)
    _received(corrected, datetime(2026, 1, 12, tzinfo=UTC))
    second = _run(ws)
    back = next(f for f in second.files if f.file == "MOJ_2025 corrected.xlsx")
    assert back.status in (Status.ACCEPTED, Status.ACCEPTED_WITH_WARNINGS)
    assert back.previous == "MOJ_2025.xlsx"
    assert [(f.location.sheet, f.location.cell, f.code) for f in back.fixed] == [
        (sheet, cell, Code.NOT_A_NUMBER)
    ]
    assert back.still_open == ()
    assert [(c.sheet, c.cell, c.old, c.new) for c in back.changes] == [
        (sheet, cell, "twelve", f"{meant:,.0f}")
    ]
    summary = openpyxl.load_workbook(back.feedback or "")["Summary"]
    texts = {str(c.value) for row in summary.iter_rows() for c in row if c.value is not None}
    assert {"MOJ_2025.xlsx", "Problems now corrected", "twelve"} <= texts


def test_a_second_try_that_still_has_errors_says_which_are_fixed_and_which_are_open(
    tmp_path: Path,
) -> None:
    """A return with two errors, then a second try that fixes one: still 'needs correction',
    compared with the first, one error fixed and one still open."""
    ws = workspace(tmp_path)
    sheet, one = cell_of(MOJ, "children_in_detention", "02")
    _, two = cell_of(MOJ, "children_in_detention", "03")
    meant = dict(plan(catalogue(), layout(MOJ, "2025"), SEED))[(sheet, one)]
    _received(
        returned(ws, MOJ, cells={sheet: {one: "twelve", two: "nine"}}),
        datetime(2026, 1, 10, tzinfo=UTC),
    )
    _run(ws)
    again = returned(ws, MOJ, name="try 2.xlsx", cells={sheet: {one: meant, two: "nine"}})
    _received(again, datetime(2026, 1, 11, tzinfo=UTC))
    second = next(f for f in _run(ws).files if f.file == "try 2.xlsx")
    assert second.status == Status.NEEDS_CORRECTION
    assert second.previous == "MOJ_2025.xlsx"
    assert [(f.location.cell, f.code) for f in second.fixed] == [(one, Code.NOT_A_NUMBER)]
    assert [(f.location.cell, f.code) for f in second.still_open] == [(two, Code.NOT_A_NUMBER)]


def test_a_return_sent_again_after_it_was_refused_is_told_to_correct_it(tmp_path: Path) -> None:
    """The same bytes as a return that needs correction, sent again (in the same run, or later
    under a third name), are a duplicate that says the figures were never stored and what to do;
    a copy of an accepted return still asks nothing. The repeat's feedback, lost before it was
    written, is rebuilt with the same words and bytes."""
    ws = workspace(tmp_path)
    sheet, total = cell_of(MOJ, "children_in_detention", "02")
    refused = returned(ws, MOJ, name="a.xlsx", cells={sheet: {total: "twelve"}})
    _received(refused, datetime(2026, 1, 10, tzinfo=UTC))
    _received(copy_in(ws, refused, "a again.xlsx"), datetime(2026, 1, 11, tzinfo=UTC))
    first = _run(ws)
    assert _statuses(first) == {
        "a.xlsx": ("needs-correction", "not-a-number"),
        "a again.xlsx": ("duplicate", "duplicate-not-accepted"),
    }
    again = next(f for f in first.files if f.file == "a again.xlsx")
    assert [(f.code, f.severity, f.params["first"]) for f in again.findings] == [
        (Code.DUPLICATE_NOT_ACCEPTED, Severity.ERROR, "a.xlsx")
    ]
    summary = openpyxl.load_workbook(again.feedback or "")["Summary"]
    texts = " ".join(str(c.value) for row in summary.iter_rows() for c in row if c.value)
    assert "was not accepted: none of its figures were stored" in texts
    assert "មិនត្រូវបានទទួលយកទេ" in texts  # Khmer beside the English

    _received(copy_in(ws, refused, "a third time.xlsx"), datetime(2026, 1, 12, tzinfo=UTC))
    accepted = returned(ws, "MOH", name="h.xlsx")
    _received(accepted, datetime(2026, 1, 12, tzinfo=UTC))
    _received(copy_in(ws, accepted, "h again.xlsx"), datetime(2026, 1, 13, tzinfo=UTC))
    later = _statuses(_run(ws))
    assert later["a third time.xlsx"] == ("duplicate", "duplicate-not-accepted")
    assert (later["h.xlsx"], later["h again.xlsx"]) == (
        ("accepted", None),
        ("duplicate", "duplicate-file"),
    )

    written = Path(again.feedback or "")
    original = written.read_bytes()
    written.unlink()  # as if the run had stopped between recording and writing
    with Store.open(ws.store_url(), create=False) as store, store._engine.begin() as conn:
        conn.exec_driver_sql(  # the test plays a run that died
            "UPDATE repeats SET feedback_written = 0 WHERE name_received = 'a again.xlsx'"
        )
    _run(ws)
    assert written.read_bytes() == original
