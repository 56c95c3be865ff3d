"""What a data officer can rely on from a run, whatever lands in the inbox.

The properties, in words for an official's manager:

1. Originals are sacred. After any run (normal, failed, killed, out of disk) every file in the
   inbox has the same name, size, date and content (sha256) as before.
2. Every file gets exactly one answer, and the run goes on. Each file present gets one status of
   the eleven, and no programmer's error text (a Python traceback) reaches the screen or the JSON.
3. A run cut off at any moment (the computer killed, Ctrl-C) leaves each file either fully
   recorded or not at all, and the next run ends exactly where an uninterrupted one would have.
4. Running twice changes nothing: the second run over the same inbox finds only files it has seen.
5. The order files arrive in does not matter, except where a later return replaces an earlier
   one for the same ministry and period (the documented resubmission order).
6. No file can exhaust the computer: each hostile file is handled within 512 MB of memory and a
   time limit, and gets a plain status.
7. Nothing reaches outside: no network connection is opened (a listener on this computer hears
   nothing even when a file asks to fetch from it), no file outside the inbox, the rules, the
   templates and the store is read, shortcuts (symbolic links) are not followed, and no macro or
   formula is run.
8. Nothing active travels: no workbook cpxl writes holds a formula, a link to elsewhere or an
   external link, and CSV exports defuse text starting with = + - @.
9. Damaged copies of real returns (bytes flipped, cut short, parts dropped, doubled or garbled,
   odd values typed into cells) each get a status, none stops the run, and no stored figure
   differs from what the file holds in that cell.

This module proves 1, 2, 4, 5, 6 (every case together, in one capped run), 7 and 8;
``test_faults.py`` proves 3, 6 (each hostile file alone), 9, a full disk and two runs at once.
``check_invariants`` checks 1, 2 and 8 after every run. Slow loops are small by default;
``CPXL_LONG=1`` runs more of them (400 damaged returns instead of 60, five shuffles instead of
one, a fresh kill at every step, every campaign file alone).

Known gaps are written as strict expected failures, each naming the fault in one line.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import textwrap
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import builders
import hostile
import openpyxl
import pytest

import cpxl
from cpxl import api
from cpxl.catalogue import builtin_rules
from cpxl.findings import RunReport, Status
from cpxl.intake import run_inbox
from cpxl.simulate import fill_return, plan
from cpxl.store import Store
from cpxl.templates import (
    IDENTITY_SHEET,
    Identity,
    build_layout,
    generate_templates,
    write_template,
)
from cpxl.workspace import Workspace

LONG = os.environ.get("CPXL_LONG", "") == "1"
MEMORY_CAP = 512 * 1024**2  # the hostile-file cap; the measured floor of a run is about 270 MB
TIME_CAP_S = 300  # a guard against a hang, not a speed target
ON_TIME = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)  # annual 2025 returns are due in February
TRACEBACK = re.compile(r'Traceback \(most recent call last\)|File "[^"]+", line \d+')
FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
STATUSES = frozenset(s.value for s in Status)
Snapshot = dict[str, tuple[str, int, int, str]]


# ---------------------------------------------------------------------------------------------
# The invariants every run must keep (properties 1, 2 and 8)


def snapshot(folder: Path) -> Snapshot:
    """Every entry of a folder, links not followed: kind, size, mtime and sha256 (or target)."""
    out: Snapshot = {}
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in sorted([*files, *dirs]):
            path = Path(root) / name
            info = path.lstat()
            rel = path.relative_to(folder).as_posix()
            if stat.S_ISLNK(info.st_mode):
                out[rel] = ("link", 0, 0, str(path.readlink()))
            elif stat.S_ISREG(info.st_mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                out[rel] = ("file", info.st_size, info.st_mtime_ns, digest)
            else:
                kind = "dir" if stat.S_ISDIR(info.st_mode) else "other"
                out[rel] = (kind, 0, 0, "")
    return out


def check_invariants(
    ws: Workspace,
    before: Snapshot,
    report_or_json: RunReport | Mapping[str, Any],
    console: str = "",
) -> dict[str, tuple[str, str | None]]:
    """Assert properties 1, 2 and 8 after a run; return each file's (status, reason)."""
    assert snapshot(ws.inbox) == before, "the run changed the inbox"
    data = report_or_json.to_dict() if isinstance(report_or_json, RunReport) else report_or_json
    files = data["files"]
    # Every entry but folders gets a status; the inbox's own README.md is documented as none.
    present = sorted(k for k, v in before.items() if v[0] != "dir" and k != "README.md")
    assert sorted(f["file"] for f in files) == present, "not exactly one status per file"
    assert {f["status"] for f in files} <= STATUSES
    text = json.dumps(data, ensure_ascii=False) + console
    assert TRACEBACK.search(text) is None, "a Python traceback reached the officer"
    assert inert_problems(ws.outbox) == []
    return {f["file"]: (f["status"], f["reason"]) for f in files}


