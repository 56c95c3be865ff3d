"""A run killed, interrupted, starved of disk or memory, or started twice: nothing is half done.

Behaviours covered (properties 1, 2, 3 and 6 of ``test_properties.py``):
- killed (SIGKILL) right after each durable step of the store (a run started, each file
  recorded, the run finished), a run leaves the inbox as it was, a sound store, and each file
  either fully recorded or absent; the next run ends with exactly the store of an uninterrupted
  run;
- Ctrl-C (SIGINT to the whole process group, as a terminal sends it) does the same;
- two runs started at once both end in plain words, and each file is recorded exactly once;
- a disk that fills up costs the file being saved a "not-processed" status, never the store;
  the next run picks the file up;
- each hostile file, alone in a run capped at 512 MB of address space (soft and hard, so a
  worker cannot raise it), ends in its status well within the time cap;
- seeded damage to real returns (property 9: bytes flipped, cut short, parts dropped, doubled
  or garbled, odd number text, odd values typed into figures, keys and identity) gets a status
  in a capped run, and every figure stored equals what openpyxl reads in the archived copy.

Measured floor: a whole run (parent and forked workers, each under the cap) needs about 270 MB;
at 256 MB the worker pool cannot start its threads and the run waits forever. 512 MB leaves room.
``CPXL_LONG=1`` also kills a fresh run at every step and runs every campaign file alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import builders
import openpyxl
import pytest
from test_properties import (
    CAMPAIGN,
    LONG,
    ON_TIME,
    TIME_CAP_S,
    TRACEBACK,
    Finished,
    Kit,
    Snapshot,
    campaign_inbox,
    check_invariants,
    cli,
    closing_2023,
    edited,
    fingerprint,
    finish,
    members,
    memory_cap,
    new_workspace,
    reap,
    receive,
    shared_kit,
    snapshot,
    start,
    write_members,
)

from cpxl.findings import Code, Status
from cpxl.intake import run as intake_run
from cpxl.intake import run_inbox, workers
from cpxl.numbers import parse_cell
from cpxl.store import KILL_HOOK_VARIABLE, SIGNAL_HOOK_VARIABLE, Store
from cpxl.templates import IDENTITY_SHEET
from cpxl.workspace import LOCK_FILE, Workspace

FILES = (  # received in this order: commits are start, one per file, finish
    ("MOSVY-typo", "MOSVY_2025 draft.xlsx"),  # recorded with its findings, no values
    ("MOSVY-2025", "MOSVY_2025.xlsx"),  # recorded with 4,207 values
)
Stored = dict[str, tuple[Any, ...]]


def stored(ws: Workspace) -> Stored:
    """Every file the store holds (by sha256) with its record, values and findings."""
    with Store.open(ws.store_url(), create=False) as store:
        assert store.check() == ()
        return {
            s.sha256: (
                s.name_received,
                s.ministry,
                s.period,
                s.status,
                s.reason,
                s.days_late,
                store.values_of(s.id),
                store.findings_of(s.id),
            )
            for s in store.submissions()
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Pristine:
    """A workspace to restore before each fault, and what an uninterrupted run made of it."""

    ws: Workspace
    saved: Path
    before: Snapshot
    fingerprint: str
    stored: Stored
    feedback: tuple[str, ...]
    feedback_bytes: dict[str, bytes]

    def restore(self) -> Workspace:
        """Put the workspace back as it was before any run (same paths, same file times)."""
        shutil.rmtree(self.ws.root)
        shutil.copytree(self.saved, self.ws.root, symlinks=True)
        return self.ws


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Pristine:
    """A draft that needs correction, then its corrected return, and their uninterrupted run."""
    kit = shared_kit(tmp_path_factory)
    base = tmp_path_factory.mktemp("faults")
    ws = new_workspace(kit, base)
    for i, (key, name) in enumerate(FILES):
        receive(kit.returns[key], ws, name, ON_TIME + timedelta(seconds=i))
    saved = base / "pristine"
    shutil.copytree(ws.root, saved, symlinks=True)
    before = snapshot(ws.inbox)
    statuses = check_invariants(ws, before, run_inbox(ws, workers=2))
    assert statuses == {
        "MOSVY_2025 draft.xlsx": ("needs-correction", "required-blank"),
        "MOSVY_2025.xlsx": ("accepted", None),
    }
    return Pristine(
        ws, saved, before, fingerprint(ws), stored(ws), feedback_of(ws), feedback_bytes(ws)
    )


def feedback_of(ws: Workspace) -> tuple[str, ...]:
    """The names of the feedback workbooks written so far."""
    folder = ws.outbox / "feedback"
    return tuple(sorted(p.name for p in folder.iterdir())) if folder.is_dir() else ()


def feedback_bytes(ws: Workspace) -> dict[str, bytes]:
    """Each feedback workbook written so far, byte for byte."""
    return {name: (ws.outbox / "feedback" / name).read_bytes() for name in feedback_of(ws)}


def assert_whole(p: Pristine) -> None:
    """After a fault: inbox untouched, store sound, each file fully recorded or absent."""
    assert snapshot(p.ws.inbox) == p.before
    if Path(p.ws.store_url()).exists():
        now = stored(p.ws)
        assert now == {sha: p.stored.get(sha) for sha in now}


def lock_held(ws: Workspace, grace_s: float = 0.0) -> bool:
    """Whether something still holds the workspace lock (after waiting up to grace_s)."""
    deadline = time.monotonic() + grace_s
    with (ws.root / LOCK_FILE).open("a+") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return True
                time.sleep(0.1)
                continue
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return False


# ---------------------------------------------------------------------------------------------
# Killed at each durable step (property 3)


@dataclasses.dataclass(frozen=True, slots=True)
class Killed:
    """What the kill loop saw: exit codes, the lock after a kill mid-pool, the final run."""

    returncodes: tuple[int, ...]
    lock_held_after_kill: bool
    final: Finished
    fingerprint: str
    feedback: tuple[str, ...]


def killed(p: Pristine, hook: int, where: Path, *, grace_s: float = 0.0) -> tuple[int, bool]:
    """One run killed by the store's hook after its ``hook``-th commit; checked afterwards."""
    proc = start(cli(p.ws, "--workers", "1"), where, env={KILL_HOOK_VARIABLE: str(hook)})
    returncode = proc.wait(timeout=TIME_CAP_S)
    held = lock_held(p.ws, grace_s)
    reap(proc.pid)  # the machine went down: nothing of the run survives
    assert_whole(p)
    return returncode, held


