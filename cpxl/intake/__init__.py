"""Intake: every file in inbox/ gets exactly one status, and originals are never touched.

``receiving`` scans and archives, ``workers`` checks files in a guarded pool and writes feedback
in another worker, ``deciding`` gives each file its status and records it, ``run`` ties one run
together.
"""

from cpxl.guard import UNSAFE_CODES
from cpxl.intake.deciding import Expectation
from cpxl.intake.receiving import Received, archive, scan
from cpxl.intake.run import Progress, RunStopped, run_inbox
from cpxl.intake.workers import IDENTITY_CODES, TIME_LIMIT_S, Checked, check_all, check_file

__all__ = [
    "IDENTITY_CODES",
    "TIME_LIMIT_S",
    "UNSAFE_CODES",
    "Checked",
    "Expectation",
    "Progress",
    "Received",
    "RunStopped",
    "archive",
    "check_all",
    "check_file",
    "run_inbox",
    "scan",
]
