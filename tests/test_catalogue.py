"""The catalogue in rules/: what it holds, and how a broken one is reported.

Covers: the shipped catalogue loads with the framework's 50 indicators and their provenance;
every finding code and file status has words in English and Khmer; messages use only the
placeholders their code supplies; expressions and period ids parse (and bad ones do not);
each kind of defect an editor can make is reported with its code, file, line and path; and
defects in several files are reported together.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
import yaml

from cpxl.catalogue import (
    FILES,
    Catalogue,
    CatalogueError,
    ExpressionError,
    Ref,
    Summand,
    load,
    parse_expression,
    parse_period,
    period_containing,
)
from cpxl.findings import Code, Finding, Severity, Status, placeholders_of

RULES = Path(__file__).resolve().parent.parent / "rules"

# What Finding.placeholders() supplies to every message.
GENERIC = frozenset(Finding.make(Code.EMPTY_FILE, Severity.ERROR).placeholders())
# The code-specific placeholders documented in /work/notes/rules_format.md (rules/messages.yaml).
CATALOGUE_PLACEHOLDERS = frozenset({"file", "path", "detail"})
SPECIFIC: dict[Code, frozenset[str]] = {
    Code.MISSING_SHEET: frozenset({"found"}),
    Code.RENAMED_SHEET: frozenset({"expected"}),
    Code.MOVED_COLUMN: frozenset({"expected", "name_en", "name_km"}),
    Code.MOVED_ROW: frozenset({"expected", "name_en", "name_km"}),
    Code.FIGURE_IN_INSERTED_ROW: frozenset({"after_en", "after_km"}),
    Code.FIGURE_IN_INSERTED_COLUMN: frozenset({"after_en", "after_km"}),
    Code.SUM_MISMATCH: frozenset(
        {"parts", "total", "cells", "difference", "part_cells", "parts_en", "parts_km"}
        | {"total_en", "total_km"}
    ),
    Code.COMPARE_FAILED: frozenset({"left", "right", "left_value", "right_value"}),
    Code.CHANGE_TOO_LARGE: frozenset({"history", "change"}),
    Code.OUTLIER: frozenset({"history", "z"}),
    Code.STOCK_NOT_CONTINUED: frozenset(
        {"period", "previous_value", "previous_period", "difference"}
    ),
    Code.FAR_FROM_REFERENCE: frozenset({"cells", "reference", "source_en", "source_km", "allowed"}),
    Code.TOTAL_FAR_FROM_REFERENCE: frozenset(
        {"cells", "reference", "source_en", "source_km", "allowed"}
    ),
    Code.SHARE_CHANGED: frozenset(
        {"left", "right", "share", "period", "previous_share", "previous_period", "allowed"}
    ),
    Code.LATE_SUBMISSION: frozenset({"days", "due"}),
    Code.DUPLICATE_FILE: frozenset({"first"}),
    Code.DUPLICATE_NOT_ACCEPTED: frozenset({"first"}),
    Code.UNCHANGED_SUBMISSION: frozenset({"first"}),
    Code.RESUBMISSION: frozenset({"previous"}),
    Code.VALUE_REMOVED: frozenset({"old"}),
    Code.PERIOD_CLOSED: frozenset({"period"}),
    Code.UNEXPECTED_MINISTRY: frozenset({"ministry", "expected"}),
    Code.UNEXPECTED_PERIOD: frozenset({"period", "expected"}),
    Code.RETIRED_TEMPLATE: frozenset({"version"}),
    Code.UNKNOWN_MINISTRY: frozenset({"ministry"}),
    Code.UNKNOWN_PERIOD: frozenset({"period"}),
    Code.OUT_OF_RANGE: frozenset({"min", "max"}),
    Code.MORE_FINDINGS: frozenset({"count", "column", "cells"}),
    Code.FILE_TOO_LARGE: frozenset({"size", "limit"}),
    Code.ZIP_BOMB: frozenset({"limit"}),
    Code.TOO_MANY_PARTS: frozenset({"count", "limit"}),
    Code.READER_CRASHED: frozenset({"reason"}),
    Code.TOO_SLOW: frozenset({"seconds"}),
    Code.ENVIRONMENT_FAILED: frozenset({"detail"}),
    **{c: CATALOGUE_PLACEHOLDERS for c in Code if c.value.startswith("catalogue-")},
}
# A compare rule's own sentence (rules/validation.yaml message_en / message_km).
RULE_PLACEHOLDERS = GENERIC | {"left", "right", "left_value", "right_value", "area"}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load(RULES)


# ---------------------------------------------------------------------------------------------
# The shipped catalogue


def test_catalogue_has_the_fifty_indicators(catalogue: Catalogue) -> None:
    """The catalogue holds the framework's 50 indicators, mostly proposals awaiting its text."""
    assert len(catalogue.indicators) == 50
    assert Counter(i.provenance for i in catalogue.indicators) == {
        "framework": 2,
        "framework_mentioned": 1,
        "inferred": 47,
    }
    assert set(catalogue.provenance_levels) == {"framework", "framework_mentioned", "inferred"}