@pytest.fixture(scope="module")
def kill_loop(pristine: Pristine, tmp_path_factory: pytest.TempPathFactory) -> Killed:
    """Runs killed one durable step further each time, then a run without the hook."""
    out = tmp_path_factory.mktemp("kills")
    ws = pristine.restore()
    # The first run dies after starting; each later one after its first commit past the start:
    # one more file recorded, and at last the run's finish. Then one run goes to the end.
    hooks = [1] + [2] * (len(FILES) + 1)
    codes, held = [], []
    for n, hook in enumerate(hooks):
        # The second run dies with its worker pool alive: give the workers time to go.
        code, lock = killed(pristine, hook, out / f"kill-{n}", grace_s=1.0 if n == 1 else 0.0)
        codes.append(code)
        held.append(lock)
    final = finish(start(cli(ws), out / "final"), out / "final")
    return Killed(tuple(codes), held[1], final, fingerprint(ws), feedback_of(ws))


@pytest.mark.slow
def test_killed_at_every_step_the_next_run_converges(pristine: Pristine, kill_loop: Killed) -> None:
    """Killed after each commit in turn, the runs leave a store equal to an uninterrupted run's."""
    assert kill_loop.returncodes == (-signal.SIGKILL,) * (len(FILES) + 2)
    final = kill_loop.final
    assert final.data is not None, final.stderr
    statuses = check_invariants(pristine.ws, pristine.before, final.data, final.stderr)
    assert statuses == {name: ("duplicate", "duplicate-file") for _, name in FILES}
    assert kill_loop.fingerprint == pristine.fingerprint


@pytest.mark.slow
def test_a_killed_run_leaves_nothing_holding_the_workspace(kill_loop: Killed) -> None:
    """Once a run is killed, the next run can start at once: no worker keeps the lock."""
    assert not kill_loop.lock_held_after_kill


@pytest.mark.slow
def test_every_file_gets_its_feedback_after_kills(pristine: Pristine, kill_loop: Killed) -> None:
    """After kills and a final run, every file received has its feedback workbook."""
    assert kill_loop.feedback == pristine.feedback


