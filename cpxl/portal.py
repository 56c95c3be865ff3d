"""The portal's library face: what a signed-in person may do, over the same intake as ``cpxl run``.

``cpxl.web`` turns HTTP into calls of :class:`Portal` and its answers into pages; every decision
(who sees what, where a file goes, what a file's status is) is made here or below. An upload is
saved unchanged into its own folder under ``inbox/portal/`` under a name the portal makes (never
a path from the client), and that folder alone is run through the intake, one run at a time per
workspace. A later ``cpxl run`` over the whole inbox finds the file recorded by its content and
does not process it again.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from cpxl.catalogue import Catalogue, load, parse_period
from cpxl.errors import UsageError
from cpxl.feedback import MAX_STEM_BYTES, cap_bytes, plain_name
from cpxl.findings import FileResult, RunReport, Status
from cpxl.guard import Limits
from cpxl.intake import Expectation, run_inbox
from cpxl.store import Store, StoreError
from cpxl.store.users import Account, Accounts, Upload
from cpxl.workspace import Workspace, WorkspaceError

PORTAL_INBOX: Final = "portal"  # uploads lie under inbox/portal/<day>/<upload id>/
SECRET_FILE: Final = ".cpxl-portal-secret"  # noqa: S105 (a file name, not a secret)
INTAKE_WAIT_S: Final = 600.0  # how long an upload waits for a `cpxl run` on the same workspace
MAX_UPLOAD_BYTES: Final = Limits().max_bytes


class Refused(UsageError):
    """A request the portal answers with a clear refusal: HTTP status, code and both languages."""

    def __init__(self, status: int, code: str, en: str, km: str) -> None:
        super().__init__(en)
        self.status, self.code, self.en, self.km = status, code, en, km


NOT_YOURS = Refused(
    403,
    "forbidden",
    "You may not open this page with your account.",
    "គណនីរបស់អ្នកមិនអាចបើកទំព័រនេះបានទេ។",
)

RECEIVED_ELSEWHERE: Final = Refused(
    409,
    "received-elsewhere",
    "This exact file was already received from another ministry or sender, so it was not saved "
    "or counted again. If it is your ministry's own return, open it in Excel, save it again "
    "and upload that copy.",
    "ឯកសារនេះត្រូវបានទទួលរួចហើយពីក្រសួង ឬអ្នកផ្ញើផ្សេង ដូច្នេះវាមិនត្រូវបានរក្សាទុក ឬរាប់ម្ដងទៀតទេ។ "
    "បើវាជារបាយការណ៍របស់ក្រសួងអ្នកផ្ទាល់ សូមបើកវាក្នុង Excel រក្សាទុកម្ដងទៀត ហើយផ្ញើច្បាប់ចម្លងនោះ។",
)


@dataclass(frozen=True, slots=True)
class Received:
    """One upload and what the intake made of it, as ``cpxl run --json`` shows one file."""

    upload: Upload
    result: Mapping[str, Any]


class Portal:
    """One workspace and its store, open for as long as the portal serves."""

    def __init__(self, root: Path, store_url: str | None = None) -> None:
        self.workspace = Workspace(Path(root).resolve())
        self.store_url = store_url
        self.catalogue: Catalogue = load(self.workspace.rules)
        self.store = Store.open(self.workspace.store_url(store_url), create=True)
        self.accounts = Accounts(self.store)
        self._intake = threading.Lock()  # one intake at a time from this process

    def close(self) -> None:
        """Release the store."""
        self.store.close()

    # --- who ----------------------------------------------------------------------------------

    def secret(self) -> str:
        """The key that signs session cookies: $CPXL_PORTAL_SECRET, else the workspace's own."""
        given = os.environ.get("CPXL_PORTAL_SECRET", "")
        if given:
            return given
        path = self.workspace.root / SECRET_FILE
        if not path.exists():
            self.workspace.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return path.read_text(encoding="ascii").strip()

    def sign_in(self, login: str, password: str, address: str) -> tuple[Account | None, str]:
        """The account if the password is right, and why not otherwise; always logged."""
        account, why = self.accounts.verify(login[:64], password[:1024])
        self.accounts.log(login, "sign-in", outcome=why, address=address)
        return account, why

    def ministry_name(self, code: str) -> tuple[str, str]:
        """A ministry's name in English and Khmer."""
        m = self.catalogue.ministries.get(code)
        return (m.name.en, m.name.km) if m else (code, code)

    # --- uploads ------------------------------------------------------------------------------

    def receive(self, account: Account, name_sent: str, data: IO[bytes], address: str) -> Received:
        """Save an upload unchanged into the inbox, run the intake over it, and say what it is."""
        self.may_upload(account)
        shown = check_name(name_sent)
        upload = self._save(account, name_sent, shown, data)
        self.accounts.log(account.login, "upload", upload.inbox_name, address=address)
        report = self._check(account, upload)
        found = next((f for f in report.files if f.file == upload.inbox_name), None)
        if found is None or (found.status == Status.DUPLICATE and found.first == upload.inbox_name):
            # A `cpxl run` over the whole inbox took the file between its saving and this run:
            # what it recorded is the file's result.
            found = self._as_recorded(found, shown, self.workspace.inbox / upload.inbox_name)
        return self._finish(account, upload, found)

    def _save(self, account: Account, name_sent: str, shown: str, data: IO[bytes]) -> Upload:
        """Keep the upload's bytes unchanged in a folder of its own in the inbox, and note it."""
        upload_id = secrets.token_urlsafe(12)
        now = datetime.now(UTC)
        folder = Path(PORTAL_INBOX, now.strftime("%Y-%m-%d"), upload_id)
        staging = self.workspace.root / ".portal-incoming" / upload_id
        staging.parent.mkdir(parents=True, exist_ok=True)
        with staging.open("wb") as out:
            shutil.copyfileobj(data, out, 1024 * 1024)
        size = staging.stat().st_size
        if size == 0 or size > MAX_UPLOAD_BYTES:
            staging.unlink()
            raise too_large() if size else empty_file()
        if not self._theirs_if_seen(account, staging):
            staging.unlink()
            raise RECEIVED_ELSEWHERE
        inbox_dir = self.workspace.inbox / folder
        inbox_dir.mkdir(parents=True, exist_ok=True)
        # Moved in whole, so that a `cpxl run` scanning the inbox never sees half a file.
        staging.replace(inbox_dir / shown)
        ministry = account.ministry if account.role == "sender" else ""
        inbox_name = (folder / shown).as_posix()
        upload = Upload(upload_id, account.login, ministry, name_sent[:200], inbox_name, now)
        self.accounts.add_upload(upload)
        return upload

    def _theirs_if_seen(self, account: Account, staging: Path) -> bool:
        """False for a sender's upload whose bytes were first received as another's file: an
        upload of another ministry's sender, or a file of another ministry in the officer's
        inbox. The intake would answer with that file's name, and a sender sees nothing of
        others."""
        if account.role != "sender":
            return True
        with staging.open("rb") as f:
            sha = hashlib.file_digest(f, "sha256").hexdigest()
        first = self.store.by_sha256(sha)
        if first is None:
            return True
        parts = Path(first.name_received).parts  # an upload's: portal/<day>/<upload id>/<name>
        if len(parts) == 4 and parts[0] == PORTAL_INBOX:
            upload = self.accounts.upload(parts[2])
            return upload is not None and upload.ministry == account.ministry
        return first.ministry == account.ministry

    def _check(self, account: Account, upload: Upload) -> RunReport:
        """Run the intake over the upload's folder alone; a store that fails refuses politely."""
        expect = Expectation(ministries=(upload.ministry,)) if upload.ministry else None
        try:
            with self._intake:
                return run_inbox(
                    self.workspace,
                    within=(self.workspace.inbox / upload.inbox_name).parent,
                    store_url=self.store_url,
                    workers=1,
                    wait=INTAKE_WAIT_S,
                    expect=expect,
                    catalogue=self.catalogue,
                )
        except (WorkspaceError, StoreError) as exc:
            self.accounts.log(account.login, "processed", upload.inbox_name, "not-processed")
            raise Refused(
                503,
                "not-processed",
                "Your file was received and kept, but it could not be checked now "
                f"({exc}). Your data officer will check it; you need not send it again.",
                "ឯកសាររបស់អ្នកត្រូវបានទទួល និងរក្សាទុក ប៉ុន្តែមិនអាចពិនិត្យបានឥឡូវនេះទេ។ "
                "មន្ត្រីទិន្នន័យនឹងពិនិត្យវា អ្នកមិនចាំបាច់ផ្ញើម្ដងទៀតទេ។",
            ) from exc

    def _finish(self, account: Account, upload: Upload, found: FileResult) -> Received:
        """Note what the intake made of the upload, and hand it back as recorded."""
        result = found.to_dict(self.catalogue.messages)
        feedback = self._relative(found.feedback)
        # A file an officer uploads belongs to the ministry it turned out to be from.
        owner = upload.ministry or found.ministry
        self.accounts.finish_upload(
            upload.id, found.status.value, found.period, feedback, result, owner
        )
        self.accounts.log(account.login, "processed", upload.inbox_name, found.status.value)
        final = self.accounts.upload(upload.id)
        assert final is not None
        return Received(final, result)

    def _as_recorded(self, found: FileResult | None, shown: str, path: Path) -> FileResult:
        sha = found.sha256 if found else hashlib.sha256(path.read_bytes()).hexdigest()
        record = self.store.by_sha256(sha)
        if record is None:
            raise Refused(
                500,
                "not-processed",
                "The file was saved but not checked. Your data officer will check it; "
                "you need not send it again.",
                "ឯកសារត្រូវបានរក្សាទុក ប៉ុន្តែមិនទាន់បានពិនិត្យទេ។ មន្ត្រីទិន្នន័យនឹងពិនិត្យវា អ្នកមិនចាំបាច់ផ្ញើម្ដងទៀតទេ។",
            )
        return FileResult(
            shown,
            sha,
            Status(record.status),
            ministry=record.ministry,
            period=record.period,
            findings=self.store.findings_of(record.id),
            days_late=record.days_late,
        )

    def _relative(self, path: str | None) -> str:
        if not path:
            return ""
        p = Path(path).resolve()
        root = self.workspace.root
        return p.relative_to(root).as_posix() if p.is_relative_to(root) else ""

    def upload_for(self, account: Account, upload_id: str) -> Upload:
        """An upload the account may see; any other (or none) is refused the same way."""
        found = self.accounts.upload(upload_id[:64])
        if found is None or not account.sees(found.ministry):
            raise NOT_YOURS
        return found

    def uploads_for(self, account: Account) -> tuple[Upload, ...]:
        """The uploads the account may see, newest first."""
        return self.accounts.uploads(account.ministry if account.role == "sender" else None)

    def feedback_file(self, account: Account, upload_id: str, address: str) -> Path:
        """The feedback workbook of an upload the account may see; every download is logged."""
        upload = self.upload_for(account, upload_id)
        path = self.inside(upload.feedback) if upload.feedback else None
        if path is None or not path.is_file():
            raise Refused(
                404,
                "no-feedback",
                "This return has no feedback workbook yet. Open the return again in a minute.",
                "របាយការណ៍នេះមិនទាន់មានមតិត្រឡប់នៅឡើយទេ។ សូមបើកម្ដងទៀតក្នុងរយៈពេលមួយនាទី។",
            )
        self.accounts.log(account.login, "download", upload.feedback, address=address)
        return path

    def inside(self, relative: str) -> Path | None:
        """A path inside the workspace, or None for one that would lead out of it."""
        root = self.workspace.root
        p = (root / relative).resolve()
        return p if p.is_relative_to(root) and p != root else None

    # --- templates, the officer's board, national outputs ---------------------------------------

    def templates_for(self, account: Account) -> tuple[Path, ...]:
        """The issued templates of open periods the account may download (a sender: its own)."""
        folder = self.workspace.templates
        if not folder.is_dir():
            return ()
        files = sorted(p for p in folder.glob("*.xlsx") if p.is_file() and self._open(p))
        if account.role == "sender":
            files = [p for p in files if p.name.startswith(f"{account.ministry}_")]
        return tuple(files)

    def _open(self, template: Path) -> bool:
        """Whether an issued template is of a period still open for returns."""
        try:
            return not self.catalogue.is_closed(parse_period(template.stem.rsplit("_", 1)[-1]))
        except ValueError:
            return False

    def template_file(self, account: Account, name: str, address: str) -> Path:
        """One issued template the account may download, by its name; logged."""
        for p in self.templates_for(account):
            if p.name == name:
                self.accounts.log(
                    account.login, "download", f"templates_xlsx/{name}", address=address
                )
                return p
        raise NOT_YOURS

    def may_upload(self, account: Account) -> None:
        """Refuse uploads (and the returns page) to the national team: senders and officers send."""
        if account.role not in ("sender", "officer"):
            raise NOT_YOURS

    def staff_only(self, account: Account) -> None:
        """Refuse a sender what only officers and the national team see."""
        if account.role == "sender":
            raise NOT_YOURS

    def status(self, account: Account, period: str) -> Any:
        """The status board of a period (officers and the national team)."""
        from cpxl.consolidation import status_report

        self.staff_only(account)
        return status_report(self.catalogue, self.store, check_period(period))

    def periods(self) -> tuple[str, ...]:
        """The periods the store or the issued templates know, newest first."""
        seen = {s.period for s in self.store.submissions() if s.period}
        for path in self.workspace.templates.glob("*_*.xlsx"):
            seen.add(path.stem.rsplit("_", 1)[-1])
        good = set()
        for p in seen:
            try:
                good.add(parse_period(p).id)
            except ValueError:
                continue
        return tuple(sorted(good, reverse=True))

    def feedback_files(self, account: Account) -> tuple[str, ...]:
        """Every feedback workbook in outbox/feedback/ (officers and the national team)."""
        self.staff_only(account)
        folder = self.workspace.outbox / "feedback"
        if not folder.is_dir():
            return ()
        return tuple(sorted(p.name for p in folder.glob("*.xlsx") if p.is_file()))

    def any_feedback(self, account: Account, name: str, address: str) -> Path:
        """One workbook of outbox/feedback/ by its plain name (staff only); logged."""
        if name not in self.feedback_files(account):
            raise NOT_YOURS
        self.accounts.log(account.login, "download", f"outbox/feedback/{name}", address=address)
        return self.workspace.outbox / "feedback" / name

    def national_folder(self, account: Account, span: str) -> Path:
        """Where the national outputs of a period or span ("2024-2025") are built."""
        self.national_only(account)
        return self.workspace.outbox / "national" / check_span(span)

    def national_files(self, account: Account, span: str) -> tuple[str, ...]:
        """The national outputs already built for a period or span."""
        folder = self.national_folder(account, span)
        if not folder.is_dir():
            return ()
        return tuple(sorted(p.name for p in folder.iterdir() if p.is_file()))

    def national_file(self, account: Account, span: str, name: str, address: str) -> Path:
        """One national output by period (or span) and plain name; logged."""
        if name not in self.national_files(account, span):
            raise NOT_YOURS
        folder = self.national_folder(account, span)
        self.accounts.log(
            account.login, "download", f"outbox/national/{folder.name}/{name}", address
        )
        return folder / name

    def national_only(self, account: Account) -> None:
        """Refuse national outputs to senders."""
        if account.role not in ("national", "officer"):
            raise NOT_YOURS

    def status_text(self, status: str) -> tuple[str, str, str, str]:
        """A status's label and what it asks, in English and Khmer."""
        try:
            s = self.catalogue.statuses.get(Status(status))
        except ValueError:
            s = None
        if s is None:
            return (status, status, "", "")
        return (s.label.en, s.label.km, s.action.en, s.action.km)


