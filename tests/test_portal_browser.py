"""The portal in a real browser: `cpxl serve` on 127.0.0.1, driven by Debian's headless Chromium.

Covers: a sender signs in, uploads a return with a mistake, sees the finding at its cell and
downloads a feedback workbook that opens; another ministry's sender is refused that return (403,
the same page as for one that does not exist); the national team builds and downloads the
national workbook; the pages fit a phone's screen. With CPXL_SCREENSHOTS=1 the browser's
screenshots are saved into docs/ for the README.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from builders import cell_of, returned, workspace

from cpxl import api

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse 1"
SHEET, CELL = cell_of("MOJ", "children_in_detention", "01", "sex", "male")
DOCS = Path(__file__).resolve().parent.parent / "docs"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A workspace with templates and accounts, served by `cpxl serve` in its own process."""
    ws = workspace(tmp_path)
    mistaken = returned(ws, "MOJ", cells={SHEET: {CELL: "twelve"}}, name="../MOJ_2025.xlsx")
    returned(ws, "MOH", name="../MOH_2025.xlsx")
    for login, role, ministry in (
        ("moj", "sender", "MOJ"),
        ("moh", "sender", "MOH"),
        ("officer", "officer", None),
        ("nat", "national", None),
    ):
        api.users_add(ws.root, login, PASSWORD, role, ministry)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cpxl.cli", "serve", "-w", str(ws.root), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, "cpxl serve stopped"
                assert time.monotonic() < deadline, "cpxl serve did not start"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", mistaken
    finally:
        server.terminate()
        server.wait(timeout=30)


def _shot(page: object, tmp_path: Path, name: str) -> None:
    """A screenshot: into docs/ when asked for (CPXL_SCREENSHOTS=1), else beside the test."""
    folder = DOCS if os.environ.get("CPXL_SCREENSHOTS") == "1" else tmp_path
    page.screenshot(path=str(folder / f"portal-{name}.png"), full_page=True)  # type: ignore[attr-defined]


def _sign_in(page: object, base: str, login: str) -> None:
    page.goto(base + "/")  # type: ignore[attr-defined]
    page.fill("input[name=login]", login)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("button.primary")  # type: ignore[attr-defined]


def test_sender_other_ministry_and_national_in_a_browser(
    site: tuple[str, Path], tmp_path: Path
) -> None:
    """Upload, findings and feedback; another ministry refused; a national workbook downloaded."""
    from playwright.sync_api import sync_playwright

    base, mistaken = site
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, accept_downloads=True)
            page.goto(base + "/")
            assert page.url.startswith(base + "/signin")
            _shot(page, tmp_path, "signin")
            _sign_in(page, base, "moj")
            assert page.url == base + "/returns"
            page.set_input_files("#file", str(mistaken))
            page.click("#send")
            page.wait_for_selector("#status")
            assert page.get_attribute("#status", "data-status") == "needs-correction"
            row = page.locator('tr[data-code="not-a-number"]')
            assert row.locator("td").nth(0).inner_text() == SHEET
            assert row.locator("td.cell").inner_text() == CELL
            _shot(page, tmp_path, "return")
            theirs = page.url
            with page.expect_download() as info:
                page.click("#feedback")
            got = tmp_path / info.value.suggested_filename
            info.value.save_as(got)
            assert got.suffix == ".xlsx"
            book = openpyxl.load_workbook(got)
            assert SHEET in book.sheetnames
            phone = browser.new_page(viewport={"width": 375, "height": 740})
            phone.context.add_cookies(page.context.cookies())
            phone.goto(theirs)
            assert phone.evaluate("document.documentElement.scrollWidth") <= 375
            _shot(phone, tmp_path, "phone")
            phone.close()

            page.click(".who button")
            _sign_in(page, base, "moh")
            refused = page.goto(theirs)
            assert refused is not None and refused.status == 403
            text = page.inner_text("main")
            nothing = page.goto(base + "/returns/AAAAAAAAAAAAAAAA")
            assert nothing is not None and nothing.status == 403
            assert page.inner_text("main") == text
            assert "MOJ" not in text
            # MOH's own return, dropped onto the upload box as from a file manager.
            page.goto(base + "/returns")
            dropped = (mistaken.parent / "MOH_2025.xlsx").read_bytes()
            transfer = page.evaluate_handle(
                """(b64) => {
                    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                    const t = new DataTransfer();
                    t.items.add(new File([bytes], "MOH_2025.xlsx"));
                    return t;
                }""",
                base64.b64encode(dropped).decode(),
            )
            page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
            page.wait_for_selector("#status")
            assert page.get_attribute("#status", "data-status") in (
                "accepted",
                "accepted-with-warnings",
            )
            assert "MOH_2025.xlsx" in page.inner_text("h1")

            page.click(".who button")
            _sign_in(page, base, "officer")
            page.goto(base + "/board?period=2025")
            moj = page.locator("#board tr", has_text="MOJ").first.inner_text()
            assert "Needs correction" in moj and "ត្រូវកែតម្រូវ" in moj
            assert "MOJ_2025.xlsx" in page.inner_text("main")
            _shot(page, tmp_path, "board")

            page.click(".who button")
            _sign_in(page, base, "nat")
            assert page.url.startswith(base + "/national")
            page.click("#build")
            page.wait_for_selector("#national-files")
            _shot(page, tmp_path, "national")
            with page.expect_download() as info:
                page.click('#national-files a[href$=".xlsx"] >> nth=0')
            got = tmp_path / info.value.suggested_filename
            info.value.save_as(got)
            national = openpyxl.load_workbook(got)
            assert national.sheetnames
        finally:
            browser.close()