@pytest.mark.slow
def test_killed_after_recording_the_next_run_writes_the_same_feedback(
    pristine: Pristine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Killed once both files are recorded but before their feedback is confirmed written, the
    next run writes each workbook under its own name, byte for byte as an uninterrupted run
    did, and reports both files as processed before."""
    out = tmp_path_factory.mktemp("killed-before-feedback")
    ws = pristine.restore()
    commits_until_both_recorded = 1 + len(FILES)  # the run's start, then one per file
    code, _ = killed(pristine, commits_until_both_recorded, out / "kill")
    assert code == -signal.SIGKILL
    assert stored(ws) == pristine.stored
    final = finish(start(cli(ws), out / "final"), out / "final")
    assert final.data is not None, final.stderr
    statuses = check_invariants(ws, pristine.before, final.data, final.stderr)
    assert statuses == {name: ("duplicate", "duplicate-file") for _, name in FILES}
    assert feedback_bytes(ws) == pristine.feedback_bytes
    assert fingerprint(ws) == pristine.fingerprint


@pytest.mark.slow
@pytest.mark.skipif(not LONG, reason="a fresh kill at every step runs with CPXL_LONG=1")
def test_a_fresh_run_killed_at_any_step_converges(
    pristine: Pristine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A fresh run killed after its k-th commit, then run again, ends as an uninterrupted run."""
    out = tmp_path_factory.mktemp("fresh-kills")
    hook = 0
    while True:
        hook += 1
        pristine.restore()
        code, _ = killed(pristine, hook, out / f"kill-{hook}")
        if code != -signal.SIGKILL:  # the hook was never reached: the run went to its end
            break
        again = finish(start(cli(pristine.ws), out / f"again-{hook}"), out / f"again-{hook}")
        assert again.data is not None, again.stderr
        check_invariants(pristine.ws, pristine.before, again.data, again.stderr)
        assert fingerprint(pristine.ws) == pristine.fingerprint
    # Commits: the run's start, one per file, the feedback confirmed, the run's end; the hook
    # one past the last is never reached.
    assert (hook, code) == (len(FILES) + 4, 1)
    assert fingerprint(pristine.ws) == pristine.fingerprint


# ---------------------------------------------------------------------------------------------
# Ctrl-C (property 3)


STOPPED = (
    "cpxl: stopped. Every file is either fully stored or not at all; "
    "run the same command again to finish.\n"
)


@pytest.fixture(scope="module")
def interrupted(pristine: Pristine, tmp_path_factory: pytest.TempPathFactory) -> Finished:
    """A run sent Ctrl-C (to its whole process group) mid-way: right after the first file is
    stored, while its two workers are still at work. The store's test hook presses it at that
    exact point, so a fast machine cannot finish the run first."""
    out = tmp_path_factory.mktemp("ctrl-c")
    ws = pristine.restore()
    hook = {KILL_HOOK_VARIABLE: "2", SIGNAL_HOOK_VARIABLE: "INT"}  # start_run, first file
    return finish(start(cli(ws, "--workers", "2"), out, env=hook), out, timeout=120)


@pytest.mark.slow
def test_ctrl_c_leaves_a_whole_store_and_the_next_run_converges(
    pristine: Pristine, interrupted: Finished
) -> None:
    """Ctrl-C stops the run; the store is sound, and the next run ends as an uninterrupted one."""
    assert (interrupted.returncode, interrupted.data, interrupted.leftovers) == (130, None, False)
    assert_whole(pristine)
    report = run_inbox(pristine.ws, workers=2)
    check_invariants(pristine.ws, pristine.before, report)
    assert fingerprint(pristine.ws) == pristine.fingerprint


@pytest.mark.slow
def test_ctrl_c_shows_plain_words(interrupted: Finished) -> None:
    """Ctrl-C shows the officer one plain sentence, never a Python traceback."""
    first, second = interrupted.stderr.splitlines()
    assert first + "\n" == STOPPED
    assert re.fullmatch(
        r"Finished before stopping: (1 file|\d+ files); summary: .+summary\.xlsx", second
    )


# Presses Ctrl-C at the worst moment: in the parent, just as the pool forks its first worker.
CTRL_C_AT_FORK = textwrap.dedent(
    """
    import os, signal, sys
    pressed = []
    def press():
        if not pressed:
            pressed.append(True)
            os.kill(os.getpid(), signal.SIGINT)
    os.register_at_fork(after_in_parent=press)
    from cpxl.cli import main
    main(["run", "--json", "--workspace", sys.argv[1]])
    """
)


@pytest.mark.slow
def test_ctrl_c_as_the_workers_start_still_stops_the_run(
    pristine: Pristine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Ctrl-C at the instant the first worker starts stops the run in plain words too."""
    out = tmp_path_factory.mktemp("ctrl-c-at-fork")
    ws = pristine.restore()
    run = finish(start([sys.executable, "-c", CTRL_C_AT_FORK, str(ws.root)], out), out)
    assert_whole(pristine)
    assert (run.returncode, run.stderr.splitlines()[0] + "\n") == (130, STOPPED)


# ---------------------------------------------------------------------------------------------
# Two runs at once, and a full disk


@pytest.mark.slow
def test_two_runs_at_once_record_each_file_once(
    pristine: Pristine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two runs started together both end in plain words; each file is recorded exactly once."""
    out = tmp_path_factory.mktemp("twice")
    ws = pristine.restore()
    procs = [start(cli(ws), out / name) for name in ("a", "b")]
    runs = [finish(proc, out / name) for proc, name in zip(procs, ("a", "b"), strict=True)]
    for run in runs:
        assert run.returncode in (0, 1, 3)
        assert TRACEBACK.search(run.stderr) is None, run.stderr
        if run.returncode == 3:
            assert run.stderr.startswith("cpxl: Another cpxl run is working in "), run.stderr
        else:
            assert run.data is not None
            check_invariants(ws, pristine.before, run.data, run.stderr)
    assert [run.returncode for run in runs].count(3) <= 1  # one of them ran
    with Store.open(ws.store_url(), create=False) as store:
        shas = [s.sha256 for s in store.submissions()]
    assert sorted(shas) == sorted(pristine.stored)
    assert fingerprint(ws) == pristine.fingerprint


def disk_of(size: int) -> Callable[[], None]:
    """A child whose files cannot grow past ``size`` bytes, as on a disk that is full."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return apply


@pytest.mark.slow
def test_a_full_disk_costs_one_file_a_status_never_the_store(
    pristine: Pristine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A return too big for the disk is 'not processed', the store stays whole, a rerun ends it."""
    out = tmp_path_factory.mktemp("full")
    ws = pristine.restore()
    run = finish(start(cli(ws), out, limit=disk_of(400 * 1024)), out)
    assert run.data is not None, run.stderr
    statuses = check_invariants(ws, pristine.before, run.data, run.stderr)
    assert statuses == {
        "MOSVY_2025 draft.xlsx": ("needs-correction", "required-blank"),
        "MOSVY_2025.xlsx": ("not-processed", "environment-failed"),
    }
    assert (run.returncode, run.stderr) == (1, "")
    assert_whole(pristine)
    assert [record[0] for record in stored(ws).values()] == ["MOSVY_2025 draft.xlsx"]
    again = run_inbox(ws, workers=2)
    assert check_invariants(ws, pristine.before, again)["MOSVY_2025.xlsx"] == ("accepted", None)
    assert fingerprint(ws) == pristine.fingerprint


# ---------------------------------------------------------------------------------------------
# Fuzzing: seeded damage to real returns (property 9)

FUZZ_CASES = 400 if LONG else 60
MUTATIONS = ("flip", "truncate", "drop", "duplicate", "garble", "number-text", "cells", "keys")
ODD_VALUES: tuple[object, ...] = (
    "twelve", -5, 10**15, 1e308, "១២", "=1/0", "=SUM(A1:A3)", datetime(2025, 1, 1),
    date(2024, 2, 29), 3.5, "", None, "NA", True, " 12 ", "1,234", "1.234,5", "12%", "1e5",
    "\u200b12", "x" * 3000, 0, "NC", "-0", "1" + "0" * 300, "01", "99", "=HYPERLINK(\"x\")",
)  # fmt: skip
ODD_NUMBER_TEXT = (b"1e999", b"NaN", b"-inf", b"1e308", b"-0", b"0x10", b"", b" 7 ", b"1_000")


def fuzzed(rng: random.Random, source: Path, target: Path, kind: str, ministry: str) -> Path:
    """A damaged copy of a real return: one seeded mutation of the given kind."""
    data = source.read_bytes()
    if kind == "flip":
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 16)):
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
        target.write_bytes(bytes(damaged))
        return target
    if kind == "truncate":
        target.write_bytes(data[: rng.randrange(1, len(data))])
        return target
    if kind in ("cells", "keys"):
        return edited(source, target, _typing(rng, kind, ministry))
    parts = list(members(source).items())
    i = rng.randrange(len(parts))
    name, body = parts[i]
    if kind == "drop":
        del parts[i]
    elif kind == "duplicate":
        parts.append((name, rng.choice([body, parts[rng.randrange(len(parts))][1]])))
    elif kind == "garble":
        cut = body[: rng.randrange(len(body) + 1)]
        garbage = rng.randbytes(rng.randint(0, 4000))
        parts[i] = (name, rng.choice([cut, garbage, body.replace(b"<", b"&lt;", 1)]))
    else:  # number-text: a number stored in a sheet rewritten as odd text
        sheets = [j for j, (n, _) in enumerate(parts) if n.startswith("xl/worksheets/sheet")]
        j = rng.choice(sheets)
        numbers = list(re.finditer(rb"<v>([^<]*)</v>", parts[j][1]))
        if numbers:
            found, xml = rng.choice(numbers), parts[j][1]
            odd = rng.choice(ODD_NUMBER_TEXT)
            parts[j] = (parts[j][0], xml[: found.start(1)] + odd + xml[found.end(1) :])
    return write_members(target, parts)


