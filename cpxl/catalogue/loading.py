"""Load ``rules/`` into a :class:`Catalogue`, or raise one error that lists every problem.

A broken catalogue is reported all at once (every schema violation, every broken reference) as
findings naming file, line and path; past :func:`load`, no code touches raw dicts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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
    SheetGroup,
)
from cpxl.catalogue.sections import (
    _data_sets,
    _freeze,
    _indicators,
    _messages,
    _RefChecker,
    _rules,
    bilingual,
)
from cpxl.catalogue.sources import _Problems, _Raw, _read_yaml
from cpxl.findings import Code, Finding

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


class CatalogueError(Exception):
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


def _build(raws: Mapping[str, _Raw], p: _Problems, folder: Path) -> Catalogue | None:
    cat = raws["catalogue"].data
    ministries: dict[str, Ministry] = _unique(
        p,
        "ministries",
        "ministries",
        raws["ministries"].data["ministries"],
        "code",
        lambda m: Ministry(m["code"], bilingual(m, "name"), m["kind"], bilingual(m, "send_to")),
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
            bilingual(r, "name"),
            r["name_km_full"],
            tuple(r.get("variants_en") or ()),
            tuple(r.get("variants_km") or ()),
            r.get("population_2019"),
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
            bilingual(d, "label"),
            tuple(Option(o["code"], bilingual(o, "label")) for o in d["options"]),
            d.get("unknown"),
        ),
    )
    elements_raw = raws["elements"].data
    sheets: dict[str, SheetGroup] = _unique(
        p,
        "elements",
        "sheets",
        elements_raw["sheets"],
        "id",
        lambda s: SheetGroup(s["id"], bilingual(s, "title")),
    )
    elements: dict[str, Element] = _unique(
        p,
        "elements",
        "elements",
        elements_raw["elements"],
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
    domain_sectors = {d["id"]: tuple(d["framework_sectors"]) for d in cat["domains"]}
    sector_ids = {str(s["id"]) for s in cat["framework_sectors"]}
    for i, d in enumerate(cat["domains"]):
        for j, sector in enumerate(d["framework_sectors"]):
            if sector not in sector_ids:
                p.add(
                    Code.CATALOGUE_REFERENCE,
                    "catalogue",
                    ["domains", i, "framework_sectors", j],
                    f"unknown framework sector {sector!r}",
                )
    indicators = _indicators(
        raws["indicators"].data["indicators"], p, checker, ministries, domain_sectors
    )
    cal = raws["calendar"].data
    period_types = {
        t["code"]: PeriodType(t["code"], bilingual(t, "label"), t["pattern"])
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
    _check_years_are_built_meaningfully(p, indicators, elements, data_sets)
    rules = _rules(raws["validation"].data, p, checker)
    messages, statuses = _messages(raws["messages"].data, p)
    terms_raw = raws["terms"].data
    terms = {k: bilingual(v) for k, v in terms_raw["terms"].items()}
    instructions = tuple(bilingual(t) for t in terms_raw.get("instructions", ()))
    national = cat["national_area"]
    if p.items:
        return None
    return Catalogue(
        version=str(cat["version"]),
        title=bilingual(cat, "title"),
        framework_title_en=cat["framework"]["title_en"],
        source=str(folder),
        provenance_levels=_freeze({k: bilingual(v) for k, v in cat["provenance_levels"].items()}),
        domains=_freeze({d["id"]: bilingual(d, "name") for d in cat["domains"]}),
        missing_reasons=_freeze({m["code"]: bilingual(m, "label") for m in cat["missing_reasons"]}),
        national=Area(national["code"], national["iso"], bilingual(national, "name")),
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
        framework_sectors=_freeze(
            {str(s["id"]): bilingual(s, "name") for s in cat["framework_sectors"]}
        ),
        domain_sectors=_freeze(domain_sectors),
        national_population_2019=national.get("population_2019"),
    )


def _check_years_are_built_meaningfully(
    p: _Problems,
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
                p.add(
                    Code.CATALOGUE_REFERENCE,
                    "indicators",
                    ["indicators", i, side],
                    f"{el.code} is a {kind.get(el.code)} count of distinct children"
                    " (aggregation: none), which cannot be added up into a year; report the"
                    " year's count as an element of its own in an annual return and use it",
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


def _first_index(items: Sequence[Mapping[str, Any]], field_name: str) -> dict[str, int]:
    """Where each code first appears in its file (the entry a duplicate does not replace)."""
    out: dict[str, int] = {}
    for i, item in enumerate(items):
        out.setdefault(str(item[field_name]), i)
    return out
