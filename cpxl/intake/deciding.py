"""Deciding each file's one status, and recording it in the store in one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from cpxl.catalogue import Catalogue, parse_period
from cpxl.findings import (
    ACCEPTED_STATUSES,
    Change,
    Code,
    FileResult,
    Finding,
    Location,
    Severity,
    Status,
    Value,
    worst,
)
from cpxl.intake.receiving import Received
from cpxl.intake.workers import Checked
from cpxl.numbers import format_number
from cpxl.reading import ReadFailure, Submission, read_workbook
from cpxl.store import (
    Before,
    Explanation,
    Figures,
    NewSubmission,
    Store,
    StoreError,
    SubmissionRecord,
    differences,
    figures,
    outcome_of,
    repeat_result,
)
from cpxl.templates import IssuedTemplate, Layout
from cpxl.validation import check_against_store, finish, history_elements


@dataclass(frozen=True, slots=True)
class Expectation:
    """The ministries and periods the officer is collecting (empty: any)."""

    ministries: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()

    def check(self, sub: Submission, file: str) -> list[Finding]:
        """Errors for a genuine return of a ministry or period nobody asked for."""
        out: list[Finding] = []
        where = Location(file=file)
        if self.ministries and sub.ministry not in self.ministries:
            out.append(
                Finding.make(
                    Code.UNEXPECTED_MINISTRY,
                    Severity.ERROR,
                    where,
                    ministry=sub.ministry,
                    expected=", ".join(self.ministries),
                )
            )
        if self.periods and sub.period not in self.periods:
            out.append(
                Finding.make(
                    Code.UNEXPECTED_PERIOD,
                    Severity.ERROR,
                    where,
                    period=sub.period,
                    expected=", ".join(self.periods),
                )
            )
        return out


Key = tuple[str, str, str, str]


def duplicate(r: Received, first: str, first_status: Status | None = None) -> FileResult:
    """A file whose bytes were received before (under ``first``, whose status was
    ``first_status``): nothing new to check."""
    return repeat_result(r.name, r.sha256, r.received_at, first, first_status)


def decide(
    r: Received,
    checked: Checked,
    catalogue: Catalogue,
    store: Store,
    expect: Expectation,
    register: Mapping[str, IssuedTemplate],
) -> FileResult:
    """The file's one status and every finding, on the store as the files before it left it."""
    base = FileResult(
        r.name,
        r.sha256,
        Status.UNREADABLE,
        received_at=r.received_at.isoformat(timespec="seconds"),
        kind=checked.kind,
        received_stated=r.stated,
    )
    sub = checked.submission
    try:
        if sub is None:
            return replace(
                base,
                status=checked.status or Status.UNREADABLE,
                reason=checked.reason,
                findings=checked.findings,
            )
        checked = replace(checked, findings=(*checked.findings, *expect.check(sub, r.name)))
        return _decide_return(base, r, sub, checked, catalogue, store, register)
    except StoreError as exc:
        return not_processed(base, exc)


def not_processed(result: FileResult, exc: StoreError) -> FileResult:
    """The environment failed for this file: nothing of it is stored, the next run retries."""
    finding = Finding.make(
        Code.ENVIRONMENT_FAILED, Severity.ERROR, Location(file=result.file), detail=str(exc)
    )
    return replace(
        result,
        status=Status.NOT_PROCESSED,
        reason=Code.ENVIRONMENT_FAILED,
        findings=(finding,),
        values_stored=0,
        changes=(),
        fixed=(),
    )


