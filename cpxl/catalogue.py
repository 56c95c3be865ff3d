"""The framework as data: load ``rules/`` into frozen, typed values, or say all that is wrong.

Past :func:`load`, no code touches raw dicts. A broken catalogue is reported all at once
(every schema violation, every broken reference) as findings naming file, line and path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import jsonschema
import yaml

from cpxl.findings import Code, Finding, Location, MessageText, Scope, Severity, Status

FILES = (
    "catalogue",
    "ministries",
    "provinces",
    "disaggregations",
    "elements",
    "indicators",
    "calendar",
    "validation",
    "messages",
    "terms",
)


_K = TypeVar("_K")
_V = TypeVar("_V")


class CatalogueError(Exception):
    """The catalogue in rules/ is broken; ``findings`` says every problem at once."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        super().__init__(f"{len(self.findings)} problem(s) in the catalogue")


# ---------------------------------------------------------------------------------------------
# Domain values


@dataclass(frozen=True, slots=True)
class Term:
    """A label or sentence in both languages; ``km_status`` says whether the Khmer is reviewed."""

    en: str
    km: str
    km_status: str = "attested"

    @property
    def needs_review(self) -> bool:
        """The Khmer was not found in a source and waits for a reviewer."""
        return self.km_status == "needs_review"


@dataclass(frozen=True, slots=True)
class Ministry:
    """A reporting body: who fills a template, and whom it sends it to."""

    code: str
    name_en: str
    name_km: str
    km_status: str
    kind: str
    send_to_en: str
    send_to_km: str


@dataclass(frozen=True, slots=True)
class Province:
    """One of the 25 capital/provinces, with every spelling seen in real data."""

    code: str
    iso: str
    type: str
    name_en: str
    name_km: str
    name_km_full: str
    variants_en: tuple[str, ...] = ()
    variants_km: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Area:
    """A row of a data sheet: a province, or the nation for national elements."""

    code: str
    iso: str
    name_en: str
    name_km: str


@dataclass(frozen=True, slots=True)
class Option:
    """One value of a disaggregation dimension."""

    code: str
    label_en: str
    label_km: str
    km_status: str = "attested"


@dataclass(frozen=True, slots=True)
class Dimension:
    """A disaggregation (sex, age group, ...) with its options and its 'unknown' option."""

    code: str
    label_en: str
    label_km: str
    options: tuple[Option, ...]
    unknown: str | None = None
    km_status: str = "attested"

    def option(self, code: str) -> Option:
        """The option with this code."""
        for opt in self.options:
            if opt.code == code:
                return opt
        raise KeyError(code)


@dataclass(frozen=True, slots=True)
class SheetGroup:
    """A group of elements that becomes one data sheet of a template."""

    id: str
    title_en: str
    title_km: str
    km_status: str = "attested"


@dataclass(frozen=True, slots=True)
class Element:
    """A figure a ministry reports per area and period."""

    code: str
    name_en: str
    name_km: str
    km_status: str
    value_type: str
    by: tuple[str, ...]
    total: bool
    scope: str
    sheet: str
    aggregation: str
    required: bool
    description_en: str = ""

    @property
    def national(self) -> bool:
        """Reported once for the country rather than per province."""
        return self.scope == "national"


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to an element's total, or to one option of one of its dimensions."""

    element: str
    dimension: str = ""
    option: str = ""

    def __str__(self) -> str:
        if self.dimension:
            return f"{self.element}[{self.dimension}={self.option}]"
        return self.element


@dataclass(frozen=True, slots=True)
class Summand:
    """One signed term of an expression: a reference or a constant."""

    sign: int
    ref: Ref | None = None
    constant: float = 0.0


@dataclass(frozen=True, slots=True)
class Expression:
    """A sum of signed references and constants, parsed once and never evaluated with eval."""

    source: str
    terms: tuple[Summand, ...]

    @property
    def refs(self) -> tuple[Ref, ...]:
        """Every reference the expression names."""
        return tuple(t.ref for t in self.terms if t.ref is not None)

    def evaluate(self, lookup: Mapping[Ref, float | None], *, any_missing: bool) -> float | None:
        """The expression's value; None when a reference is missing (all, or any if asked)."""
        total = 0.0
        missing = 0
        for t in self.terms:
            if t.ref is None:
                total += t.sign * t.constant
                continue
            v = lookup.get(t.ref)
            if v is None:
                missing += 1
                continue
            total += t.sign * v
        n_refs = len(self.refs)
        if n_refs and ((any_missing and missing) or missing == n_refs):
            return None
        return total

    def __str__(self) -> str:
        return self.source


_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<ref>[a-z][a-z0-9_]*)(?:\[(?P<sel>[^\]]*)\])?|(?P<op>[+-]))"
)


