"""The portal over HTTP: accounts, sessions, CSRF, uploads through the intake, isolation, JSON.

Covers: a sender signs in, uploads a return with a mistake and sees its status and findings at
the cell, and downloads the feedback workbook; another ministry's sender is refused that return
and its feedback exactly as a return that does not exist; scripts get `cpxl run --json`'s entry
(plus feedback_url) from `POST /returns` and `cpxl status --json`'s object from `GET /status`
over HTTP Basic; every form needs the session's CSRF token; an idle session ends; failed
sign-ins lock an account; oversized, empty, non-spreadsheet and hostile files and file names with
paths get clear errors and nothing outside the workspace is written; `cpxl users` add, list and
disable; every sign-in, upload and download is in the access log; the national team builds and
downloads the national workbook.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hostile
import openpyxl
import pytest
from builders import cell_of, pg_schema, returned, workspace
from click.testing import CliRunner
from starlette.testclient import TestClient

import cpxl
from cpxl.cli import main
from cpxl.intake import run_inbox
from cpxl.portal import Portal
from cpxl.web import create_app, security

PASSWORD = "correct horse 1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A return from MOJ with one word typed where a count belongs.
SHEET, CELL = cell_of("MOJ", "children_in_detention", "01", "sex", "male")


@pytest.fixture(autouse=True)
def _no_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Failed sign-ins answer at once here; the delay itself is not what these tests check."""
    monkeypatch.setattr(security, "FAILURE_DELAY_S", 0.0)


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    """A workspace with issued 2025 templates and one account of each kind."""
    ws = workspace(tmp_path)
    returned(ws, "MOJ", name="../spare.xlsx")  # issues the templates; the file stays outside
    p = Portal(ws.root)
    p.accounts.add("moj", PASSWORD, "sender", "MOJ")
    p.accounts.add("moh", PASSWORD, "sender", "MOH")
    p.accounts.add("officer", PASSWORD, "officer")
    p.accounts.add("nat", PASSWORD, "national")
    yield p
    p.close()


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(create_app(portal), follow_redirects=False) as c:
        yield c


def _mistaken(tmp_path: Path, ministry: str = "MOJ", name: str = "MOJ_2025.xlsx") -> bytes:
    """A filled return with the word 'twelve' in a count cell, as bytes."""
    ws = workspace(tmp_path / f"build-{ministry}")
    cells = {SHEET: {CELL: "twelve"}} if ministry == "MOJ" else None
    return returned(ws, ministry, cells=cells, name=name).read_bytes()


def _csrf(client: TestClient, path: str = "/signin") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found, path
    return found.group(1)


def _sign_in(client: TestClient, login: str, password: str = PASSWORD) -> Any:
    token = _csrf(client)
    return client.post("/signin", data={"login": login, "password": password, "csrf": token})


def _basic(login: str, password: str = PASSWORD) -> dict[str, str]:
    raw = base64.b64encode(f"{login}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}", "Accept": "application/json"}


def _upload(client: TestClient, data: bytes, name: str = "MOJ_2025.xlsx") -> Any:
    token = _csrf(client, "/returns")
    return client.post("/returns", data={"csrf": token}, files={"file": (name, data, XLSX)})


def _findings(html: str) -> set[tuple[str, str, str]]:
    rows = re.findall(
        r'<tr class="sev-(\w+)" data-code="([\w-]+)"><td>([^<]*)</td>\s*<td class="cell">([^<]*)',
        html,
    )
    return {(sheet, cell, code) for severity, code, sheet, cell in rows if severity == "error"}


def _saved_again(data: bytes, note: str) -> bytes:
    """The workbook as a sender saves it again: the same cells, other bytes (``note`` goes in
    its properties; openpyxl dates every save to the second, which two saves can share)."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    book.properties.description = note
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


# --- a sender's round trip ------------------------------------------------------------------


def test_sender_uploads_and_sees_findings_at_the_cell(client: TestClient, tmp_path: Path) -> None:
    """A sender's upload is checked at once: status, the mistaken cell, and the feedback."""
    assert _sign_in(client, "moj").status_code == 303
    answer = _upload(client, _mistaken(tmp_path))
    assert answer.status_code == 303
    page = client.get(answer.headers["location"])
    assert page.status_code == 200
    assert 'data-status="needs-correction"' in page.text
    assert _findings(page.text) == {(SHEET, CELL, "not-a-number")}
    assert "Needs correction" in page.text and "ត្រូវកែតម្រូវ" in page.text
    feedback = client.get(answer.headers["location"] + "/feedback")
    assert feedback.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(feedback.content))
    assert book.sheetnames  # a real workbook, opened as the sender would
    history = client.get("/returns")
    assert "MOJ_2025.xlsx" in history.text


