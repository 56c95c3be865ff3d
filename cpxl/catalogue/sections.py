"""The parts of the catalogue that name other parts: indicators, data sets, rules, messages.

Each is built from its YAML and cross-checked at once, so every broken reference in the catalogue
is reported together with its file, line and path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar

from cpxl.catalogue.expressions import Expression, ExpressionError, Ref, parse_expression
from cpxl.catalogue.model import (
    DataSet,
    Dimension,
    Element,
    Indicator,
    Ministry,
    PeriodType,
    Rule,
    StatusText,
)
from cpxl.catalogue.sources import Problems
from cpxl.findings import Code, MessageText, Scope, Severity, Status, Text


def bilingual(d: Mapping[str, Any], name: str = "") -> Text:
    """An entry's ``name_en``, ``name_km`` and ``km_status`` (``en``, ``km`` without a name)."""
    en, km = (f"{name}_en", f"{name}_km") if name else ("en", "km")
    return Text(str(d.get(en) or ""), str(d.get(km) or ""), str(d.get("km_status", "attested")))


_K = TypeVar("_K")
_V = TypeVar("_V")


def freeze(d: Mapping[_K, _V]) -> Mapping[_K, _V]:
    """A read-only copy (shared: every mapping a Catalogue holds is frozen this way)."""
    return MappingProxyType(dict(d))


