"""What feedback says: a finding's text split into problem and fix, titles, status words.

A file never opened is never echoed: its reason is shown with only the placeholders cpxl
computed itself.
"""

from __future__ import annotations

from collections.abc import Mapping

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
    Text,
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


def split_text(finding: Finding, messages: Mapping[Code, MessageText]) -> tuple[Text, Text]:
    """(the problem, what to do), each in both languages, filled as Finding.render fills them."""
    text = messages.get(finding.code)
    if text is None:
        return Text(finding.code.value, finding.code.value), Text("", "")
    values = finding.placeholders()
    problem, fix = text.message.fill(values), text.fix.fill(values)
    return (
        Text(problem.en.strip(), problem.km.strip(), problem.km_status),
        Text(fix.en.strip(), fix.km.strip(), fix.km_status),
    )


def message_title(finding: Finding, messages: Mapping[Code, MessageText]) -> Text:
    """A finding's short title in both languages (its code when the catalogue has no words)."""
    text = messages.get(finding.code)
    return text.title if text else Text(finding.code.value, finding.code.value)


def status_text(catalogue: Catalogue, status: Status) -> StatusText:
    """What a status is called and asks for (its name alone when the catalogue has no words)."""
    return catalogue.statuses.get(status) or StatusText(
        Text(status.value, status.value), Text("", "")
    )


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
        for template in (text.message.en, text.message.km, text.fix.en, text.fix.km):
            used |= placeholders_of(template)
    params = {n: (known.get(n) if n in _SAFE_PLACEHOLDERS else "") or OMITTED for n in used}
    severity = found.severity if found else Severity.ERROR
    return Finding(result.reason, severity, Location(file=result.file), params=Params(params))