class ExpressionError(ValueError):
    """An expression in the catalogue does not parse."""


def parse_expression(source: str) -> Expression:
    """Parse ``a + b[dim=opt] - 2`` into terms; raise ExpressionError on anything else."""
    terms: list[Summand] = []
    pos, sign, expect_term = 0, 1, True
    text = source.strip()
    if not text:
        raise ExpressionError("empty expression")
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"cannot read {text[pos:]!r}")
        pos = m.end()
        if m.group("op"):
            if not expect_term:
                sign = 1 if m.group("op") == "+" else -1
                expect_term = True
                continue
            if m.group("op") == "-":
                sign = -sign
                continue
            raise ExpressionError(f"unexpected {m.group('op')!r}")
        if not expect_term:
            raise ExpressionError(f"missing + or - before {m.group(0).strip()!r}")
        if m.group("num"):
            terms.append(Summand(sign, None, float(m.group("num"))))
        else:
            terms.append(Summand(sign, _parse_ref(m.group("ref"), m.group("sel"))))
        sign, expect_term = 1, False
    if expect_term:
        raise ExpressionError("expression ends with an operator")
    return Expression(source, tuple(terms))


def _parse_ref(name: str, selector: str | None) -> Ref:
    if selector is None:
        return Ref(name)
    parts = [p.strip() for p in selector.split(",") if p.strip()]
    if len(parts) != 1 or "=" not in parts[0]:
        raise ExpressionError(f"{name}[{selector}]: name exactly one dimension=option")
    dim, opt = (s.strip() for s in parts[0].split("=", 1))
    if not dim or not opt:
        raise ExpressionError(f"{name}[{selector}]: name exactly one dimension=option")
    return Ref(name, dim, opt)


@dataclass(frozen=True, slots=True)
class Indicator:
    """One of the framework's 50 indicators, with its metadata and provenance."""

    id: str
    framework_ref: str | None
    provenance: str
    domain: str
    name_en: str
    name_km: str
    km_status: str
    definition_en: str
    numerator: Expression
    denominator: Expression | None
    unit: str
    disaggregations: tuple[str, ...]
    frequency: str
    frequency_note: str
    data_source: str
    responsible: str
    survey: str | None
    evidence_urls: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class PeriodType:
    """Annual, half-year, quarterly or monthly, with its DHIS2-style id pattern."""

    code: str
    label_en: str
    label_km: str
    pattern: str