def inert_problems(folder: Path) -> list[str]:
    """Formulas, links to elsewhere, external links, macros and live CSV text in outputs."""
    problems: list[str] = []
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".xlsx":
            problems += _xlsx_problems(path)
        elif path.suffix == ".csv":
            problems += _csv_problems(path)
    return problems


def _xlsx_problems(path: Path) -> list[str]:
    # The package-level form of openpyxl's data_type == "f" and cell.hyperlink.target: a <f>
    # element in a sheet, or a relationship that points outside the workbook.
    out = []
    with zipfile.ZipFile(path) as book:
        for name in book.namelist():
            data = book.read(name)
            if "externalLink" in name or name.endswith("vbaProject.bin"):
                out.append(f"{path.name}: {name}")
            if name.endswith(".rels") and b'TargetMode="External"' in data:
                out.append(f"{path.name}: {name} points outside the workbook")
            if name.startswith("xl/worksheets/") and FORMULA.search(data):
                out.append(f"{path.name}: formula in {name}")
    return out


def _csv_problems(path: Path) -> list[str]:
    rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")))
    return [
        f"{path.name}: live text {field!r}"
        for row in rows
        for field in row
        if field[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(field)
    ]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Building workspaces and running cpxl


@dataclasses.dataclass(frozen=True, slots=True)
class Kit:
    """Templates issued once per session, and real returns filled through them."""

    templates: Path
    returns: Mapping[str, Path]


_KITS: dict[str, Kit] = {}


def shared_kit(factory: pytest.TempPathFactory) -> Kit:
    """The session's kit, built on first use (issuing templates is the slow part)."""
    if "kit" not in _KITS:
        _KITS["kit"] = _build_kit(factory.mktemp("kit"))
    return _KITS["kit"]


def _build_kit(root: Path) -> Kit:
    ws = builders.workspace(root)
    for period, ministries in (("2023", ("MOSVY", "MOJ")), ("2024", ("MOSVY", "MOJ"))):
        generate_templates(builders.catalogue(), period, ws.templates, ministries)
    generate_templates(builders.catalogue(), "2025", ws.templates, ("MOSVY", "MOJ", "MOWA"))
    made = {
        "MOJ-2023": builders.returned(ws, "MOJ", "2023", name="a.xlsx"),
        "MOJ-2024": builders.returned(ws, "MOJ", "2024", name="b.xlsx"),
        "MOSVY-2024": builders.returned(ws, "MOSVY", "2024", name="c.xlsx"),
        "MOJ-2025": builders.returned(ws, "MOJ", "2025", name="d.xlsx", seed=3),
        "MOJ-2025-other": builders.returned(ws, "MOJ", "2025", name="e.xlsx", seed=8),
        "MOSVY-2025": builders.returned(ws, "MOSVY", "2025", name="f.xlsx", seed=3),
        "MOSVY-typo": builders.returned(ws, "MOSVY", "2025", name="g.xlsx", mistakes=True),
        "MOWA-2025": builders.returned(ws, "MOWA", "2025", name="h.xlsx"),
    }
    return Kit(ws.templates, made)


def new_workspace(kit: Kit, base: Path, *, rules: Callable[[str], str] | None = None) -> Workspace:
    """An empty workspace in base/ws with the kit's templates (and its own rules if asked)."""
    ws = builders.workspace(base)
    shutil.rmtree(ws.templates)
    shutil.copytree(kit.templates, ws.templates)
    if rules is not None:
        shutil.copytree(builtin_rules(), ws.root / "rules", ignore=shutil.ignore_patterns("__*"))
        calendar = ws.root / "rules" / "calendar.yaml"
        calendar.write_text(rules(calendar.read_text(encoding="utf-8")), encoding="utf-8")
    return ws


def receive(source: Path, ws: Workspace, name: str, when: datetime) -> Path:
    """Copy a file into the inbox as received at ``when`` (cpxl orders by that time)."""
    target = ws.inbox / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    os.utime(target, (when.timestamp(), when.timestamp()))
    return target


@dataclasses.dataclass(frozen=True, slots=True)
class Finished:
    """A finished ``cpxl run --json`` subprocess."""

    returncode: int
    data: dict[str, Any] | None
    stderr: str
    leftovers: bool  # processes of the run still alive after its parent ended


def cli(ws: Workspace, *extra: str) -> list[str]:
    """The command line of ``cpxl run --json`` on a workspace."""
    return [sys.executable, "-m", "cpxl.cli", "run", "--json", "--workspace", str(ws.root), *extra]


def start(
    argv: Sequence[str],
    out_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    limit: Callable[[], None] | None = None,
) -> subprocess.Popen[bytes]:
    """Start cpxl in its own process group, output to files (a pipe would hang on leftovers)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "stdout").open("wb") as out, (out_dir / "stderr").open("wb") as err:
        return subprocess.Popen(
            argv,
            stdout=out,
            stderr=err,
            env={**os.environ, **(env or {})},
            preexec_fn=limit,  # the limits are set in the child alone
            process_group=0,
            cwd=out_dir,
        )


def finish(proc: subprocess.Popen[bytes], out_dir: Path, timeout: float = TIME_CAP_S) -> Finished:
    """Wait for the run, then end anything of its process group that outlived it."""
    returncode = proc.wait(timeout=timeout)
    leftovers = reap(proc.pid)
    text = (out_dir / "stdout").read_text(encoding="utf-8")
    try:
        data = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        data = None
    return Finished(returncode, data, (out_dir / "stderr").read_text("utf-8"), leftovers)


def reap(group: int) -> bool:
    """Kill whatever is left of a process group; True when something was left."""
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def memory_cap(limit: int = MEMORY_CAP) -> Callable[[], None]:
    """Cap a child's address space, soft and hard (a worker may not raise it back)."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def fingerprint(ws: Workspace) -> str:
    """The store's data fingerprint."""
    with Store.open(ws.store_url(), create=False) as store:
        return store.fingerprint()


# ---------------------------------------------------------------------------------------------
# Derived returns, made as a sender or a hostile file would make them


def edited(source: Path, target: Path, change: Callable[[Any], None]) -> Path:
    """A copy of a return opened, changed and saved with openpyxl (as Excel would)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl notes the parts it does not keep
        book = openpyxl.load_workbook(source)
        change(book)
        book.save(target)
    return target


def first_sheet(ministry: str = "MOJ") -> str:
    """The name of a ministry's first data sheet."""
    return builders.layout(ministry).sheets[0].name


def retired_return(folder: Path) -> Path:
    """A MOJ 2025 return filled on a template of a version no longer accepted (0)."""
    lay = dataclasses.replace(builders.layout("MOJ"), template_version=0)
    template = folder / "retired-template.xlsx"
    write_template(template, builders.catalogue(), lay, Identity.of(lay, "2024-06-01T00:00:00Z"))
    fill_return(template, folder / "retired.xlsx", plan_of(lay))
    return folder / "retired.xlsx"


def plan_of(lay: Any) -> dict[tuple[str, str], float | str]:
    """A clean simulated return for a layout."""
    return plan(builders.catalogue(), lay, builders.SEED)


def off_calendar_template(folder: Path) -> Path:
    """MOJ's template for a quarter MOJ does not report (made, never issued by this office)."""
    lay = build_layout(builders.catalogue(), "MOJ", "2025Q1")
    path = folder / "MOJ_2025Q1.xlsx"
    write_template(path, builders.catalogue(), lay, Identity.of(lay, "2025-03-01T00:00:00Z"))
    return path


def pointing_links(folder: Path, port: int) -> Path:
    """A workbook whose external link points at a listener on this computer."""
    path = hostile.external_links(folder)
    parts = members(path)
    rels = "xl/externalLinks/_rels/externalLink1.xml.rels"
    parts[rels] = parts[rels].replace(
        b"file:///C:/other.xlsx", f"http://127.0.0.1:{port}/other.xlsx".encode()
    )
    return write_members(path, parts)


def members(path: Path) -> dict[str, bytes]:
    """A zip's members, in order."""
    with zipfile.ZipFile(path) as book:
        return {info.filename: book.read(info) for info in book.infolist()}


def write_members(path: Path, parts: Mapping[str, bytes] | Sequence[tuple[str, bytes]]) -> Path:
    """Write zip members as given (names may repeat: zipfile warns, we mean it)."""
    items = parts.items() if isinstance(parts, Mapping) else parts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
            for name, data in items:
                book.writestr(name, data)
    return path


# ---------------------------------------------------------------------------------------------
# The campaign: every kind of input in one inbox, one run under the memory cap, watched


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.hits: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            self.hits.append(str(peer))
            conn.close()

    def close(self) -> None:
        """Stop listening."""
        self._stop.set()
        self._thread.join()
        self.sock.close()


# Runs cpxl with an audit hook (inherited by forked workers) that logs every file opened,
# network call and program started, so the test can see what was touched.
AUDITED_RUN = textwrap.dedent(
    """
    import os, sys
    log = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    WATCH = ("open", "socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn",
             "os.spawn", "urllib.", "http.", "webbrowser.", "ftplib.", "smtplib.")
    def hook(event, args):
        if not event.startswith(WATCH):
            return
        target = args[0] if args else ""
        if isinstance(target, bytes):
            target = os.fsdecode(target)
        if event == "open" and not isinstance(target, str):
            return
        if event == "socket.__new__":
            return  # a socket pair between processes opens nothing outside
        line = (event + "\\t" + str(target).replace("\\n", " ") + "\\n").encode("utf-8", "replace")
        os.write(log, line)
    sys.addaudithook(hook)
    from cpxl.cli import main
    main(["run", "--json", "--workspace", sys.argv[2]])
    """
)


@dataclasses.dataclass(frozen=True, slots=True)
class Campaign:
    """The campaign's workspace, what it held, and what the capped run did."""

    ws: Workspace
    before: Snapshot
    run: Finished
    events: tuple[tuple[str, str], ...]
    hits: tuple[str, ...]
    outside: Path
    allowed: tuple[Path, ...]


def campaign_inbox(kit: Kit, ws: Workspace, made: Path, outside: Path, port: int) -> None:
    r = kit.returns
    made.mkdir()
    early = datetime(2025, 1, 15, 9, tzinfo=UTC)
    for i, (key, name) in enumerate(
        [
            ("MOJ-2024", "MOJ_2024.xlsx"),
            ("MOSVY-2024", "MOSVY_2024.xlsx"),
            ("MOJ-2024", "MOJ_2024 (copy).xlsx"),  # the same file under two names
            ("MOJ-2023", "MOJ_2023.xlsx"),  # a period the office has closed
        ]
    ):
        receive(r[key], ws, name, early + timedelta(seconds=i))
    sheet = first_sheet()
    figures, formula_cell = builders.cell_of("MOJ", "children_in_detention", "01", "sex", "male")

    def stray(book: Any) -> None:
        book[sheet]["XFD1048576"] = "stray"

    def formatted_rows(book: Any) -> None:
        font = openpyxl.styles.Font(bold=True)
        for row in range(200, 20_200):
            book[sheet].cell(row, 3).font = font

    def fetching_formula(book: Any) -> None:
        book[figures][formula_cell] = f'=WEBSERVICE("http://127.0.0.1:{port}/")'

    def no_identity(book: Any) -> None:
        del book[IDENTITY_SHEET]
        book.custom_doc_props.props.clear()

    def edited_identity(book: Any) -> None:
        ident = book[IDENTITY_SHEET]
        row = next(n for n in range(1, 20) if ident.cell(n, 1).value == "ministry")
        ident.cell(row, 2).value = "MOSVY"

    def resaved(book: Any) -> None:
        book.properties.creator = "Provincial officer"

    def active_sheet_title(book: Any) -> None:
        book[sheet].title = "=2+3"

    moj = r["MOJ-2025"]
    made_files = [
        (edited(moj, made / "moj-active.xlsx", active_sheet_title), "=1+1.xlsx"),  # far from 2024
        (edited(moj, made / "moj-resaved.xlsx", resaved), "MOJ_2025 resaved.xlsx"),
        (r["MOSVY-typo"], "MOSVY_2025.xlsx"),
        (r["MOWA-2025"], "MOSVY_2025 final.xlsx"),  # another ministry's return, misnamed
        (r["MOSVY-2025"], "province/MOSVY_2025 fixed.xlsx"),
        (edited(moj, made / "moj-stray.xlsx", stray), "MOJ_2025 stray.xlsx"),
        (edited(moj, made / "moj-rows.xlsx", formatted_rows), "MOJ_2025 rows.xlsx"),
        (edited(moj, made / "moj-formula.xlsx", fetching_formula), "MOJ_2025 formula.xlsx"),
        (edited(moj, made / "moj-noid.xlsx", no_identity), "MOJ_2025 no identity.xlsx"),
        (edited(moj, made / "moj-edited.xlsx", edited_identity), "MOJ_2025 edited.xlsx"),
        (retired_return(made), "MOJ_2025 old version.xlsx"),
        (off_calendar_template(made), "MOJ_2025Q1.xlsx"),
        (hostile.empty_file(made), "empty.xlsx"),
        (hostile.empty_file(made), "-HYPERLINK(x).xlsx"),
        (hostile.text_as_xlsx(made), "notes.xlsx"),
        (hostile.truncated_xlsx(made), "truncated.xlsx"),
        (hostile.workbook(made), "budget from elsewhere.xlsx"),
        (hostile.xxe(made, port=port), "xxe.xlsx"),
        (hostile.xxe(made, port=port, name="xxe16.xlsx", encoding="utf-16"), "xxe16.xlsx"),
        (hostile.billion_laughs(made), "laughs.xlsx"),
        (hostile.external_dtd(made, port=port), "dtd.xlsx"),
        (hostile.ods_xxe(made, port=port), "xxe.ods"),
        (pointing_links(made, port), "links.xlsx"),
        (hostile.macro_enabled(made), "macros.xlsx"),
        (hostile.macro_sheet(made), "xlm.xlsx"),
        (hostile.ods_with_macros(made), "macros.ods"),
        (hostile.honest_bomb(made), "bomb.xlsx"),
        (hostile.lying_bomb(made), "liar.xlsx"),
        (hostile.encrypted_xlsx(made), "locked.xlsx"),
        (hostile.legacy_xls(made), "legacy.xls"),
        (hostile.strict_xlsx(made), "strict.xlsx"),
        (hostile.stray_value(made), "stray.xlsx"),
        (hostile.too_many_parts(made), "parts.xlsx"),
        (hostile.unsafe_member(made), "escape.xlsx"),
        (hostile.duplicate_member(made), "twins.xlsx"),
        (hostile.zip_password(made), "zipped.xlsx"),
        (hostile.docx_as_xlsx(made), "letter.xlsx"),
        (hostile.csv_file(made), "return.csv"),
        (hostile.ods(made), "return.ods"),
        (hostile.xlsb_like(made), "binary.xlsx"),
        (hostile.wrong_checksum(made), "checksum.xlsx"),
        (hostile.ods_encrypted(made), "locked.ods"),
        (hostile.legacy_xls(made, name="locked.xls", password=True), "locked.xls"),
        (hostile.empty_file(made, name="lock"), "~$MOJ_2025.xlsx"),  # Office's lock file
        (hostile.empty_file(made, name="lo-lock"), ".~lock.MOJ_2025.xlsx#"),
        (hostile.text_as_xlsx(made, name="hidden"), ".hidden.xlsx"),
    ]
    for i, (source, name) in enumerate(made_files):
        receive(source, ws, name, ON_TIME + timedelta(seconds=i))
    (ws.inbox / "README.md").write_text("Drop returns here.\n", encoding="utf-8")
    outside.mkdir()
    edited(r["MOWA-2025"], outside / "secret.xlsx", _titled("not for cpxl"))
    (ws.inbox / "shortcut.xlsx").symlink_to(outside / "secret.xlsx")
    (ws.inbox / "shortcut folder").symlink_to(outside, target_is_directory=True)
    os.mkfifo(ws.inbox / "pipe.xlsx")  # reading it would wait forever


def _titled(title: str) -> Callable[[Any], None]:
    def change(book: Any) -> None:
        book.properties.title = title

    return change


# Every file of the campaign and the status it gets (and why): the table a data officer sees.
CAMPAIGN = {
    "MOJ_2024.xlsx": ("accepted", None),
    "MOSVY_2024.xlsx": ("accepted", None),
    "MOJ_2024 (copy).xlsx": ("duplicate", "duplicate-file"),
    "MOJ_2023.xlsx": ("period-closed", "period-closed"),
    "=1+1.xlsx": ("accepted-with-warnings", None),
    "MOJ_2025 resaved.xlsx": ("unchanged", "unchanged-submission"),
    "MOSVY_2025.xlsx": ("needs-correction", "required-blank"),
    "MOSVY_2025 final.xlsx": ("accepted", None),
    "province/MOSVY_2025 fixed.xlsx": ("accepted-with-warnings", None),
    "MOJ_2025 stray.xlsx": ("unchanged", "unchanged-submission"),
    "MOJ_2025 rows.xlsx": ("unchanged", "unchanged-submission"),
    "MOJ_2025 formula.xlsx": ("needs-correction", "formula-without-result"),
    "MOJ_2025 no identity.xlsx": ("not-a-template", "no-identity"),
    "MOJ_2025 edited.xlsx": ("not-a-template", "identity-tampered"),
    "MOJ_2025 old version.xlsx": ("not-a-template", "retired-template"),
    "MOJ_2025Q1.xlsx": ("not-a-template", "unknown-template"),
    "empty.xlsx": ("unreadable", "empty-file"),
    "-HYPERLINK(x).xlsx": ("duplicate", "duplicate-not-accepted"),  # as empty as empty.xlsx
    "notes.xlsx": ("unreadable", "not-a-spreadsheet"),
    "truncated.xlsx": ("unreadable", "unreadable-workbook"),
    "budget from elsewhere.xlsx": ("not-a-template", "no-identity"),
    "xxe.xlsx": ("unsafe", "xml-entities"),
    "xxe16.xlsx": ("unsafe", "xml-entities"),
    "laughs.xlsx": ("unsafe", "xml-entities"),
    "dtd.xlsx": ("unsafe", "xml-entities"),
    "xxe.ods": ("unsafe", "xml-entities"),
    "links.xlsx": ("unsafe", "external-links"),
    "macros.xlsx": ("unsafe", "macros"),
    "xlm.xlsx": ("unsafe", "macros"),
    "macros.ods": ("unsafe", "macros"),
    "bomb.xlsx": ("unsafe", "zip-bomb"),
    "liar.xlsx": ("unsafe", "zip-bomb"),
    "locked.xlsx": ("unreadable", "password-protected"),
    "legacy.xls": ("not-a-template", "no-identity"),
    "strict.xlsx": ("unreadable", "unreadable-workbook"),
    "stray.xlsx": ("not-a-template", "no-identity"),
    "parts.xlsx": ("unsafe", "too-many-parts"),
    "escape.xlsx": ("unsafe", "unsafe-member-name"),
    "twins.xlsx": ("unsafe", "unsafe-member-name"),
    "zipped.xlsx": ("unreadable", "password-protected"),
    "letter.xlsx": ("unreadable", "not-a-spreadsheet"),
    "return.csv": ("unreadable", "not-a-spreadsheet"),
    "return.ods": ("not-a-template", "no-identity"),
    "binary.xlsx": ("unreadable", "unreadable-workbook"),
    "checksum.xlsx": ("unreadable", "unreadable-workbook"),
    "locked.ods": ("unreadable", "password-protected"),
    "locked.xls": ("unreadable", "password-protected"),
    "~$MOJ_2025.xlsx": ("skipped", "lock-file"),
    ".~lock.MOJ_2025.xlsx#": ("skipped", "lock-file"),
    ".hidden.xlsx": ("skipped", "hidden-file"),
    "shortcut.xlsx": ("skipped", "not-a-regular-file"),
    "shortcut folder": ("skipped", "not-a-regular-file"),
    "pipe.xlsx": ("skipped", "not-a-regular-file"),
}


def closing_2023(calendar: str) -> str:
    assert "closed_periods: []" in calendar
    return calendar.replace("closed_periods: []", 'closed_periods: ["2023"]')


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    """The campaign inbox, run once by the command line under the memory cap and watched."""
    kit = shared_kit(tmp_path_factory)
    base = tmp_path_factory.mktemp("campaign")
    ws = new_workspace(kit, base, rules=closing_2023)
    listener = Listener()
    try:
        campaign_inbox(kit, ws, base / "made", base / "outside", listener.port)
        before = snapshot(ws.inbox)
        log = base / "audit.log"
        argv = [sys.executable, "-c", AUDITED_RUN, str(log), str(ws.root)]
        tmp = base / "tmp"
        tmp.mkdir()
        proc = start(argv, base / "run", env={"TMPDIR": str(tmp)}, limit=memory_cap())
        run = finish(proc, base / "run")
    finally:
        listener.close()
    lines = log.read_text(encoding="utf-8").splitlines()
    events = tuple((e, t) for e, _, t in (line.partition("\t") for line in lines))
    package = Path(cpxl.__file__).parent
    paths = sysconfig.get_paths()
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, paths["stdlib"], paths["purelib"]}
    allowed = (ws.root, tmp, package, builtin_rules(), *map(Path, prefixes))
    yield Campaign(ws, before, run, events, tuple(listener.hits), base / "outside", allowed)


