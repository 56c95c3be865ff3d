"""The framework as data: load ``rules/`` into frozen, typed values, or say all that is wrong.

Past :func:`load`, no code touches raw dicts. A broken catalogue is reported all at once
(every schema violation, every broken reference) as findings naming file, line and path.
Modules: ``model`` (the values), ``expressions``, ``periods``, ``loading`` (``load`` and the
built-in rules), ``sources`` (YAML with line numbers) and ``sections`` (cross-checked parts).
"""

from cpxl.catalogue.expressions import (
    Expression,
    ExpressionError,
    Ref,
    Summand,
    parse_expression,
)
from cpxl.catalogue.loading import (
    FILES,
    CatalogueError,
    builtin_rules,
    load,
)
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
from cpxl.catalogue.periods import Period, parse_period, period_containing

__all__ = [
    "FILES",
    "Area",
    "Catalogue",
    "CatalogueError",
    "DataSet",
    "Dimension",
    "Element",
    "Expression",
    "ExpressionError",
    "Indicator",
    "Ministry",
    "Option",
    "Period",
    "PeriodType",
    "Province",
    "Ref",
    "Rule",
    "SheetGroup",
    "StatusText",
    "Summand",
    "builtin_rules",
    "load",
    "parse_expression",
    "parse_period",
    "period_containing",
]
