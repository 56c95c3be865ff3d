"""What a received file may ask of us, and the verdict the container check hands back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cpxl.findings import Code, Finding, Location, Severity, Status

MIB = 1024 * 1024

_RATIO_FLOOR = MIB  # a high compression ratio only marks a bomb past this many inflated bytes

UNSAFE_CODES = frozenset(
    {
        Code.ZIP_BOMB,
        Code.TOO_MANY_PARTS,
        Code.UNSAFE_MEMBER_NAME,
        Code.XML_ENTITIES,
        Code.MACROS,
        Code.EXTERNAL_LINKS,
    }
)
# Codes that say the file could not be opened (shared: the zip and OLE checks stop on them).
DAMAGED_CODES = frozenset({Code.UNREADABLE_WORKBOOK, Code.PASSWORD_PROTECTED})
_CODE_ORDER = {code: i for i, code in enumerate(Code)}


@dataclass(frozen=True, slots=True)
class Limits:
    """How much a received file may ask of us before it is refused unread."""

    max_bytes: int = 25 * MIB  # file size cap
    max_members: int = 2_000  # zip members
    max_inflated: int = 300 * MIB  # total inflated bytes, counted while inflating
    max_ratio: float = 200.0  # per-member compression ratio that marks a bomb (past 1 MiB)


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Peek:
    """What the reader needs of one worksheet, seen during the one inflate pass."""

    head: bytes  # the first bytes, where the declared area is
    tail: bytes  # the last bytes, where a value typed far outside the template is
    formulas: bool  # the sheet holds a formula or an error value somewhere
    far: str = ""  # the first cell seen far outside any template (its reference), if any


@dataclass(frozen=True, slots=True)
class Inspection:
    """What the container check decided: the file's kind and anything that stops it.

    For an xlsx it also hands on what it saw while inflating, so that the reader need not
    inflate it again: small parts kept whole (``kept``, by folded member name) and a peek at
    each worksheet (``peeks``).
    """

    kind: str  # "xlsx" | "ods" | "xls" | "" (unknown)
    findings: tuple[Finding, ...]
    kept: Mapping[str, bytes | None] = field(default_factory=dict)
    peeks: Mapping[str, Peek] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        """A blocked file must not reach a spreadsheet reader."""
        return any(f.severity is Severity.ERROR for f in self.findings)

    @property
    def status(self) -> Status | None:
        """The file's status when blocked: unsafe wins over unreadable."""
        if not self.blocked:
            return None
        if any(f.code in UNSAFE_CODES for f in self.findings):
            return Status.UNSAFE
        return Status.UNREADABLE


class Found:
    """Findings for one file, at most one per code (shared: every container check adds to it)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.by_code: dict[Code, Finding] = {}
        self.kept: Mapping[str, bytes | None] = {}
        self.peeks: Mapping[str, Peek] = {}

    def add(self, code: Code, *, seen: object = "", expected: object = "", **params: str) -> None:
        if code not in self.by_code:
            location = Location(file=self.file)
            self.by_code[code] = Finding.make(
                code, Severity.ERROR, location, seen=seen, expected=expected, **params
            )

    def result(self, kind: str) -> Inspection:
        # Unsafe findings first, so the first finding always explains the status.
        ordered = sorted(
            self.by_code.values(),
            key=lambda f: (f.code not in UNSAFE_CODES, _CODE_ORDER[f.code]),
        )
        return Inspection(kind, tuple(ordered), self.kept, self.peeks)


def too_compressed(inflated: int, stored: int, limits: Limits) -> bool:
    """Whether a member inflates like a bomb (shared: judged from the directory and inflating)."""
    return inflated > _RATIO_FLOOR and inflated > limits.max_ratio * max(stored, 1)


def megabytes(size: int) -> str:
    """A size as Windows shows it, rounded up so an over-limit size never equals the limit.

    Shared: every check that refuses a file for its size words the size this way.
    """
    tenths = -(-size * 10 // MIB)
    whole, part = divmod(tenths, 10)
    return f"{whole}.{part} MB" if part else f"{whole} MB"
