"""Frozen definition values produced by the SQL and Python front ends.

Both front ends produce the same values (datasets, flows, expectations), each carrying the
source location it came from, collected in one :class:`Registry`. The graph is built and
validated from these values before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from soundlake.catalog.names import TableName

DatasetKind = Literal["streaming_table", "materialized_view", "temporary_view", "sink"]
ExpectationAction = Literal["warn", "drop", "fail", "quarantine"]
FlowKind = Literal["view", "materialized_view", "streaming", "once", "auto_cdc", "snapshot_cdc"]
"""How a flow runs: a temporary view (inlined in its readers), a materialized view, a
streaming table's flow (``once``: a one-time append), AUTO CDC, AUTO CDC FROM SNAPSHOT."""


@dataclass(frozen=True)
class SourceLocation:
    """Where a definition was written: file, 1-based line, and statement number."""

    file: str
    line: int = 1
    statement: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where} (statement {self.statement})" if self.statement else where


@dataclass(frozen=True)
class WrittenSql:
    """Spark SQL one call of the Python DataFrame API wrote, and the file and line of the call.

    ``F.log10("x")`` writes ``log10()``, ``F.expr("upper(s)")`` its text: the dry-run
    checks the functions of a DataFrame flow where the user called them.
    """

    sql: str
    location: SourceLocation


@dataclass(frozen=True)
class Expectation:
    """A named data-quality rule: a Spark SQL boolean expression over one row.

    A row violates the rule only when the expression is FALSE; NULL is not a violation
    (SQL CHECK semantics).
    """

    name: str
    condition: str
    action: ExpectationAction
    location: SourceLocation


SinkFormat = Literal["delta", "foreach_batch"]


@dataclass(frozen=True)
class SinkSpec:
    """Where a sink's rows go (``create_sink`` / ``foreach_batch_sink``).

    Attributes:
        format: ``delta`` (a Delta table outside the pipeline) or ``foreach_batch`` (a
            Python function called once per micro-batch).
        path: ``delta`` by path: the table's location (relative paths resolved against
            the project folder when the sink is defined).
        table: ``delta`` by ``tableName``: a table of the lake (``<storage>/<c>/<s>/<t>``).
        function: ``foreach_batch``: ``f(df, batch_id)`` as the file defined it.
        native: ``foreach_batch`` in a Python file: ``native(session)`` runs the file again
            with the engine's own session and returns the function so defined (engines
            with ``native_dataframes`` call it with their DataFrame).
        options: The options given to ``create_sink``.
    """

    format: SinkFormat
    path: str | None = None
    table: TableName | None = None
    function: Callable[..., Any] | None = field(default=None, compare=False)
    native: Callable[[Any], Callable[..., Any]] | None = field(default=None, compare=False)
    options: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """``delta path /x``, ``delta table main.s.t`` or ``foreach_batch f``."""
        if self.format == "foreach_batch":
            return f"foreach_batch {getattr(self.function, '__name__', 'function')}"
        return f"delta table {self.table}" if self.table is not None else f"delta path {self.path}"


@dataclass(frozen=True)
class Dataset:
    """A streaming table, materialized view, temporary view or sink.

    A sink (``kind == "sink"``, :attr:`sink` set) is not a table of the pipeline: only
    streaming append flows write it, nothing reads it, it has no expectations, and a full
    refresh resets its flows' checkpoints without clearing what it holds.
    """

    name: TableName
    kind: DatasetKind
    location: SourceLocation
    comment: str | None = None
    table_properties: Mapping[str, str] = field(default_factory=dict)
    partition_cols: tuple[str, ...] = ()
    cluster_by: tuple[str, ...] = ()
    schema: str | None = None
    expectations: tuple[Expectation, ...] = ()
    private: bool = False
    """``PRIVATE`` / ``TEMPORARY`` tables and ``private=True`` / ``temporary=True``: computed
    and readable inside the pipeline, stored under the pipeline's own state folder and not
    published to the catalog (``soundlake query`` does not see them)."""
    sink: SinkSpec | None = None
    """Set for sinks: where the rows go."""

    @property
    def reset_allowed(self) -> bool:
        """False when ``pipelines.reset.allowed = false`` protects it from full refresh."""
        value = self.table_properties.get("pipelines.reset.allowed", "true")
        return str(value).strip().lower() != "false"