def _typing(rng: random.Random, kind: str, ministry: str) -> Callable[[Any], None]:
    lay = builders.layout(ministry)

    def change(book: Any) -> None:
        for _ in range(rng.randint(1, 4)):
            value = rng.choice(ODD_VALUES)
            if kind == "cells":
                sheet = rng.choice(lay.sheets)
                cell = sheet.cell(rng.choice(sheet.areas).code, rng.choice(sheet.columns))
                book[sheet.name][cell] = value
            else:  # the cells that say where things are: keys, labels and the identity
                name = rng.choice([*(s.name for s in lay.sheets), IDENTITY_SHEET])
                target = book[name].cell(rng.randint(1, 12), rng.randint(1, 5))
                if not isinstance(target, openpyxl.cell.cell.MergedCell):
                    target.value = value

    return change


def stored_but_not_in_file(store: Store, sha: str) -> list[str]:
    """Values stored for a file that differ from what its archived copy holds at that cell."""
    record = store.by_sha256(sha)
    if record is None:
        return []
    values = store.values_of(record.id)
    if record.status not in (Status.ACCEPTED, Status.ACCEPTED_WITH_WARNINGS):
        return [f"{record.name_received}: {len(values)} values of a {record.status}"] * bool(values)
    try:
        cells = read_cells(Path(record.archive_path), {(v.sheet, v.cell) for v in values})
    except Exception as exc:  # an accepted file that openpyxl cannot read is itself a finding
        return [f"{record.name_received}: openpyxl cannot read it ({exc!r})"]
    catalogue = builders.catalogue()
    out = []
    for v in values:
        raw = cells.get((v.sheet, v.cell))
        kind = catalogue.elements[v.element].value_type
        parsed = parse_cell(raw, kind, catalogue.missing_reasons)
        if (parsed.value, parsed.missing) != (v.value, v.missing):
            out.append(f"{record.name_received} {v.sheet}!{v.cell}: {raw!r} stored as {v}")
    return out


