"""The Spark engine: Spark SQL runs the definitions unchanged, delta-spark commits.

It implements the Engine protocol of ``engines/base.py``: queries are Spark SQL over
relations registered as temporary views (Delta snapshots, Arrow data, views); writes
(``writes.py``: the expectation split, its counts, quarantine) run as Spark jobs and are
Delta commits carrying the batch's app transaction (``txnAppId``/``txnVersion``) so a re-run of a committed batch is a no-op;
AUTO CDC runs as ``MERGE INTO`` (``cdc.py``); Python dataset functions run on this
session's DataFrame API (``functions.py``, ``native_dataframes``).

``native_streaming`` is True on a classic session: streaming tables over files run as
Structured Streaming queries with ``trigger(availableNow=True)`` whose ``foreachBatch``
runs the pipeline's batch code (``streaming.py``). Over Spark Connect (``sc://``) it is
False: a ``foreachBatch`` function would run in a Python worker of the server, away from
soundlake's state, so soundlake tracks the files itself and Spark reads them
(``read_files``). Table streams and batch reads are handed over as Delta snapshots,
Arrow batches or the engine's own DataFrames.
"""

from __future__ import annotations

import dataclasses
import posixpath
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from soundlake.core.errors import ConstraintViolation, EngineError, SoundlakeError
from soundlake.engines.base import (
    ArrowRelation,
    CdcMetrics,
    CdcSpec,
    CommitInfo,
    DeltaRelation,
    DeltaTarget,
    EngineCapabilities,
    ExpectationSplit,
    FileStream,
    FileStreamBatch,
    FileStreamCallback,
    FunctionRelation,
    NativeRelation,
    QueryWriteResult,
    Relation,
    ViewRelation,
)
from soundlake.engines.spark.hadoop import hadoop_settings
from soundlake.engines.spark.session import drop_view, is_connect, spark_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class SparkEngine:
    """Runs Spark SQL definitions on a SparkSession with Delta Lake.

    Args:
        config: The project's ``spark`` settings (``master``, ``conf``, optionally
            ``java_home`` and ``parallel_flows``); any object with those attributes.
        session: An existing session to use instead of starting one (not stopped by
            :meth:`close`).
        warehouse_dir: ``spark.sql.warehouse.dir`` (default: a temporary folder; soundlake
            addresses tables by path, not through the warehouse).
        storage: The lake root; with ``storage_options`` it gives the Hadoop settings
            for abfss:// or s3:// (``hadoop.hadoop_settings``).
        storage_options: The project's object-store options (deltalake names).
    """

    def __init__(
        self,
        config: Any = None,
        *,
        session: SparkSession | None = None,
        warehouse_dir: str | None = None,
        storage: str = "",
        storage_options: Mapping[str, str] | None = None,
    ) -> None:
        self._master = getattr(config, "master", "local[*]")
        # Over Spark Connect a foreachBatch function runs in a Python worker of the server,
        # not in this process: soundlake's batch code could not update its own state there,
        # so soundlake tracks the files itself (inputs still read by Spark, see read_files).
        # A Connect client also has one session (no newSession), so flows run one by one.
        self.connect = is_connect(self._master, session)
        parallel = 1 if self.connect else int(getattr(config, "parallel_flows", 1) or 1)
        self.capabilities = EngineCapabilities(
            name="spark", sql_dialect="spark", native_streaming=not self.connect, native_merge=True,
            app_transactions=True, parallel_flows=max(1, parallel), native_dataframes=True,
        )
        self._conf = dict(getattr(config, "conf", {}) or {})
        self._java_home: str | None = getattr(config, "java_home", None)
        self.hadoop = hadoop_settings(storage, storage_options or {})
        for key, value in self.hadoop.items():  # the project's own conf wins
            self._conf.setdefault(f"spark.hadoop.{key}", value)
        self._warehouse = warehouse_dir or posixpath.join(tempfile.gettempdir(), "soundlake-spark-warehouse")
        self._session = session
        self._owns_session = session is None
        self._runtime_conf: dict[str, str] = {}
        self._start_lock = threading.Lock()
        self._local = threading.local()
        self._root_thread: int | None = None
        self._threads = 0

    @property
    def spark(self) -> SparkSession:
        """This thread's session (started on first use).

        With ``parallel_flows`` > 1 the runner's flows run on several threads at once;
        each thread gets its own session of the one SparkContext (``newSession``: its own
        temporary views and SQL settings, shared jobs, cache and Delta log cache), so
        flows never see each other's views or ``flow_conf`` settings.
        """
        local: SparkSession | None = getattr(self._local, "session", None)
        if local is not None:
            return local
        with self._start_lock:
            root = self._root()
            if self.capabilities.parallel_flows > 1 and self._root_thread != threading.get_ident():
                local = root.newSession()
                for key, value in self._runtime_conf.items():
                    local.conf.set(key, value)
                # Each thread's jobs go to a pool of their own: FAIR scheduling shares the
                # executors between pools (jobs inside one pool queue in FIFO order).
                self._threads += 1
                root.sparkContext.setLocalProperty("spark.scheduler.pool", f"soundlake-{self._threads}")
            else:
                local = root
        self._local.session = local
        return local

    @contextmanager
    def bound(self, session: SparkSession) -> Iterator[None]:
        """Make ``session`` this thread's session while the block runs (Spark's callback
        threads, such as ``foreachBatch``'s, work for the flow that started the stream)."""
        previous = getattr(self._local, "session", None)
        self._local.session = session
        try:
            yield
        finally:
            self._local.session = previous

    def _root(self) -> SparkSession:
        """The engine's first session (started here, or the one given or already running)."""
        if self._session is None:
            from pyspark.sql import SparkSession

            # A session someone else started (tests, notebooks) is shared, not stopped. The
            # active session is thread-local and flows run on worker threads, so also look
            # at the process-wide instantiated session.
            existing = SparkSession.getActiveSession() or getattr(SparkSession, "_instantiatedSession", None)
            self._owns_session = existing is None
            self._session = spark_session(
                self._master, self._conf, app_name="soundlake", warehouse_dir=self._warehouse,
                java_home=self._java_home,
            )
            if existing is not None:  # a running session: object-store settings at runtime
                self._runtime_conf.update(self.hadoop)
                for key, value in self.hadoop.items():
                    self._session.conf.set(key, value)
        if self._root_thread is None:
            self._root_thread = threading.get_ident()
        return self._session

    # --- queries ---------------------------------------------------------------------

    def execute(self, sql: str, relations: Mapping[str, Relation]) -> pa.RecordBatchReader:
        """Run ``sql`` (Spark SQL) over ``relations``; the result as Arrow batches."""
        with self._frame_of(sql, relations) as frame:
            table = _to_arrow(frame)
        return table.to_reader()

    def _register(self, relations: Mapping[str, Relation], names: list[str]) -> None:
        for name, relation in relations.items():
            self.frame(relation, names).createOrReplaceTempView(name)
            names.append(name)

    def frame(self, relation: Relation, names: list[str] | None = None) -> DataFrame:
        """A DataFrame over one relation (views register their inputs into ``names``)."""
        spark = self.spark
        if isinstance(relation, DeltaRelation):
            reader = spark.read.format("delta")
            if relation.version is not None:
                reader = reader.option("versionAsOf", relation.version)
            frame = reader.load(relation.uri)
            if relation.files is not None:
                from pyspark.sql import functions as F

                wanted = sorted({posixpath.basename(f) for f in relation.files})
                frame = frame.where(F.col("_metadata.file_name").isin(wanted))
            return frame
        if isinstance(relation, ArrowRelation):
            return self.from_arrow(relation.data)
        if isinstance(relation, NativeRelation):
            native: DataFrame = relation.frame
            return native
        if isinstance(relation, FunctionRelation):
            from soundlake.engines.spark.functions import call_function

            self._register(relation.inputs, names if names is not None else [])
            return call_function(spark, relation.call, relation.tables)
        if isinstance(relation, ViewRelation):
            inner = names if names is not None else []
            self._register(relation.relations, inner)
            return spark.sql(relation.sql)
        raise EngineError(f"unsupported relation: {relation!r}")

    def from_arrow(self, data: Any) -> DataFrame:
        """A DataFrame from an Arrow table or reader (or a DataFrame, returned as is)."""
        from pyspark.sql import DataFrame as SparkFrame

        if isinstance(data, SparkFrame):
            return data
        table = data.read_all() if isinstance(data, pa.RecordBatchReader) else data
        if not isinstance(table, pa.Table):
            raise EngineError(f"cannot turn {type(data).__name__} into a Spark DataFrame")
        table = _spark_compatible(table)
        return self.spark.createDataFrame(table, schema=_spark_schema(table.schema))

    # --- writes ----------------------------------------------------------------------

    @contextmanager
    def _frame_of(self, sql: str, relations: Mapping[str, Relation]) -> Iterator[DataFrame]:
        """The DataFrame of ``sql`` over ``relations`` (views dropped afterwards); errors named."""
        names: list[str] = []
        try:
            self._register(relations, names)
            yield self.spark.sql(sql)
        except (EngineError, ConstraintViolation):
            raise
        except Exception as exc:  # AnalysisException, Py4JJavaError, ...
            raise EngineError(f"Spark failed: {_short(exc)}\n  query: {sql[:2000]}") from exc
        finally:
            for name in names:
                drop_view(self.spark, name)

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
        """Run ``sql`` and write it with the expectation split as Spark jobs (``writes``)."""
        from soundlake.engines.spark.writes import write_frame

        with self._frame_of(sql, relations) as frame:
            return write_frame(frame, target, commit=commit, split=split or ExpectationSplit(),
                               after_target=after_target)

    # --- AUTO CDC ----------------------------------------------------------------------

    def foreach_batch(self, sql: str, relations: Mapping[str, Relation], call: Callable[[Any], None]) -> int:
        """Run ``sql`` and call ``call`` once with its Spark DataFrame (as ``foreachBatch`` does).

        The frame is cached while ``call`` runs, so counting it and the function's own
        actions read the input once.
        """
        failure: SoundlakeError | None = None
        with self._frame_of(sql, relations) as frame:
            frame = frame.persist()
            try:
                rows = int(frame.count())
                try:
                    call(frame)
                except SoundlakeError as exc:  # the function's own error, not Spark's
                    failure = exc
            finally:
                frame.unpersist()
        if failure is not None:
            raise failure
        return rows

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
        """Apply one batch of change events with Delta ``MERGE INTO`` (``cdc.apply_cdc``)."""
        from soundlake.engines.spark import writes
        from soundlake.engines.spark.cdc import apply_cdc

        split = split or ExpectationSplit()
        with self._frame_of("SELECT * FROM __sl_cdc_events", {"__sl_cdc_events": events}) as frame:
            if not split.rules:
                metrics = apply_cdc(self.spark, spec, frame, target_uri, state_path=state_uri, commit=commit)
                if after_target is not None:
                    after_target()
                return metrics
            with writes.staged(frame, split) as (counts, violated, flagged_view, columns):
                if violated is not None:
                    return CdcMetrics(split=counts, violation=violated)
                kept = writes.kept_frame(self.spark, flagged_view, columns, split)
                metrics = apply_cdc(self.spark, spec, kept, target_uri, state_path=state_uri, commit=commit)
                if after_target is not None:
                    after_target()
                writes.write_quarantine(self.spark, flagged_view, columns, split, commit)
            return dataclasses.replace(metrics, split=counts)

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
        """Apply one full snapshot with a diff and ``MERGE INTO`` (``snapshot.apply_snapshot``)."""
        from soundlake.engines.spark.snapshot import apply_snapshot

        with self._frame_of("SELECT * FROM __sl_snapshot", {"__sl_snapshot": snapshot}) as frame:
            return apply_snapshot(
                self.spark, spec, frame, version, target_uri,
                state_uri=state_uri, storage_options=dict(storage_options), commit=commit,
            )

    # --- streams -----------------------------------------------------------------------

    def run_file_stream(self, stream: FileStream, on_batch: FileStreamCallback) -> int:
        """Run a file stream with Structured Streaming (``streaming.run_file_stream``)."""
        from soundlake.engines.spark.streaming import run_file_stream

        session = self.spark

        def each(batch: FileStreamBatch) -> None:
            with self.bound(session):
                on_batch(batch)

        return run_file_stream(session, stream, each)

    def read_files(self, stream: FileStream, paths: list[str]) -> NativeRelation:
        """A lazy Spark read of ``paths`` shaped like soundlake's reader (``streaming.read_rows``).

        ``pipeline.inputs`` uses it for a batch's files that fit the tracked schema, so
        the rows are read by Spark (the executors, or the Connect server), not by this
        process.
        """
        from soundlake.engines.spark.streaming import read_rows

        return NativeRelation(read_rows(self.spark, stream, paths), description=stream.root)

    @contextmanager
    def flow_conf(self, conf: Mapping[str, str]) -> Iterator[None]:
        """Set the flow's modifiable Spark settings on the session; restore them afterwards.

        Keys Spark does not let a session change (static settings) and keys that are not
        Spark's (``pipelines.*``, user configuration) are left alone.
        """
        session_conf = self.spark.conf
        previous: dict[str, str | None] = {}
        try:
            for key, value in conf.items():
                if not key.startswith("spark.") or not session_conf.isModifiable(key):
                    continue
                previous[key] = session_conf.get(key, None)
                session_conf.set(key, value)
            yield
        finally:
            for key, old in previous.items():
                if old is None:
                    session_conf.unset(key)
                else:
                    session_conf.set(key, old)

    def start(self) -> None:
        """Start the session now (the JVM, Delta's jars, the SparkContext: seconds), so that
        it overlaps the work before the first flow (ingestion, loading the graph)."""
        with self._start_lock:
            self._root()

    def close(self) -> None:
        """Stop the session if this engine started it."""
        if self._session is not None and self._owns_session:
            self._session.stop()
            self._session = None