class RefChecker:
    """Parses expressions and checks that every name they use exists.

    Public because loading.py builds one for the sections it hands it to.
    """

    def __init__(
        self, p: Problems, elements: Mapping[str, Element], dims: Mapping[str, Dimension]
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
            self.p.reference(file, path, f"unknown element {ref.element!r}")
            return
        if not ref.dimension:
            return
        if ref.dimension not in el.by:
            self.p.reference(file, path, f"{ref.element} is not disaggregated by {ref.dimension!r}")
            return
        if ref.option not in {o.code for o in self.dims[ref.dimension].options}:
            self.p.reference(file, path, f"{ref.dimension} has no option {ref.option!r}")

    def element(self, code: str, file: str, path: list[str | int]) -> None:
        if code not in self.elements:
            self.p.reference(file, path, f"unknown element {code!r}")


_NOEXPR = Expression("", ())


def load_indicators(
    items: Sequence[Mapping[str, Any]],
    p: Problems,
    check: RefChecker,
    ministries: Mapping[str, Ministry],
    domains: Mapping[str, tuple[str, ...]],
) -> tuple[Indicator, ...]:
    """The indicators, their expressions parsed and every name they use checked."""
    out: list[Indicator] = []
    seen: set[str] = set()
    for i, d in enumerate(items):
        if d["id"] in seen:
            p.add(Code.CATALOGUE_DUPLICATE, "indicators", ["indicators", i, "id"], d["id"])
        seen.add(d["id"])
        num = check.expr(d["numerator"], "indicators", ["indicators", i, "numerator"])
        den = check.expr(d.get("denominator"), "indicators", ["indicators", i, "denominator"])
        _check_indicator(p, check, ministries, domains, ["indicators", i], d)
        out.append(_indicator(d, num, den))
    return tuple(out)


def _check_indicator(
    p: Problems,
    check: RefChecker,
    ministries: Mapping[str, Ministry],
    domains: Mapping[str, tuple[str, ...]],
    path: list[str | int],
    d: Mapping[str, Any],
) -> None:
    """An indicator's domain, framework sector, ministry and dimensions are all known."""
    if d["domain"] not in domains:
        p.reference("indicators", [*path, "domain"], f"unknown domain {d['domain']!r}")
    _check_sector(p, domains, path, d)
    if d["responsible"] not in ministries:
        p.reference("indicators", [*path, "responsible"], f"unknown ministry {d['responsible']!r}")
    for j, dim in enumerate(d.get("disaggregations") or ()):
        if dim != "province" and dim not in check.dims:
            p.reference("indicators", [*path, "disaggregations", j], f"unknown dimension {dim!r}")


def _check_sector(
    p: Problems, domains: Mapping[str, tuple[str, ...]], path: list[str | int], d: Mapping[str, Any]
) -> None:
    """An indicator's framework reference lies in a sector its domain belongs to."""
    ref = d.get("framework_ref")
    sector = str(ref).split(".", 1)[0] if ref else None
    if sector and d["domain"] in domains and sector not in domains[d["domain"]]:
        p.reference(
            "indicators",
            [*path, "framework_ref"],
            f"framework sector {sector!r} is not among the framework_sectors of domain "
            f"{d['domain']!r} (catalogue.yaml)",
        )


def _indicator(d: Mapping[str, Any], num: Expression | None, den: Expression | None) -> Indicator:
    survey = d.get("survey")
    return Indicator(
        id=d["id"],
        framework_ref=d.get("framework_ref"),
        provenance=d["provenance"],
        domain=d["domain"],
        name=bilingual(d, "name"),
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


def load_data_sets(
    items: Sequence[Mapping[str, Any]],
    p: Problems,
    ministries: Mapping[str, Ministry],
    elements: Mapping[str, Element],
    period_types: Mapping[str, PeriodType],
    ministry_codes: Sequence[str],
    element_codes: Sequence[str],
) -> tuple[DataSet, ...]:
    """The data sets, checked; then every ministry reports one and every element is in one."""
    out: list[DataSet] = []
    owner: dict[str, str] = {}
    for i, d in enumerate(items):
        _check_data_set(p, ministries, period_types, ["data_sets", i], d)
        _claim_elements(p, elements, owner, ["data_sets", i], d)
        out.append(
            DataSet(
                d["id"], d["ministry"], d["period_type"], int(d["due_days"]), tuple(d["elements"])
            )
        )
    reporting = {d.ministry for d in out}
    ministry_at = {m: i for i, m in reversed(list(enumerate(ministry_codes)))}
    for code in ministries:
        if code not in reporting:
            p.add(
                Code.CATALOGUE_NOTHING_TO_REPORT,
                "ministries",
                ["ministries", ministry_at[code]],
                f"{code} reports no data set",
            )
    element_at = {e: i for i, e in reversed(list(enumerate(element_codes)))}
    for code in elements:
        if code not in owner:
            p.reference(
                "elements",
                ["elements", element_at[code]],
                f"{code} belongs to no data set in calendar.yaml",
            )
    return tuple(out)


def _check_data_set(
    p: Problems,
    ministries: Mapping[str, Ministry],
    period_types: Mapping[str, PeriodType],
    path: list[str | int],
    d: Mapping[str, Any],
) -> None:
    """A data set's ministry and period type are known."""
    if d["ministry"] not in ministries:
        p.reference("calendar", [*path, "ministry"], f"unknown ministry {d['ministry']!r}")
    if d["period_type"] not in period_types:
        p.reference("calendar", [*path, "period_type"], f"unknown period type {d['period_type']!r}")


def _claim_elements(
    p: Problems,
    elements: Mapping[str, Element],
    owner: dict[str, str],
    path: list[str | int],
    d: Mapping[str, Any],
) -> None:
    """Note the data set as its elements' owner; an element is known and in one data set only."""
    for j, el in enumerate(d["elements"]):
        if el not in elements:
            p.reference("calendar", [*path, "elements", j], f"unknown element {el!r}")
        elif el in owner:
            p.add(
                Code.CATALOGUE_DUPLICATE,
                "calendar",
                [*path, "elements", j],
                f"{el} is already in data set {owner[el]}",
            )
        owner[el] = d["id"]


def load_rules(data: Mapping[str, Any], p: Problems, check: RefChecker) -> tuple[Rule, ...]:
    """The validation rules, with the defaults filled in and every name they use checked."""
    defaults = data.get("defaults") or {}
    out: list[Rule] = []
    seen: set[str] = set()
    for i, r in enumerate(data["rules"]):
        path: list[str | int] = ["rules", i]
        if r["id"] in seen:
            p.add(Code.CATALOGUE_DUPLICATE, "validation", [*path, "id"], r["id"])
        seen.add(r["id"])
        _check_rule(p, check, path, r)
        out.append(_rule(r, defaults, check, path))
    return tuple(out)


def _check_rule(
    p: Problems, check: RefChecker, path: list[str | int], r: Mapping[str, Any]
) -> None:
    """A rule's elements are known, and it adds up or breaks down only what can be."""
    element = r.get("element", "")
    if element:
        check.element(element, "validation", [*path, "element"])
    if r.get("previous"):
        check.element(r["previous"], "validation", [*path, "previous"])
    _check_rule_scope(p, check, path, r)
    for j, el in enumerate(r.get("elements") or ()):
        check.element(el, "validation", [*path, "elements", j])
    _check_rule_dimensions(p, check, path, r)


def _check_rule_scope(
    p: Problems, check: RefChecker, path: list[str | int], r: Mapping[str, Any]
) -> None:
    """Only an element reported by province can be added up over the provinces."""
    element = r.get("element", "")
    scoped = check.elements.get(element)
    if r.get("over") == "provinces" and scoped is not None and scoped.national:
        p.reference(
            "validation",
            [*path, "over"],
            f"{element} is reported for the nation only: it has no provinces to add up",
        )


def _check_rule_dimensions(
    p: Problems, check: RefChecker, path: list[str | int], r: Mapping[str, Any]
) -> None:
    """A rule breaks its element down only by the dimensions the element has."""
    element = r.get("element", "")
    scoped = check.elements.get(element)
    for j, dim in enumerate(r.get("dimensions") or ()):
        if scoped is not None and dim not in scoped.by:
            p.reference(
                "validation", [*path, "dimensions", j], f"{element} is not disaggregated by {dim!r}"
            )


def _rule(
    r: Mapping[str, Any], defaults: Mapping[str, Any], check: RefChecker, path: list[str | int]
) -> Rule:
    return Rule(
        id=r["id"],
        kind=r["kind"],
        severity=Severity(r["severity"]),
        description=bilingual(r, "description"),
        element=r.get("element", ""),
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
        message=bilingual(r, "message"),
        previous=r.get("previous", ""),
        reference=r.get("reference"),
        reference_year=r.get("reference_year"),
        over=r.get("over", "area"),
        tolerance_pct=float(r.get("tolerance_pct", 0)),
        source=bilingual(r, "source"),
    )


def load_messages(
    data: Mapping[str, Any], p: Problems
) -> tuple[Mapping[Code, MessageText], Mapping[Status, StatusText]]:
    """Every code's message and every status's text, both languages present."""
    return freeze(_messages(data, p)), freeze(_statuses(data, p))


def _messages(data: Mapping[str, Any], p: Problems) -> dict[Code, MessageText]:
    messages: dict[Code, MessageText] = {}
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
        messages[Code(key)] = MessageText(
            bilingual(m, "title"), bilingual(m, "message"), bilingual(m, "fix"), Scope(m["scope"])
        )
    for code in Code:
        if code not in messages:
            p.add(Code.CATALOGUE_MESSAGE, "messages", ["messages"], f"no message for {code.value}")
    return messages


def _statuses(data: Mapping[str, Any], p: Problems) -> dict[Status, StatusText]:
    statuses: dict[Status, StatusText] = {}
    for key, s in (data.get("statuses") or {}).items():
        if key not in {st.value for st in Status}:
            p.add(Code.CATALOGUE_MESSAGE, "messages", ["statuses", key], f"no status {key}")
            continue
        statuses[Status(key)] = StatusText(bilingual(s, "label"), bilingual(s, "action"))
    for st in Status:
        if st not in statuses:
            p.add(Code.CATALOGUE_MESSAGE, "messages", ["statuses"], f"no text for status {st}")
    return statuses
