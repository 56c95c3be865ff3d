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
from cpxl.findings import Code, MessageText, Severity, Status, Text

_NONE = Text("", "")


@dataclass(frozen=True, slots=True)
class Ministry:
    """A reporting body: who fills a template, and whom it sends it to."""

    code: str
    name: Text
    kind: str
    send_to: Text


@dataclass(frozen=True, slots=True)
class Province:
    """One of the 25 capital/provinces, with every spelling seen in real data."""

    code: str
    iso: str
    type: str
    name: Text
    name_km_full: str
    variants_en: tuple[str, ...] = ()
    variants_km: tuple[str, ...] = ()
    population_2019: int | None = None


@dataclass(frozen=True, slots=True)
class Area:
    """A row of a data sheet: a province, or the nation for national elements."""

    code: str
    iso: str
    name: Text


@dataclass(frozen=True, slots=True)
class Option:
    """One value of a disaggregation dimension."""

    code: str
    label: Text


@dataclass(frozen=True, slots=True)
class Dimension:
    """A disaggregation (sex, age group, ...) with its options and its 'unknown' option."""

    code: str
    label: Text
    options: tuple[Option, ...]
    unknown: str | None = None

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
    title: Text


@dataclass(frozen=True, slots=True)
class Element:
    """A figure a ministry reports per area and period."""

    code: str
    name: Text
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
    name: Text
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
    label: Text
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
    description: Text = _NONE
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
    message: Text = _NONE
    previous: str = ""
    reference: float | None = None
    reference_year: int | None = None
    over: str = "area"
    tolerance_pct: float = 0.0
    source: Text = _NONE

    def allowed(self, base: float) -> float:
        """How far a figure may be from ``base``: the larger of the two tolerances."""
        return max(self.tolerance, self.tolerance_pct / 100 * abs(base))


@dataclass(frozen=True, slots=True)
class StatusText:
    """What a status means, and what it asks of the officer and the sender."""

    label: Text
    action: Text


@dataclass(frozen=True, slots=True, eq=False)
class Catalogue:
    """Everything the framework says, typed and cross-checked (compared by identity)."""

    version: str
    title: Text
    framework_title_en: str
    source: str
    provenance_levels: Mapping[str, Text]
    domains: Mapping[str, Text]
    missing_reasons: Mapping[str, Text]
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
    terms: Mapping[str, Text]
    instructions: tuple[Text, ...]
    framework_sectors: Mapping[str, Text] = field(default_factory=dict)
    domain_sectors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    national_population_2019: int | None = None

    def term(self, key: str) -> Text:
        """A label in both languages; the key itself when the catalogue lacks it."""
        return self.terms.get(key) or Text(key, key, "needs_review")

    def areas(self, element: Element) -> tuple[Area, ...]:
        """The rows an element is reported for."""
        if element.national:
            return (self.national,)
        return tuple(Area(p.code, p.iso, p.name) for p in self.provinces)

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
        texts: list[tuple[str, Text]] = [
            *((f"terms.{key}", t) for key, t in self.terms.items()),
            *((f"instructions[{i}]", t) for i, t in enumerate(self.instructions)),
            *((f"ministries.{m.code}", m.name) for m in self.ministries.values()),
            *((f"elements.{e.code}", e.name) for e in self.elements.values()),
            *((f"indicators.{ind.id}", ind.name) for ind in self.indicators),
            *((f"messages.{code.value}", m.title) for code, m in self.messages.items()),
            *((f"statuses.{st.value}", t.label) for st, t in self.statuses.items()),
            *((f"rules.{r.id}", r.description) for r in self.rules),
        ]
        for d in self.dimensions.values():
            texts.append((f"dimensions.{d.code}", d.label))
            texts.extend((f"dimensions.{d.code}.{o.code}", o.label) for o in d.options)
        texts.extend((f"sheets.{g.id}", g.title) for g in self.sheets.values())
        for group, named in (
            ("domains", self.domains),
            ("framework_sectors", self.framework_sectors),
            ("missing_reasons", self.missing_reasons),
            ("provenance_levels", self.provenance_levels),
        ):
            texts.extend((f"{group}.{k}", t) for k, t in named.items())
        texts.append(("catalogue.title", self.title))
        return [(where, t.en, t.km) for where, t in texts if t.needs_review]
