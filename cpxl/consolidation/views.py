"""An indicator's views (its total, and each option of each breakdown), and their sides combined.

A disaggregated view replaces each numerator reference by the same option of the same dimension
(margins, like the store); a denominator element that lacks that dimension keeps its total, so
the parts of a share add up to the whole. The option holding records that lack the attribute
(the dimension's ``unknown``: sex or age "Not recorded") is never the numerator or denominator
of a share or a rate; counts keep it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cpxl.catalogue import Catalogue, Expression, Indicator, Ref
from cpxl.consolidation.grid import Bools, Floats, Ints, Side, Term, ratio
from cpxl.consolidation.inputs import RATE


@dataclass(frozen=True, slots=True)
class View:
    """One row kind of an indicator: its total, or one option of one disaggregation."""

    dimension: str
    option: str
    numerator: tuple[Term, ...]
    denominator: tuple[Term, ...] | None


def _terms(expr: Expression, dim: str, opt: str, *, need: bool, cat: Catalogue) -> list[Term]:
    """Terms with each plain reference narrowed to dim=opt; [] when that is not possible."""
    out: list[Term] = []
    for t in expr.terms:
        if t.ref is None:
            out.append(Term(t.sign, None, t.constant))
            continue
        ref = t.ref
        if dim:
            narrowable = not ref.dimension and dim in cat.elements[ref.element].by
            if narrowable:
                ref = Ref(ref.element, dim, opt)
            elif need:
                return []
        out.append(Term(t.sign, ref, 0.0))
    return out


def views_of(cat: Catalogue, ind: Indicator, totals_only: bool) -> list[View]:
    def den(dim: str, opt: str) -> tuple[Term, ...] | None:
        if ind.denominator is None:
            return None
        return tuple(_terms(ind.denominator, dim, opt, need=False, cat=cat))

    out = [View("", "", tuple(_terms(ind.numerator, "", "", need=True, cat=cat)), den("", ""))]
    if totals_only:
        return out
    for dim in ind.disaggregations:
        dimension = cat.dimensions.get(dim)
        if dimension is None:
            continue
        for opt in dimension.options:
            if ind.denominator is not None and opt.code == dimension.unknown:
                continue  # a share or rate of "not recorded" means nothing: no such row
            num = _terms(ind.numerator, dim, opt.code, need=True, cat=cat)
            if not num:
                break
            out.append(View(dim, opt.code, tuple(num), den(dim, opt.code)))
    return out


@dataclass(frozen=True, slots=True)
class ViewContext:
    index: int
    ind: Indicator
    view_index: int
    view: View
    num: Side
    den: Side | None
    applicable: Bools
    survey_year: list[str]


@dataclass(frozen=True, slots=True)
class Both:
    """Numerator and denominator of one view combined, over every (target, area) row."""

    has: Bools  # numerator and (when there is one) denominator reported
    num: Floats
    den: Floats
    value: Floats
    missing: Ints
    partial: Ints
    late: Bools
    src: Ints
    year: Floats | None  # the population year, for rates


def combine(ctx: ViewContext) -> Both:
    num, den = ctx.num, ctx.den
    if den is None:
        return Both(
            num.has, num.value, np.full_like(num.value, np.nan), num.value,
            num.missing_bits, num.partial_bits, num.late, num.src, None,
        )  # fmt: skip
    has = num.has & den.has
    value = ratio(ctx.ind.unit, num.value, den.value)
    return Both(
        has,
        num.value,
        den.value,
        np.where(has, value, np.nan),
        num.missing_bits | den.missing_bits,
        num.partial_bits | den.partial_bits,
        num.late | den.late,
        num.src + den.src,
        den.year if ctx.ind.unit == RATE else None,
    )