def check_name(name: str) -> str:
    """The name an upload is saved under, made from the sender's file name; paths are refused."""
    if not name or "/" in name or "\\" in name or "\x00" in name or name.startswith("."):
        raise Refused(
            400,
            "bad-file-name",
            "The file name must be a plain name such as MOSVY_2025.xlsx, with no folder in it. "
            "Rename the file and upload it again.",
            "ឈ្មោះឯកសារត្រូវតែជាឈ្មោះធម្មតា ដូចជា MOSVY_2025.xlsx ដោយគ្មានថតឯកសារ។ "
            "សូមប្ដូរឈ្មោះឯកសារ ហើយផ្ញើម្ដងទៀត។",
        )
    stem, dot, ext = plain_name(name).rpartition(".")
    if not dot:
        stem, ext = ext, "bin"
    # Named as feedback is (Khmer kept whole), without a leading dot or dash.
    stem = cap_bytes(stem.strip(" ._-"), MAX_STEM_BYTES).rstrip(" ._") or "upload"
    ext = "".join(ch for ch in ext if ch.isascii() and ch.isalnum())[:8] or "bin"
    return f"{stem}.{ext}"


def check_period(period: str) -> str:
    """A period id as cpxl writes it, or a refusal that says how to write one."""
    try:
        return parse_period(period.strip()[:16]).id
    except ValueError:
        raise Refused(
            400,
            "bad-period",
            f"{period[:16]!r} is not a period. Write it as 2025, 2025S1, 2025Q1 or 202503.",
            f"{period[:16]!r} មិនមែនជារយៈពេលទេ។ សូមសរសេរជា 2025, 2025S1, 2025Q1 ឬ 202503។",
        ) from None