def _decide_return(
    base: FileResult,
    r: Received,
    sub: Submission,
    checked: Checked,
    catalogue: Catalogue,
    store: Store,
    register: Mapping[str, IssuedTemplate],
) -> FileResult:
    """A genuine return: its dates, its checks against the store, its status, and what it
    changed and fixed since the return before it."""
    period = parse_period(sub.period)
    result, late = _dated(base, r, sub, catalogue)
    if catalogue.is_closed(period):
        finding = Finding.make(
            Code.PERIOD_CLOSED, Severity.ERROR, Location(file=r.name), period=sub.period
        )
        return replace(
            result, status=Status.PERIOD_CLOSED, reason=Code.PERIOD_CLOSED, findings=(finding,)
        )
    before = before_for(store, catalogue, sub, checked.digests)
    findings = [*checked.findings, *check_against_store(sub, catalogue, before.history), *late]
    # Replacement (and "unchanged") is judged against the accepted return that counts; what
    # the sender is told is judged against the latest return they sent, accepted or not.
    previous, filled = before.previous, checked.filled
    changes: list[Change] = []
    if previous is not None:  # the elements read back from it, against the same of this one
        now = [v for v in filled if before.compared is None or v.element in before.compared]
        changes = _changes(before.previous_values, figures(now))
    status, reason, final = _status(finish(findings, sub.explanations), sub, previous, changes)
    accepted = status in ACCEPTED_STATUSES
    if previous is not None and accepted:
        final = (*final, *_resubmission_findings(r.name, previous, changes))
    result = replace(
        result,
        status=status,
        reason=reason,
        findings=final,
        first=previous.name_received if status == Status.UNCHANGED and previous else "",
        values_stored=len(filled) if accepted else 0,
    )
    if status == Status.UNCHANGED:
        return result
    return _since_earlier(result, sub, filled, before, changes, catalogue, register)


def _dated(
    base: FileResult, r: Received, sub: Submission, catalogue: Catalogue
) -> tuple[FileResult, list[Finding]]:
    """The result with its ministry, period and due date, and a note when it came late."""
    due = catalogue.due_date(sub.ministry, parse_period(sub.period))
    days_late = (r.received_at.date() - due).days
    result = replace(
        base,
        ministry=sub.ministry,
        period=sub.period,
        due=due.isoformat(),
        days_late=days_late if days_late > 0 else None,
    )
    if days_late <= 0:
        return result, []
    where = Location(file=r.name)
    late = Finding.make(
        Code.LATE_SUBMISSION, Severity.INFO, where, days=days_late, due=due.isoformat()
    )
    return result, [late]


def _status(
    final: tuple[Finding, ...],
    sub: Submission,
    previous: SubmissionRecord | None,
    changes: Sequence[Change],
) -> tuple[Status, Code | None, tuple[Finding, ...]]:
    """The status its findings give (lateness aside), and its findings with the one the
    status adds: an accepted return identical to the one that counts is ``unchanged``."""
    level = worst([f for f in final if f.code != Code.LATE_SUBMISSION])
    if level == Severity.ERROR:
        return Status.NEEDS_CORRECTION, _first_error(final), final
    if previous is not None and not changes and not sub.explanations:
        where = Location(file=sub.file)
        same = Finding.make(
            Code.UNCHANGED_SUBMISSION, Severity.INFO, where, first=previous.name_received
        )
        return Status.UNCHANGED, Code.UNCHANGED_SUBMISSION, (*final, same)
    if level == Severity.WARNING:
        return Status.ACCEPTED_WITH_WARNINGS, None, final
    return Status.ACCEPTED, None, final


def _since_earlier(
    result: FileResult,
    sub: Submission,
    filled: Sequence[Value],
    before: Before,
    changes: Sequence[Change],
    catalogue: Catalogue,
    register: Mapping[str, IssuedTemplate],
) -> FileResult:
    """What the sender is told against the latest return they sent (accepted or not): its
    name, the cells changed, and its problems fixed and still open."""
    earlier, told, earlier_findings = before.previous, changes, before.previous_findings
    latest = before.latest
    if latest is not None and (earlier is None or latest.id != earlier.id):
        earlier, earlier_findings = latest, before.latest_findings
        told = _changes(_values_of(latest, catalogue, register), figures(filled))
    if earlier is None:
        return result
    fixed, still_open = _fixed_and_open(earlier_findings, result.findings)
    return replace(
        result,
        previous=earlier.name_received,
        changes=tuple(told),
        fixed=fixed,
        still_open=still_open,
    )


def _values_of(
    earlier: SubmissionRecord, catalogue: Catalogue, register: Mapping[str, IssuedTemplate]
) -> Figures:
    """The figures of an earlier return the store did not keep (it had errors), read again
    from its archived original: {} when that copy cannot be read."""
    try:
        sub = read_workbook(
            Path(earlier.archive_path),
            catalogue,
            register=register,
            display_name=earlier.name_received,
        )
    except (ReadFailure, OSError):
        return {}
    return figures(sub.filled)


@lru_cache(maxsize=1024)
def _needs(catalogue: Catalogue, layout: Layout) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The elements a return of this layout is compared with in the store (the same for every
    return of it): its own ministry's earlier totals that change, continuity and share rules
    read, and other ministries' elements its compare rules name."""
    own = frozenset(c.element for s in layout.sheets for c in s.columns)
    watched = history_elements(catalogue, own)
    return tuple(sorted(watched)), tuple(sorted(_related(catalogue, own) - own))