@dataclass(frozen=True)
class QueryFlow:
    """A flow whose output is a query: default flows of datasets and append flows.

    Exactly one of ``sql`` and ``function`` is set. ``function`` is a Python dataset
    function (called at planning time; returns SQL text or a DataFrame).
    ``native`` is set for Python dataset functions that return a DataFrame: ``sql`` is
    that DataFrame as Spark SQL, and ``native(session)`` runs the function again with an
    engine's own session and returns the engine's DataFrame (engines with
    ``native_dataframes``).

    Attributes:
        streaming: True when the query reads its inputs incrementally (``STREAM(x)``,
            ``read_files`` under ``STREAM``, ``spark.readStream``).
        once: Run one time only (re-run on full refresh).
        is_default: The flow defined together with its dataset (name == target name).
        written: For a DataFrame flow, the Spark SQL of each DataFrame API call that built
            it, with the call's file and line (``sql`` is the whole DataFrame, rendered at
            the function's line); None for SQL text.
    """

    name: str
    target: TableName
    location: SourceLocation
    streaming: bool
    sql: str | None = None
    function: Callable[..., Any] | None = None
    once: bool = False
    is_default: bool = True
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    native: Callable[[Any], Any] | None = field(default=None, compare=False)
    written: tuple[WrittenSql, ...] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class AutoCdcFlow:
    """``AUTO CDC INTO`` / ``APPLY CHANGES INTO`` / ``create_auto_cdc_flow``.

    Expressions (``sequence_by``, ``apply_as_deletes``, ``apply_as_truncates``) are Spark
    SQL text. ``sequence_by`` holds one expression, or several for a struct (compared
    by the first field, then the next).
    """

    name: str
    target: TableName
    source: TableName
    keys: tuple[str, ...]
    sequence_by: tuple[str, ...]
    location: SourceLocation
    stored_as_scd_type: Literal[1, 2] = 1
    ignore_null_updates: bool = False
    apply_as_deletes: str | None = None
    apply_as_truncates: str | None = None
    column_list: tuple[str, ...] | None = None
    except_column_list: tuple[str, ...] | None = None
    track_history_column_list: tuple[str, ...] | None = None
    track_history_except_column_list: tuple[str, ...] | None = None
    once: bool = False
    source_is_stream: bool = True


@dataclass(frozen=True)
class SnapshotCdcFlow:
    """``create_auto_cdc_from_snapshot_flow``: diff full snapshots into SCD1/SCD2.

    ``source`` is a table name (periodic snapshots: one per run, the run time is the
    version) or a function ``f(latest_version) -> (DataFrame, version) | None``.
    """

    name: str
    target: TableName
    keys: tuple[str, ...]
    location: SourceLocation
    source: TableName | None = None
    source_function: Callable[..., Any] | None = None
    stored_as_scd_type: Literal[1, 2] = 1
    track_history_column_list: tuple[str, ...] | None = None
    track_history_except_column_list: tuple[str, ...] | None = None
    snapshot_reader: Callable[[str, int | None], Any] | None = field(default=None, compare=False)
    """Set with ``source_function`` by the Python front end: ``reader(flow, latest_version)``
    calls the function and gives the snapshot's Spark SQL and version (``.sql``, ``.version``)
    or None; errors are one-line ``FlowError`` values."""


Flow = QueryFlow | AutoCdcFlow | SnapshotCdcFlow


@dataclass
class Registry:
    """Collects definitions from every library file, in load order.

    ``catalog`` and ``schema`` are the project defaults that unqualified names in queries
    resolve against (set by the loader; used by graph building and query analysis).
    """

    datasets: list[Dataset] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)
    catalog: str = "main"
    schema: str = "default"

    def add_dataset(self, dataset: Dataset) -> None:
        """Register a dataset (duplicates are reported by graph validation)."""
        self.datasets.append(dataset)

    def add_flow(self, flow: Flow) -> None:
        """Register a flow (duplicates are reported by graph validation)."""
        self.flows.append(flow)
