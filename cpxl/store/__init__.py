"""The national store: every file received, what was found in it, and the accepted values.

One SQLAlchemy Core code path serves an SQLite file in the workspace and a PostgreSQL server
(``postgresql://user:password@host/db``, driven by psycopg 3). Each file received is recorded in
exactly one transaction, so a crash leaves the store as it was before that file or after it,
never in between. The store refuses, rather than repairs: a damaged, foreign or newer store
stops the run with a :class:`StoreError` that says in plain words what to do, and is left
byte for byte as it was.

Test hook: when the environment variable ``CPXL_FAULT_KILL_AFTER_COMMITS=N`` is set at
:meth:`Store.open`, the process sends itself SIGKILL right after this store's N-th committed
data transaction (``start_run``, ``finish_run`` and ``record`` count; opening and migrating do
not). The kill tests use it to prove that a killed-and-rerun store equals a clean one. With
``CPXL_FAULT_SIGNAL=INT`` (or ``TERM``) as well, it sends Ctrl-C (or SIGTERM) to the run's
process group instead,
at that exact point of the run.

Modules: ``engines`` (opening SQLite or PostgreSQL, failures in plain words), ``schema``
(tables and migrations), ``records`` (what goes in and comes out, as rows), ``frames`` (tables
as pandas frames), ``care`` (checks, backups, fingerprint) and ``store`` (the class Store).
"""

from cpxl.store.engines import (
    BUSY_TIMEOUT_S,
    KILL_HOOK_VARIABLE,
    SIGNAL_HOOK_VARIABLE,
    AlreadyRecorded,
    StoreError,
)
from cpxl.store.records import (
    Before,
    Explanation,
    Figures,
    NewSubmission,
    PendingFeedback,
    SubmissionRecord,
    differences,
    digests,
    figures,
    outcome_of,
    repeat_result,
    result_of,
)
from cpxl.store.schema import MIGRATIONS, SCHEMA_VERSION
from cpxl.store.store import Store

__all__ = [
    "BUSY_TIMEOUT_S",
    "KILL_HOOK_VARIABLE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SIGNAL_HOOK_VARIABLE",
    "AlreadyRecorded",
    "Before",
    "Explanation",
    "Figures",
    "NewSubmission",
    "PendingFeedback",
    "Store",
    "StoreError",
    "SubmissionRecord",
    "differences",
    "digests",
    "figures",
    "outcome_of",
    "repeat_result",
    "result_of",
]