def test_every_code_has_words_in_both_languages(catalogue: Catalogue) -> None:
    """Every finding an official can get has a title, message and fix in English and Khmer."""
    empty = [
        (code.value, name)
        for code in Code
        for name, words in _texts(catalogue.messages.get(code), "title", "message", "fix")
        if not words.strip()
    ]
    assert empty == []


def test_every_status_has_words_in_both_languages(catalogue: Catalogue) -> None:
    """Every file status has a label and an action in English and Khmer."""
    empty = [
        (status.value, name)
        for status in Status
        for name, words in _texts(catalogue.statuses.get(status), "label", "action")
        if not words.strip()
    ]
    assert empty == []


def _texts(owner: object, *names: str) -> list[tuple[str, str]]:
    """("title_en", its words), ("title_km", ...) ... of an owner's bilingual texts ("" if none)."""
    out = []
    for name in names:
        text = getattr(owner, name, None)
        out += [(f"{name}_en", getattr(text, "en", "")), (f"{name}_km", getattr(text, "km", ""))]
    return out


def test_messages_use_only_the_placeholders_their_code_supplies(catalogue: Catalogue) -> None:
    """A message never shows a raw {placeholder}: it names only values its finding carries."""
    unknown = []
    for code, text in catalogue.messages.items():
        allowed = GENERIC | SPECIFIC.get(code, frozenset())
        for name, words in _texts(text, "title", "message", "fix"):
            extra = placeholders_of(words) - allowed
            unknown += [(code.value, name, p) for p in sorted(extra)]
    for rule in catalogue.rules:
        for name, words in _texts(rule, "message"):
            extra = placeholders_of(words) - RULE_PLACEHOLDERS
            unknown += [(rule.id, name, p) for p in sorted(extra)]
    assert unknown == []


def _flagged(node: object) -> int:
    """How many entries of a parsed YAML file say their Khmer needs review."""
    if isinstance(node, dict):
        own = int(node.get("km_status") == "needs_review")
        return own + sum(_flagged(v) for v in node.values())
    if isinstance(node, list):
        return sum(_flagged(v) for v in node)
    return 0


def test_every_khmer_text_to_review_is_listed(catalogue: Catalogue) -> None:
    """Reviewers get every Khmer text that rules/ marks needs_review, not only some kinds."""
    marked = sum(
        _flagged(yaml.safe_load((RULES / f"{name}.yaml").read_text(encoding="utf-8")))
        for name in FILES
    )
    assert len(catalogue.khmer_to_review()) == marked


# ---------------------------------------------------------------------------------------------
# Expressions and periods


def test_expression_parses_terms_with_signs_and_margins() -> None:
    """An expression reads as signed references to totals, margin cells and constants."""
    e = parse_expression("cases_closed + cases_transferred[sex = female] - 2")
    assert e.terms == (
        Summand(1, Ref("cases_closed")),
        Summand(1, Ref("cases_transferred", "sex", "female")),
        Summand(-1, None, 2.0),
    )
    assert str(e.terms[1].ref) == "cases_transferred[sex=female]"
    assert e.refs == (Ref("cases_closed"), Ref("cases_transferred", "sex", "female"))


