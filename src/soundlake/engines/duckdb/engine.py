"""The DuckDB engine: DuckDB runs the queries, ``deltalake`` reads snapshots and commits.

Each :meth:`DuckDBEngine.execute` call works on its own cursor of one in-process database,
so independent flows can run on threads at once. Results stream as Arrow batches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import duckdb
import pyarrow as pa

from soundlake.core.errors import EngineError
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
    FileStreamCallback,
    QueryWriteResult,
    Relation,
    ViewRelation,
)
from soundlake.engines.duckdb import sandbox as sandboxing
from soundlake.engines.duckdb import settings, writes
from soundlake.lake import delta

BATCH_ROWS = 131_072


class DuckDBEngine:
    """Runs Spark SQL definitions (transpiled to DuckDB) over Delta snapshots and files.

    Args:
        threads: DuckDB worker threads (None: DuckDB's default, the core count).
        memory_limit: DuckDB memory limit such as ``"4GB"`` (None: DuckDB's default, 80% of RAM).
        temp_directory: Where DuckDB spills (None: its default).
        parallel_flows: How many independent flows the runner may execute at once.
        sandbox: Run untrusted SQL (``soundlake query``): no table functions that read
            files or URLs, no extension auto-install/auto-load, and external access off
            except for the data files of the registered Delta tables (see ``sandbox``).
        allowed_directories: When given (the pipeline passes the local lake root), the
            engine's connection reads and writes files only under these folders (and the
            spill folder): external access off, extension auto-install/auto-load off,
            configuration locked.
        time_zone: Spark's session time zone (``spark.sql.session.timeZone``), default UTC.
    """

    def __init__(
        self,
        *,
        threads: int | None = None,
        memory_limit: str | None = settings.DEFAULT_MEMORY_LIMIT,
        temp_directory: str | None = None,
        parallel_flows: int = 2,
        sandbox: bool = False,
        allowed_directories: Sequence[str] | None = None,
        time_zone: str = "UTC",
    ) -> None:
        self.capabilities = EngineCapabilities(
            name="duckdb", sql_dialect="duckdb", parallel_flows=max(1, parallel_flows)
        )
        config = settings.DuckDBSettings(
            memory_limit=memory_limit, threads=threads, temp_directory=temp_directory, time_zone=time_zone
        )
        self.sandbox = sandbox
        self._allowed_paths: list[str] = []
        self._locked = False
        locked = sandbox or allowed_directories is not None
        self._denied = sandboxing.PREFIX if sandbox else sandboxing.CONFINED
        self._db = duckdb.connect(":memory:", config=dict(sandboxing.CONNECT_CONFIG) if locked else {})
        self._db.execute("SET preserve_insertion_order = false")
        settings.apply(self._db, config)
        if allowed_directories is not None and not sandbox:
            sandboxing.confine(self._db, [*allowed_directories, *([temp_directory] if temp_directory else [])])
        self._lock = threading.Lock()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            return self._db.cursor()

    def execute(self, sql: str, relations: Mapping[str, Relation]) -> pa.RecordBatchReader:
        """Run ``sql`` (DuckDB dialect) over ``relations`` and stream the result."""
        if self.sandbox:
            sandboxing.refuse_external_reads(sql)
        cursor = self._cursor()
        keep: list[Any] = []
        try:
            with translated(self._denied, query=sql):
                self._register(cursor, relations, keep)
                if self.sandbox and not self._locked:
                    # once: later queries of this engine scan Delta tables through Arrow
                    sandboxing.lock_down(cursor, self._allowed_paths)
                    self._locked = True
                result = cursor.sql(sql)
                if result is None:
                    raise EngineError(f"query returned no result: {sql[:200]}")
                reader = result.to_arrow_reader(BATCH_ROWS)
        except BaseException:
            cursor.close()
            raise
        return pa.RecordBatchReader.from_batches(reader.schema, _hold(reader, cursor, keep, self._denied))

    @contextmanager
    def _session(self, relations: Mapping[str, Relation], sql: str = "") -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of the engine's database with ``relations`` registered; closed afterwards.

        DuckDB errors inside the block (also those raised while ``deltalake`` pulls a
        result stream: it re-raises them unchanged) become soundlake errors.
        """
        cursor = self._cursor()
        keep: list[Any] = []
        try:
            with translated(self._denied, query=sql):
                self._register(cursor, relations, keep)
                yield cursor
        finally:
            del keep
            cursor.close()

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
        """Run ``sql`` with the expectation split in DuckDB and write the outcome (``writes``)."""
        with self._session(relations, sql) as cursor:
            return writes.write_query(
                cursor, sql, target, commit=commit, storage_options=storage_options,
                split=split or ExpectationSplit(), after_target=after_target,
            )

    def foreach_batch(self, sql: str, relations: Mapping[str, Relation], call: Callable[[Any], None]) -> int:
        """Run ``sql`` and call ``call`` once with its rows as a ``pyarrow.Table``."""
        table = self.execute(sql, relations).read_all()
        call(table)
        return int(table.num_rows)

    def _register(self, cursor: duckdb.DuckDBPyConnection, relations: Mapping[str, Relation], keep: list[Any]) -> None:
        for name, relation in relations.items():
            if isinstance(relation, DeltaRelation):
                if self._register_native(cursor, name, relation):
                    continue
                dataset = delta.snapshot_dataset(
                    relation.uri, relation.storage_options, version=relation.version, files=relation.files
                )
                keep.append(dataset)
                cursor.register(name, dataset)
            elif isinstance(relation, ArrowRelation):
                data = relation.data
                if isinstance(data, pa.RecordBatchReader):
                    # Rows produced in Python (files read with Auto Loader semantics) land in
                    # a DuckDB temp table first: it is buffer-managed (spills past the memory
                    # limit, where a window or join over a scan of the Arrow stream itself ran
                    # out of memory at S=5) and can be scanned more than once. Temp tables
                    # belong to this cursor and go with it.
                    staged = f"{name}__arrow"
                    cursor.register(staged, data)
                    cursor.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS SELECT * FROM "{staged}"')
                    cursor.unregister(staged)
                    continue
                keep.append(data)
                cursor.register(name, data)
            elif isinstance(relation, ViewRelation):
                self._register(cursor, relation.relations, keep)
                cursor.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {relation.sql}')
            else:  # pragma: no cover - guarded by the type
                raise EngineError(f"unsupported relation for {name}: {relation!r}")

    def _register_native(self, cursor: duckdb.DuckDBPyConnection, name: str, relation: DeltaRelation) -> bool:
        """Scan a local Delta snapshot with DuckDB's parallel Parquet reader.

        Used when the snapshot's data files hold every column of the table schema and the
        table has no deletion vectors; otherwise the Arrow dataset path is taken.
        """
        files = delta.local_data_files(relation.uri, version=relation.version, files=relation.files)
        if not files:
            return False
        paths, schema, partition_cols = files
        if not paths:
            return False
        listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
        hive = ", hive_partitioning = true" if partition_cols else ", hive_partitioning = false"
        source = f"read_parquet([{listed}], union_by_name = true{hive})"
        try:
            found = {row[0] for row in cursor.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        except duckdb.Error:
            return False
        if not set(schema.names) <= found:
            return False
        cols = ", ".join('"' + c.replace('"', '""') + '"' for c in schema.names)
        cursor.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT {cols} FROM {source}')
        self._allowed_paths.extend(paths)
        return True

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
        """Apply AUTO CDC events on this engine's database (``cdc`` module)."""
        from soundlake.engines.duckdb import cdc

        with self._session({cdc.EVENTS: events}) as cursor:
            return cdc.apply_cdc_split(
                cursor, spec, target_uri, state_uri=state_uri, storage_options=dict(storage_options),
                commit=commit, split=split or ExpectationSplit(), after_target=after_target,
            )

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
        """Apply one full snapshot with the snapshot diff, on this engine's database."""
        from soundlake.engines.duckdb import snapshot as snap

        with self._session({snap.SNAPSHOT: snapshot}) as cursor:
            return snap.apply_snapshot(
                cursor, spec, version, target_uri, state_uri=state_uri,
                storage_options=dict(storage_options), commit=commit,
            )

    def run_file_stream(self, stream: FileStream, on_batch: FileStreamCallback) -> int:
        """Not available: this engine has no streaming runtime (``native_streaming`` False);
        the pipeline reads files with its own checkpoints instead."""
        raise EngineError(f"the duckdb engine cannot run a native file stream over {stream.root}")

    def flow_conf(self, conf: Mapping[str, str]) -> AbstractContextManager[None]:
        """Nothing to do: the binder translates a flow's settings into its DuckDB SQL."""
        return nullcontext()

    def start(self) -> None:
        """Nothing to start: the database opened with the engine."""

    def close(self) -> None:
        """Close the database."""
        self._db.close()


@contextmanager
def translated(denied: str, *, query: str = "", context: str = "") -> Iterator[None]:
    """DuckDB errors raised inside as soundlake errors: out of memory names the setting to
    raise, a permission error says what the connection may touch (``denied``), any other
    names the query."""
    try:
        yield
    except duckdb.OutOfMemoryException as exc:
        raise EngineError(
            f"DuckDB ran out of memory: {exc}",
            hint="raise duckdb.memory_limit in soundlake.yml (the default is "
            f"{settings.DEFAULT_MEMORY_LIMIT}; sorts, joins and aggregations spill beyond it)",
        ) from exc
    except duckdb.PermissionException as exc:
        raise sandboxing.access_error(exc, denied) from exc
    except duckdb.Error as exc:
        shown = f"\n  query: {query[:2000]}" if query else ""
        raise EngineError(f"DuckDB failed{context}: {exc}{shown}") from exc


def _hold(
    reader: pa.RecordBatchReader, cursor: duckdb.DuckDBPyConnection, keep: list[Any], denied: str
) -> Iterator[pa.RecordBatch]:
    try:
        with translated(denied, context=" while streaming a result"):
            yield from reader
    finally:
        del keep
        cursor.close()
