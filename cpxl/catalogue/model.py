"""The catalogue's domain values: frozen, typed, and free of raw YAML.

Everything past :func:`cpxl.catalogue.load` reads these, so a field's type here is a promise the
loader has already checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from cpxl.catalogue.expressions import Expression
from cpxl.catalogue.periods import Period
from cpxl.findings import Code, MessageText, Severity, Status


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
    population_2019: int | None = None


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

    @property
    def framework_sector(self) -> str | None:
        """The framework's own sector (the number before the dot of ``framework_ref``), if known."""
        return self.framework_ref.split(".", 1)[0] if self.framework_ref else None


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
    previous: str = ""
    reference: float | None = None
    reference_year: int | None = None
    over: str = "area"
    tolerance_pct: float = 0.0
    source_en: str = ""
    source_km: str = ""

    def allowed(self, base: float) -> float:
        """How far a figure may be from ``base``: the larger of the two tolerances."""
        return max(self.tolerance, self.tolerance_pct / 100 * abs(base))


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
    framework_sectors: Mapping[str, Term] = field(default_factory=dict)
    domain_sectors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    national_population_2019: int | None = None

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
            ("framework_sectors", self.framework_sectors),
            ("missing_reasons", self.missing_reasons),
            ("provenance_levels", self.provenance_levels),
        ):
            out.extend((f"{group}.{k}", t.en, t.km) for k, t in texts.items() if t.needs_review)
        if self.title.needs_review:
            out.append(("catalogue.title", self.title.en, self.title.km))
        return out