def test_expression_skips_missing_values_as_asked() -> None:
    """A sum with one figure missing is computed, or skipped when every figure must be there."""
    e = parse_expression("a + b")
    lookup = {Ref("a"): 3.0, Ref("b"): None}
    assert e.evaluate(lookup, any_missing=False) == 3.0
    assert e.evaluate(lookup, any_missing=True) is None
    assert e.evaluate({}, any_missing=False) is None


@pytest.mark.parametrize(
    "text",
    ["", "  ", "a + + b", "a b", "a +", "+ a", "a * b", "A", "a[sex]", "a[sex=male, age=x]", "a[]"],
)
def test_expression_rejects_what_it_cannot_read(text: str) -> None:
    """Anything but term (+|- term)* with one dimension per reference is refused."""
    with pytest.raises(ExpressionError):
        parse_expression(text)


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("2025", "annual", date(2025, 1, 1), date(2025, 12, 31)),
        ("2025S1", "semiannual", date(2025, 1, 1), date(2025, 6, 30)),
        ("2025S2", "semiannual", date(2025, 7, 1), date(2025, 12, 31)),
        ("2025Q1", "quarterly", date(2025, 1, 1), date(2025, 3, 31)),
        ("2025Q2", "quarterly", date(2025, 4, 1), date(2025, 6, 30)),
        ("2025Q3", "quarterly", date(2025, 7, 1), date(2025, 9, 30)),
        ("2025Q4", "quarterly", date(2025, 10, 1), date(2025, 12, 31)),
        ("202402", "monthly", date(2024, 2, 1), date(2024, 2, 29)),
        ("202412", "monthly", date(2024, 12, 1), date(2024, 12, 31)),
    ],
)
def test_period_ids_parse_to_their_dates(text: str, kind: str, start: date, end: date) -> None:
    """A period id gives its type and its first and last day."""
    p = parse_period(text)
    assert (p.id, p.type, p.start, p.end) == (text, kind, start, end)


@pytest.mark.parametrize(
    "text", ["", "25", "2025Q0", "2025Q5", "2025S3", "202500", "202513", "2025-Q1", "Q1 2025"]
)
def test_period_ids_that_do_not_exist_are_refused(text: str) -> None:
    """A period id that names no period is refused rather than guessed."""
    with pytest.raises(ValueError, match="not a period"):
        parse_period(text)


@pytest.mark.parametrize(
    ("text", "before"),
    [
        ("2025", "2024"),
        ("2025S1", "2024S2"),
        ("2025Q1", "2024Q4"),
        ("2025Q3", "2025Q2"),
        ("202501", "202412"),
        ("202403", "202402"),
    ],
)
def test_previous_period_is_the_one_just_before(text: str, before: str) -> None:
    """The previous period of a type is the one that ends the day before, across year ends."""
    assert parse_period(text).previous().id == before


def test_periods_contain_their_sub_periods() -> None:
    """A year contains its quarters and months; a day lies in exactly one period of each type."""
    year = parse_period("2025")
    assert (year.contains(parse_period("2025Q3")), year.contains(parse_period("2026Q1"))) == (
        True,
        False,
    )
    day = date(2025, 8, 15)
    ids = [period_containing(day, t).id for t in ("annual", "semiannual", "quarterly", "monthly")]
    assert ids == ["2025", "2025S2", "2025Q3", "202508"]


# ---------------------------------------------------------------------------------------------
# A broken catalogue, one defect at a time


