"""Filled returns as a real official would send them, for the demo, training, tests and benchmarks.

Values are plausible and consistent with every rule of the catalogue: parts add up to totals,
numerators stay below denominators, and the same seed gives the same figures for an element
whichever ministry's return it appears in, so that cross-ministry checks hold too. They look
like Cambodia: the child population is the catalogue's national reference spread over the
provinces by their 2019 census populations, counts follow the provinces' child populations,
survey estimates sit near the last survey's (the catalogue's ``reference`` rules), shares of a
budget hold from year to year, and a stock at the start of a period is the one at the end of
the period before (``continuity`` rules). With ``mistakes`` a few typical human errors are typed
in, and each is reported with its cell.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpxl.catalogue import Area, Catalogue, Element, Expression, Period, Ref, Rule, parse_period
from cpxl.errors import UsageError
from cpxl.findings import Code
from cpxl.templates import (
    Column,
    Identity,
    Layout,
    SheetLayout,
    build_layout,
    column_key,
    read_register,
    write_template,
)

NOT_COLLECTED_RATE = 0.01
KHMER = str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")

# The mistakes officials make, in the order they are applied, with the finding each causes.
MISTAKES: tuple[tuple[str, Code], ...] = (
    ("khmer-digits", Code.KHMER_DIGITS),
    ("number-as-text", Code.NUMBER_AS_TEXT),
    ("word-in-count", Code.NOT_A_NUMBER),
    ("negative-count", Code.NEGATIVE_COUNT),
    ("decimal-in-count", Code.DECIMAL_IN_COUNT),
    ("wrong-total", Code.SUM_MISMATCH),
    ("blank-required", Code.REQUIRED_BLANK),
)


@dataclass(frozen=True, slots=True)
class Mistake:
    """One cell an official got wrong: what should have been there and what was typed."""

    sheet: str
    cell: str
    kind: str
    code: Code
    intended: str
    typed: str

    def to_dict(self) -> dict[str, str]:
        """The machine shape printed by ``cpxl simulate --json``."""
        return {
            "sheet": self.sheet,
            "cell": self.cell,
            "kind": self.kind,
            "code": self.code.value,
            "intended": self.intended,
            "typed": self.typed,
        }


@dataclass(frozen=True, slots=True)
class Simulated:
    """One filled return."""

    path: Path
    ministry: str
    period: str
    mistakes: tuple[Mistake, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The machine shape printed by ``cpxl simulate --json``."""
        return {
            "file": str(self.path),
            "ministry": self.ministry,
            "period": self.period,
            "mistakes": [m.to_dict() for m in self.mistakes],
        }


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from any key: same key, same figure, any process."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# Residential care has been falling since the 2015-16 mapping: a stock loses this share a year.
STOCK_DECLINE = 0.05
# National executed budget (riel) in 2023 and its yearly growth; the child protection share.
BUDGET_2023 = 30e12
BUDGET_GROWTH = 0.06
CP_SHARE = 0.004