def test_campaign_gives_every_file_one_plain_status(campaign: Campaign) -> None:
    """Each of 53 inputs, run together under 512 MB, gets its one expected status."""
    run = campaign.run
    assert run.data is not None, run.stderr
    statuses = check_invariants(campaign.ws, campaign.before, run.data, run.stderr)
    assert statuses == CAMPAIGN
    assert (run.returncode, run.stderr, run.leftovers) == (1, "", False)
    # Every status but one occurs here; the full-disk test in test_faults.py has the last.
    assert STATUSES - {status for status, _ in statuses.values()} == {"not-processed"}


def test_campaign_touches_nothing_outside(campaign: Campaign) -> None:
    """No connection is made, no program started, and nothing outside the workspace is read."""
    assert campaign.hits == ()
    kinds = {event for event, _ in campaign.events}
    assert kinds == {"open"}  # no socket, no subprocess, no URL: only files opened
    # Python asks its import hooks for a few relative names (e.g. the editable-install finder).
    opened = {Path(t) for _, t in campaign.events if Path(t).is_absolute()}
    roots = (*campaign.allowed, *map(Path, ("/dev", "/proc", "/sys", "/etc", "/usr/share")))
    assert sorted(str(p) for p in opened if not any(p.is_relative_to(r) for r in roots)) == []
    assert not any(p.resolve().is_relative_to(campaign.outside) for p in opened)
    inbox = campaign.ws.inbox
    unopened = (inbox / "shortcut.xlsx", inbox / "shortcut folder", inbox / "pipe.xlsx")
    assert [p for p in opened if p.is_relative_to(unopened[1]) or p in unopened] == []


