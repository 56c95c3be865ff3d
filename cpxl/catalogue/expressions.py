"""Expressions in the catalogue: sums of signed references and constants.

Indicators and validation rules name figures as ``a + b[dim=opt] - 2``. They are parsed once, by a
small tokenizer, and evaluated by adding terms: catalogue text is never given to ``eval``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass


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
    sign, expect_term = 1, True
    text = source.strip()
    if not text:
        raise ExpressionError("empty expression")
    for m in _tokens(text):
        if m.group("op"):
            sign, expect_term = _signed(m.group("op"), sign, expect_term), True
            continue
        if not expect_term:
            raise ExpressionError(f"missing + or - before {m.group(0).strip()!r}")
        terms.append(_summand(m, sign))
        sign, expect_term = 1, False
    if expect_term:
        raise ExpressionError("expression ends with an operator")
    return Expression(source, tuple(terms))


def _tokens(text: str) -> Iterator[re.Match[str]]:
    """The expression's tokens in order; ExpressionError at the first thing that is none."""
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"cannot read {text[pos:]!r}")
        pos = m.end()
        yield m


def _signed(op: str, sign: int, expect_term: bool) -> int:
    """The next term's sign after an operator: a + or - between terms, or a leading minus."""
    if not expect_term:
        return 1 if op == "+" else -1
    if op == "-":
        return -sign
    raise ExpressionError(f"unexpected {op!r}")


def _summand(m: re.Match[str], sign: int) -> Summand:
    if m.group("num"):
        return Summand(sign, None, float(m.group("num")))
    return Summand(sign, _parse_ref(m.group("ref"), m.group("sel")))


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