class World:
    """Every element's plausible figures for one period, consistent across ministries."""

    def __init__(self, catalogue: Catalogue, period: Period, seed: int) -> None:
        self.catalogue, self.period, self.seed = catalogue, period, seed
        self.references = {
            r.element: r for r in catalogue.rules_of("reference") if r.reference is not None
        }
        self.opening = {r.element: r.previous for r in catalogue.rules_of("continuity")}
        self.closing = set(self.opening.values())
        self.shares = _shares(catalogue)
        self.zero = _zero_options(catalogue)
        self.children = _child_population(catalogue, self.references)
        self.totals: dict[tuple[str, str], float] = {}
        for el in catalogue.elements.values():
            for area in catalogue.areas(el):
                self.totals[(el.code, area.code)] = self._base(el, area.code)
        self._respect_compare_rules()

    def _weight(self, area: str) -> float:
        """How big a province is: its child population against the average province's."""
        if not self.children:
            return 0.4 + 2.2 * _unit("area", area)
        if area not in self.children:  # the nation: figures reported once for the country
            return 0.25 * len(self.children)
        return self.children[area] / (sum(self.children.values()) / len(self.children))

    def _base(self, el: Element, area: str) -> float:
        """An element's total in one area: by what the element is, then as a plain count."""
        u = _unit(self.seed, el.code, area)
        reference = self.references.get(el.code)
        if el.code.endswith(("_ci_lower_pct", "_ci_upper_pct")):
            bound = self._bound(el, area, u)
            if bound is not None:
                return bound
        if reference is not None and reference.over == "area":
            return _surveyed(el, reference, u)
        if el.value_type in ("percent", "year", "amount"):
            return self._measure(el, area, u)
        if el.code in self.opening:  # the stock at the start is the one at the end before
            return self._stock(self.opening[el.code], area, self.period.previous())
        if el.code in self.closing:
            return self._stock(el.code, area, self.period)
        if reference is not None and area in self.children:  # the child population
            return float(round(self.children[area] * (0.995 + 0.01 * _unit(area, self.period.id))))
        return self._count(el, area, u)

    def _measure(self, el: Element, area: str, u: float) -> float:
        """A percentage, a year, or an amount in riel."""
        if el.value_type == "percent":
            return round(5 + 80 * u, 1)
        if el.value_type == "year":
            return float(min(self.period.year, 2014 + int(8 * u)))
        return self._amount(el, area, u)

    def _bound(self, el: Element, area: str, u: float) -> float | None:
        """A confidence bound a little below or above its estimate (None without one)."""
        estimate = el.code.replace("_ci_lower_pct", "_pct").replace("_ci_upper_pct", "_pct")
        if estimate not in self.catalogue.elements:
            return None
        est = self._base(self.catalogue.elements[estimate], area)
        half = 1.5 + 1.5 * u
        low = el.code.endswith("_ci_lower_pct")
        return round(max(0.0, est - half) if low else min(100.0, est + half), 1)

    def _count(self, el: Element, area: str, u: float) -> float:
        """A count scaled to the area's size, with a small move from one period to the next."""
        # One factor per area and period for every element, so that orderings between
        # elements hold every year and year-on-year changes stay small.
        # Year on year, a figure moves by at most a third of what its change rule tolerates.
        limit = min(
            (r.threshold for r in self.catalogue.rules_of("change") if r.element == el.code),
            default=0.33,
        )
        amplitude = min(0.08, limit / 3)
        noise = 1 - amplitude + 2 * amplitude * _unit(self.seed, area, self.period.id)
        scale = 20 + 400 * u
        return float(round(scale * self._weight(area) * noise))

    def _stock(self, code: str, area: str, period: Period) -> float:
        """A stock on the last day of a period: the same figure whichever period asks for it."""
        years = period.end.year + period.end.month / 12 - 2020
        start = (60 + 500 * _unit(self.seed, code, area)) * self._weight(area)
        return float(round(start * (1 - STOCK_DECLINE) ** years))

    def _amount(self, el: Element, area: str, u: float) -> float:
        """Budgets in riel: the nation's in trillions, a stable small share for child protection."""
        years = self.period.year - 2023
        national = BUDGET_2023 * (1 + BUDGET_GROWTH) ** years
        if el.code in self.shares:
            share = CP_SHARE * (0.9 + 0.2 * _unit(self.seed, el.code, area))
            return float(round(national * share / 1e6) * 1e6)
        if el.code in self.shares.values():
            return float(round(national / 1e9) * 1e9)
        return float(round((200 + 800 * u) * self._weight(area)) * 1_000_000)

    def _respect_compare_rules(self) -> None:
        """Shrink the smaller side of every ordering rule until it holds, margins included.

        Counts are capped at a share of the larger side that depends on the rule and the area
        only, whenever they pass it: the cap moves with the larger side, so a figure does not
        jump from one year to the next as a rule starts or stops biting. Stocks that continue
        from one period to the next are built to hold their rules and are never shrunk.
        """
        rules = [r for r in self.catalogue.rules_of("compare") if r.op in ("<=", "<", ">=", ">")]
        stocks = self.closing | set(self.opening)
        for _ in range(6):
            changed = False
            for rule in rules:
                changed |= self._respect(rule, stocks)
            if not changed:
                return

    def _respect(self, rule: Rule, stocks: set[str]) -> bool:
        """Shrink the smaller side of one ordering rule where it fails; whether anything moved."""
        assert rule.left is not None and rule.right is not None
        small, big = (rule.left, rule.right) if rule.op in ("<=", "<") else (rule.right, rule.left)
        names = {r.element for r in small.refs}
        if names & stocks:
            return False
        counts = all(self.catalogue.elements[e].value_type in ("count", "amount") for e in names)
        areas = {a.code for e in names for a in self.catalogue.areas(self.catalogue.elements[e])}
        changed = False
        for area in sorted(areas):
            share = self._share_to_keep(rule, small, big, counts, area)
            if share is not None:
                self._shrink(names, area, share)
                changed = True
        return changed

    def _share_to_keep(
        self, rule: Rule, small: Expression, big: Expression, counts: bool, area: str
    ) -> float | None:
        """The share of the smaller side to keep so the rule holds in an area (None: it does)."""
        lookup = self._lookup([*small.refs, *big.refs], area)
        low = small.evaluate(lookup, any_missing=True)
        high = big.evaluate(lookup, any_missing=True)
        if low is None or high is None or low == high == 0:
            return None
        cap = (0.6 + 0.3 * _unit(self.seed, rule.id, area)) if counts else 1.0
        if low <= cap * high or (not counts and low < high):
            return None
        if counts:
            share = cap * high / max(low, 1)
        else:
            share = (0.5 + 0.3 * _unit(self.seed, rule.id, area)) * high / max(low, 1)
        return min(share, 0.95)

    def _shrink(self, names: set[str], area: str, share: float) -> None:
        """Scale the elements' totals in an area down by ``share``."""
        for e in names:
            key = (e, area)
            if key in self.totals:
                el = self.catalogue.elements[e]
                scaled = self.totals[key] * share
                self.totals[key] = (
                    round(scaled, 1) if el.value_type == "percent" else float(int(scaled))
                )

    def _lookup(self, refs: Sequence[Ref], area: str) -> dict[Ref, float | None]:
        out: dict[Ref, float | None] = {}
        for ref in refs:
            el = self.catalogue.elements[ref.element]
            if (ref.element, area) not in self.totals:
                out[ref] = None
                continue
            out[ref] = self.cells(el, area).get(column_key(ref.element, ref.dimension, ref.option))
        return out

    def cells(self, el: Element, area: str) -> dict[str, float]:
        """Layout key -> value for one element and area: margins that add up to the total.

        Shares depend on the area and the option only, so that a smaller element's margins
        stay below a larger one's (children with a disability below all children, say).
        """
        total = self.totals[(el.code, area)]
        out: dict[str, float] = {}
        for dim_code in el.by:
            options = self.catalogue.dimensions[dim_code].options
            if el.value_type == "percent":
                for o in options:
                    jitter = _unit(self.seed, area, dim_code, o.code) * 4 - 2
                    out[column_key(el.code, dim_code, o.code)] = round(
                        max(0.0, min(100.0, total + jitter)), 1
                    )
                continue
            dim = self.catalogue.dimensions[dim_code]
            weights = [
                0.0
                if (el.code, dim_code, o.code) in self.zero
                # records lacking the attribute are few
                else (0.03 if o.code == dim.unknown else 1.0)
                * (0.2 + _unit(self.seed, area, dim_code, o.code))
                for o in options
            ]
            shares = _split(int(total), weights)
            for o, share in zip(options, shares, strict=True):
                out[column_key(el.code, dim_code, o.code)] = float(share)
        if el.total or not el.by:
            out[column_key(el.code)] = total
        return out