def test_another_ministry_is_refused_without_a_hint(client: TestClient, tmp_path: Path) -> None:
    """MOH's sender gets the same 403 for MOJ's return as for one that does not exist."""
    _sign_in(client, "moj")
    where = _upload(client, _mistaken(tmp_path)).headers["location"]
    client.cookies.clear()
    _sign_in(client, "moh")
    theirs, nothing = client.get(where), client.get("/returns/AAAAAAAAAAAAAAAA")
    assert (theirs.status_code, nothing.status_code) == (403, 403)
    assert theirs.text == nothing.text
    feedback = client.get(where + "/feedback")
    assert feedback.status_code == 403
    assert feedback.text == client.get("/returns/AAAAAAAAAAAAAAAA/feedback").text
    assert "MOJ_2025" not in client.get("/returns").text
    assert client.get("/templates/MOJ_2025.xlsx").status_code == 403
    assert client.get("/templates/MOH_2025.xlsx").status_code == 200
    assert re.findall(r'href="/templates/([^"]+)"', client.get("/returns").text) == [
        "MOH_2025.xlsx"
    ]
    assert client.get("/board").status_code == 403
    assert (
        client.get("/status?period=2025", headers={"Accept": "application/json"}).status_code == 403
    )


def test_a_sender_cannot_store_another_ministrys_return(client: TestClient, tmp_path: Path) -> None:
    """MOH's sender uploading MOJ's workbook gets an error at the file; nothing is stored."""
    answer = client.post(
        "/returns", headers=_basic("moh"), files={"file": ("x.xlsx", _mistaken(tmp_path), XLSX)}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "needs-correction"
    assert "unexpected-ministry" in {f["code"] for f in body["findings"]}
    assert body["values_stored"] == 0


def test_cpxl_run_after_the_portal_processes_nothing_twice(
    client: TestClient, portal: Portal, tmp_path: Path
) -> None:
    """`cpxl run` over the same inbox finds the uploaded file already recorded: one submission."""
    data = _mistaken(tmp_path)
    body = client.post(
        "/returns", headers=_basic("moj"), files={"file": ("MOJ_2025.xlsx", data, XLSX)}
    ).json()
    report = run_inbox(portal.workspace)
    mine = [f for f in report.files if f.sha256 == body["sha256"]]
    assert [(f.file.startswith("portal/"), f.status.value) for f in mine] == [(True, "duplicate")]
    assert [s.sha256 for s in portal.store.submissions()].count(body["sha256"]) == 1


# --- scripts --------------------------------------------------------------------------------


def test_post_returns_answers_cpxl_run_json(
    client: TestClient, portal: Portal, tmp_path: Path
) -> None:
    """A script's upload answers one entry of `cpxl run --json`, plus where its feedback is."""
    data = _mistaken(tmp_path)
    answer = client.post(
        "/returns", headers=_basic("moj"), files={"file": ("MOJ_2025.xlsx", data, XLSX)}
    )
    assert answer.status_code == 200
    body = answer.json()
    twin = workspace(tmp_path / "twin")
    shutil.copytree(portal.workspace.templates, twin.templates, dirs_exist_ok=True)
    same_place = twin.inbox / body["file"]  # portal/<day>/<upload>/MOJ_2025.xlsx
    same_place.parent.mkdir(parents=True)
    same_place.write_bytes(data)
    report = run_inbox(twin, expect=cpxl.intake.Expectation(ministries=("MOJ",)))
    entry = report.to_dict(cpxl.load_catalogue(twin.rules).messages)["files"][0]
    volatile = ("feedback", "days_late", "feedback_url", "upload_url")
    assert {k: v for k, v in body.items() if k not in volatile} == {
        k: v for k, v in entry.items() if k not in volatile
    }
    assert set(body) == set(entry) | {"feedback_url", "upload_url"}
    got = client.get(body["feedback_url"].replace("http://testserver", ""), headers=_basic("moj"))
    assert (got.status_code, got.headers["content-type"]) == (200, XLSX)
    assert client.get(body["feedback_url"], headers=_basic("moh")).status_code == 403


def test_get_status_answers_cpxl_status_json(client: TestClient, portal: Portal) -> None:
    """`GET /status?period=P` answers the object `cpxl status --json` prints."""
    client.post(
        "/returns",
        headers=_basic("officer"),
        files={"file": ("MOJ.xlsx", (portal.workspace.root / "spare.xlsx").read_bytes())},
    )
    answer = client.get("/status?period=2025", headers=_basic("officer"))
    assert answer.status_code == 200
    out = CliRunner().invoke(
        main, ["status", "--period", "2025", "--json", "--workspace", str(portal.workspace.root)]
    )
    assert answer.json() == json.loads(out.output)
    moj = next(m for m in answer.json()["ministries"] if m["ministry"] == "MOJ")
    assert moj["received"] is True
    bad = client.get("/status?period=nonsense", headers=_basic("officer"))
    assert (bad.status_code, bad.json()["error"]) == (400, "bad-period")


def test_wrong_basic_password_is_refused(client: TestClient) -> None:
    """A script with a wrong password gets 401 and a Basic challenge."""
    answer = client.get("/status?period=2025", headers=_basic("officer", "wrong password"))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Basic")


# --- sessions, CSRF, sign-ins -----------------------------------------------------------------


def test_every_form_needs_the_sessions_csrf_token(client: TestClient, tmp_path: Path) -> None:
    """A form without the token, or with another's, is refused and changes nothing."""
    _sign_in(client, "moj")
    data = _mistaken(tmp_path)
    forged = client.post("/returns", data={"csrf": "x" * 43}, files={"file": ("a.xlsx", data)})
    missing = client.post("/returns", files={"file": ("a.xlsx", data)})
    assert (forged.status_code, missing.status_code) == (403, 403)
    assert 'data-error="forged-form"' in forged.text
    out = client.post("/signout", data={})
    assert out.status_code == 403
    assert client.get("/returns").status_code == 200  # still signed in


def test_sign_in_without_a_session_is_refused(client: TestClient) -> None:
    """A sign-in form posted from elsewhere (no session, no token) is refused."""
    answer = client.post("/signin", data={"login": "moj", "password": PASSWORD})
    assert answer.status_code == 403
    assert 'data-error="session-expired"' in answer.text


def test_an_idle_session_ends(portal: Portal) -> None:
    """After the idle time a page sends the person to sign in again, saying why."""
    with TestClient(create_app(portal, idle_seconds=1), follow_redirects=False) as c:
        _sign_in(c, "moj")
        assert c.get("/returns").status_code == 200
        time.sleep(2.2)
        gone = c.get("/returns")
        assert gone.status_code == 303
        assert "expired=1" in gone.headers["location"]
        assert "Your session has ended" in c.get(gone.headers["location"]).text
        assert c.get("/returns").status_code == 303


def test_signed_cookie_is_http_only_and_same_site(client: TestClient) -> None:
    """The session cookie cannot be read by scripts and is not sent by other sites' forms."""
    answer = client.get("/signin")
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    client.cookies.set("cpxl_session", "forged.value.here")
    assert client.get("/returns").status_code == 303


def test_a_disabled_account_is_out_at_its_next_click(client: TestClient, portal: Portal) -> None:
    """Disabling an account ends its open session at once."""
    _sign_in(client, "moj")
    assert client.get("/returns").status_code == 200
    portal.accounts.disable("moj")
    assert client.get("/returns").status_code == 303
    assert client.get("/status?period=2025", headers=_basic("moj")).status_code == 401


def test_five_wrong_passwords_lock_the_account(client: TestClient, portal: Portal) -> None:
    """After five wrong passwords even the right one is refused for a while; all are logged."""
    for _ in range(5):
        assert _sign_in(client, "moj", "wrong password").status_code == 401
    assert _sign_in(client, "moj").status_code == 401
    assert _sign_in(client, "moh").status_code == 303
    outcomes = [
        (r["login"], r["outcome"]) for r in portal.accounts.access_log() if r["action"] == "sign-in"
    ]
    assert outcomes[:2] == [("moh", "ok"), ("moj", "locked")]
    assert outcomes.count(("moj", "wrong")) == 5


def test_access_log_records_sign_in_upload_and_download(
    client: TestClient, portal: Portal, tmp_path: Path
) -> None:
    """Every sign-in, upload and download leaves a line in the access log."""
    _sign_in(client, "moj")
    where = _upload(client, _mistaken(tmp_path)).headers["location"]
    client.get(where + "/feedback")
    client.get("/templates/MOJ_2025.xlsx")
    actions = [(r["login"], r["action"]) for r in reversed(portal.accounts.access_log())]
    assert actions == [
        ("moj", "sign-in"),
        ("moj", "upload"),
        ("moj", "processed"),
        ("moj", "download"),
        ("moj", "download"),
    ]


# --- bad input ------------------------------------------------------------------------------


def test_oversized_upload_is_refused_before_it_is_saved(portal: Portal) -> None:
    """A file over the limit gets 413 and a clear message; nothing reaches the inbox."""
    before = _files_under(portal.workspace.root)
    with TestClient(create_app(portal, max_upload=100_000), follow_redirects=False) as c:
        big = b"PK" + b"\0" * 300_000
        answer = c.post("/returns", headers=_basic("moj"), files={"file": ("big.xlsx", big)})
        assert (answer.status_code, answer.json()["error"]) == (413, "file-too-large")
        _sign_in(c, "moj")
        page = _upload(c, big, "big.xlsx")
        assert page.status_code == 413 and "larger than" in page.text
    assert _files_under(portal.workspace.root) - before <= {".cpxl-portal-secret"}


@pytest.mark.parametrize(
    "name", ["../../evil.xlsx", "returns/MOJ_2025.xlsx", "/etc/passwd", ".hidden.xlsx"]
)
def test_a_path_in_the_file_name_is_refused(
    client: TestClient, portal: Portal, tmp_path: Path, name: str
) -> None:
    """A file name with a folder in it gets a clear 400; nothing is written anywhere."""
    outside = _files_under(tmp_path)
    answer = client.post("/returns", headers=_basic("moj"), files={"file": (name, b"PK\3\4")})
    assert (answer.status_code, answer.json()["error"]) == (400, "bad-file-name")
    assert "plain name" in answer.json()["message_en"]
    assert _files_under(tmp_path) == outside


def test_a_windows_path_keeps_only_its_last_part(
    client: TestClient, portal: Portal, tmp_path: Path
) -> None:
    """Old browsers send C:\\...\\name.xlsx; only the name is used, inside the portal's inbox."""
    data = _mistaken(tmp_path)
    answer = client.post(
        "/returns",
        headers=_basic("moj"),
        files={"file": ("C:\\Users\\me\\MOJ_2025.xlsx", data)},
    )
    assert answer.status_code == 200
    assert answer.json()["file"].endswith("/MOJ_2025.xlsx")  # as `cpxl run` names it
    saved = list((portal.workspace.inbox / "portal").rglob("*.xlsx"))
    assert [(p.name, p.read_bytes()) for p in saved] == [("MOJ_2025.xlsx", data)]


def test_bytes_first_received_from_another_ministry_are_refused_without_its_name(
    client: TestClient, portal: Portal, tmp_path: Path
) -> None:
    """MOJ's sender uploading the very bytes MOH's sender sent is refused in plain words that
    name neither MOH's file nor what became of it, and nothing of it is saved; bytes MOJ's own
    sender sent before are still a duplicate that names MOJ's own upload."""
    theirs = _mistaken(tmp_path, "MOH", name="MOH_2025.xlsx")
    files = {"file": ("MOH secret name.xlsx", theirs)}
    assert client.post("/returns", headers=_basic("moh"), files=files).status_code == 200
    before = _files_under(portal.workspace.root)
    answer = client.post("/returns", headers=_basic("moj"), files={"file": ("x.xlsx", theirs)})
    assert (answer.status_code, answer.json()["error"]) == (409, "received-elsewhere")
    assert "secret" not in answer.text and "MOH" not in answer.text
    assert "another ministry or sender" in answer.json()["message_en"]
    _sign_in(client, "moj")
    page = _upload(client, theirs, "x.xlsx")  # the form, as a browser sends it
    assert page.status_code == 409 and "another ministry or sender" in page.text
    assert "ក្រសួង ឬអ្នកផ្ញើផ្សេង" in page.text and "secret" not in page.text
    client.cookies.clear()
    assert _files_under(portal.workspace.root) == before

    # MOH's return that MOJ's sender sent by mistake: refused for MOJ, and refused to MOH's own
    # sender without MOJ's file name; saved again, it is MOH's return like any other.
    misfiled = _saved_again(theirs, "forwarded")
    files = {"file": ("from MOH by mistake.xlsx", misfiled)}
    wrong = client.post("/returns", headers=_basic("moj"), files=files).json()
    assert (wrong["status"], wrong["reason"]) == ("needs-correction", "unexpected-ministry")
    files = {"file": ("MOH_2025.xlsx", misfiled)}
    own = client.post("/returns", headers=_basic("moh"), files=files)
    assert (own.status_code, own.json()["error"]) == (409, "received-elsewhere")
    assert "mistake" not in own.text and "save it again" in own.json()["message_en"]
    files = {"file": ("MOH_2025.xlsx", _saved_again(misfiled, "saved again"))}
    again = client.post("/returns", headers=_basic("moh"), files=files).json()
    assert again["status"] == "unchanged"  # the same figures as MOH's first return

    ours = _mistaken(tmp_path)
    first = client.post("/returns", headers=_basic("moj"), files={"file": ("a.xlsx", ours)})
    again = client.post("/returns", headers=_basic("moj"), files={"file": ("b.xlsx", ours)})
    assert (first.json()["status"], again.json()["status"]) == ("needs-correction", "duplicate")
    assert again.json()["findings"][0]["code"] == "duplicate-not-accepted"
    assert first.json()["file"] in again.json()["findings"][0]["message_en"]


def test_a_khmer_file_name_is_kept_whole(
    client: TestClient, portal: Portal, tmp_path: Path
) -> None:
    """A name in Khmer keeps its vowels and subscripts (once cut into "ស_ថ_ត"), and the
    feedback workbook is named after it; only what no file system accepts is replaced."""
    data = _mistaken(tmp_path)
    sent = "របាយការណ៍ ក្រសួងយុត្តិធម៌ ២០២៥: #1.xlsx"
    answer = client.post("/returns", headers=_basic("moj"), files={"file": (sent, data)})
    assert answer.status_code == 200
    kept = "របាយការណ៍ ក្រសួងយុត្តិធម៌ ២០២៥_ #1"
    assert answer.json()["file"].endswith(f"/{kept}.xlsx")
    saved = list((portal.workspace.inbox / "portal").rglob("*.xlsx"))
    assert [(p.name, p.read_bytes()) for p in saved] == [(f"{kept}.xlsx", data)]
    assert Path(answer.json()["feedback"]).name.endswith(f"_{kept}.feedback.xlsx")


def test_a_busy_workspace_keeps_the_file_and_says_so(
    portal: Portal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a `cpxl run` holds the workspace too long, the upload is kept and answered 503."""
    monkeypatch.setattr("cpxl.portal.INTAKE_WAIT_S", 0.0)
    data = _mistaken(tmp_path)
    with portal.workspace.lock(), TestClient(create_app(portal)) as c:
        answer = c.post("/returns", headers=_basic("moj"), files={"file": ("MOJ_2025.xlsx", data)})
    assert (answer.status_code, answer.json()["error"]) == (503, "not-processed")
    kept = list((portal.workspace.inbox / "portal").rglob("MOJ_2025.xlsx"))
    assert [p.read_bytes() for p in kept] == [data]


def test_an_empty_upload_is_refused(client: TestClient) -> None:
    """No file, or an empty one, is answered with what to do."""
    empty = client.post("/returns", headers=_basic("moj"), files={"file": ("a.xlsx", b"")})
    assert (empty.status_code, empty.json()["error"]) == (400, "no-file")
    none = client.post("/returns", headers=_basic("moj"), data={"x": "y"})
    assert (none.status_code, none.json()["error"]) == (400, "no-file")


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (hostile.pdf_file, "unreadable"),
        (hostile.text_as_xlsx, "unreadable"),
        (hostile.honest_bomb, "unsafe"),
        (hostile.xxe, "unsafe"),
    ],
)
def test_non_spreadsheets_and_hostile_files_get_a_status(
    client: TestClient, portal: Portal, tmp_path: Path, make: Any, status: str
) -> None:
    """A non-spreadsheet or a hostile file gets one status and a message; it is kept."""
    path = make(tmp_path)
    answer = client.post(
        "/returns", headers=_basic("moj"), files={"file": (path.name, path.read_bytes())}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == status
    assert body["findings"] and all(f["message_en"] for f in body["findings"])
    kept = list((portal.workspace.inbox / "portal").rglob(path.name))
    assert [p.read_bytes() for p in kept] == [path.read_bytes()]


def test_unknown_pages_and_traversal_get_a_plain_404(client: TestClient) -> None:
    """Paths that try to leave the portal's folders are simply not found."""
    _sign_in(client, "officer")
    for path in ("/static/../../pyproject.toml", "/feedback/..%2F..%2Fcpxl.sqlite", "/nope"):
        assert client.get(path).status_code in (403, 404), path
    assert client.get("/national/2025/..%2F..%2Fcpxl.sqlite").status_code in (403, 404)


# --- officers and the national team -----------------------------------------------------------


def test_officer_board_and_national_downloads(client: TestClient, tmp_path: Path) -> None:
    """The officer sees every ministry's status; the national team builds and downloads."""
    client.post(
        "/returns",
        headers=_basic("moh"),
        files={"file": ("MOH_2025.xlsx", _mistaken(tmp_path, "MOH", "MOH_2025.xlsx"))},
    )
    _sign_in(client, "officer")
    board = client.get("/board?period=2025")
    assert board.status_code == 200
    assert "MOH_2025.xlsx" in board.text and "MOJ" in board.text
    feedback = re.findall(r'href="/feedback/([^"]+)"', board.text)
    assert len(feedback) == 1 and feedback[0].endswith("_MOH_2025.feedback.xlsx")
    got = client.get(f"/feedback/{feedback[0]}")
    assert openpyxl.load_workbook(io.BytesIO(got.content)).sheetnames
    assert client.get(f"/feedback/{feedback[0]}", headers=_basic("moj")).status_code == 403
    client.cookies.clear()
    _sign_in(client, "nat")
    page = client.get("/national?period=2025")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    built = client.post("/national", data={"csrf": token.group(1), "span": "2025"})
    assert built.status_code == 303
    listing = client.get(built.headers["location"]).text
    names = re.findall(r'href="/national/2025/([^"]+\.xlsx)"', listing)
    assert names
    got = client.get(f"/national/2025/{names[0]}")
    assert got.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(got.content))
    assert book.sheetnames
    span = client.post("/national", data={"csrf": token.group(1), "span": "2024-2025"})
    assert span.headers["location"] == "/national?period=2025&from=2024"
    listing = client.get(span.headers["location"]).text
    assert re.findall(r'href="/national/2024-2025/([^"]+\.xlsx)"', listing)
    wrong = client.post("/national", data={"csrf": token.group(1), "span": "2025-2024"})
    assert (wrong.status_code, 'data-error="bad-period"' in wrong.text) == (400, True)
    assert client.get("/returns").status_code == 403  # the national team does not upload


# --- accounts from the command line ---------------------------------------------------------


def test_users_add_list_disable(tmp_path: Path) -> None:
    """`cpxl users` adds from standard input, lists, and disables; a disabled login is refused."""
    root = str(workspace(tmp_path).root)
    run = CliRunner().invoke
    added = run(main, ["users", "add", "ana", "--role", "sender", "--ministry", "MOH", "-w", root],
                input="s3cret-pass\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    bad = run(main, ["users", "add", "bo", "--role", "sender", "--ministry", "XX", "-w", root],
              input="s3cret-pass\n")  # fmt: skip
    assert bad.exit_code == 2 and "not a ministry" in bad.output
    listed = run(main, ["users", "list", "--json", "-w", root])
    assert json.loads(listed.output) == [
        {"login": "ana", "role": "sender", "ministry": "MOH", "disabled": False}
    ]
    assert run(main, ["users", "disable", "ana", "-w", root]).exit_code == 0
    p = Portal(Path(root))
    try:
        assert p.accounts.verify("ana", "s3cret-pass") == (None, "disabled")
    finally:
        p.close()


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.mark.postgres
def test_the_portal_on_a_postgresql_store(tmp_path: Path) -> None:
    """Accounts, uploads, status and the access log work the same on a PostgreSQL server."""
    with pg_schema("cpxl_web") as url:
        ws = workspace(tmp_path)
        returned(ws, "MOJ", name="../spare.xlsx")
        p = Portal(ws.root, url)
        try:
            p.accounts.add("moj", PASSWORD, "sender", "MOJ")
            p.accounts.add("officer", PASSWORD, "officer")
            with TestClient(create_app(p)) as c:
                body = c.post(
                    "/returns",
                    headers=_basic("moj"),
                    files={"file": ("MOJ_2025.xlsx", _mistaken(tmp_path))},
                ).json()
                assert body["status"] == "needs-correction"
                assert {(f["sheet"], f["cell"], f["code"]) for f in body["findings"]} >= {
                    (SHEET, CELL, "not-a-number")
                }
                status = c.get("/status?period=2025", headers=_basic("officer")).json()
            moj = next(m for m in status["ministries"] if m["ministry"] == "MOJ")
            assert (moj["received"], moj["missing"]) == (True, "needs-correction")
            actions = [r["action"] for r in reversed(p.accounts.access_log())]
            assert actions == ["sign-in", "upload", "processed", "sign-in"]
        finally:
            p.close()