def check_span(span: str) -> str:
    """A period ("2025") or a span of periods of one type ("2024-2025"), checked."""
    first, dash, last = span.partition("-")
    if not dash:
        return check_period(first)
    a, b = check_period(first), check_period(last)
    if parse_period(a).type != parse_period(b).type or parse_period(b) < parse_period(a):
        raise Refused(
            400,
            "bad-period",
            f"{a} to {b}: give two periods of one type, the earlier first.",
            f"{a} ដល់ {b}៖ សូមផ្ដល់រយៈពេលពីរប្រភេទដូចគ្នា ដោយរយៈពេលមុនជាមុន។",
        )
    return f"{a}-{b}" if a != b else a


def too_large() -> Refused:
    """The refusal of a file over the size limit."""
    mib = MAX_UPLOAD_BYTES // (1024 * 1024)
    return Refused(
        413,
        "file-too-large",
        f"The file is larger than {mib} MB, so it was not received. A return is usually well "
        "under 1 MB: save it again as .xlsx, remove pictures, and upload it again.",
        f"ឯកសារធំជាង {mib} MB ដូច្នេះមិនត្រូវបានទទួលទេ។ សូមរក្សាទុកជា .xlsx ម្ដងទៀត លុបរូបភាពចេញ ហើយផ្ញើម្ដងទៀត។",
    )


def empty_file() -> Refused:
    """The refusal of an empty or missing file."""
    return Refused(
        400,
        "no-file",
        "No file was received. Choose your filled workbook, then press Upload.",
        "មិនបានទទួលឯកសារទេ។ សូមជ្រើសរើសឯកសារដែលបានបំពេញ រួចចុច ផ្ញើ។",
    )