class Copy:
    """A copy of rules/ in a temporary folder, broken on purpose by small edits to its text."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "rules"
        shutil.copytree(RULES, self.root)

    def text(self, file: str) -> str:
        return (self.root / file).read_text(encoding="utf-8")

    def node(self, file: str, path: Sequence[str | int]) -> yaml.Node:
        node = yaml.compose(self.text(file), Loader=yaml.SafeLoader)
        for key in path:
            if isinstance(node, yaml.MappingNode):
                node = next(v for k, v in node.value if k.value == key)
            else:
                node = node.value[key]
        return node

    def line(self, file: str, path: Sequence[str | int]) -> int:
        """The 1-based line where the node at ``path`` starts."""
        return int(self.node(file, path).start_mark.line) + 1

    def replace(self, file: str, path: Sequence[str | int], new: str) -> int:
        """Put YAML text ``new`` where the value at ``path`` is; return its line."""
        node, text = self.node(file, path), self.text(file)
        start, end = node.start_mark.index, node.end_mark.index
        (self.root / file).write_text(text[:start] + new + text[end:], encoding="utf-8")
        return int(node.start_mark.line) + 1

    def add_key(self, file: str, path: Sequence[str | int], entry: str) -> int:
        """Add ``key: value`` as the first key of the block mapping at ``path``."""
        node, text = self.node(file, path), self.text(file)
        at, indent = node.start_mark.index, " " * node.start_mark.column
        (self.root / file).write_text(text[:at] + entry + "\n" + indent + text[at:], "utf-8")
        return int(node.start_mark.line) + 1

    def copy_item(self, file: str, path: Sequence[str | int], index: int, at: int) -> str:
        """Insert a copy of item ``index`` of a block sequence as its item ``at``."""
        text, items = self.text(file), self.node(file, path).value

        def line_start(i: int) -> int:
            if i >= len(items):
                return len(text) if text.endswith("\n") else len(text + "\n")
            return text.rfind("\n", 0, items[i].start_mark.index) + 1

        text = text if text.endswith("\n") else text + "\n"
        chunk = text[line_start(index) : line_start(index + 1)]
        where = line_start(at)
        (self.root / file).write_text(text[:where] + chunk + text[where:], encoding="utf-8")
        return chunk

    def problems(self) -> list[tuple[Code, str, str]]:
        """(code, file:line, JSON path) of every problem the loader reports, in its order."""
        with pytest.raises(CatalogueError) as exc:
            load(self.root)
        assert {f.severity for f in exc.value.findings} == {Severity.ERROR}
        return [(f.code, f.location.file, f.location.path) for f in exc.value.findings]


def rule_index(catalogue: Catalogue, kind: str) -> int:
    """The position in validation.yaml of the first rule of a kind."""
    return next(i for i, r in enumerate(catalogue.rules) if r.kind == kind)


def test_a_clean_copy_loads(tmp_path: Path) -> None:
    """A faithful copy of the catalogue loads with nothing to report."""
    assert len(load(Copy(tmp_path).root).indicators) == 50


def test_wrong_type_is_a_schema_violation(tmp_path: Path) -> None:
    """A word where a number belongs is reported at its file, line and path."""
    rules = Copy(tmp_path)
    line = rules.replace("calendar.yaml", ["data_sets", 0, "due_days"], '"soon"')
    assert rules.problems() == [
        (Code.CATALOGUE_SCHEMA, f"calendar.yaml:{line}", "$.data_sets[0].due_days")
    ]


def test_unknown_key_is_a_schema_violation(tmp_path: Path) -> None:
    """A misspelt or invented key is caught, not silently ignored."""
    rules = Copy(tmp_path)
    line = rules.add_key("ministries.yaml", ["ministries", 0], "colour: red")
    assert rules.problems() == [
        (Code.CATALOGUE_SCHEMA, f"ministries.yaml:{line}", "$.ministries[0]")
    ]


def test_indicator_naming_an_unknown_element(tmp_path: Path) -> None:
    """An indicator whose numerator names no element is reported at that numerator."""
    rules = Copy(tmp_path)
    line = rules.replace("indicators.yaml", ["indicators", 0, "numerator"], '"no_such_element"')
    assert rules.problems() == [
        (Code.CATALOGUE_REFERENCE, f"indicators.yaml:{line}", "$.indicators[0].numerator")
    ]


def test_indicator_in_an_unknown_domain(tmp_path: Path) -> None:
    """An indicator filed under a domain the catalogue does not define is reported."""
    rules = Copy(tmp_path)
    line = rules.replace("indicators.yaml", ["indicators", 0, "domain"], "ZZ")
    assert rules.problems() == [
        (Code.CATALOGUE_REFERENCE, f"indicators.yaml:{line}", "$.indicators[0].domain")
    ]


def test_rule_naming_an_unknown_element(tmp_path: Path, catalogue: Catalogue) -> None:
    """A sum rule over an element that does not exist is reported at the rule's element."""
    rules, i = Copy(tmp_path), rule_index(catalogue, "sum")
    line = rules.replace("validation.yaml", ["rules", i, "element"], "no_such_element")
    assert rules.problems() == [
        (Code.CATALOGUE_REFERENCE, f"validation.yaml:{line}", f"$.rules[{i}].element")
    ]