def before_for(
    store: Store, catalogue: Catalogue, sub: Submission, digests: Mapping[str, str] | None = None
) -> Before:
    """What deciding this return reads from the store, in one read: the submission it would
    replace, and just the history its checks need, so a run stays flat in the store's size
    (its change-checked totals of the three periods before; other ministries' elements its
    compare rules name, this period)."""
    watched, others = _needs(catalogue, sub.layout)
    earlier = [parse_period(sub.period).previous()]
    for _ in range(2):
        earlier.append(earlier[-1].previous())
    return store.before(
        sub.ministry,
        sub.period,
        watched=watched,
        earlier=[p.id for p in earlier],
        others=others,
        digests=digests,
    )


def _related(catalogue: Catalogue, own: frozenset[str]) -> set[str]:
    """This return's elements and those its compare rules name."""
    out = set(own)
    for rule in catalogue.rules_of("compare"):
        assert rule.left is not None and rule.right is not None
        refs = {x.element for x in (*rule.left.refs, *rule.right.refs)}
        if refs & own:
            out |= refs
    return out


def _first_error(findings: Sequence[Finding]) -> Code | None:
    return next((f.code for f in findings if f.severity == Severity.ERROR), None)


def _show(v: Value | None) -> str:
    if v is None or (v.value is None and not v.missing and not v.original.strip()):
        return ""  # blank
    if v.value is None and not v.missing:
        return v.original.strip()  # what was typed where a figure belongs ("twelve")
    return v.missing or format_number(v.value or 0.0)


def _changes(old: Figures, new: Figures) -> list[Change]:
    """Every cell whose value, as shown, differs from an earlier return's, in key order."""
    out: list[Change] = []
    for key, a, b in differences(old, new):
        shown = _show(a), _show(b)
        if shown[0] != shown[1]:
            at = b if b is not None else a
            assert at is not None
            out.append(Change(at.sheet, at.cell, key[0], key[1], *shown))
    return out


def _resubmission_findings(
    name: str, previous: SubmissionRecord, changes: Sequence[Change]
) -> list[Finding]:
    out = [
        Finding.make(
            Code.RESUBMISSION,
            Severity.INFO,
            Location(file=name),
            previous=previous.name_received,
        )
    ]
    for c in changes:
        if c.new == "":
            out.append(
                Finding.make(
                    Code.VALUE_REMOVED,
                    Severity.INFO,
                    Location(file=name, sheet=c.sheet, cell=c.cell),
                    old=c.old,
                )
            )
    return out


def _fixed_and_open(
    before: Sequence[Finding], now: Sequence[Finding]
) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    """The earlier return's errors and warnings: those gone now, and those still there."""
    current = {(f.code, f.location.sheet, f.location.cell) for f in now}
    fixed: list[Finding] = []
    still: list[Finding] = []
    for f in before:
        if f.severity != Severity.INFO:
            here = (f.code, f.location.sheet, f.location.cell) in current
            (still if here else fixed).append(f)
    return tuple(fixed), tuple(still)


def record(
    store: Store,
    run: int,
    r: Received,
    result: FileResult,
    checked: Checked,
    feedback: str,
) -> int:
    """One transaction for one file, with its feedback's name (its id); nothing from a file
    with errors is stored as data."""
    accept = result.status in ACCEPTED_STATUSES
    sub = checked.submission
    explanations = [
        Explanation(f.rule, f.location.sheet, f.location.cell, f.params.get("explanation", ""))
        for f in result.findings
        if "explanation" in f.params
    ]
    return store.record(
        run,
        NewSubmission(
            sha256=r.sha256,
            name_received=r.name,
            archive_path=str(r.archived),
            ministry=result.ministry,
            period=result.period,
            template_id=sub.identity.template_id if sub else "",
            template_version=int(sub.identity.template_version) if sub else None,
            received_at=r.received_at,
            status=result.status.value,
            reason=result.reason.value if result.reason else "",
            days_late=result.days_late,
            feedback=feedback,
            outcome=outcome_of(result),
            digests=checked.digests,
        ),
        checked.filled if accept else (),
        result.findings,
        explanations,
        accept=accept,
    ).id