def _surveyed(el: Element, reference: Rule, u: float) -> float:
    """A survey repeats its latest estimate every year, near the reference."""
    assert reference.reference is not None
    if el.value_type == "year":
        return float(reference.reference)
    spread = reference.allowed(reference.reference) / 2
    return round(reference.reference + (2 * u - 1) * spread, 1)


def _shares(catalogue: Catalogue) -> dict[str, str]:
    """Element -> the element a share rule says it is a part of (a budget and its whole)."""
    return {
        r.left.refs[0].element: r.right.refs[0].element
        for r in catalogue.rules_of("share")
        if r.left is not None and r.right is not None and r.left.refs and r.right.refs
    }


def _zero_options(catalogue: Catalogue) -> set[tuple[str, str, str]]:
    """(element, dimension, option) cells a compare rule says are 0 (population not recorded)."""
    out: set[tuple[str, str, str]] = set()
    for rule in catalogue.rules_of("compare"):
        if rule.op != "==" or rule.left is None or rule.right is None or rule.right.refs:
            continue
        if len(rule.left.refs) == 1 and rule.right.evaluate({}, any_missing=True) == 0:
            ref = rule.left.refs[0]
            out.add((ref.element, ref.dimension, ref.option))
    return out


def _child_population(catalogue: Catalogue, references: Mapping[str, Any]) -> dict[str, float]:
    """Province -> children: the national reference spread by the 2019 census populations."""
    rule = next((r for r in references.values() if r.over == "provinces"), None)
    people = _census(catalogue)
    if rule is None or not people:
        return {}
    total = sum(people.values())
    return {code: rule.reference * n / total for code, n in people.items()}


