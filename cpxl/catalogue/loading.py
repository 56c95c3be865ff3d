"""Load ``rules/`` into a :class:`Catalogue`, or raise one error that lists every problem.

A broken catalogue is reported all at once (every schema violation, every broken reference) as
findings naming file, line and path; past :func:`load`, no code touches raw dicts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jsonschema

from cpxl.catalogue.model import (
    Area,
    Catalogue,
    DataSet,
    Dimension,
    Element,
    Indicator,
    Ministry,
    Option,
    PeriodType,
    Province,
    Rule,
    SheetGroup,
    StatusText,
)
from cpxl.catalogue.sections import (
    RefChecker,
    bilingual,
    freeze,
    load_data_sets,
    load_indicators,
    load_messages,
    load_rules,
)
from cpxl.catalogue.sources import Problems, Raw, read_yaml
from cpxl.errors import UsageError
from cpxl.findings import Code, Finding, MessageText, Status

# DHIS2 keeps codes of at most 50 characters; an option exports as "<dimension>_<option>".
DHIS2_CODE_LENGTH = 50

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


class CatalogueError(UsageError):
    """The catalogue in rules/ is broken; ``findings`` says every problem at once."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        super().__init__(f"{len(self.findings)} problem(s) in the catalogue")


def builtin_rules() -> Path:
    """The catalogue shipped inside the package (the repository's rules/).

    An installed package carries it as ``cpxl/rules``; a source checkout (or an editable
    install) finds the repository's ``rules/`` beside the ``cpxl`` folder.
    """
    package = Path(__file__).resolve().parent.parent  # cpxl/, not cpxl/catalogue/
    installed = package / "rules"
    return installed if (installed / "catalogue.yaml").is_file() else package.parent / "rules"


def _schema_dir(rules_dir: Path) -> Path:
    own = rules_dir / "schema"
    return own if own.is_dir() else builtin_rules() / "schema"


def load(rules_dir: Path | str | None = None) -> Catalogue:
    """Load and check a catalogue; raise CatalogueError listing every problem found."""
    folder = Path(rules_dir) if rules_dir is not None else builtin_rules()
    early: list[Finding] = []
    raws: dict[str, Raw] = {}
    for name in FILES:
        raw = read_yaml(folder / f"{name}.yaml", early)
        if raw is not None:
            raws[name] = raw
    problems = Problems(raws)
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
    if "messages" in raws and folder.resolve() != builtin_rules().resolve():
        raws["messages"] = _with_builtin_words(raws["messages"])
    catalogue = _build(raws, problems, folder)
    if problems.items:
        raise CatalogueError(problems.items)
    assert catalogue is not None
    return catalogue


def _with_builtin_words(own: Raw) -> Raw:
    """A workspace's messages with the built-in words for every finding and status they do not
    name: a workspace's rules/ is a copy made by the cpxl that created it, and a newer cpxl's
    new finding must not stop its runs. The workspace's own words always win."""
    builtin = read_yaml(builtin_rules() / "messages.yaml", [])
    if builtin is None:
        return own
    data = dict(own.data)
    for section in ("messages", "statuses"):
        data[section] = {**(builtin.data.get(section) or {}), **(own.data.get(section) or {})}
    return replace(own, data=data)


@dataclass(frozen=True, slots=True)
class _Tables:
    """The catalogue's lists that name nothing else: read first, so the rest can be checked."""

    ministries: dict[str, Ministry]
    provinces: dict[str, Province]
    dimensions: dict[str, Dimension]
    sheets: dict[str, SheetGroup]
    elements: dict[str, Element]


@dataclass(frozen=True, slots=True)
class _Sections:
    """The parts that name the tables' entries, each checked against them."""

    indicators: tuple[Indicator, ...]
    period_types: dict[str, PeriodType]
    data_sets: tuple[DataSet, ...]
    rules: tuple[Rule, ...]
    messages: Mapping[Code, MessageText]
    statuses: Mapping[Status, StatusText]


def _build(raws: Mapping[str, Raw], p: Problems, folder: Path) -> Catalogue | None:
    """Read the tables, check what names what, read the sections; None if anything is wrong."""
    tables = _Tables(
        ministries=_ministries(p, raws),
        provinces=_provinces(p, raws),
        dimensions=_dimensions(p, raws),
        sheets=_sheets(p, raws),
        elements=_elements(p, raws),
    )
    _check_options(p, raws, tables.dimensions)
    _check_elements(p, raws, tables)
    _check_domain_sectors(p, raws["catalogue"].data)
    sections = _sections(p, raws, tables)
    if p.items:
        return None
    return _assemble(raws, folder, tables, sections)