def test_campaign_follows_no_shortcut(campaign: Campaign) -> None:
    """A shortcut to a return outside the inbox is skipped: its content is never archived."""
    secret = (campaign.outside / "secret.xlsx").read_bytes()
    digest = hashlib.sha256(secret).hexdigest()
    archived = {p.name.split(".")[0] for p in campaign.ws.archive.rglob("*") if p.is_file()}
    assert digest not in archived
    assert all(p.read_bytes() != secret for p in campaign.ws.archive.rglob("*") if p.is_file())


def test_campaign_files_a_return_under_its_own_ministry(campaign: Campaign) -> None:
    """MOWA's return sent under MOSVY's file name is stored as MOWA's, never as MOSVY's."""
    with Store.open(campaign.ws.store_url(), create=False) as store:
        got = {s.name_received: (s.ministry, s.period, s.is_current) for s in store.submissions()}
    assert got["MOSVY_2025 final.xlsx"] == ("MOWA", "2025", True)
    assert got["province/MOSVY_2025 fixed.xlsx"] == ("MOSVY", "2025", True)


def test_campaign_reports_a_value_typed_outside_the_data_cells(campaign: Campaign) -> None:
    """A value typed in the sheet's very last cell is reported where it is, not ignored."""
    assert campaign.run.data is not None
    (stray,) = [f for f in campaign.run.data["files"] if f["file"] == "MOJ_2025 stray.xlsx"]
    found = {(x["sheet"], x["cell"], x["code"]) for x in stray["findings"]}
    assert (first_sheet(), "XFD1048576", "stray-value") in found


