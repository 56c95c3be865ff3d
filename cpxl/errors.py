"""What can go wrong in a way cpxl expects, and the exit code each kind ends a command with.

Every failure that is the user's to fix (a mistyped option, a broken catalogue, a busy
workspace, a damaged store) raises a :class:`CpxlError`: its message says in words what to do,
and ``exit_code`` is how the command ends. Anything else that escapes is a bug in cpxl, and the
command line says so (exit 70) instead of blaming the officer. This module sits below every
step: each may raise these, none is imported here.
"""

from __future__ import annotations

from typing import ClassVar, Final

# The exit codes of every command (README, "Exit codes"); 1 and 0 come from a run's report.
EXIT_OK: Final = 0
EXIT_ATTENTION: Final = 1  # some file needs attention, or a check found problems
EXIT_USAGE: Final = 2  # asked for something that cannot be done as asked
EXIT_CANNOT_START: Final = 3  # the workspace or the store cannot be used right now
EXIT_BUG: Final = 70  # a bug in cpxl (sysexits' EX_SOFTWARE)
EXIT_INTERRUPTED: Final = 130  # stopped by Ctrl-C or SIGTERM, as shells report it


class CpxlError(Exception):
    """A failure cpxl expects: its message says what to do, ``exit_code`` ends the command."""

    exit_code: ClassVar[int] = EXIT_USAGE


class UsageError(CpxlError):
    """What was asked cannot be done as asked (an unknown ministry, a period that is none)."""

    exit_code: ClassVar[int] = EXIT_USAGE


class CannotStart(CpxlError):
    """The work could not start: the workspace or the store cannot be used as it is."""

    exit_code: ClassVar[int] = EXIT_CANNOT_START


class CannotWrite(CannotStart):
    """A folder or file cpxl must write may not be written (permissions, a full disk, no drive)."""
