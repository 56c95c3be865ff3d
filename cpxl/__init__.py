"""cpxl: Excel data collection for Cambodia's Child Protection Information Management System.

``cpxl.api`` is the library's face: one typed call per thing a user does, by workspace folder,
as the command line calls them (``consolidate`` is that one, re-exported here). Beside it, each
step of the data's path as one function on domain values, and the types they return. Every
failure the user can fix raises a ``CpxlError``.
"""

__version__ = "0.1.0"

from cpxl.api import consolidate
from cpxl.catalogue import Catalogue, CatalogueError
from cpxl.catalogue import load as load_catalogue
from cpxl.consolidation import indicator_table, write_national_workbook
from cpxl.errors import CpxlError
from cpxl.feedback import write_feedback
from cpxl.findings import Code, FileResult, Finding, RunReport, Severity, Status, Value
from cpxl.intake import run_inbox
from cpxl.reading import Submission, read_workbook
from cpxl.simulate import simulate_returns
from cpxl.store import Store, StoreError
from cpxl.templates import Layout, build_layout, generate_templates
from cpxl.validation import validate
from cpxl.workspace import Workspace, init_workspace

__all__ = [
    "Catalogue",
    "CatalogueError",
    "Code",
    "CpxlError",
    "FileResult",
    "Finding",
    "Layout",
    "RunReport",
    "Severity",
    "Status",
    "Store",
    "StoreError",
    "Submission",
    "Value",
    "Workspace",
    "__version__",
    "build_layout",
    "consolidate",
    "generate_templates",
    "indicator_table",
    "init_workspace",
    "load_catalogue",
    "read_workbook",
    "run_inbox",
    "simulate_returns",
    "validate",
    "write_feedback",
    "write_national_workbook",
]
