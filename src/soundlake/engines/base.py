"""The Engine protocol and the engine-neutral values exchanged with the pipeline.

The planner reads :class:`EngineCapabilities` as data and never branches on an engine's
type. Engines cannot import the ``pipeline`` package (it is a layer above), so everything
crossing the boundary is defined here in plain terms: Spark SQL text, table URIs, specs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class EngineCapabilities:
    """What an engine can do, declared as data.

    Attributes:
        name: ``duckdb`` or ``spark``.
        sql_dialect: Dialect the engine executes; Spark SQL definitions are transpiled
            with sqlglot when it is not ``spark``.
        native_streaming: True when file and table streams run on the engine's own
            streaming runtime (Structured Streaming); otherwise soundlake's checkpoints.
        native_merge: True when the engine runs ``MERGE INTO`` itself.
        app_transactions: True when commits carry Delta app transactions (idempotent
            batch re-runs).
        parallel_flows: How many independent flows may run at once.
        native_dataframes: True when Python dataset functions run on the engine's own
            DataFrame API, given the engine's session (:class:`FunctionRelation`);
            otherwise their DataFrames are turned into Spark SQL when loaded.
    """

    name: str
    sql_dialect: str
    native_streaming: bool = False
    native_merge: bool = False
    app_transactions: bool = True
    parallel_flows: int = 1
    native_dataframes: bool = False


@dataclass(frozen=True)
class CommitInfo:
    """Identifies one idempotent commit: Delta app transaction plus commit metadata.

    A commit whose ``(app_id, version)`` is already recorded in the target's log is a
    no-op, so a re-run of a committed batch writes nothing.
    """

    app_id: str
    version: int
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CdcSpec:
    """An AUTO CDC flow in engine-neutral terms (docs/cdc.md, "AUTO CDC").

    Column names are plain identifiers; expressions are Spark SQL over the event row.
    ``columns`` is the resolved list of target data columns (after ``column_list`` /
    ``except_column_list``); ``tracked_columns`` is None to track every data column.
    """

    flow: str
    target: str
    keys: tuple[str, ...]
    sequence_by: tuple[str, ...]
    scd_type: Literal[1, 2]
    columns: tuple[str, ...] | None = None
    except_columns: tuple[str, ...] = ()
    ignore_null_updates: bool = False
    apply_as_deletes: str | None = None
    apply_as_truncates: str | None = None
    tracked_columns: tuple[str, ...] | None = None
    untracked_columns: tuple[str, ...] = ()
    location: str = ""
    """Where the flow is defined (``file:line``), for error messages."""


@dataclass(frozen=True)
class CdcMetrics:
    """Outcome of applying one batch of change events.

    ``num_upserted_rows`` counts target rows written (inserted, or updated: an SCD2 version
    closed by a delete is an updated row); ``num_deleted_rows`` counts keys live before the
    batch and not after; ``num_output_rows`` is the rows written (= upserted), as for every
    other flow; ``target_rows`` is the target's size afterwards.
    """

    num_upserted_rows: int = 0
    num_deleted_rows: int = 0
    num_output_rows: int = 0
    target_rows: int | None = None
    plan: str = ""
    split: SplitCounts | None = None
    """The expectation split of the events (None: the flow has no expectations)."""
    violation: RuleViolation | None = None
    """A violated ``fail`` rule: then nothing was applied."""


# --- Relations: what a flow's query reads, in engine-neutral terms -------------------


@dataclass(frozen=True)
class DeltaRelation:
    """A Delta table snapshot, or only some of its data files.

    Attributes:
        uri: Table location.
        version: Snapshot version (latest when None).
        files: Only these data files (relative to the table), e.g. the files added by a
            range of append commits; None reads the whole snapshot.
        storage_options: Object-store options.
    """

    uri: str
    version: int | None = None
    files: tuple[str, ...] | None = None
    storage_options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ArrowRelation:
    """Rows produced in Python (a one-pass ``pyarrow.RecordBatchReader`` or a Table).

    Used for files read with Auto Loader semantics and for Python dataset functions.
    """

    data: Any
    description: str = ""


@dataclass(frozen=True)
class ViewRelation:
    """A temporary view: SQL (in the engine dialect) over its own relations."""

    sql: str
    relations: Mapping[str, Relation] = field(default_factory=dict)


@dataclass(frozen=True)
class NativeRelation:
    """Rows the engine produced itself (a DataFrame of a streaming micro-batch).

    Only the engine that made it can read it; it never crosses to another engine.
    """

    frame: Any
    description: str = ""


@dataclass(frozen=True)
class FunctionRelation:
    """The DataFrame a Python dataset function returns when given the engine's session.

    The engine registers ``inputs`` under their keys, then calls ``call`` with its
    session; in that session, table reads (``spark.table``, ``spark.read.table``,
    ``spark.readStream.table``) and file loads (``.load(path)``) of the names in
    ``tables`` read the registered input instead (key ``files:<path>`` for files).

    Attributes:
        call: Runs the dataset function with the given session; returns a DataFrame.
        inputs: The flow's relations, by the names ``tables`` maps to.
        tables: Lower-case table name (every spelling: ``c.s.t``, ``s.t``, ``t``) or
            ``files:<path>`` -> key in ``inputs``.
    """

    call: Callable[[Any], Any]
    inputs: Mapping[str, Relation]
    tables: Mapping[str, str]


Relation = DeltaRelation | ArrowRelation | ViewRelation | NativeRelation | FunctionRelation


# --- File streams (engines with ``native_streaming``) -------------------------------


@dataclass(frozen=True)
class FileStream:
    """A folder of files read as a stream (Structured Streaming, ``availableNow``).

    The engine discovers the files that are new since ``checkpoint`` and hands each
    micro-batch to a callback. The rows of a micro-batch, when read by the engine, have
    the shape of soundlake's Auto Loader (docs/pipeline.md, "File ingestion"): the columns of
    ``schema`` (files lacking a column give NULL), then ``rescued_column`` (always NULL:
    the caller only uses the engine's rows when nothing needs rescue), then ``_metadata``
    when ``with_metadata``.

    Attributes:
        root: The folder to watch (recursively; names starting with ``_`` or ``.`` are
            hidden, as in Spark).
        format: ``parquet``, ``json`` or ``csv``.
        schema: The data columns to read (the schema soundlake's Auto Loader tracks,
            without the rescued-data column).
        checkpoint: Where the engine keeps the stream's own checkpoint.
        options: Reader options in Spark's names (``pathGlobFilter``, ``header``, ``sep``).
        rescued_column: Name of the rescued-data column, or None.
        with_metadata: Add the ``_metadata`` struct.
        ingestion_time: The ``_metadata.ingestion_time`` value.
        storage_options: Object-store options of the lake.
    """

    root: str
    format: str
    schema: pa.Schema
    checkpoint: str
    options: Mapping[str, str] = field(default_factory=dict)
    rescued_column: str | None = None
    with_metadata: bool = False
    ingestion_time: datetime | None = None
    storage_options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamedFile:
    """One file of a micro-batch: its path (a plain path for local files), size, mtime."""

    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class FileStreamBatch:
    """One micro-batch of a :class:`FileStream`.

    Attributes:
        batch_id: The engine's micro-batch id (the same files when a batch is replayed).
        files: The files of this micro-batch, sorted by path.
        rows: The engine's (lazy) read of ``files`` with the stream's schema.
    """

    batch_id: int
    files: tuple[StreamedFile, ...]
    rows: Relation


FileStreamCallback = Callable[[FileStreamBatch], None]
WriteMode = Literal["append", "overwrite"]


@dataclass(frozen=True)
class WriteOutcome:
    """What an engine write did: committed (False: app transaction already recorded)."""

    committed: bool
    num_rows: int = 0
    version: int | None = None


# --- Query writes with the expectation split ----------------------------------------

RuleAction = Literal["warn", "drop", "quarantine", "fail"]
FLAG_PREFIX = "__sl_violates_"
"""Prefix of the per-rule violation flag columns the engines compute (never written)."""


@dataclass(frozen=True)
class Rule:
    """One expectation in engine terms: a boolean condition in the engine's SQL dialect.

    A row violates the rule only when the condition is FALSE (NULL passes, as in a SQL
    CHECK constraint).
    """

    name: str
    condition: str
    action: RuleAction


@dataclass(frozen=True)
class DeltaTarget:
    """Where a query write lands: a Delta table and how it is written."""

    uri: str
    mode: WriteMode = "append"
    partition_by: tuple[str, ...] = ()
    table_properties: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    not_null: tuple[str, ...] = ()
    """Columns declared NOT NULL: a NULL in a written row fails the write (nothing is
    committed) with :class:`~soundlake.core.errors.ConstraintViolation`; the table's
    schema records them as non-nullable."""
    column_comments: Mapping[str, str] = field(default_factory=dict)
    """Column -> declared ``COMMENT``: kept as the Delta column metadata ``comment``."""


@dataclass(frozen=True)
class ExpectationSplit:
    """The expectations of a write, evaluated by the engine in the same pass as its query.

    Each input row ends in exactly one of: written, dropped (a ``drop`` rule and no
    ``quarantine`` rule violated), quarantined (a ``quarantine`` rule violated). A
    violated ``fail`` rule writes nothing anywhere.

    Attributes:
        rules: The rules, in flag order.
        quarantine: Where quarantined rows go (with ``_failed_expectations``, ``_flow``,
            ``_run_id``, ``_batch_id``, ``_quarantined_at``); None when the quarantine
            table already holds the batch. Not written when no rule quarantines.
        flow, run_id, batch_id, quarantined_at: Values of the quarantine columns.
    """

    rules: tuple[Rule, ...] = ()
    quarantine: DeltaTarget | None = None
    flow: str = ""
    run_id: str = ""
    batch_id: int = 0
    quarantined_at: datetime | None = None


@dataclass(frozen=True)
class SplitCounts:
    """Row counts of one write; ``input_rows = output_rows + dropped_rows + quarantined_rows``."""

    input_rows: int = 0
    output_rows: int = 0
    dropped_rows: int = 0
    quarantined_rows: int = 0
    failed: tuple[int, ...] = ()
    """Rows violating each rule, in rule order."""


@dataclass(frozen=True)
class RuleViolation:
    """A violated ``fail`` rule: its index in the split's rules and one offending row."""

    rule: int
    row: Mapping[str, Any]


@dataclass(frozen=True)
class QueryWriteResult:
    """What :meth:`Engine.write_query` did.

    Attributes:
        counts: Row counts per outcome and per rule.
        target: The target write (None: skipped, or nothing written after a violation).
        quarantine: The quarantine write, when there was one.
        violation: The first violated ``fail`` rule; then nothing was written.
    """

    counts: SplitCounts
    target: WriteOutcome | None = None
    quarantine: WriteOutcome | None = None
    violation: RuleViolation | None = None


@runtime_checkable
class Engine(Protocol):
    """The compute engine the pipeline runs on.

    SQL handed to the engine is already in ``capabilities.sql_dialect`` and names its
    inputs by the keys of ``relations``. Writes (:meth:`write_query`, :meth:`apply_cdc`)
    run inside the engine: only counts and metadata come back, and each is idempotent per
    :class:`CommitInfo`. :meth:`execute` streams a result as Arrow batches, for callers
    that need the rows themselves (``soundlake query``, small lookups).
    """

    capabilities: EngineCapabilities

    def execute(self, sql: str, relations: Mapping[str, Relation]) -> pa.RecordBatchReader:
        """Run a query over ``relations`` and stream its result."""
        ...

    def write_query(
        self,
        sql: str,
        relations: Mapping[str, Relation],
        target: DeltaTarget | None,
        *,
        commit: CommitInfo,
        storage_options: Mapping[str, str],
        split: ExpectationSplit | None = None,
        after_target: Callable[[], None] | None = None,
    ) -> QueryWriteResult:
        """Run ``sql`` and write its rows to ``target`` with the expectation split, in the engine.

        The rules of ``split`` are evaluated in the same pass as the query; the counts
        per outcome and per rule come back, the rows never leave the engine. A violated
        ``fail`` rule writes nothing (see :class:`QueryWriteResult`). The target commit,
        then the quarantine commit, carry ``commit``'s app transaction: a table already
        holding it is not written again. ``target`` None skips the target (it already
        holds the batch). ``after_target`` runs between the two commits.
        """
        ...

    def foreach_batch(self, sql: str, relations: Mapping[str, Relation], call: Callable[[Any], None]) -> int:
        """Run ``sql`` over ``relations`` and call ``call`` once with the result (a sink's batch).

        ``call`` gets the engine's own frame of the rows: a ``pyarrow.Table`` (engines
        without ``native_dataframes``) or the engine's DataFrame (Spark). A
        :class:`~soundlake.core.errors.SoundlakeError` raised by ``call`` reaches the
        caller unchanged. Returns the number of rows.
        """
        ...

    def apply_cdc(
        self,
        spec: CdcSpec,
        events: Relation,
        target_uri: str,
        *,
        state_uri: str,
        storage_options: Mapping[str, str],
        commit: CommitInfo,
        split: ExpectationSplit | None = None,
        after_target: Callable[[], None] | None = None,
    ) -> CdcMetrics:
        """Apply one batch of change events to an SCD1/SCD2 target (AUTO CDC).

        The events are split by ``split`` first (as in :meth:`write_query`); the kept
        events are applied, then quarantined ones appended to ``split.quarantine``.
        """
        ...

    def apply_cdc_snapshot(
        self,
        spec: CdcSpec,
        snapshot: Relation,
        version: int | str,
        target_uri: str,
        *,
        state_uri: str,
        storage_options: Mapping[str, str],
        commit: CommitInfo,
    ) -> CdcMetrics:
        """Apply one full snapshot (AUTO CDC FROM SNAPSHOT): insert, update, delete keys."""
        ...

    def run_file_stream(self, stream: FileStream, on_batch: FileStreamCallback) -> int:
        """Run ``stream`` until the files available now are processed (``availableNow``).

        ``on_batch`` runs once per micro-batch, before the engine records the micro-batch
        in ``stream.checkpoint``; an error raised by it stops the stream and is re-raised
        unchanged. A micro-batch whose callback did not return is replayed with the same
        files on the next run. Only engines with ``capabilities.native_streaming`` run
        file streams. Returns the number of micro-batches run.
        """
        ...

    def flow_conf(self, conf: Mapping[str, str]) -> AbstractContextManager[None]:
        """Apply one flow's Spark session settings (``SET``, ``spark_conf``) while it runs.

        Engines that translate Spark SQL (DuckDB) apply them in the translation and
        return a context that does nothing; Spark sets them on its session and puts the
        previous values back afterwards (flows run one at a time there).
        """
        ...

    def start(self) -> None:
        """Start ahead of the first query, so that starting overlaps other work (Spark:
        the JVM and the session); cheap engines do nothing."""
        ...

    def close(self) -> None:
        """Release engine resources."""
        ...