def _ministries(p: Problems, raws: Mapping[str, Raw]) -> dict[str, Ministry]:
    return _unique(
        p,
        "ministries",
        "ministries",
        raws["ministries"].data["ministries"],
        "code",
        lambda m: Ministry(m["code"], bilingual(m, "name"), m["kind"], bilingual(m, "send_to")),
    )


def _provinces(p: Problems, raws: Mapping[str, Raw]) -> dict[str, Province]:
    return _unique(
        p,
        "provinces",
        "provinces",
        raws["provinces"].data["provinces"],
        "code",
        lambda r: Province(
            r["code"],
            r["iso"],
            r["type"],
            bilingual(r, "name"),
            r["name_km_full"],
            tuple(r.get("variants_en") or ()),
            tuple(r.get("variants_km") or ()),
            r.get("population_2019"),
        ),
    )


def _dimensions(p: Problems, raws: Mapping[str, Raw]) -> dict[str, Dimension]:
    return _unique(
        p,
        "disaggregations",
        "dimensions",
        raws["disaggregations"].data["dimensions"],
        "code",
        lambda d: Dimension(
            d["code"],
            bilingual(d, "label"),
            tuple(Option(o["code"], bilingual(o, "label")) for o in d["options"]),
            d.get("unknown"),
        ),
    )


def _sheets(p: Problems, raws: Mapping[str, Raw]) -> dict[str, SheetGroup]:
    return _unique(
        p,
        "elements",
        "sheets",
        raws["elements"].data["sheets"],
        "id",
        lambda s: SheetGroup(s["id"], bilingual(s, "title")),
    )


