"""The soundlake error tree.

Every error soundlake raises on purpose derives from :class:`SoundlakeError`. Only the
CLI maps errors to exit codes and one-line messages. ``TransientError`` marks failures
that a retry may cure (a dropped connection, a lock); everything else is terminal.
"""

from __future__ import annotations


class SoundlakeError(Exception):
    """Root of every error soundlake raises deliberately."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class ConfigError(SoundlakeError):
    """The project configuration is missing, malformed or refers to something unknown."""

    exit_code = 2


class UsageError(SoundlakeError):
    """A command's argument names nothing that exists (an unknown run id, table or date)."""

    exit_code = 2


class SourceError(SoundlakeError):
    """The source database rejected a request or holds data soundlake cannot accept."""


class TransientError(SoundlakeError):
    """A failure that may succeed when retried (connection drop, lock timeout)."""


class StorageError(SoundlakeError):
    """The lake (local folder or object store) could not be read or written."""


class DefinitionError(SoundlakeError):
    """A pipeline definition (SQL or Python) is invalid; names the file and line."""

    exit_code = 3


class GraphError(DefinitionError):
    """The dataset graph is invalid: cycles, unknown names, duplicates."""


class FlowError(SoundlakeError):
    """A flow failed while running (including an expectation with FAIL UPDATE)."""


class ExpectationViolation(FlowError):
    """A ``FAIL UPDATE`` expectation was violated; the flow wrote nothing."""


class ConstraintViolation(FlowError):
    """A row breaks a column constraint of a declared schema (NOT NULL); nothing was written."""

    def __init__(self, message: str, *, column: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.column = column


class LockedError(SoundlakeError):
    """Another soundlake process holds the project's writer lock."""

    exit_code = 4


class AccessError(SoundlakeError):
    """A request reached outside what it may access (a file outside the lake, a URL)."""


class EngineError(SoundlakeError):
    """The compute engine failed or lacks a capability that a definition needs."""