def test_second_run_changes_nothing(campaign: Campaign) -> None:
    """Running again over the same inbox finds only known files and changes no stored data."""
    ws = campaign.ws
    stored = fingerprint(ws)
    feedback = sorted(p.name for p in (ws.outbox / "feedback").iterdir())
    archive = snapshot(ws.archive)
    report = run_inbox(ws, workers=2)
    statuses = check_invariants(ws, campaign.before, report)
    skipped = {k for k, v in CAMPAIGN.items() if v[0] == "skipped"}
    assert statuses == {
        k: v if k in skipped else ("duplicate", "duplicate-file") for k, v in CAMPAIGN.items()
    }
    assert fingerprint(ws) == stored
    assert sorted(p.name for p in (ws.outbox / "feedback").iterdir()) == feedback
    assert snapshot(ws.archive) == archive


# ---------------------------------------------------------------------------------------------
# Order of arrival (property 5)

ORDER = (
    ("MOJ-2025", "MOJ_2025.xlsx"),
    ("MOJ-2025-other", "MOJ_2025 v2.xlsx"),  # replaces MOJ_2025.xlsx when received after it
    ("MOWA-2025", "MOWA_2025.xlsx"),
    ("MOJ-2024", "MOJ_2024.xlsx"),
)


def arrive(kit: Kit, ws: Workspace, names: Sequence[str], extra: Mapping[str, Path]) -> Snapshot:
    """Empty the workspace's results, then fill the inbox received in the given order."""
    for leftover in (ws.archive, ws.outbox, ws.inbox):
        shutil.rmtree(leftover, ignore_errors=True)
    for suffix in ("", "-wal", "-shm"):
        Path(ws.store_url() + suffix).unlink(missing_ok=True)
    ws.outbox.mkdir()
    sources = {name: kit.returns[key] for key, name in ORDER} | dict(extra)
    for i, name in enumerate(names):
        receive(sources[name], ws, name, ON_TIME + timedelta(seconds=i))
    return snapshot(ws.inbox)


