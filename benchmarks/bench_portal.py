"""The portal as a ministry's focal point waits for it: `cpxl serve` on 127.0.0.1, over HTTP.

(a) upload → status page: a signed-in sender posts the upload form (a 2025 return with typical
    mistakes, so the feedback has a marked-up copy) and follows the redirect to the return's page;
    wall time from sending the file to the page received. Baseline, side by side: the same kind
    of return alone in an inbox, `run_inbox` in this process (the intake without HTTP).
(b) 20 uploads at once from 20 senders (every reporting ministry, annual and quarterly returns
    of 2024-2025): total wall time, every file processed exactly once (one submission per file
    in the store, no `duplicate` or `not-processed` answer).
(c) memory: the server's resident memory as many uploads (distinct clean resubmissions) go through.

    .venv/bin/python benchmarks/bench_portal.py [--quick] [--uploads 20] [--memory 200]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import _shared as sh
import httpx2 as httpx

from cpxl import api
from cpxl.intake import run_inbox
from cpxl.workspace import Workspace

PASSWORD = "bench password 1"  # noqa: S105 (the benchmark's throwaway accounts)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _serve(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cpxl.cli", "serve", "-w", str(root), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("cpxl serve did not start") from None
            time.sleep(0.2)


def _csrf(client: httpx.Client, path: str) -> str:
    text = client.get(path).text
    return text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def _workspace(folder: Path, period_ids: list[str]) -> Workspace:
    ws = api.init(folder)
    sh.issue(sh.catalogue(), period_ids, ws.templates)
    return ws


def upload_to_page(ws: Workspace, files: list[tuple[str, Path]]) -> list[float]:
    """(a) Sign in as each file's ministry and time upload → status page."""
    for ministry in {m for m, _ in files}:
        api.users_add(ws.root, f"s-{ministry.lower()}", PASSWORD, "sender", ministry)
    server, base = _serve(ws.root)
    out: list[float] = []
    try:
        for ministry, path in files:
            with httpx.Client(base_url=base, follow_redirects=False, timeout=120) as client:
                token = _csrf(client, "/signin")
                login = {"login": f"s-{ministry.lower()}", "password": PASSWORD, "csrf": token}
                client.post("/signin", data=login)
                token = _csrf(client, "/returns")
                data = path.read_bytes()
                t0 = sh.clock()
                sent = client.post(
                    "/returns", data={"csrf": token}, files={"file": (path.name, data)}
                )
                page = client.get(sent.headers["location"])
                out.append(sh.clock() - t0)
                assert page.status_code == 200 and 'id="status"' in page.text
    finally:
        server.terminate()
        server.wait()
    return out


def baseline(folder: Path, ws: Workspace, files: list[tuple[str, Path]]) -> list[float]:
    """The intake alone: each file alone in an inbox, run_inbox in this process."""
    out = []
    for i, (_, path) in enumerate(files):
        twin = Workspace(folder / f"twin-{i}")
        (twin.inbox).mkdir(parents=True)
        twin.templates.symlink_to(ws.templates)
        (twin.inbox / path.name).write_bytes(path.read_bytes())
        _, wall_ms = sh.timed(lambda t=twin: run_inbox(t, workers=1))
        out.append(wall_ms / 1000)
    return out


def concurrent(ws: Workspace, files: list[tuple[str, str, Path]]) -> dict[str, Any]:
    """(b) Every file posted at once by its own sender over HTTP Basic."""
    for i, (ministry, _, _) in enumerate(files):
        api.users_add(ws.root, f"c{i}", PASSWORD, "sender", ministry)
    server, base = _serve(ws.root)

    def post(i: int) -> dict[str, Any]:
        _, _, path = files[i]
        with httpx.Client(base_url=base, timeout=600, auth=(f"c{i}", PASSWORD)) as c:
            answer = c.post(
                "/returns",
                headers={"Accept": "application/json"},
                files={"file": (path.name, path.read_bytes())},
            )
            return dict(answer.json())

    try:
        t0 = sh.clock()
        with ThreadPoolExecutor(len(files)) as pool:
            answers = list(pool.map(post, range(len(files))))
        wall = sh.clock() - t0
    finally:
        server.terminate()
        server.wait()
    with api.open_store(ws.root) as store:
        stored = [s.sha256 for s in store.submissions()]
    shas = [a["sha256"] for a in answers]
    once = len(set(shas)) == len(files) and all(stored.count(s) == 1 for s in shas)
    statuses = sorted({a["status"] for a in answers})
    return {"wall_s": wall, "files": len(files), "exactly_once": once, "statuses": statuses}