def _to_arrow(frame: DataFrame) -> pa.Table:
    table = frame.toArrow()
    return table if isinstance(table, pa.Table) else pa.Table.from_batches(list(table))


def _spark_compatible(table: pa.Table) -> pa.Table:
    """Cast Arrow types Spark cannot take (large strings, dictionaries, unsigned ints)."""
    fields = []
    changed = False
    for f in table.schema:
        t = f.type
        if pa.types.is_large_string(t) or pa.types.is_string_view(t):
            t = pa.string()
        elif pa.types.is_large_binary(t):
            t = pa.binary()
        elif pa.types.is_dictionary(t):
            t = t.value_type
        elif pa.types.is_unsigned_integer(t):
            t = pa.int64()
        elif pa.types.is_timestamp(t) and t.unit == "ns":
            t = pa.timestamp("us", tz=t.tz)
        changed = changed or t != f.type
        fields.append(pa.field(f.name, t, f.nullable))
    table = table.cast(pa.schema(fields)) if changed else table
    if table.num_rows == 0:
        # pyspark fails on columns with no chunks (timestamp localisation); give each one.
        table = table.schema.empty_table()
    return table


def _spark_schema(schema: pa.Schema) -> Any:
    """The Spark schema of Arrow data; naive timestamps stay naive (TIMESTAMP_NTZ).

    Without it Spark reads a naive Arrow timestamp as a session-local TIMESTAMP, and its
    tables would carry a different type than the DuckDB engine's for the same input.
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    try:
        return from_arrow_schema(schema, prefer_timestamp_ntz=True)
    except (TypeError, ValueError, NotImplementedError):  # unmapped type: let Spark decide
        return None


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text.split("\n\tat ")[0][:2000]
