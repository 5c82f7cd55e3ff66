"""Query writes with the expectation split, inside DuckDB.

With rules, the flagged result is kept in a temp table of the engine's cursor (buffer
managed: it spills past the memory limit); the counts of every outcome and rule come from
one aggregate over it; the kept and the quarantined rows stream from it into their Delta
commits. Without rules, the query streams straight into the target's commit. Rows never
pass through Python code: only Arrow batches handed from DuckDB to ``deltalake``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import duckdb
import pyarrow as pa

from soundlake.core.errors import EngineError
from soundlake.engines import split_sql
from soundlake.engines.base import (
    CdcMetrics,
    CdcSpec,
    CommitInfo,
    DeltaTarget,
    ExpectationSplit,
    QueryWriteResult,
    SplitCounts,
    WriteOutcome,
)
from soundlake.lake import delta

BATCH_ROWS = 131_072
FLAGGED = "__sl_flagged"


def stream(cursor: duckdb.DuckDBPyConnection, sql: str) -> pa.RecordBatchReader:
    """The rows of ``sql`` as Arrow batches (DuckDB errors while reading become EngineError)."""
    reader = cursor.sql(sql).to_arrow_reader(BATCH_ROWS)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except duckdb.Error as exc:
            raise EngineError(f"DuckDB failed while streaming a result: {exc}") from exc

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


def write(
    cursor: duckdb.DuckDBPyConnection, sql: str, target: DeltaTarget, commit: CommitInfo,
    storage_options: Mapping[str, str],
) -> WriteOutcome:
    """Write the rows of ``sql`` to ``target`` in one commit with ``commit``'s app transaction."""
    result = delta.write_table(
        target.uri,
        stream(cursor, sql),
        mode=target.mode,
        storage_options=storage_options,
        app_id=commit.app_id,
        app_version=commit.version,
        metadata=commit.metadata,
        partition_by=target.partition_by,
        configuration=dict(target.table_properties) or None,
        description=target.description,
    )
    return WriteOutcome(result.committed, result.num_rows, result.version)


def columns(cursor: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    """The column names of ``relation`` (no rows read)."""
    result = cursor.execute(f"SELECT * FROM {relation} LIMIT 0")
    names = [str(d[0]) for d in result.description or []]
    result.fetchall()  # DuckDB 2 refuses new work while a result is unfinished
    return names


def _first(cursor: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...] | None:
    rows = cursor.execute(sql).fetchall()
    return tuple(rows[0]) if rows else None


def _count(cursor: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = _first(cursor, f"SELECT count(*) FROM ({sql})")
    return int(row[0]) if row else 0


def stage_split(cursor: duckdb.DuckDBPyConnection, sql: str, split: ExpectationSplit) -> tuple[SplitCounts, Any, list[str]]:
    """Evaluate the rules of ``split`` over ``sql`` into temp table ``__sl_flagged``.

    Returns the counts, the violation of the first violated ``fail`` rule (or None) and
    the data columns.
    """
    rules = split.rules
    cursor.execute(f"CREATE OR REPLACE TEMP TABLE {FLAGGED} AS {split_sql.flagged_sql(sql, rules)}")
    data = split_sql.data_columns(columns(cursor, FLAGGED))
    counts = split_sql.counts_from_row(_first(cursor, split_sql.counts_sql(FLAGGED, rules)), rules)
    failed = split_sql.first_failed(counts, rules)
    if failed is None:
        return counts, None, data
    row = _first(cursor, split_sql.example_sql(FLAGGED, data, failed, "duckdb"))
    return counts, split_sql.violation(failed, data, row or ()), data


def write_quarantine(
    cursor: duckdb.DuckDBPyConnection, columns: list[str], split: ExpectationSplit, commit: CommitInfo,
    storage_options: Mapping[str, str],
) -> WriteOutcome | None:
    """Append the quarantined rows of ``__sl_flagged`` (when the split quarantines).

    An empty quarantine batch is committed too: it records the batch's app transaction.
    """
    if split.quarantine is None or not any(r.action == "quarantine" for r in split.rules):
        return None
    return write(cursor, split_sql.quarantine_sql(FLAGGED, columns, split, "duckdb"), split.quarantine,
                 commit, storage_options)


def write_query(
    cursor: duckdb.DuckDBPyConnection,
    sql: str,
    target: DeltaTarget | None,
    *,
    commit: CommitInfo,
    storage_options: Mapping[str, str],
    split: ExpectationSplit,
    after_target: Callable[[], None] | None,
) -> QueryWriteResult:
    """Run ``sql`` on ``cursor`` with the split; write the target, then the quarantine."""
    rules = split.rules
    if not rules:
        if target is None:
            n = _count(cursor, sql)
            if after_target is not None:
                after_target()
            return QueryWriteResult(SplitCounts(n, n))
        outcome = write(cursor, sql, target, commit, storage_options)
        if after_target is not None:
            after_target()
        return QueryWriteResult(SplitCounts(outcome.num_rows, outcome.num_rows), outcome)
    counts, violated, columns = stage_split(cursor, sql, split)
    if violated is not None:
        return QueryWriteResult(counts, violation=violated)
    written: WriteOutcome | None = None
    if target is not None:
        written = write(cursor, split_sql.kept_sql(FLAGGED, columns, rules, "duckdb"), target, commit, storage_options)
    if after_target is not None:
        after_target()
    quarantined = write_quarantine(cursor, columns, split, commit, storage_options)
    return QueryWriteResult(counts, written, quarantined)


def apply_cdc_split(
    cursor: duckdb.DuckDBPyConnection,
    spec: CdcSpec,
    target_uri: str,
    *,
    state_uri: str,
    storage_options: dict[str, str],
    commit: CommitInfo,
    split: ExpectationSplit,
    after_target: Callable[[], None] | None = None,
) -> CdcMetrics:
    """Apply the events registered as ``cdc.EVENTS`` after the split; quarantine after the target."""
    from soundlake.engines.duckdb import cdc

    events = cdc.EVENTS
    counts = None
    columns: list[str] = []
    if split.rules:
        counts, violated, columns = stage_split(cursor, f"SELECT * FROM {cdc.EVENTS}", split)
        if violated is not None:
            return CdcMetrics(split=counts, violation=violated)
        cursor.execute(
            f"CREATE OR REPLACE TEMP VIEW __sl_kept AS "
            f"{split_sql.kept_sql(FLAGGED, columns, split.rules, 'duckdb')}"
        )
        events = "__sl_kept"
    metrics = cdc.apply_cdc(cursor, spec, events, target_uri, state_uri=state_uri,
                            storage_options=storage_options, commit=commit)
    if after_target is not None:
        after_target()
    if counts is not None:
        write_quarantine(cursor, columns, split, commit, storage_options)
        metrics = dataclasses.replace(metrics, split=counts)
    return metrics
