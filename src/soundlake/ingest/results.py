"""Results of an ingestion run and the narrow reporting interface.

The ingest package never prints: progress goes to an :class:`IngestReporter` (the CLI
renders it with rich, tests use :class:`NullReporter`). Calls may come from several
worker threads at once; implementations must be thread-safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Status = Literal["ok", "failed"]
Mode = Literal["full", "incremental", "backfill"]


@dataclass(frozen=True)
class TableResult:
    """What ingesting one table did.

    Attributes:
        table: Source table name.
        status: ``ok`` or ``failed``.
        rows: Rows written to bronze in this run (adopted batches not included).
        files: Lake-relative paths of the batch files written.
        watermark_before: ``cdc`` before the run (None: no watermark, a full load).
        watermark_after: ``cdc`` after the run.
        seconds: Wall time spent on the table, retries included.
        mode: ``full``, ``incremental`` or ``backfill``.
        attempts: Attempts made (more than one after transient errors).
        error: The last error message when failed.
        adopted: Files of an interrupted earlier run that this run committed.
        null_cdc_rows: Rows written whose CDC value is NULL (each delivered once).
        future_rows: Rows written dated beyond now + ``future_tolerance`` (they do not
            move the watermark).
        deleted_rows: Delete events written (keys gone from the source, ``deletes: true``).
        reread_rows: Rows read from the source (a backfill re-reads rows already in bronze).
        schema_evolution: Column changes since the last batch (added, dropped, widened).
        warnings: One-line warnings of this run (future rows, NULL CDC rows, schema).
    """

    table: str
    status: Status
    rows: int = 0
    files: tuple[str, ...] = ()
    watermark_before: str | None = None
    watermark_after: str | None = None
    seconds: float = 0.0
    mode: Mode | None = None
    attempts: int = 1
    error: str | None = None
    adopted: tuple[str, ...] = ()
    null_cdc_rows: int = 0
    future_rows: int = 0
    deleted_rows: int = 0
    reread_rows: int = 0
    schema_evolution: tuple[dict[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class IngestResult:
    """What a ``soundlake ingest`` run did."""

    run_id: str
    pipeline: str
    tables: tuple[TableResult, ...]
    alert_sent: bool = False
    alert_error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every table succeeded."""
        return all(t.status == "ok" for t in self.tables)

    @property
    def failed(self) -> tuple[TableResult, ...]:
        """The tables that failed."""
        return tuple(t for t in self.tables if t.status == "failed")

    @property
    def rows(self) -> int:
        """Rows written over all tables."""
        return sum(t.rows for t in self.tables)


class IngestReporter(Protocol):
    """Receives progress of an ingestion run (from worker threads)."""

    def table_started(self, table: str, mode: Mode, watermark: str | None) -> None:
        """A table starts reading (after recovery)."""

    def table_progress(self, table: str, rows: int) -> None:
        """``rows`` rows of ``table`` have been written so far."""

    def table_retry(self, table: str, attempt: int, error: str, delay: float) -> None:
        """A transient error; the table is retried after ``delay`` seconds."""

    def table_note(self, table: str, message: str) -> None:
        """Something worth telling (an adopted batch, removed temp files)."""

    def table_finished(self, result: TableResult) -> None:
        """A table finished (ok or failed)."""


@dataclass
class NullReporter:
    """A reporter that records notes and discards the rest (for tests and library use)."""

    notes: list[str] = field(default_factory=list)

    def table_started(self, table: str, mode: Mode, watermark: str | None) -> None:
        """Ignore."""

    def table_progress(self, table: str, rows: int) -> None:
        """Ignore."""

    def table_retry(self, table: str, attempt: int, error: str, delay: float) -> None:
        """Record the retry."""
        self.notes.append(f"{table}: retry {attempt} after {error}")

    def table_note(self, table: str, message: str) -> None:
        """Record the note."""
        self.notes.append(f"{table}: {message}")

    def table_finished(self, result: TableResult) -> None:
        """Ignore."""