def shuffled(rng: random.Random, names: Sequence[str], group: Callable[[str], str]) -> list[str]:
    """A random order that keeps each group's files in their original order."""
    order = list(names)
    rng.shuffle(order)
    slots: dict[str, list[int]] = {}
    for i, name in enumerate(order):
        slots.setdefault(group(name), []).append(i)
    for key, places in slots.items():
        for place, name in zip(places, [n for n in names if group(n) == key], strict=True):
            order[place] = name
    return order


def _ministry_period(name: str) -> str:
    return name.split(" ")[0].removesuffix(".xlsx") if name.startswith("MO") else name


@pytest.mark.slow
def test_order_of_arrival_changes_nothing_but_which_return_is_current(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Shuffled arrivals give the same store; of two returns for a period, the later counts."""
    kit = shared_kit(tmp_path_factory)
    base = tmp_path_factory.mktemp("order")
    ws = new_workspace(kit, base)
    made = base / "made"
    made.mkdir()
    extra = {"empty.xlsx": hostile.empty_file(made), "notes.xlsx": hostile.text_as_xlsx(made)}
    names = [name for _, name in ORDER if not name.startswith("MOJ_2024")] + list(extra)
    prints = []
    for seed in range(6 if LONG else 2):
        order = names if seed == 0 else shuffled(random.Random(seed), names, _ministry_period)
        before = arrive(kit, ws, order, extra)
        check_invariants(ws, before, run_inbox(ws, workers=2))
        prints.append(fingerprint(ws))
    assert len(set(prints)) == 1
    flipped = [n for n in names if n != "MOJ_2025.xlsx"]
    flipped.insert(flipped.index("MOJ_2025 v2.xlsx") + 1, "MOJ_2025.xlsx")
    before = arrive(kit, ws, flipped, extra)
    statuses = check_invariants(ws, before, run_inbox(ws, workers=2))
    assert statuses["MOJ_2025 v2.xlsx"] == statuses["MOJ_2025.xlsx"] == ("accepted", None)
    with Store.open(ws.store_url(), create=False) as store:
        current = store.current("MOJ", "2025")
    assert current is not None
    assert current.name_received == "MOJ_2025.xlsx"


def test_order_of_periods_keeps_the_same_figures(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A 2024 return received after the 2025 one stores the same figures as if it came first.

    Checks against earlier periods use what the store held when a return was checked, so the
    warnings may differ with the order of arrival (as the README says); the figures do not.
    """
    kit = shared_kit(tmp_path_factory)
    ws = new_workspace(kit, tmp_path_factory.mktemp("periods"))
    figures = []
    for order in (["MOJ_2024.xlsx", "MOJ_2025.xlsx"], ["MOJ_2025.xlsx", "MOJ_2024.xlsx"]):
        before = arrive(kit, ws, order, {})
        check_invariants(ws, before, run_inbox(ws, workers=1))
        with Store.open(ws.store_url(), create=False) as store:
            table = store.long_table()
        keys = ["element", "period", "area", "dimension", "option", "value", "missing"]
        figures.append(
            table[keys].astype(object).where(table[keys].notna(), None).to_dict("records")
        )
    assert figures[0] == figures[1]
    assert figures[0]


# ---------------------------------------------------------------------------------------------
# Active text in, nothing active out (property 8)


def test_active_text_in_names_and_sheets_never_becomes_active(campaign: Campaign) -> None:
    """A file named =1+1 whose sheet is titled =2+3 comes out as plain text, also nationally."""
    ws = campaign.ws
    api.consolidate(ws.root, period="2025")
    assert snapshot(ws.inbox) == campaign.before
    assert inert_problems(ws.outbox) == []
    values = next((ws.outbox / "national").glob("*.values.csv")).read_text(encoding="utf-8-sig")
    fields = {field for row in csv.reader(io.StringIO(values)) for field in row}
    assert {"'=1+1.xlsx", "'=2+3"} <= fields
    assert campaign.run.data is not None
    (active,) = [f for f in campaign.run.data["files"] if f["file"] == "=1+1.xlsx"]
    books = [Path(active["feedback"]), *(ws.outbox / "national").glob("*.xlsx")]
    books += (ws.outbox / "runs").rglob("*.xlsx")
    live = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in books:
            for sheet in openpyxl.load_workbook(path).worksheets:
                for row in sheet.iter_rows():
                    live += [(path.name, c.coordinate) for c in row if c.data_type == "f"]
                    links = [c for c in row if c.hyperlink is not None and c.hyperlink.target]
                    live += [(path.name, c.coordinate) for c in links]
    assert live == []