def _census(catalogue: Catalogue) -> Mapping[str, float]:
    """Province -> 2019 population; the nation's remainder shared among provinces without one.

    Empty when no province has a population.
    """
    known = {p.code: p.population_2019 for p in catalogue.provinces if p.population_2019}
    if not known:
        return {}
    rest = max(0, (catalogue.national_population_2019 or 0) - sum(known.values()))
    missing = [p.code for p in catalogue.provinces if p.code not in known]
    return {**known, **{code: rest / len(missing) for code in missing}} if missing else known


def _split(total: int, weights: Sequence[float]) -> list[int]:
    """Whole parts proportional to weights that add up exactly to the total."""
    raw = [total * w / sum(weights) for w in weights]
    parts = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - parts[i], reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def plan(catalogue: Catalogue, layout: Layout, seed: int = 0) -> dict[tuple[str, str], float | str]:
    """(sheet, cell) -> value of a clean return, with a few blocks recorded as not collected."""
    world = World(catalogue, parse_period(layout.period), seed)
    codes = list(catalogue.missing_reasons)
    out: dict[tuple[str, str], float | str] = {}
    for sheet in layout.sheets:
        by_key = {c.key: c for c in sheet.columns}
        for area in sheet.areas:
            for el_code in dict.fromkeys(c.element for c in sheet.columns):
                el = catalogue.elements[el_code]
                values = world.cells(el, area.code)
                nc = codes and _unit(seed, "nc", el.code, area.code) < NOT_COLLECTED_RATE
                for key, value in values.items():
                    cell = sheet.cell(area.code, by_key[key])
                    out[(sheet.name, cell)] = codes[0] if nc else value
    return out


def ruled_elements(catalogue: Catalogue) -> set[str]:
    """Elements named by compare or change rules: mistakes stay away from them.

    Public because the benchmarks change figures of a return the same careful way.
    """
    out: set[str] = set()
    for rule in catalogue.rules:
        if rule.kind == "change":
            out.add(rule.element)
        for expr in (rule.left, rule.right):
            if expr is not None:
                out |= {r.element for r in expr.refs}
    return out


def add_mistakes(
    catalogue: Catalogue,
    layout: Layout,
    values: dict[tuple[str, str], float | str],
    seed: int,
) -> list[Mistake]:
    """Type one of each typical mistake into a clean return, each in its own element and row."""
    rng = random.Random(seed)
    sums = {r.element for r in catalogue.rules_of("sum")}
    used_rows: set[tuple[str, str, str]] = set()
    mistakes: list[Mistake] = []
    candidates = _candidates(catalogue, layout, values)
    rng.shuffle(candidates)
    for kind, code in MISTAKES:
        for sheet, area, col in candidates:
            row_key = (sheet.name, area.code, col.element)
            if row_key in used_rows or not _fits(kind, catalogue.elements[col.element], col, sums):
                continue
            cell = sheet.cell(area.code, col)
            intended = values[(sheet.name, cell)]
            assert isinstance(intended, float)
            typed = _typed(kind, intended)
            if typed is None:
                continue
            values[(sheet.name, cell)] = typed
            used_rows.add(row_key)
            mistakes.append(Mistake(sheet.name, cell, kind, code, f"{intended:g}", str(typed)))
            break
    return mistakes