@dataclass(frozen=True, slots=True)
class DataSet:
    """What one ministry reports, how often, and how many days after period end it is due."""

    id: str
    ministry: str
    period_type: str
    due_days: int
    elements: tuple[str, ...]


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A reporting period: ``2025``, ``2025S1``, ``2025Q1`` or ``202503``."""

    start: date
    end: date
    id: str = field(compare=False)
    type: str = field(compare=False)

    @property
    def year(self) -> int:
        """The calendar year the period falls in."""
        return self.start.year

    def contains(self, other: Period) -> bool:
        """True when ``other`` lies within this period."""
        return self.start <= other.start and other.end <= self.end

    def previous(self) -> Period:
        """The period of the same type just before this one."""
        return period_containing(self.start - timedelta(days=1), self.type)


_PERIOD = re.compile(r"^(\d{4})(?:(Q)([1-4])|(S)([12])|(0[1-9]|1[0-2]))?$")


def parse_period(text: str) -> Period:
    """Parse a DHIS2-style period id; raise ValueError for anything else."""
    m = _PERIOD.match(text.strip())
    if not m:
        raise ValueError(f"not a period: {text!r} (write 2025, 2025S1, 2025Q1 or 202503)")
    year = int(m.group(1))
    if m.group(2):
        q = int(m.group(3))
        start, months, kind = date(year, 3 * q - 2, 1), 3, "quarterly"
    elif m.group(4):
        s = int(m.group(5))
        start, months, kind = date(year, 6 * s - 5, 1), 6, "semiannual"
    elif m.group(6):
        start, months, kind = date(year, int(m.group(6)), 1), 1, "monthly"
    else:
        start, months, kind = date(year, 1, 1), 12, "annual"
    end_month = start.month + months
    end_year = year + (end_month - 1) // 12
    end = date(end_year, (end_month - 1) % 12 + 1, 1) - timedelta(days=1)
    return Period(start, end, text.strip(), kind)


def period_containing(day: date, kind: str) -> Period:
    """The period of type ``kind`` that contains ``day``."""
    y, m = day.year, day.month
    ids = {
        "annual": f"{y}",
        "semiannual": f"{y}S{1 if m <= 6 else 2}",
        "quarterly": f"{y}Q{(m - 1) // 3 + 1}",
        "monthly": f"{y}{m:02d}",
    }
    return parse_period(ids[kind])


@dataclass(frozen=True, slots=True)
class Rule:
    """A validation rule from rules/validation.yaml."""

    id: str
    kind: str
    severity: Severity
    description_en: str = ""
    description_km: str = ""
    element: str = ""
    value_type: str = ""
    elements: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    integer: bool = False
    tolerance: float = 0.0
    missing: str = "skip_if_all_missing"
    left: Expression | None = None
    op: str = ""
    right: Expression | None = None
    threshold: float = 0.33
    outlier_z: float = 3.5
    min_value: float = 0.0
    message_en: str = ""
    message_km: str = ""
    km_status: str = "attested"


@dataclass(frozen=True, slots=True)
class StatusText:
    """What a status means, and what it asks of the officer and the sender."""

    label_en: str
    label_km: str
    action_en: str
    action_km: str
    km_status: str = "attested"


@dataclass(frozen=True, slots=True, eq=False)
class Catalogue:
    """Everything the framework says, typed and cross-checked (compared by identity)."""

    version: str
    title: Term
    framework_title_en: str
    source: str
    provenance_levels: Mapping[str, Term]
    domains: Mapping[str, Term]
    missing_reasons: Mapping[str, Term]
    national: Area
    ministries: Mapping[str, Ministry]
    provinces: tuple[Province, ...]
    dimensions: Mapping[str, Dimension]
    sheets: Mapping[str, SheetGroup]
    elements: Mapping[str, Element]
    indicators: tuple[Indicator, ...]
    period_types: Mapping[str, PeriodType]
    data_sets: tuple[DataSet, ...]
    open_from: int
    closed_periods: frozenset[str]
    template_version: int
    accepted_versions: frozenset[int]
    rules: tuple[Rule, ...]
    messages: Mapping[Code, MessageText]
    statuses: Mapping[Status, StatusText]
    terms: Mapping[str, Term]
    instructions: tuple[Term, ...]
    messages_to_review: frozenset[Code] = frozenset()

    def term(self, key: str) -> Term:
        """A label in both languages; the key itself when the catalogue lacks it."""
        return self.terms.get(key) or Term(key, key, "needs_review")

    def areas(self, element: Element) -> tuple[Area, ...]:
        """The rows an element is reported for."""
        if element.national:
            return (self.national,)
        return tuple(Area(p.code, p.iso, p.name_en, p.name_km) for p in self.provinces)

    def area_codes(self) -> frozenset[str]:
        """Every area code a value may carry."""
        return frozenset({self.national.code, *(p.code for p in self.provinces)})

    def data_sets_for(self, ministry: str, period: Period) -> tuple[DataSet, ...]:
        """The data sets a ministry reports for a period of that period's type."""
        return tuple(
            d for d in self.data_sets if d.ministry == ministry and d.period_type == period.type
        )

    def reporting_ministries(self, period: Period) -> tuple[str, ...]:
        """Ministries that report something for a period of this type, in catalogue order."""
        return tuple(m for m in self.ministries if self.data_sets_for(m, period))

    def ministry_of(self, element: str) -> str:
        """The ministry that reports an element."""
        for d in self.data_sets:
            if element in d.elements:
                return d.ministry
        raise KeyError(element)

    def data_set_of(self, element: str) -> DataSet:
        """The data set an element belongs to."""
        for d in self.data_sets:
            if element in d.elements:
                return d
        raise KeyError(element)

    def due_date(self, ministry: str, period: Period) -> date:
        """When a ministry's return for a period is due (the earliest of its data sets)."""
        sets = self.data_sets_for(ministry, period)
        days = min((d.due_days for d in sets), default=30)
        return period.end + timedelta(days=days)

    def is_closed(self, period: Period) -> bool:
        """Closed periods accept no returns or corrections."""
        return period.id in self.closed_periods or period.year < self.open_from

    def rules_of(self, kind: str) -> tuple[Rule, ...]:
        """The rules of one kind."""
        return tuple(r for r in self.rules if r.kind == kind)

    def khmer_to_review(self) -> list[tuple[str, str, str]]:
        """(where, English, Khmer) of every text whose Khmer still needs review."""
        out: list[tuple[str, str, str]] = []
        for key, t in self.terms.items():
            if t.needs_review:
                out.append((f"terms.{key}", t.en, t.km))
        for i, t in enumerate(self.instructions):
            if t.needs_review:
                out.append((f"instructions[{i}]", t.en, t.km))
        for m in self.ministries.values():
            if m.km_status == "needs_review":
                out.append((f"ministries.{m.code}", m.name_en, m.name_km))
        for e in self.elements.values():
            if e.km_status == "needs_review":
                out.append((f"elements.{e.code}", e.name_en, e.name_km))
        for ind in self.indicators:
            if ind.km_status == "needs_review":
                out.append((f"indicators.{ind.id}", ind.name_en, ind.name_km))
        out.extend(
            (f"messages.{code.value}", text.title_en, text.title_km)
            for code, text in self.messages.items()
            if code in self.messages_to_review
        )
        out.extend(
            (f"statuses.{st.value}", t.label_en, t.label_km)
            for st, t in self.statuses.items()
            if t.km_status == "needs_review"
        )
        out.extend(
            (f"rules.{r.id}", r.description_en, r.description_km)
            for r in self.rules
            if r.km_status == "needs_review"
        )
        for d in self.dimensions.values():
            if d.km_status == "needs_review":
                out.append((f"dimensions.{d.code}", d.label_en, d.label_km))
            out.extend(
                (f"dimensions.{d.code}.{o.code}", o.label_en, o.label_km)
                for o in d.options
                if o.km_status == "needs_review"
            )
        out.extend(
            (f"sheets.{g.id}", g.title_en, g.title_km)
            for g in self.sheets.values()
            if g.km_status == "needs_review"
        )
        for group, texts in (
            ("domains", self.domains),
            ("missing_reasons", self.missing_reasons),
            ("provenance_levels", self.provenance_levels),
        ):
            out.extend((f"{group}.{k}", t.en, t.km) for k, t in texts.items() if t.needs_review)
        if self.title.needs_review:
            out.append(("catalogue.title", self.title.en, self.title.km))
        return out