def read_cells(path: Path, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], object]:
    """What openpyxl (data_only, as Excel shows it) reads at the wanted cells of a workbook."""
    out: dict[tuple[str, str], object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        for sheet in {s for s, _ in wanted}:
            cells = {c for s, c in wanted if s == sheet}
            for row in book[sheet].iter_rows():
                for cell in row:
                    coordinate = getattr(cell, "coordinate", None)
                    if coordinate in cells:
                        out[(sheet, coordinate)] = cell.value
    finally:
        book.close()
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class Fuzzed:
    """Damaged returns in one inbox, and the capped run over them."""

    ws: Workspace
    before: Snapshot
    run: Finished


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Fuzzed:
    """Seeded damaged copies of two real returns, run together under the memory cap."""
    kit = shared_kit(tmp_path_factory)
    base = tmp_path_factory.mktemp("fuzz")
    ws = new_workspace(kit, base)
    made = base / "made"
    made.mkdir()
    sources = (("MOJ", kit.returns["MOJ-2025"]), ("MOWA", kit.returns["MOWA-2025"]))
    for n in range(FUZZ_CASES):
        rng = random.Random(n)
        ministry, source = rng.choice(sources)
        kind = MUTATIONS[n % len(MUTATIONS)]
        path = fuzzed(rng, source, made / f"fuzz-{n:03d}-{kind}.xlsx", kind, ministry)
        receive(path, ws, path.name, ON_TIME + timedelta(seconds=n))
    before = snapshot(ws.inbox)
    run = finish(start(cli(ws), base / "run", limit=memory_cap()), base / "run")
    return Fuzzed(ws, before, run)


@pytest.mark.slow
def test_damaged_returns_get_a_status_and_store_only_what_they_hold(fuzz: Fuzzed) -> None:
    """Seeded damage to real returns never stops a run, and no stored figure is invented."""
    assert fuzz.run.data is not None, fuzz.run.stderr
    statuses = check_invariants(fuzz.ws, fuzz.before, fuzz.run.data, fuzz.run.stderr)
    with Store.open(fuzz.ws.store_url(), create=False) as store:
        shas = [f["sha256"] for f in fuzz.run.data["files"]]
        assert [p for sha in shas for p in stored_but_not_in_file(store, sha)] == []
    assert len({status for status, _ in statuses.values()}) >= 4  # the damage was varied


@pytest.mark.slow
def test_no_damaged_return_crashes_the_reader(fuzz: Fuzzed) -> None:
    """No damaged return makes the reader fail in a way it did not foresee (reader-crashed)."""
    assert fuzz.run.data is not None
    crashed = [f["file"] for f in fuzz.run.data["files"] if f["reason"] == "reader-crashed"]
    assert crashed == []


def _damaged_sheet(parts: dict[str, bytes]) -> None:
    del parts["xl/worksheets/sheet2.xml"]  # listed in the workbook, gone from the package


def _garbled_sheet(parts: dict[str, bytes]) -> None:
    xml = parts["xl/worksheets/sheet2.xml"]
    parts["xl/worksheets/sheet2.xml"] = xml[: len(xml) // 2]


def _number_text(text: bytes) -> Callable[[dict[str, bytes]], None]:
    def change(parts: dict[str, bytes]) -> None:
        xml = parts["xl/worksheets/sheet2.xml"]
        found = next(re.finditer(rb't="n"><v>([0-9.]+)</v>', xml))
        parts["xl/worksheets/sheet2.xml"] = xml[: found.start(1)] + text + xml[found.end(1) :]

    return change


def _in_parts(change: Callable[[dict[str, bytes]], None]) -> Callable[[Path, Path], Path]:
    def make(source: Path, target: Path) -> Path:
        parts = members(source)
        change(parts)
        return write_members(target, parts)

    return make


def _typed(male: object, female: object) -> Callable[[Path, Path], Path]:
    def make(source: Path, target: Path) -> Path:
        sheet, a = builders.cell_of("MOJ", "children_in_detention", "01", "sex", "male")
        _, b = builders.cell_of("MOJ", "children_in_detention", "01", "sex", "female")

        def type_in(book: Any) -> None:
            book[sheet][a], book[sheet][b] = male, female

        return edited(source, target, type_in)

    return make


DAMAGED_PACKAGES = {
    "sheet part missing.xlsx": _in_parts(_damaged_sheet),
    "sheet cut short.xlsx": _in_parts(_garbled_sheet),
    "number calamine rejects.xlsx": _in_parts(_number_text(b"0x10")),
}
ODD_FIGURES = {
    "NaN figure.xlsx": _in_parts(_number_text(b"NaN")),
    "parts past the largest number.xlsx": _typed(1e308, 1e308),
    "400 digits as text.xlsx": _typed("9" * 400, 1),
}


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Snapshot, Finished]:
    """One return of each damage the fuzzing found, then a clean return, in one capped run."""
    kit = shared_kit(tmp_path_factory)
    base = tmp_path_factory.mktemp("damaged")
    ws = new_workspace(kit, base)
    cases = {**DAMAGED_PACKAGES, **ODD_FIGURES}
    for i, (name, make) in enumerate(cases.items()):
        made = make(kit.returns["MOJ-2025"], base / name)
        receive(made, ws, name, ON_TIME + timedelta(seconds=i))
    later = ON_TIME + timedelta(seconds=len(cases))
    receive(kit.returns["MOWA-2025"], ws, "MOWA_2025.xlsx", later)
    before = snapshot(ws.inbox)
    return ws, before, finish(start(cli(ws), base / "run", limit=memory_cap()), base / "run")


def test_a_damaged_package_is_unreadable_and_the_run_goes_on(
    damaged: tuple[Workspace, Snapshot, Finished],
) -> None:
    """Sheets missing, cut short or holding numbers no reader parses make a file unreadable."""
    ws, before, run = damaged
    assert run.data is not None, run.stderr
    statuses = check_invariants(ws, before, run.data, run.stderr)
    assert {name: statuses[name][0] for name in DAMAGED_PACKAGES} == dict.fromkeys(
        DAMAGED_PACKAGES, "unreadable"
    )
    assert statuses["MOWA_2025.xlsx"] == ("accepted", None)


def test_an_odd_figure_is_a_correction_not_a_crash(
    damaged: tuple[Workspace, Snapshot, Finished],
) -> None:
    """A NaN, figures summing past the largest number or 400 digits ask for a correction."""
    _, _, run = damaged
    assert run.data is not None
    got = {f["file"]: f["status"] for f in run.data["files"] if f["file"] in ODD_FIGURES}
    assert got == dict.fromkeys(ODD_FIGURES, "needs-correction")


# ---------------------------------------------------------------------------------------------
# Each hostile file alone, under the memory cap (property 6)

HEAVY = ("bomb.xlsx", "liar.xlsx", "laughs.xlsx", "MOJ_2025 stray.xlsx")
# Alone, a file has no earlier return to repeat or to be compared with.
ALONE = {
    "MOJ_2024 (copy).xlsx": ("accepted", None),
    "=1+1.xlsx": ("accepted", None),
    "-HYPERLINK(x).xlsx": ("unreadable", "empty-file"),
    "MOJ_2025 resaved.xlsx": ("accepted", None),
    "MOJ_2025 stray.xlsx": ("accepted", None),
    "MOJ_2025 rows.xlsx": ("accepted", None),
    "province/MOSVY_2025 fixed.xlsx": ("accepted", None),
}


def alone(source: Path, name: str, ws: Workspace) -> None:
    """Put one campaign file into an inbox of its own, as it was (links stay links)."""
    target = ws.inbox / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        target.symlink_to(source.readlink())
    elif source.is_fifo():
        os.mkfifo(target)
    else:
        shutil.copy2(source, target)


def in_pairs(items: list[Any], run: Callable[[Any], Any]) -> Iterator[Any]:
    """Run two at a time (this machine has two cores)."""
    for i in range(0, len(items), 2):
        yield from run(items[i : i + 2])


@pytest.mark.slow
def test_each_hostile_file_alone_stays_within_memory_and_time(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Each hostile file, alone in a run capped at 512 MB, gets its status within the time cap."""
    kit = shared_kit(tmp_path_factory)
    base = tmp_path_factory.mktemp("alone")
    staged = new_workspace(kit, base / "staged", rules=closing_2023)
    campaign_inbox(kit, staged, base / "made", base / "outside", port=9)
    names = sorted(CAMPAIGN) if LONG else list(HEAVY)
    cases = []
    for i, name in enumerate(names):
        ws = new_workspace(kit, base / f"case-{i}", rules=closing_2023)
        alone(staged.inbox / name, name, ws)
        cases.append((name, ws, snapshot(ws.inbox)))

    def run_pair(pair: list[tuple[str, Workspace, Snapshot]]) -> list[tuple[str, Any]]:
        procs = [start(cli(ws), ws.root / "run", limit=memory_cap()) for _, ws, _ in pair]
        done = [finish(proc, ws.root / "run") for proc, (_, ws, _) in zip(procs, pair, strict=True)]
        got = []
        for run, (name, ws, before) in zip(done, pair, strict=True):
            assert run.data is not None, (name, run.stderr)
            assert (run.returncode in (0, 1), run.leftovers) == (True, False)
            got.append((name, check_invariants(ws, before, run.data, run.stderr)[name]))
        return got

    results: Mapping[str, Any] = dict(in_pairs(cases, run_pair))
    assert results == {name: ALONE.get(name, CAMPAIGN[name]) for name in names}


# ---------------------------------------------------------------------------------------------
# Every fault is a status, never a crash (odd names, full disks, dying readers, two officers)

UNSAFE_NAME = os.fsdecode(b"MOJ 2025 r\xe9sum\xe9.xlsx")  # unzipped from an old Windows archive
NEWLINE_NAME = "MOJ 2025\nsecond line.xlsx"


def inbox_of(kit_returns: Mapping[str, Path], ws: Workspace, names: Mapping[str, str]) -> None:
    """Receive the kit's returns under these names, a minute apart, in this order."""
    for i, (name, key) in enumerate(names.items()):
        receive(kit_returns[key], ws, name, ON_TIME + timedelta(minutes=i))


def statuses_of(data: Mapping[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {f["file"]: (f["status"], f["reason"]) for f in data["files"]}


OK = ("accepted", "accepted-with-warnings")
NATIVE_LAST_WORDS = b"memory allocation of 549755813888 bytes failed\n"
TROUBLE: dict[str, str] = {}  # file name -> "die" or "hang", read by the forked workers
_REAL_WORK = workers.check_in_worker


def troubled_work(path: str, shown: str) -> object:
    """A worker's job that is killed (as by a native reader's abort) or hangs (as on a return
    with 600,000 cell styles) on the files named in TROUBLE."""
    trouble = TROUBLE.get(shown)
    if trouble == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if trouble == "abort":  # as python-calamine does on a sheet it cannot size
        os.write(2, NATIVE_LAST_WORDS)
        os.abort()
    if trouble == "hang":
        time.sleep(600)
    return _REAL_WORK(path, shown)


@pytest.fixture
def troubled(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Workers that fork with troubled_work in place; the test names the troubled files."""
    monkeypatch.setattr(workers, "check_in_worker", troubled_work)
    TROUBLE.clear()
    yield TROUBLE
    TROUBLE.clear()


def test_a_reader_dying_while_files_are_queued_costs_that_file_only(
    kit: Kit, tmp_path: Path, troubled: dict[str, str]
) -> None:
    """A worker killed on one file while the others wait in the queue: that file is
    unreadable, every other file is processed, and the run ends with its report."""
    ws = new_workspace(kit, tmp_path / "a")
    names = {
        "1.xlsx": "MOJ-2023",
        "2.xlsx": "MOJ-2024",
        "3.xlsx": "MOSVY-2024",
        "4.xlsx": "MOWA-2025",
    }
    inbox_of(kit.returns, ws, names)
    troubled["2.xlsx"] = "die"
    report = run_inbox(ws, workers=1)
    got = {f.file: (f.status.value, f.reason) for f in report.files}
    assert got.pop("2.xlsx") == ("unreadable", Code.READER_CRASHED)
    assert {status for status, _ in got.values()} <= set(OK) and len(got) == 3


def test_a_native_readers_last_words_go_to_the_runs_log_not_the_screen(
    kit: Kit, tmp_path: Path, troubled: dict[str, str]
) -> None:
    """A reader that prints and aborts: the officer sees a status and no native text; the
    words are kept in the run's workers.log."""
    ws = new_workspace(kit, tmp_path / "a")
    inbox_of(kit.returns, ws, {"1.xlsx": "MOJ-2023", "2.xlsx": "MOJ-2024"})
    troubled["1.xlsx"] = "abort"
    err = tmp_path / "stderr"
    with err.open("w+b") as handle:
        saved = os.dup(2)
        os.dup2(handle.fileno(), 2)  # the officer's terminal
        try:
            report = run_inbox(ws, workers=1)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    assert {f.file: f.reason for f in report.files}["1.xlsx"] == Code.READER_CRASHED
    assert NATIVE_LAST_WORDS not in err.read_bytes()
    (log,) = (ws.outbox / "runs").glob("*/workers.log")
    assert NATIVE_LAST_WORDS in log.read_bytes()


def test_odd_names_are_shown_escaped_everywhere_and_processed_once(
    kit: Kit, tmp_path: Path
) -> None:
    """A name that is not UTF-8 and one with a newline: each is processed, shown with its odd
    bytes escaped in the JSON, the store and the feedback's name, and a rerun adds nothing."""
    ws = new_workspace(kit, tmp_path / "a")
    inbox_of(kit.returns, ws, {UNSAFE_NAME: "MOJ-2024", NEWLINE_NAME: "MOJ-2025"})
    first = finish(start(cli(ws), tmp_path / "first"), tmp_path / "first")
    assert first.data is not None, first.stderr
    assert sorted(statuses_of(first.data)) == [
        "MOJ 2025 r\\xe9sum\\xe9.xlsx",
        "MOJ 2025\\nsecond line.xlsx",
    ]
    assert {status for status, _ in statuses_of(first.data).values()} <= set(OK)
    assert sorted(Path(f["feedback"]).name for f in first.data["files"]) == [
        "MOJ 2025 r_xe9sum_xe9.feedback.xlsx",  # a backslash is no part of a Windows name
        "MOJ 2025_nsecond line.feedback.xlsx",
    ]
    with Store.open(ws.store_url(), create=False) as store:
        assert sorted(s.name_received for s in store.submissions()) == sorted(
            statuses_of(first.data)
        )
    written = feedback_of(ws)
    again = finish(start(cli(ws), tmp_path / "again"), tmp_path / "again")
    assert again.data is not None, again.stderr
    assert {s for s, _ in statuses_of(again.data).values()} == {"duplicate"}
    assert (again.returncode, feedback_of(ws)) == (0, written)


def test_a_file_removed_between_scan_and_copy_is_not_processed(
    kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that disappears after the inbox was read is 'not processed', saying it was
    removed; the others are processed."""
    ws = new_workspace(kit, tmp_path / "a")
    inbox_of(kit.returns, ws, {"1.xlsx": "MOJ-2023", "2.xlsx": "MOJ-2024"})
    real_scan = intake_run.scan

    def scan_then_remove(inbox: Path, within: Path | None = None) -> Any:
        found = real_scan(inbox, within)
        (inbox / "1.xlsx").unlink()  # the officer moves it away at that very moment
        return found

    monkeypatch.setattr(intake_run, "scan", scan_then_remove)
    report = run_inbox(ws, workers=1)
    by_name = {f.file: f for f in report.files}
    assert (by_name["1.xlsx"].status, by_name["1.xlsx"].reason) == (
        Status.NOT_PROCESSED,
        Code.ENVIRONMENT_FAILED,
    )
    assert "removed" in by_name["1.xlsx"].findings[0].params["detail"]
    assert by_name["2.xlsx"].status == Status.ACCEPTED


def without_dac(argv: list[str]) -> list[str]:
    """Run as root but without the power to read and write past file permissions."""
    return ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", *argv]


needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv"
)


@needs_root
def test_a_file_the_officer_may_not_read_is_not_processed(kit: Kit, tmp_path: Path) -> None:
    """An inbox file without read permission is 'not processed', saying to check its
    permissions; the others are processed."""
    ws = new_workspace(kit, tmp_path / "a")
    inbox_of(kit.returns, ws, {"1.xlsx": "MOJ-2023", "2.xlsx": "MOJ-2024"})
    (ws.inbox / "1.xlsx").chmod(0)
    done = finish(start(without_dac(cli(ws)), tmp_path / "out"), tmp_path / "out")
    assert done.data is not None, done.stderr
    assert statuses_of(done.data)["1.xlsx"] == ("not-processed", "environment-failed")
    assert statuses_of(done.data)["2.xlsx"][0] in OK
    assert "permissions" in done.data["files"][0]["findings"][0]["message_en"]
    assert done.returncode == 1


@needs_root
def test_a_read_only_store_stops_the_run_in_words(kit: Kit, tmp_path: Path) -> None:
    """A store this account may not write to stops the run with exit 3 and plain words."""
    ws = new_workspace(kit, tmp_path / "a")
    inbox_of(kit.returns, ws, {"1.xlsx": "MOJ-2023"})
    run_inbox(ws, workers=1)  # the store and the workspace's lock exist, as after any run
    receive(kit.returns["MOJ-2024"], ws, "2.xlsx", ON_TIME)
    for path in (Path(ws.store_url()), ws.root):
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        done = finish(start(without_dac(cli(ws)), tmp_path / "out"), tmp_path / "out")
    finally:
        ws.root.chmod(0o755)
    assert done.returncode == 3
    assert "may not write to the store" in done.stderr
    assert TRACEBACK.search(done.stderr) is None


def mounted(folder: Path, size: str) -> Iterator[None]:
    """A small tmpfs at ``folder``: a real disk that fills up."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


can_mount = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mount") is None, reason="mounting a tmpfs needs root"
)


@can_mount
def test_a_full_archive_disk_costs_each_file_a_status_and_the_next_run_ends_it(
    kit: Kit,
    tmp_path: Path,
) -> None:
    """With the archive's disk full, every file is 'not processed' (the disk is named), the run
    ends with its report, and a run with room processes them."""
    ws = new_workspace(kit, tmp_path / "a")
    inbox_of(kit.returns, ws, {"1.xlsx": "MOJ-2023", "2.xlsx": "MOJ-2024"})
    with contextlib.contextmanager(mounted)(ws.archive, "16k"):
        done = finish(start(cli(ws), tmp_path / "full"), tmp_path / "full")
    assert done.data is not None, done.stderr
    assert statuses_of(done.data) == {
        "1.xlsx": ("not-processed", "environment-failed"),
        "2.xlsx": ("not-processed", "environment-failed"),
    }
    assert "archive is full" in done.data["files"][0]["findings"][0]["message_en"]
    again = run_inbox(ws, workers=1)
    assert {f.status.value for f in again.files} <= set(OK)


@can_mount
def test_a_full_outbox_keeps_the_data_and_the_next_run_writes_the_feedback(
    kit: Kit,
    tmp_path: Path,
) -> None:
    """With the outbox's disk full, files are still checked and stored; their feedback comes
    with the next run that has room, under the names the store gave them."""
    ws = new_workspace(kit, tmp_path / "a")
    inbox_of(kit.returns, ws, {"1.xlsx": "MOJ-2023", "2.xlsx": "MOJ-2024"})
    with contextlib.contextmanager(mounted)(ws.outbox, "4k"):
        done = finish(start(cli(ws), tmp_path / "full"), tmp_path / "full")
    assert done.data is not None, done.stderr
    assert {status for status, _ in statuses_of(done.data).values()} <= set(OK)
    assert [f["feedback"] for f in done.data["files"]] == [None, None]
    again = run_inbox(ws, workers=1)
    assert {f.status for f in again.files} == {Status.DUPLICATE}
    assert feedback_of(ws) == ("1.feedback.xlsx", "2.feedback.xlsx")


def test_a_huge_file_is_refused_before_anything_is_copied(kit: Kit, tmp_path: Path) -> None:
    """A 2 GiB file is 'file too large' without being copied into the archive, and a rerun
    knows it."""
    ws = new_workspace(kit, tmp_path / "a")
    inbox_of(kit.returns, ws, {"1.xlsx": "MOJ-2023"})
    huge = ws.inbox / "huge.xlsx"
    with huge.open("wb") as handle:
        handle.truncate(2 * 1024**3)  # sparse: no disk is used
    os.utime(huge, (ON_TIME.timestamp(), ON_TIME.timestamp()))
    report = run_inbox(ws, workers=1)
    by_name = {f.file: f for f in report.files}
    assert by_name["huge.xlsx"].reason == Code.FILE_TOO_LARGE
    archived = [p.stat().st_size for p in ws.archive.rglob("*") if p.is_file()]
    assert max(archived) < 25 * 1024**2
    again = run_inbox(ws, workers=1)
    assert {f.status for f in again.files} == {Status.DUPLICATE}


def with_sheet(source: Path, target: Path, change: Callable[[bytes], bytes]) -> Path:
    """A copy of a return whose first data sheet's XML is changed as bytes."""
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in z.infolist():
            data = z.read(info.filename)
            out.writestr(
                info, change(data) if info.filename == "xl/worksheets/sheet2.xml" else data
            )
    return target


FAR_ROW = b'<row r="1048576"><c r="XFD1048576"><v>5</v></c></row></sheetData>'
DIMENSIONS: dict[str, Callable[[bytes], bytes]] = {
    "missing": lambda d: re.sub(rb'<dimension ref="[^"]*" ?/>', b"", d).replace(
        b"</sheetData>", FAR_ROW
    ),
    "lying": lambda d: re.sub(
        rb'<dimension ref="[^"]*" ?/>', b'<dimension ref="A1:B2"/>', d
    ).replace(b"</sheetData>", FAR_ROW),
    "quoted": lambda d: re.sub(
        rb'<dimension ref="[^"]*" ?/>', b"<dimension ref='A1:XFD1048576'/>", d
    ).replace(b"</sheetData>", FAR_ROW),
    "past the last column": lambda d: d.replace(
        b"</sheetData>", b'<row r="40"><c r="XFE40"><v>7</v></c></row></sheetData>'
    ),
}


@pytest.mark.parametrize("case", list(DIMENSIONS))
def test_a_sheet_is_read_within_the_cells_it_holds(kit: Kit, tmp_path: Path, case: str) -> None:
    """A sheet whose declared area is missing, lies or is quoted, with a value in its very
    last cell (or past it): the return is read, the far value is reported at its cell, and
    nothing a native reader says reaches the terminal."""
    ws = new_workspace(kit, tmp_path / "a")
    odd = with_sheet(kit.returns["MOJ-2024"], tmp_path / "odd.xlsx", DIMENSIONS[case])
    receive(odd, ws, "odd.xlsx", ON_TIME)
    done = finish(start(cli(ws), tmp_path / "out"), tmp_path / "out")
    assert done.data is not None, done.stderr
    (only,) = done.data["files"]
    assert only["status"] in ("accepted", "accepted-with-warnings"), only
    far = "XFE40" if case == "past the last column" else "XFD1048576"
    assert [(f["cell"], f["code"]) for f in only["findings"] if f["code"] == "stray-value"] == [
        (far, "stray-value")
    ]
    assert done.stderr == ""


def test_a_file_past_the_time_limit_gets_a_status_and_the_run_goes_on(
    kit: Kit, tmp_path: Path, troubled: dict[str, str]
) -> None:
    """A file still being checked when its time is up is stopped and marked 'too slow'; the
    files after it are processed."""
    ws = new_workspace(kit, tmp_path / "a")
    inbox_of(kit.returns, ws, {"1.xlsx": "MOJ-2023", "2.xlsx": "MOJ-2024", "3.xlsx": "MOWA-2025"})
    troubled["2.xlsx"] = "hang"
    report = run_inbox(ws, workers=1, time_limit=20)
    got = {f.file: (f.status.value, f.reason) for f in report.files}
    assert got.pop("2.xlsx") == ("unreadable", Code.TOO_SLOW)
    assert {status for status, _ in got.values()} <= set(OK) and len(got) == 2


def test_sigterm_stops_a_run_in_words_with_a_summary_of_what_it_finished(
    kit: Kit, tmp_path: Path
) -> None:
    """SIGTERM (a shutdown) after the first file is recorded: exit 130, plain words, and a run
    summary that lists the finished file; the next run finishes the rest."""
    ws = new_workspace(kit, tmp_path / "a")
    inbox_of(kit.returns, ws, {"1.xlsx": "MOJ-2023", "2.xlsx": "MOJ-2024"})
    env = {KILL_HOOK_VARIABLE: "2", SIGNAL_HOOK_VARIABLE: "TERM"}  # after start, and file 1
    done = finish(start(cli(ws, "--workers", "1"), tmp_path / "out", env=env), tmp_path / "out")
    assert done.returncode == 130
    assert "stopped" in done.stderr and TRACEBACK.search(done.stderr) is None
    (summary,) = (ws.outbox / "runs").glob("*/summary.json")
    files = json.loads(summary.read_text(encoding="utf-8"))["files"]
    assert [f["file"] for f in files] == ["1.xlsx"] and files[0]["status"] in OK
    again = {f.file: f.status.value for f in run_inbox(ws, workers=1).files}
    assert again["1.xlsx"] == "duplicate" and again["2.xlsx"] in OK


def test_a_number_with_a_space_inside_is_an_error_at_its_cell(tmp_path: Path) -> None:
    """'1 2' may be 12 or two figures: it is an error at its cell, never read as 12."""
    ws = builders.workspace(tmp_path / "a")
    sheet, cell = builders.cell_of("MOJ", "children_in_detention", "02")
    builders.returned(ws, "MOJ", cells={sheet: {cell: "1 2"}})
    report = run_inbox(ws, workers=1)
    (only,) = report.files
    assert only.status == Status.NEEDS_CORRECTION
    assert (sheet, cell, Code.SPACED_NUMBER) in {
        (f.location.sheet, f.location.cell, f.code) for f in only.findings
    }


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_officers_at_once_on_one_store_each_file_once(
    kit: Kit, tmp_path: Path, backend: str
) -> None:
    """Two workspaces with the same files, run at once against one store: each file is
    recorded once, and the run that did not record it says 'duplicate', never 'not processed'."""
    if backend == "postgres":
        store_url = builders.new_pg_schema("t")
    else:
        store_url = str(tmp_path / "shared.sqlite")
        Store.open(store_url).close()  # the officers' shared store, made once
    names = {
        f"{i}.xlsx": key
        for i, key in enumerate(
            ["MOJ-2023", "MOJ-2024", "MOSVY-2024", "MOJ-2025", "MOSVY-2025", "MOWA-2025"]
        )
    }
    spaces = [new_workspace(kit, tmp_path / side) for side in ("a", "b")]
    for ws in spaces:
        inbox_of(kit.returns, ws, names)
    procs = [
        start(cli(ws, "--store", store_url, "--workers", "1"), tmp_path / f"out-{i}")
        for i, ws in enumerate(spaces)
    ]
    done = [finish(p, tmp_path / f"out-{i}") for i, p in enumerate(procs)]
    for d in done:
        assert d.data is not None, d.stderr
    a, b = (statuses_of(d.data) for d in done)
    for name in names:
        one, other = sorted([a[name][0], b[name][0]], key=lambda s: s == "duplicate")
        assert (one in OK, other) == (True, "duplicate"), (name, a, b)
    with Store.open(store_url, create=False) as store:
        assert sorted(s.name_received for s in store.submissions()) == sorted(names)


@pytest.fixture
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    """The session's kit of templates and real returns."""
    return shared_kit(tmp_path_factory)
