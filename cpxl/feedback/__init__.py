"""Feedback: one bilingual workbook per file received, and one summary per run.

Nothing a sender wrote can become active: every workbook is made by ``templates.new_workbook``
(or ``templates.write_template``), which never turns text into formulas, links or numbers, and
every sender text goes in with ``write_string``. A return with findings at cells comes back as a
marked-up, cleanly re-laid-out copy of its data sheets that the sender can correct and send again.

``naming`` picks where feedback goes, ``words`` says what a finding means,
``placement`` maps a return onto its template's cells, ``sheets`` writes the Summary and Findings,
``workbook`` writes one feedback workbook, ``summary`` writes one run's summary.
"""

from cpxl.feedback.naming import (
    MAX_STEM_BYTES,
    SUFFIX,
    cap_bytes,
    feedback_name,
    feedback_path,
    plain_name,
    safe_stem,
)
from cpxl.feedback.placement import Placement, marks, placement
from cpxl.feedback.sheets import SUMMARY_SHEET
from cpxl.feedback.summary import write_run_summary
from cpxl.feedback.words import NO_CONTENT, split_text
from cpxl.feedback.workbook import write_feedback

__all__ = [
    "MAX_STEM_BYTES",
    "NO_CONTENT",
    "SUFFIX",
    "SUMMARY_SHEET",
    "Placement",
    "cap_bytes",
    "feedback_name",
    "feedback_path",
    "marks",
    "placement",
    "plain_name",
    "safe_stem",
    "split_text",
    "write_feedback",
    "write_run_summary",
]