# ---------------------------------------------------------------------------------------------
# Loading


def builtin_rules() -> Path:
    """The catalogue shipped inside the package (the repository's rules/).

    An installed package carries it as ``cpxl/rules``; a source checkout (or an editable
    install) finds the repository's ``rules/`` beside the package.
    """
    here = Path(__file__).resolve().parent
    installed = here / "rules"
    return installed if (installed / "catalogue.yaml").is_file() else here.parent / "rules"


def resolve_rules(workspace: Path | None = None, rules: Path | None = None) -> Path:
    """The rules folder to use: explicit, else the workspace's own, else the built-in one."""
    if rules is not None:
        return rules
    if workspace is not None and (workspace / "rules" / "catalogue.yaml").is_file():
        return workspace / "rules"
    return builtin_rules()


def _schema_dir(rules_dir: Path) -> Path:
    own = rules_dir / "schema"
    return own if own.is_dir() else builtin_rules() / "schema"


@dataclass
class _Raw:
    """Parsed YAML of one file with its node tree, for line numbers."""

    name: str
    data: Any
    node: yaml.Node | None


def _line_of(node: yaml.Node | None, path: Sequence[str | int]) -> int | None:
    """The 1-based line of the YAML node at ``path``, as near as the tree allows."""
    best = node
    for key in path:
        if isinstance(best, yaml.MappingNode):
            nxt = next((v for k, v in best.value if getattr(k, "value", None) == key), None)
        elif isinstance(best, yaml.SequenceNode) and isinstance(key, int):
            nxt = best.value[key] if key < len(best.value) else None
        else:
            nxt = None
        if nxt is None:
            break
        best = nxt
    return best.start_mark.line + 1 if best is not None else None


def _json_path(path: Sequence[str | int]) -> str:
    out = "$"
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


class _Problems:
    """Collects catalogue findings with file, line and path."""

    def __init__(self, raws: Mapping[str, _Raw]) -> None:
        self.raws = raws
        self.items: list[Finding] = []

    def add(self, code: Code, file: str, path: Sequence[str | int], detail: str) -> None:
        raw = self.raws.get(file)
        line = _line_of(raw.node if raw else None, path)
        where = f"{file}.yaml" + (f":{line}" if line else "")
        self.items.append(
            Finding.make(
                code,
                Severity.ERROR,
                Location(file=where, path=_json_path(path), row=line),
                detail=detail,
            )
        )


def _read_yaml(path: Path, problems: list[Finding]) -> _Raw | None:
    name = path.stem
    if not path.is_file():
        problems.append(
            Finding.make(
                Code.CATALOGUE_YAML,
                Severity.ERROR,
                Location(file=path.name, path="$"),
                detail="the file is missing",
            )
        )
        return None
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problems.append(
            Finding.make(
                Code.CATALOGUE_YAML,
                Severity.ERROR,
                Location(file=f"{path.name}" + (f":{line}" if line else ""), path="$", row=line),
                detail=str(getattr(exc, "problem", exc)),
            )
        )
        return None
    return _Raw(name, data, node)


