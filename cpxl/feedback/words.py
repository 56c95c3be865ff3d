"""What feedback says: a finding's text split into problem and fix, titles, status words.

A file never opened is never echoed: its reason is shown with only the placeholders cpxl
computed itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from cpxl.catalogue import Catalogue, StatusText
from cpxl.findings import (
    Code,
    FileResult,
    Finding,
    Location,
    MessageText,
    Params,
    Severity,
    Status,
    placeholders_of,
)

# Statuses whose file's content is never echoed: only a Summary of what was wrong.
NO_CONTENT = frozenset(
    {
        Status.UNREADABLE,
        Status.UNSAFE,
        Status.NOT_A_TEMPLATE,
        Status.DUPLICATE,
        Status.SKIPPED,
        Status.NOT_PROCESSED,
    }
)
# Placeholders computed by cpxl (names, sizes, dates), safe to show for a file never opened.
_SAFE_PLACEHOLDERS = frozenset(
    {"file", "size", "limit", "count", "first", "previous", "days", "due"}
)
OMITTED = "…"


def split_text(finding: Finding, messages: Mapping[Code, MessageText]) -> tuple[str, ...]:
    """(problem EN, what to do EN, problem KM, what to do KM), filled as Finding.render fills."""
    text = messages.get(finding.code)
    if text is None:
        return (finding.code.value, "", finding.code.value, "")
    problem_en, problem_km = finding.render({finding.code: replace(text, fix_en="", fix_km="")})
    fix_en, fix_km = finding.render({finding.code: replace(text, message_en="", message_km="")})
    return problem_en, fix_en, problem_km, fix_km


def titles(finding: Finding, messages: Mapping[Code, MessageText]) -> tuple[str, str]:
    text = messages.get(finding.code)
    return (text.title_en, text.title_km) if text else (finding.code.value, finding.code.value)


def status_text(catalogue: Catalogue, status: Status) -> StatusText:
    return catalogue.statuses.get(status) or StatusText(status.value, status.value, "", "")


def safe_reason(result: FileResult, messages: Mapping[Code, MessageText]) -> Finding | None:
    """The reason's finding with every placeholder cpxl did not compute itself left out."""
    if result.reason is None:
        return None
    found = next((f for f in result.findings if f.code == result.reason), None)
    known = dict(found.params) if found else {}
    known.update(first=result.first, previous=result.previous, file=result.file)
    text = messages.get(result.reason)
    used: set[str] = set()
    if text is not None:
        for template in (text.message_en, text.message_km, text.fix_en, text.fix_km):
            used |= placeholders_of(template)
    params = {n: (known.get(n) if n in _SAFE_PLACEHOLDERS else "") or OMITTED for n in used}
    severity = found.severity if found else Severity.ERROR
    return Finding(result.reason, severity, Location(file=result.file), params=Params(params))