def memory(ws: Workspace, files: list[tuple[str, Path]], every: int) -> list[tuple[int, float]]:
    """(c) The server's resident memory after every ``every`` uploads."""
    for ministry in {m for m, _ in files}:
        api.users_add(ws.root, f"m-{ministry.lower()}", PASSWORD, "sender", ministry)
    server, base = _serve(ws.root)
    points = [(0, _rss_mib(server.pid))]
    try:
        with httpx.Client(base_url=base, timeout=600) as c:
            for n, (ministry, path) in enumerate(files, 1):
                answer = c.post(
                    "/returns",
                    auth=(f"m-{ministry.lower()}", PASSWORD),
                    headers={"Accept": "application/json"},
                    files={"file": (path.name, path.read_bytes())},
                )
                assert answer.status_code == 200, answer.text
                if n % every == 0:
                    points.append((n, _rss_mib(server.pid)))
    finally:
        server.terminate()
        server.wait()
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--memory", type=int, default=200)
    args = parser.parse_args()
    n_up = 6 if args.quick else args.uploads
    n_mem = 100 if args.quick else args.memory
    sh.compiled(sh.ROOT)  # the server imports cpxl as an installed one does
    cat = sh.catalogue()
    ministries = list(cat.reporting_ministries(sh.parse_period("2025")))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ids = {"2025": sh.issue(cat, ["2025"], folder / "issued-2025")}

        # (a) typical returns with mistakes, one per ministry in turn
        ws_a = _workspace(folder / "a", ["2025"])
        typical = []
        for i in range(n_up):
            m = ministries[i % len(ministries)]
            values, _ = sh.with_mistakes(m, "2025", seed=i)
            typical.append((m, sh.write(folder / f"up/{i}/{m}_2025.xlsx", m, "2025",
                                        ids["2025"][(m, "2025")], values)))  # fmt: skip
        pages = upload_to_page(ws_a, typical)
        base = baseline(folder / "base", ws_a, typical)

        # (b) 20 senders at once, over the last 20 slots of 2024-2025 (annual and quarterly)
        slots = sh.slots(sh.periods(2024, 2025))[-20:]
        ws_b = _workspace(folder / "b", sorted({p for _, p in slots}))
        issued = sh.issue(cat, sorted({p for _, p in slots}), folder / "issued-b")
        at_once = []
        for m, p in slots:
            path = folder / f"cc/{m}_{p}.xlsx"
            at_once.append((m, p, sh.write(path, m, p, issued[(m, p)], sh.clean_values(m, p))))
        together = concurrent(ws_b, at_once)

        # (c) many distinct clean returns (resubmissions) through one server
        ws_c = _workspace(folder / "c", ["2025"])
        many = []
        for i in range(n_mem):
            m = ministries[i % len(ministries)]
            values = sh.corrected(m, "2025", delta=i + 1)
            path = folder / f"mem/{i}/{m}_2025.xlsx"
            many.append((m, sh.write(path, m, "2025", ids["2025"][(m, "2025")], values)))
        points = memory(ws_c, many, max(1, n_mem // 10))

    a, b = sh.stats(pages), sh.stats(base)
    sh.print_table(
        "Portal: upload → status page (a typical 2025 return with mistakes)",
        ["what", "median", "p90", "target"],
        [
            ["upload → status page (HTTP)", f"{a['median']:.2f} s", f"{a['p90']:.2f} s",
             sh.target(a["median"], 2.0)],
            ["run_inbox alone, one file", f"{b['median']:.2f} s", f"{b['p90']:.2f} s", ""],
        ],
    )  # fmt: skip
    print(
        f"20 at once: {together['wall_s']:.1f} s for {together['files']} files, exactly once: "
        f"{together['exactly_once']}, statuses {together['statuses']}"
    )
    print("server memory (uploads → MiB): " + ", ".join(f"{n}→{r:.0f}" for n, r in points))
    sh.save(
        "bench_portal",
        {
            "machine": sh.machine(),
            "upload_to_page_s": a,
            "run_inbox_alone_s": b,
            "concurrent": together,
            "memory_mib": points,
            "pid": os.getpid(),
        },
    )


if __name__ == "__main__":
    main()
