"""The one exception tree of consolidate.

Every error the library raises on purpose is a :class:`ConsolidateError`. Each class carries the
process exit code the CLI should use; the CLI translates them to click in one place
(``cli.ConsolidateGroup``), so this module never imports click.
"""

from __future__ import annotations


class ConsolidateError(Exception):
    """Base class: a failure the user can act on, described in one line."""

    exit_code = 1


class UsageError(ConsolidateError):
    """The request itself is wrong (bad target, no sources); exit code 2 like click's."""

    exit_code = 2


class TargetError(ConsolidateError):
    """The experiment database cannot be opened or used."""


class NotATarget(UsageError, TargetError):
    """The target named is not there or not an experiment database (a missing file or folder,
    a folder, a legacy run file): a usage error (exit code 2) like every name that names the
    wrong thing, and a TargetError for library callers."""


class SchemaOutOfDate(TargetError):
    """The target's schema revision is not the one this version of consolidate writes."""


class QueryError(UsageError, ValueError):
    """A metric, table or simulation that does not exist, or SQL that fails or tries to write;
    a ValueError for library callers, a UsageError (one line, exit 2) for the command line."""


class SourceError(ConsolidateError):
    """A legacy source cannot be read or mapped; the message names the file and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        # One line whatever the reason's source (SQLite's own messages may hold newlines).
        reason = "; ".join(line.strip() for line in reason.splitlines() if line.strip())
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class MergeFailed(ConsolidateError):
    """The merge ran but at least one source was rejected."""


class VerificationFailed(ConsolidateError):
    """Verify found at least one mismatch."""


class Interrupted(ConsolidateError):
    """Stopped by the user (Ctrl-C) before the job was done; exit code 130 like a shell's."""

    exit_code = 130