def _candidates(
    catalogue: Catalogue, layout: Layout, values: Mapping[tuple[str, str], float | str]
) -> list[tuple[SheetLayout, Area, Column]]:
    """Count cells holding a number, away from the elements rules compare."""
    avoid = ruled_elements(catalogue)
    return [
        (sheet, area, col)
        for sheet in layout.sheets
        for area in sheet.areas
        for col in sheet.columns
        if catalogue.elements[col.element].value_type == "count"
        and col.element not in avoid
        and isinstance(values.get((sheet.name, sheet.cell(area.code, col))), float)
    ]


def _fits(kind: str, el: Element, col: Column, sums: set[str]) -> bool:
    """Whether a mistake of this kind can be typed in this column."""
    if kind == "wrong-total" and (col.dimension or col.element not in sums):
        return False
    return not (kind == "blank-required" and not el.required)


def _typed(kind: str, v: float) -> float | str | None:
    n = int(v)
    if kind == "khmer-digits":
        return str(n).translate(KHMER) if n >= 10 else None
    if kind == "number-as-text":
        return f" {n} "
    if kind == "word-in-count":
        return "twelve"
    if kind == "negative-count":
        return float(-n) if n > 0 else None
    if kind == "decimal-in-count":
        return n + 0.5
    if kind == "wrong-total":
        return float(n + 7)
    if kind == "blank-required":
        return ""
    return None


def fill_return(
    template: Path,
    out: Path,
    values: Mapping[tuple[str, str], float | str],
) -> None:
    """Type values into a copy of a template with openpyxl, as a user's Excel edit would."""
    import openpyxl

    wb = openpyxl.load_workbook(template)
    for (sheet, cell), value in values.items():
        ws = wb[sheet]
        ws[cell].value = None if value == "" else value
        if isinstance(value, str) and value.startswith("="):
            ws[cell].data_type = "s"  # a sender's text that looks like a formula stays text
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)


def write_return(
    out: Path,
    catalogue: Catalogue,
    layout: Layout,
    identity: Identity,
    values: Mapping[tuple[str, str], float | str],
) -> None:
    """Write a filled return directly with xlsxwriter: fast, for benchmarks with many files."""
    out.parent.mkdir(parents=True, exist_ok=True)
    write_template(out, catalogue, layout, identity, fill=dict(values))


def simulate_returns(
    catalogue: Catalogue,
    period: str,
    templates_dir: Path,
    out_dir: Path,
    ministries: Sequence[str] = (),
    *,
    seed: int = 0,
    mistakes: bool = False,
    on_progress: Callable[[str], None] | None = None,
) -> tuple[Simulated, ...]:
    """Fill the issued templates of a period as officials would, one return per ministry."""
    p = parse_period(period)
    wanted = list(ministries) or list(catalogue.reporting_ministries(p))
    register = read_register(templates_dir)
    out: list[Simulated] = []
    for ministry in wanted:
        template = templates_dir / f"{ministry}_{p.id}.xlsx"
        if not template.is_file():
            raise UsageError(
                f"No template {template.name} in {templates_dir}: "
                f"issue it first with `cpxl templates --period {p.id}`."
            )
        layout = build_layout(catalogue, ministry, p)
        if register and not any(t.file == template.name for t in register.values()):
            raise UsageError(f"{template.name} is not in the register of {templates_dir}")
        values = plan(catalogue, layout, seed)
        made = add_mistakes(catalogue, layout, values, seed) if mistakes else []
        target = out_dir / f"{ministry}_{p.id}_filled.xlsx"
        fill_return(template, target, values)
        out.append(Simulated(target, ministry, p.id, tuple(made)))
        if on_progress:
            on_progress(ministry)
    return tuple(out)