def test_rule_naming_an_unknown_option(tmp_path: Path, catalogue: Catalogue) -> None:
    """A compare rule that names an option its dimension lacks is reported at that side."""
    rules, i = Copy(tmp_path), rule_index(catalogue, "compare")
    by_sex = next(e.code for e in catalogue.elements.values() if "sex" in e.by)
    line = rules.replace("validation.yaml", ["rules", i, "right"], f'"{by_sex}[sex=robot]"')
    assert rules.problems() == [
        (Code.CATALOGUE_REFERENCE, f"validation.yaml:{line}", f"$.rules[{i}].right")
    ]


def test_duplicate_ministry_code(tmp_path: Path, catalogue: Catalogue) -> None:
    """A ministry listed twice is reported at the second entry."""
    rules, n = Copy(tmp_path), len(catalogue.ministries)
    rules.copy_item("ministries.yaml", ["ministries"], 0, n)
    line = rules.line("ministries.yaml", ["ministries", n, "code"])
    assert rules.problems() == [
        (Code.CATALOGUE_DUPLICATE, f"ministries.yaml:{line}", f"$.ministries[{n}].code")
    ]


def test_paths_stay_right_after_a_duplicate_element(tmp_path: Path, catalogue: Catalogue) -> None:
    """After a duplicated element, a later element's problem still points at its own entry."""
    rules, n = Copy(tmp_path), len(catalogue.elements)
    rules.copy_item("elements.yaml", ["elements"], 0, 1)
    copy = rules.line("elements.yaml", ["elements", 1, "code"])
    sheet = rules.replace("elements.yaml", ["elements", n, "sheet"], "no_such_sheet")
    assert rules.problems() == [
        (Code.CATALOGUE_DUPLICATE, f"elements.yaml:{copy}", "$.elements[1].code"),
        (Code.CATALOGUE_REFERENCE, f"elements.yaml:{sheet}", f"$.elements[{n}].sheet"),
    ]


def test_empty_khmer_message(tmp_path: Path) -> None:
    """A message with no Khmer text is refused: every official reads both languages."""
    rules = Copy(tmp_path)
    line = rules.replace("messages.yaml", ["messages", "empty-file", "message_km"], '""')
    assert rules.problems() == [
        (Code.CATALOGUE_SCHEMA, f"messages.yaml:{line}", "$.messages.empty-file.message_km")
    ]