def load(rules_dir: Path | str | None = None) -> Catalogue:
    """Load and check a catalogue; raise CatalogueError listing every problem found."""
    folder = Path(rules_dir) if rules_dir is not None else builtin_rules()
    early: list[Finding] = []
    raws: dict[str, _Raw] = {}
    for name in FILES:
        raw = _read_yaml(folder / f"{name}.yaml", early)
        if raw is not None:
            raws[name] = raw
    problems = _Problems(raws)
    problems.items.extend(early)
    schemas = _schema_dir(folder)
    for name, raw in raws.items():
        schema_path = schemas / f"{name}.schema.json"
        if not schema_path.is_file():
            problems.add(Code.CATALOGUE_SCHEMA, name, [], f"no schema {schema_path.name}")
            continue
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        validator = jsonschema.Draft202012Validator(schema)
        for err in sorted(validator.iter_errors(raw.data), key=lambda e: list(e.absolute_path)):
            problems.add(Code.CATALOGUE_SCHEMA, name, list(err.absolute_path), err.message)
    if problems.items:
        raise CatalogueError(problems.items)
    catalogue = _build(raws, problems, folder)
    if problems.items:
        raise CatalogueError(problems.items)
    assert catalogue is not None
    return catalogue


def _term(d: Mapping[str, Any], en: str = "en", km: str = "km") -> Term:
    return Term(str(d[en]), str(d[km]), str(d.get("km_status", "attested")))


def _freeze(d: Mapping[_K, _V]) -> Mapping[_K, _V]:
    return MappingProxyType(dict(d))


def _build(raws: Mapping[str, _Raw], p: _Problems, folder: Path) -> Catalogue | None:
    cat = raws["catalogue"].data
    ministries: dict[str, Ministry] = _unique(
        p,
        "ministries",
        "ministries",
        raws["ministries"].data["ministries"],
        "code",
        lambda m: Ministry(
            m["code"],
            m["name_en"],
            m["name_km"],
            m.get("km_status", "attested"),
            m["kind"],
            m["send_to_en"],
            m["send_to_km"],
        ),
    )
    provinces: dict[str, Province] = _unique(
        p,
        "provinces",
        "provinces",
        raws["provinces"].data["provinces"],
        "code",
        lambda r: Province(
            r["code"],
            r["iso"],
            r["type"],
            r["name_en"],
            r["name_km"],
            r["name_km_full"],
            tuple(r.get("variants_en") or ()),
            tuple(r.get("variants_km") or ()),
        ),
    )
    dimensions: dict[str, Dimension] = _unique(
        p,
        "disaggregations",
        "dimensions",
        raws["disaggregations"].data["dimensions"],
        "code",
        lambda d: Dimension(
            d["code"],
            d["label_en"],
            d["label_km"],
            tuple(
                Option(o["code"], o["label_en"], o["label_km"], o.get("km_status", "attested"))
                for o in d["options"]
            ),
            d.get("unknown"),
            d.get("km_status", "attested"),
        ),
    )
    elements_raw = raws["elements"].data
    sheets: dict[str, SheetGroup] = _unique(
        p,
        "elements",
        "sheets",
        elements_raw["sheets"],
        "id",
        lambda s: SheetGroup(s["id"], s["title_en"], s["title_km"], s.get("km_status", "attested")),
    )
    elements: dict[str, Element] = _unique(
        p,
        "elements",
        "elements",
        elements_raw["elements"],
        "code",
        lambda e: Element(
            e["code"],
            e["name_en"],
            e["name_km"],
            e.get("km_status", "attested"),
            e["value_type"],
            tuple(e.get("by") or ()),
            bool(e.get("total", False)),
            e.get("scope", "province"),
            e["sheet"],
            e.get("aggregation", "sum"),
            bool(e.get("required", True)),
            e.get("description_en", ""),
        ),
    )
    dim_at = _first_index(raws["disaggregations"].data["dimensions"], "code")
    for code, d in dimensions.items():
        i = dim_at[code]
        codes = [o.code for o in d.options]
        for dup in {c for c in codes if codes.count(c) > 1}:
            p.add(Code.CATALOGUE_DUPLICATE, "disaggregations", ["dimensions", i], f"option {dup}")
        if d.unknown and d.unknown not in codes:
            p.add(
                Code.CATALOGUE_REFERENCE,
                "disaggregations",
                ["dimensions", i, "unknown"],
                f"unknown option {d.unknown!r} is not one of the options",
            )
    element_at = _first_index(elements_raw["elements"], "code")
    for code, e in elements.items():
        i = element_at[code]
        if e.sheet not in sheets:
            p.add(Code.CATALOGUE_REFERENCE, "elements", ["elements", i, "sheet"], e.sheet)
        for j, dim in enumerate(e.by):
            if dim not in dimensions:
                p.add(Code.CATALOGUE_REFERENCE, "elements", ["elements", i, "by", j], dim)
    checker = _RefChecker(p, elements, dimensions)
    domains = {d["id"] for d in cat["domains"]}
    indicators = _indicators(raws["indicators"].data["indicators"], p, checker, ministries, domains)
    cal = raws["calendar"].data
    period_types = {
        t["code"]: PeriodType(t["code"], t["label_en"], t["label_km"], t["pattern"])
        for t in cal["period_types"]
    }
    data_sets = _data_sets(
        cal["data_sets"],
        p,
        ministries,
        elements,
        period_types,
        [str(m["code"]) for m in raws["ministries"].data["ministries"]],
        [str(e["code"]) for e in elements_raw["elements"]],
    )
    rules = _rules(raws["validation"].data, p, checker)
    messages, statuses, review = _messages(raws["messages"].data, p)
    terms_raw = raws["terms"].data
    terms = {k: _term(v) for k, v in terms_raw["terms"].items()}
    instructions = tuple(_term(t) for t in terms_raw.get("instructions", ()))
    national = cat["national_area"]
    if p.items:
        return None
    return Catalogue(
        version=str(cat["version"]),
        title=Term(cat["title_en"], cat["title_km"], cat.get("km_status", "attested")),
        framework_title_en=cat["framework"]["title_en"],
        source=str(folder),
        provenance_levels=_freeze({k: _term(v) for k, v in cat["provenance_levels"].items()}),
        domains=_freeze(
            {
                d["id"]: Term(d["name_en"], d["name_km"], d.get("km_status", "attested"))
                for d in cat["domains"]
            }
        ),
        missing_reasons=_freeze(
            {
                m["code"]: Term(m["label_en"], m["label_km"], m.get("km_status", "attested"))
                for m in cat["missing_reasons"]
            }
        ),
        national=Area(national["code"], national["iso"], national["name_en"], national["name_km"]),
        ministries=_freeze(ministries),
        provinces=tuple(provinces.values()),
        dimensions=_freeze(dimensions),
        sheets=_freeze(sheets),
        elements=_freeze(elements),
        indicators=indicators,
        period_types=_freeze(period_types),
        data_sets=data_sets,
        open_from=int(cal["open_from"]),
        closed_periods=frozenset(str(x) for x in cal.get("closed_periods") or ()),
        template_version=int(cal["templates"]["version"]),
        accepted_versions=frozenset(int(v) for v in cal["templates"]["accepted_versions"]),
        rules=rules,
        messages=messages,
        statuses=statuses,
        terms=_freeze(terms),
        instructions=instructions,
        messages_to_review=review,
    )


