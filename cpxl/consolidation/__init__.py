"""National figures from the store: indicators, completeness, data quality, and their workbook.

Everything starts from the current accepted values, aggregated by the database
(:mod:`cpxl.store.national`): Python receives figures per element and period asked for, never
the long table whole. Absence of a row means "not reported" and is never turned into 0: a value
that cannot be built is NaN with status ``not-reported``, and ``missing_from`` says who is
missing.

The steps, each in its own module, down the data's path:

- ``inputs``: the periods asked for, their shorter returns, and the one read of the store;
- ``values``: element values per target period (built up from shorter returns, summed
  nationally); ``grid``: the same as arrays, with expressions summed over whole columns;
- ``views`` and ``indicators``: the indicator table (see /work/notes/national.md);
- ``completeness``: returns expected, received, accepted and on time; ``status``: whom to chase;
- ``quality``: outliers, change over time, compare rules and warnings; ``sources``: the cells
  behind each national value;
- ``stream``: national values and indicators as chunks of a few periods, for the exports;
- ``writer``, ``sheets`` and ``workbook``: the bilingual national workbook.
"""

from cpxl.consolidation.completeness import (
    COMPLETENESS_COLUMNS,
    COMPLETENESS_TARGET,
    TIMELINESS_TARGET,
    completeness,
    expected_returns,
)
from cpxl.consolidation.indicators import (
    LATE,
    NOT_REPORTED,
    PARTLY_REPORTED,
    REPORTED,
    STATUSES,
    indicator_table,
)
from cpxl.consolidation.inputs import HISTORY_PERIODS, RATE, sub_periods
from cpxl.consolidation.quality import (
    CHANGE_LIMIT,
    EXTREME_SD,
    MODERATE_SD,
    MODIFIED_Z_LIMIT,
    QUALITY_COLUMNS,
    data_quality,
)
from cpxl.consolidation.sources import SOURCE_COLUMNS
from cpxl.consolidation.status import (
    STATUS_REPORT_COLUMNS,
    MinistryStatus,
    StatusReport,
    status_report,
)
from cpxl.consolidation.stream import Chunks, indicator_chunks, national_values
from cpxl.consolidation.workbook import WORKBOOK_PERIODS, NationalResult, write_national_workbook
from cpxl.findings import INDICATOR_COLUMNS

__all__ = [
    "CHANGE_LIMIT",
    "COMPLETENESS_COLUMNS",
    "COMPLETENESS_TARGET",
    "EXTREME_SD",
    "HISTORY_PERIODS",
    "INDICATOR_COLUMNS",
    "LATE",
    "MODERATE_SD",
    "MODIFIED_Z_LIMIT",
    "NOT_REPORTED",
    "PARTLY_REPORTED",
    "QUALITY_COLUMNS",
    "RATE",
    "REPORTED",
    "SOURCE_COLUMNS",
    "STATUSES",
    "STATUS_REPORT_COLUMNS",
    "TIMELINESS_TARGET",
    "WORKBOOK_PERIODS",
    "Chunks",
    "MinistryStatus",
    "NationalResult",
    "StatusReport",
    "completeness",
    "data_quality",
    "expected_returns",
    "indicator_chunks",
    "indicator_table",
    "national_values",
    "status_report",
    "sub_periods",
    "write_national_workbook",
]