def _elements(p: Problems, raws: Mapping[str, Raw]) -> dict[str, Element]:
    return _unique(
        p,
        "elements",
        "elements",
        raws["elements"].data["elements"],
        "code",
        lambda e: Element(
            e["code"],
            bilingual(e, "name"),
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


def _check_options(
    p: Problems, raws: Mapping[str, Raw], dimensions: Mapping[str, Dimension]
) -> None:
    """Each dimension's options are unique, fit DHIS2's codes, and include its 'unknown'."""
    dim_at = _first_index(raws["disaggregations"].data["dimensions"], "code")
    for code, d in dimensions.items():
        i = dim_at[code]
        codes = [o.code for o in d.options]
        for dup in {c for c in codes if codes.count(c) > 1}:
            p.add(Code.CATALOGUE_DUPLICATE, "disaggregations", ["dimensions", i], f"option {dup}")
        for j, o in enumerate(d.options):
            combo = f"{code}_{o.code}"  # the DHIS2 category option combo it exports as
            if len(combo) > DHIS2_CODE_LENGTH:
                p.add(
                    Code.CATALOGUE_CODE_TOO_LONG,
                    "disaggregations",
                    ["dimensions", i, "options", j, "code"],
                    f"{combo!r} is {len(combo)} characters, more than DHIS2's "
                    f"{DHIS2_CODE_LENGTH} for a code",
                )
        if d.unknown and d.unknown not in codes:
            p.reference(
                "disaggregations",
                ["dimensions", i, "unknown"],
                f"unknown option {d.unknown!r} is not one of the options",
            )


def _check_elements(p: Problems, raws: Mapping[str, Raw], tables: _Tables) -> None:
    """Each element sits on a known sheet and is broken down by known dimensions."""
    element_at = _first_index(raws["elements"].data["elements"], "code")
    for code, e in tables.elements.items():
        i = element_at[code]
        if e.sheet not in tables.sheets:
            p.reference("elements", ["elements", i, "sheet"], e.sheet)
        for j, dim in enumerate(e.by):
            if dim not in tables.dimensions:
                p.reference("elements", ["elements", i, "by", j], dim)


def _check_domain_sectors(p: Problems, cat: Mapping[str, Any]) -> None:
    """Each domain names only framework sectors the catalogue lists."""
    sector_ids = {str(s["id"]) for s in cat["framework_sectors"]}
    for i, d in enumerate(cat["domains"]):
        for j, sector in enumerate(d["framework_sectors"]):
            if sector not in sector_ids:
                p.reference(
                    "catalogue",
                    ["domains", i, "framework_sectors", j],
                    f"unknown framework sector {sector!r}",
                )


def _sections(p: Problems, raws: Mapping[str, Raw], tables: _Tables) -> _Sections:
    """Indicators, data sets, rules and messages, each checked against the tables (in this order,
    so that the problems are listed as the files are)."""
    checker = RefChecker(p, tables.elements, tables.dimensions)
    indicators = load_indicators(
        raws["indicators"].data["indicators"],
        p,
        checker,
        tables.ministries,
        _domain_sectors(raws["catalogue"].data),
    )
    cal = raws["calendar"].data
    period_types = {
        t["code"]: PeriodType(t["code"], bilingual(t, "label"), t["pattern"])
        for t in cal["period_types"]
    }
    data_sets = load_data_sets(
        cal["data_sets"],
        p,
        tables.ministries,
        tables.elements,
        period_types,
        [str(m["code"]) for m in raws["ministries"].data["ministries"]],
        [str(e["code"]) for e in raws["elements"].data["elements"]],
    )
    _check_years_are_built_meaningfully(p, indicators, tables.elements, data_sets)
    rules = load_rules(raws["validation"].data, p, checker)
    messages, statuses = load_messages(raws["messages"].data, p)
    return _Sections(indicators, period_types, data_sets, rules, messages, statuses)


def _domain_sectors(cat: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    return {d["id"]: tuple(d["framework_sectors"]) for d in cat["domains"]}


def _assemble(
    raws: Mapping[str, Raw], folder: Path, tables: _Tables, sections: _Sections
) -> Catalogue:
    """The checked parts, frozen into one Catalogue."""
    cat = raws["catalogue"].data
    cal = raws["calendar"].data
    terms_raw = raws["terms"].data
    national = cat["national_area"]
    return Catalogue(
        version=str(cat["version"]),
        title=bilingual(cat, "title"),
        framework_title_en=cat["framework"]["title_en"],
        source=str(folder),
        provenance_levels=freeze({k: bilingual(v) for k, v in cat["provenance_levels"].items()}),
        domains=freeze({d["id"]: bilingual(d, "name") for d in cat["domains"]}),
        missing_reasons=freeze({m["code"]: bilingual(m, "label") for m in cat["missing_reasons"]}),
        national=Area(national["code"], national["iso"], bilingual(national, "name")),
        ministries=freeze(tables.ministries),
        provinces=tuple(tables.provinces.values()),
        dimensions=freeze(tables.dimensions),
        sheets=freeze(tables.sheets),
        elements=freeze(tables.elements),
        indicators=sections.indicators,
        period_types=freeze(sections.period_types),
        data_sets=sections.data_sets,
        open_from=int(cal["open_from"]),
        closed_periods=frozenset(str(x) for x in cal.get("closed_periods") or ()),
        template_version=int(cal["templates"]["version"]),
        accepted_versions=frozenset(int(v) for v in cal["templates"]["accepted_versions"]),
        rules=sections.rules,
        messages=sections.messages,
        statuses=sections.statuses,
        terms=freeze({k: bilingual(v) for k, v in terms_raw["terms"].items()}),
        instructions=tuple(bilingual(t) for t in terms_raw.get("instructions", ())),
        framework_sectors=freeze(
            {str(s["id"]): bilingual(s, "name") for s in cat["framework_sectors"]}
        ),
        domain_sectors=freeze(_domain_sectors(cat)),
        national_population_2019=national.get("population_2019"),
    )


def _check_years_are_built_meaningfully(
    p: Problems,
    indicators: Sequence[Indicator],
    elements: Mapping[str, Element],
    data_sets: Sequence[DataSet],
) -> None:
    """Refuse an indicator built on a sub-annual distinct count (aggregation ``none``).

    A year of such an indicator would be built from its quarters, and no combination of
    quarterly counts of distinct children is the year's count: the year needs its own element.
    """
    kind = {e: d.period_type for d in data_sets for e in d.elements}
    for i, ind in enumerate(indicators):
        sides = (("numerator", ind.numerator), ("denominator", ind.denominator))
        for side, expr in sides:
            for ref in expr.refs if expr is not None else ():
                el = elements.get(ref.element)
                if el is None or el.aggregation != "none" or kind.get(el.code) == "annual":
                    continue
                p.reference(
                    "indicators",
                    ["indicators", i, side],
                    f"{el.code} is a {kind.get(el.code)} count of distinct children"
                    " (aggregation: none), which cannot be added up into a year; report the"
                    " year's count as an element of its own in an annual return and use it",
                )


def _unique(
    p: Problems,
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


def _first_index(items: Sequence[Mapping[str, Any]], field_name: str) -> dict[str, int]:
    """Where each code first appears in its file (the entry a duplicate does not replace)."""
    out: dict[str, int] = {}
    for i, item in enumerate(items):
        out.setdefault(str(item[field_name]), i)
    return out