def test_words_an_older_workspace_lacks_come_with_cpxl_and_its_own_words_win(
    tmp_path: Path,
) -> None:
    """A workspace's rules/ is a copy made by the cpxl that created it: a finding added since
    has no words there, and takes cpxl's own (its runs never stop over it); the words the
    workspace has, edited or not, are the ones used."""
    rules = Copy(tmp_path)
    text = rules.text("messages.yaml")
    start = text.index("  duplicate-not-accepted:\n")
    end = text.index("\n\n", start) + 2
    (rules.root / "messages.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    rules.replace("messages.yaml", ["messages", "duplicate-file", "title_en"], '"Sent before"')
    loaded = load(rules.root)
    assert loaded.messages[Code.DUPLICATE_NOT_ACCEPTED].title.en == "Same file again, not accepted"
    assert loaded.messages[Code.DUPLICATE_FILE].title.en == "Sent before"


def test_blank_khmer_message(tmp_path: Path) -> None:
    """A Khmer message of spaces only is refused too, and points at that text."""
    rules = Copy(tmp_path)
    line = rules.replace("messages.yaml", ["messages", "empty-file", "message_km"], '"   "')
    assert rules.problems() == [
        (Code.CATALOGUE_MESSAGE, f"messages.yaml:{line}", "$.messages.empty-file.message_km")
    ]


def test_ministry_with_nothing_to_report(tmp_path: Path, catalogue: Catalogue) -> None:
    """A reporting body that reports no data set is reported as such."""
    rules, n = Copy(tmp_path), len(catalogue.ministries)
    rules.copy_item("ministries.yaml", ["ministries"], 0, n)
    rules.replace("ministries.yaml", ["ministries", n, "code"], "MOTEST")
    line = rules.line("ministries.yaml", ["ministries", n])
    assert rules.problems() == [
        (Code.CATALOGUE_NOTHING_TO_REPORT, f"ministries.yaml:{line}", f"$.ministries[{n}]")
    ]


def test_option_code_too_long_for_dhis2(tmp_path: Path, catalogue: Catalogue) -> None:
    """An option whose DHIS2 category option combo code (dimension_option) would pass 50
    characters is refused at its code, before any export could fail on it."""
    rules = Copy(tmp_path)
    i = list(catalogue.dimensions).index("facility_type")
    option = "residential_care_institution_run_by_the_state"  # 14 + 45 = 59 characters
    line = rules.replace("disaggregations.yaml", ["dimensions", i, "options", 0, "code"], option)
    assert rules.problems() == [
        (
            Code.CATALOGUE_CODE_TOO_LONG,
            f"disaggregations.yaml:{line}",
            f"$.dimensions[{i}].options[0].code",
        )
    ]


@pytest.mark.parametrize("expression", ["a + + b", "a b"])
def test_expression_that_does_not_parse(tmp_path: Path, expression: str) -> None:
    """An indicator formula that cannot be read is reported as an expression problem."""
    rules = Copy(tmp_path)
    line = rules.replace("indicators.yaml", ["indicators", 0, "numerator"], f'"{expression}"')
    assert rules.problems() == [
        (Code.CATALOGUE_EXPRESSION, f"indicators.yaml:{line}", "$.indicators[0].numerator")
    ]


def test_rule_expression_that_does_not_parse(tmp_path: Path, catalogue: Catalogue) -> None:
    """A compare rule side that cannot be read is reported at that side."""
    rules, i = Copy(tmp_path), rule_index(catalogue, "compare")
    line = rules.replace("validation.yaml", ["rules", i, "left"], '"cases_open cases_closed"')
    assert rules.problems() == [
        (Code.CATALOGUE_EXPRESSION, f"validation.yaml:{line}", f"$.rules[{i}].left")
    ]


def test_yaml_syntax_error(tmp_path: Path) -> None:
    """A file that is not YAML is reported with the line where reading stopped."""
    rules = Copy(tmp_path)
    line = rules.replace("ministries.yaml", ["ministries", 2, "kind"], "@ministry")
    assert rules.problems() == [(Code.CATALOGUE_YAML, f"ministries.yaml:{line}", "$")]


def test_missing_file(tmp_path: Path) -> None:
    """A catalogue without one of its files says which file is missing."""
    rules = Copy(tmp_path)
    (rules.root / "calendar.yaml").unlink()
    assert rules.problems() == [(Code.CATALOGUE_YAML, "calendar.yaml", "$")]


def test_defects_in_two_files_are_reported_together(tmp_path: Path, catalogue: Catalogue) -> None:
    """Two broken references in two files are both reported by one load, not one per attempt."""
    rules, i = Copy(tmp_path), rule_index(catalogue, "sum")
    ind = rules.replace("indicators.yaml", ["indicators", 0, "numerator"], '"no_such_element"')
    rule = rules.replace("validation.yaml", ["rules", i, "element"], "no_such_element")
    assert rules.problems() == [
        (Code.CATALOGUE_REFERENCE, f"indicators.yaml:{ind}", "$.indicators[0].numerator"),
        (Code.CATALOGUE_REFERENCE, f"validation.yaml:{rule}", f"$.rules[{i}].element"),
    ]


def test_unreadable_and_invalid_files_are_reported_together(tmp_path: Path) -> None:
    """A YAML error in one file does not hide a schema violation in another."""
    rules = Copy(tmp_path)
    bad = rules.replace("ministries.yaml", ["ministries", 2, "kind"], "@ministry")
    due = rules.replace("calendar.yaml", ["data_sets", 0, "due_days"], '"soon"')
    assert rules.problems() == [
        (Code.CATALOGUE_YAML, f"ministries.yaml:{bad}", "$"),
        (Code.CATALOGUE_SCHEMA, f"calendar.yaml:{due}", "$.data_sets[0].due_days"),
    ]


# ---------------------------------------------------------------------------------------------
# Words, provenance and the framework's sectors


def test_sources_are_cited_without_machine_paths() -> None:
    """No file of the catalogue cites its sources by an absolute path on someone's machine."""
    cited = [
        (path.name, n)
        for path in sorted(RULES.glob("*.yaml"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if line.lstrip().startswith("#") and ("/work/" in line or "/home/" in line)
    ]
    assert cited == []


def test_the_national_police_is_named_as_the_institution(catalogue: Catalogue) -> None:
    """The National Police's Khmer name is the institution, not its Commissioner General's title."""
    assert catalogue.ministries["GCNP"].name.km == "អគ្គស្នងការដ្ឋាននគរបាលជាតិ"


def test_not_recorded_is_not_translated_as_unknown(catalogue: Catalogue) -> None:
    """ "Not recorded" reads as "no data" in Khmer everywhere, never as "unknown" (មិនស្គាល់)."""
    labels = {
        (d.code, o.code): o.label.km
        for d in catalogue.dimensions.values()
        for o in d.options
        if o.label.en == "Not recorded"
    }
    assert labels == {
        ("sex", "unknown"): "គ្មានទិន្នន័យ",
        ("age_group_5yr", "age_unknown"): "គ្មានទិន្នន័យ",
    }
    assert catalogue.term("unknown").km == "គ្មានទិន្នន័យ"


def test_only_cp_ac_01_is_framework_mentioned(catalogue: Catalogue) -> None:
    """A finding quoted at the launch (fewer children in care) does not make CP-AC-02 one."""
    mentioned = [i.id for i in catalogue.indicators if i.provenance == "framework_mentioned"]
    assert mentioned == ["CP-AC-01"]


def test_framework_sectors_sit_beside_the_domains(catalogue: Catalogue) -> None:
    """4.8 and 4.11a are both in the framework's sector 4, which cpxl splits into AC and SV."""
    sectors = {
        i.id: (i.domain, i.framework_sector) for i in catalogue.indicators if i.framework_ref
    }
    assert sectors == {"CP-AC-06": ("AC", "4"), "CP-SV-01": ("SV", "4")}
    assert {d: s for d, s in catalogue.domain_sectors.items() if s} == {"AC": ("4",), "SV": ("4",)}
    assert list(catalogue.framework_sectors) == ["4"]


def test_an_indicator_outside_its_domains_sectors_is_refused(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    """A framework number whose sector the indicator's domain does not list is reported."""
    rules = Copy(tmp_path)
    i = next(n for n, d in enumerate(catalogue.indicators) if d.id == "CP-AC-06")
    line = rules.replace("indicators.yaml", ["indicators", i, "framework_ref"], '"2.3"')
    assert rules.problems() == [
        (Code.CATALOGUE_REFERENCE, f"indicators.yaml:{line}", f"$.indicators[{i}].framework_ref")
    ]


def test_a_province_sum_of_a_national_element_is_refused(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    """A reference over the provinces of a figure reported once for the country is reported."""
    rules = Copy(tmp_path)
    i = next(n for n, r in enumerate(catalogue.rules) if r.id == "REF-cvacs_physical_violence_pct")
    line = rules.add_key("validation.yaml", ["rules", i], "over: provinces")
    assert rules.problems() == [
        (Code.CATALOGUE_REFERENCE, f"validation.yaml:{line}", f"$.rules[{i}].over")
    ]