def _unique(
    p: _Problems,
    file: str,
    key: str,
    items: Sequence[Mapping[str, Any]],
    field_name: str,
    make: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, item in enumerate(items):
        code = str(item[field_name])
        if code in out:
            p.add(Code.CATALOGUE_DUPLICATE, file, [key, i, field_name], f"{code} appears twice")
            continue
        out[code] = make(item)
    return out


class _RefChecker:
    """Parses expressions and checks that every name they use exists."""

    def __init__(
        self, p: _Problems, elements: Mapping[str, Element], dims: Mapping[str, Dimension]
    ) -> None:
        self.p, self.elements, self.dims = p, elements, dims

    def expr(self, text: Any, file: str, path: list[str | int]) -> Expression | None:
        if text is None:
            return None
        try:
            e = parse_expression(str(text))
        except ExpressionError as exc:
            self.p.add(Code.CATALOGUE_EXPRESSION, file, path, str(exc))
            return None
        for ref in e.refs:
            self.ref(ref, file, path)
        return e

    def ref(self, ref: Ref, file: str, path: list[str | int]) -> None:
        el = self.elements.get(ref.element)
        if el is None:
            self.p.add(Code.CATALOGUE_REFERENCE, file, path, f"unknown element {ref.element!r}")
            return
        if not ref.dimension:
            return
        if ref.dimension not in el.by:
            self.p.add(
                Code.CATALOGUE_REFERENCE,
                file,
                path,
                f"{ref.element} is not disaggregated by {ref.dimension!r}",
            )
            return
        if ref.option not in {o.code for o in self.dims[ref.dimension].options}:
            self.p.add(
                Code.CATALOGUE_REFERENCE,
                file,
                path,
                f"{ref.dimension} has no option {ref.option!r}",
            )

    def element(self, code: str, file: str, path: list[str | int]) -> None:
        if code not in self.elements:
            self.p.add(Code.CATALOGUE_REFERENCE, file, path, f"unknown element {code!r}")


_NOEXPR = Expression("", ())


def _indicators(
    items: Sequence[Mapping[str, Any]],
    p: _Problems,
    check: _RefChecker,
    ministries: Mapping[str, Ministry],
    domains: set[str],
) -> tuple[Indicator, ...]:
    out: list[Indicator] = []
    seen: set[str] = set()
    for i, d in enumerate(items):
        if d["id"] in seen:
            p.add(Code.CATALOGUE_DUPLICATE, "indicators", ["indicators", i, "id"], d["id"])
        seen.add(d["id"])
        num = check.expr(d["numerator"], "indicators", ["indicators", i, "numerator"])
        den = check.expr(d.get("denominator"), "indicators", ["indicators", i, "denominator"])
        if d["domain"] not in domains:
            p.add(
                Code.CATALOGUE_REFERENCE,
                "indicators",
                ["indicators", i, "domain"],
                f"unknown domain {d['domain']!r}",
            )
        if d["responsible"] not in ministries:
            p.add(
                Code.CATALOGUE_REFERENCE,
                "indicators",
                ["indicators", i, "responsible"],
                f"unknown ministry {d['responsible']!r}",
            )
        for j, dim in enumerate(d.get("disaggregations") or ()):
            if dim != "province" and dim not in check.dims:
                p.add(
                    Code.CATALOGUE_REFERENCE,
                    "indicators",
                    ["indicators", i, "disaggregations", j],
                    f"unknown dimension {dim!r}",
                )
        survey = d.get("survey")
        out.append(
            Indicator(
                id=d["id"],
                framework_ref=d.get("framework_ref"),
                provenance=d["provenance"],
                domain=d["domain"],
                name_en=d["name_en"],
                name_km=d["name_km"],
                km_status=d.get("km_status", "attested"),
                definition_en=d["definition_en"],
                numerator=num or _NOEXPR,
                denominator=den,
                unit=d["unit"],
                disaggregations=tuple(d.get("disaggregations") or ()),
                frequency=d["frequency"],
                frequency_note=d.get("frequency_note") or "",
                data_source=d["data_source"],
                responsible=d["responsible"],
                survey=survey["name"] if isinstance(survey, Mapping) else survey,
                evidence_urls=tuple(d.get("evidence_urls") or ()),
                note=d.get("note") or "",
            )
        )
    return tuple(out)


def _data_sets(
    items: Sequence[Mapping[str, Any]],
    p: _Problems,
    ministries: Mapping[str, Ministry],
    elements: Mapping[str, Element],
    period_types: Mapping[str, PeriodType],
    ministry_codes: Sequence[str],
    element_codes: Sequence[str],
) -> tuple[DataSet, ...]:
    out: list[DataSet] = []
    owner: dict[str, str] = {}
    for i, d in enumerate(items):
        if d["ministry"] not in ministries:
            p.add(
                Code.CATALOGUE_REFERENCE,
                "calendar",
                ["data_sets", i, "ministry"],
                f"unknown ministry {d['ministry']!r}",
            )
        if d["period_type"] not in period_types:
            p.add(
                Code.CATALOGUE_REFERENCE,
                "calendar",
                ["data_sets", i, "period_type"],
                f"unknown period type {d['period_type']!r}",
            )
        for j, el in enumerate(d["elements"]):
            if el not in elements:
                p.add(
                    Code.CATALOGUE_REFERENCE,
                    "calendar",
                    ["data_sets", i, "elements", j],
                    f"unknown element {el!r}",
                )
            elif el in owner:
                p.add(
                    Code.CATALOGUE_DUPLICATE,
                    "calendar",
                    ["data_sets", i, "elements", j],
                    f"{el} is already in data set {owner[el]}",
                )
            owner[el] = d["id"]
        out.append(
            DataSet(
                d["id"], d["ministry"], d["period_type"], int(d["due_days"]), tuple(d["elements"])
            )
        )
    reporting = {d.ministry for d in out}
    ministry_at = {m: i for i, m in reversed(list(enumerate(ministry_codes)))}
    for code in ministries:
        i = ministry_at[code]
        if code not in reporting:
            p.add(
                Code.CATALOGUE_NOTHING_TO_REPORT,
                "ministries",
                ["ministries", i],
                f"{code} reports no data set",
            )
    element_at = {e: i for i, e in reversed(list(enumerate(element_codes)))}
    for code in elements:
        i = element_at[code]
        if code not in owner:
            p.add(
                Code.CATALOGUE_REFERENCE,
                "elements",
                ["elements", i],
                f"{code} belongs to no data set in calendar.yaml",
            )
    return tuple(out)


def _rules(data: Mapping[str, Any], p: _Problems, check: _RefChecker) -> tuple[Rule, ...]:
    defaults = data.get("defaults") or {}
    out: list[Rule] = []
    seen: set[str] = set()
    for i, r in enumerate(data["rules"]):
        path: list[str | int] = ["rules", i]
        if r["id"] in seen:
            p.add(Code.CATALOGUE_DUPLICATE, "validation", [*path, "id"], r["id"])
        seen.add(r["id"])
        element = r.get("element", "")
        if element:
            check.element(element, "validation", [*path, "element"])
        for j, el in enumerate(r.get("elements") or ()):
            check.element(el, "validation", [*path, "elements", j])
        el_obj = check.elements.get(element)
        for j, dim in enumerate(r.get("dimensions") or ()):
            if el_obj is not None and dim not in el_obj.by:
                p.add(
                    Code.CATALOGUE_REFERENCE,
                    "validation",
                    [*path, "dimensions", j],
                    f"{element} is not disaggregated by {dim!r}",
                )
        out.append(
            Rule(
                id=r["id"],
                kind=r["kind"],
                severity=Severity(r["severity"]),
                description_en=r.get("description_en", ""),
                description_km=r.get("description_km", ""),
                element=element,
                value_type=r.get("value_type", ""),
                elements=tuple(r.get("elements") or ()),
                dimensions=tuple(r.get("dimensions") or ()),
                min=r.get("min"),
                max=r.get("max"),
                integer=bool(r.get("integer", False)),
                tolerance=float(r.get("tolerance", defaults.get("tolerance", 0))),
                missing=r.get("missing", defaults.get("missing", "skip_if_all_missing")),
                left=check.expr(r.get("left"), "validation", [*path, "left"]),
                op=r.get("op", ""),
                right=check.expr(r.get("right"), "validation", [*path, "right"]),
                threshold=float(r.get("threshold", defaults.get("change_threshold", 0.33))),
                outlier_z=float(r.get("outlier_z", defaults.get("outlier_z", 3.5))),
                min_value=float(r.get("min_value", defaults.get("min_value", 0))),
                message_en=r.get("message_en", ""),
                message_km=r.get("message_km", ""),
                km_status=r.get("km_status", "attested"),
            )
        )
    return tuple(out)


def _messages(
    data: Mapping[str, Any], p: _Problems
) -> tuple[Mapping[Code, MessageText], Mapping[Status, StatusText], frozenset[Code]]:
    messages: dict[Code, MessageText] = {}
    review: set[Code] = set()
    known = {c.value for c in Code}
    for key, m in data["messages"].items():
        if key not in known:
            p.add(
                Code.CATALOGUE_MESSAGE, "messages", ["messages", key], f"no finding has code {key}"
            )
            continue
        for lang_key in ("title_en", "message_en", "fix_en", "title_km", "message_km", "fix_km"):
            if not str(m.get(lang_key) or "").strip():
                where: list[str | int] = ["messages", key, lang_key]
                p.add(Code.CATALOGUE_MESSAGE, "messages", where, f"{lang_key} is empty")
        if m.get("km_status") == "needs_review":
            review.add(Code(key))
        messages[Code(key)] = MessageText(
            m["title_en"],
            m["title_km"],
            m["message_en"],
            m["message_km"],
            m["fix_en"],
            m["fix_km"],
            Scope(m["scope"]),
        )
    for code in Code:
        if code not in messages:
            p.add(Code.CATALOGUE_MESSAGE, "messages", ["messages"], f"no message for {code.value}")
    statuses: dict[Status, StatusText] = {}
    for key, s in (data.get("statuses") or {}).items():
        if key not in {st.value for st in Status}:
            p.add(Code.CATALOGUE_MESSAGE, "messages", ["statuses", key], f"no status {key}")
            continue
        statuses[Status(key)] = StatusText(
            s["label_en"],
            s["label_km"],
            s["action_en"],
            s["action_km"],
            s.get("km_status", "attested"),
        )
    for st in Status:
        if st not in statuses:
            p.add(Code.CATALOGUE_MESSAGE, "messages", ["statuses"], f"no text for status {st}")
    return _freeze(messages), _freeze(statuses), frozenset(review)


def iter_problems(rules_dir: Path) -> Iterator[Finding]:
    """Every problem of a catalogue, or nothing when it loads."""
    try:
        load(rules_dir)
    except CatalogueError as exc:
        yield from exc.findings


def _first_index(items: Sequence[Mapping[str, Any]], field_name: str) -> dict[str, int]:
    """Where each code first appears in its file (the entry a duplicate does not replace)."""
    out: dict[str, int] = {}
    for i, item in enumerate(items):
        out.setdefault(str(item[field_name]), i)
    return out
