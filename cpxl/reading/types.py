"""What reading a return produces: the Submission, explanations, and the failure it may raise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cpxl.findings import Finding, Value
from cpxl.templates import (
    Identity,
    Layout,
)


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
    def ministry(self) -> str:
        """The ministry whose template this is."""
        return self.layout.ministry

    @property
    def period(self) -> str:
        """The reporting period of the template."""
        return self.layout.period
