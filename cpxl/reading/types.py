"""What reading a return produces: the Submission, explanations, and the failure it may raise."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar

from cpxl.findings import Finding, Value
from cpxl.templates import (
    Identity,
    Layout,
)

T = TypeVar("T")

# Parts up to this size are small enough to keep as cache keys.
_SMALL_PART = 64 * 1024


def once_per_template(parse: Callable[..., T]) -> Callable[..., T]:
    """Parse a part's bytes once per distinct content: every return of one template carries its
    workbook.xml, relationships and custom.xml byte for byte (a re-saved copy does not)."""
    cached = lru_cache(maxsize=256)(parse)

    def run(*parts: bytes) -> T:
        return cached(*parts) if sum(map(len, parts)) <= _SMALL_PART else parse(*parts)

    return run


class ReadFailure(Exception):
    """A file that cannot be read as a cpxl return; carries the finding to report."""

    def __init__(self, finding: Finding) -> None:
        self.finding = finding
        super().__init__(finding.code.value)


@dataclass(frozen=True, slots=True)
class Explanation:
    """What a sender wrote to explain a warning on one row of a data sheet."""

    sheet: str
    cell: str
    area: str
    text: str


@dataclass(frozen=True, slots=True)
class Submission:
    """A return as read: identity, layout, every input value, explanations and reading findings."""

    file: str
    identity: Identity
    layout: Layout
    values: tuple[Value, ...]
    explanations: tuple[Explanation, ...] = ()
    findings: tuple[Finding, ...] = ()
    sheet_names: Mapping[str, str] = field(default_factory=dict)

    @property
    def filled(self) -> tuple[Value, ...]:
        """The values with something entered: what the store keeps of an accepted return."""
        return tuple(v for v in self.values if not v.blank)

    @property
    def ministry(self) -> str:
        """The ministry whose template this is."""
        return self.layout.ministry

    @property
    def period(self) -> str:
        """The reporting period of the template."""
        return self.layout.period
