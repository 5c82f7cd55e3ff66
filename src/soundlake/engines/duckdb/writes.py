"""Query writes with the expectation split, inside DuckDB.

With rules, the flagged result is kept in a temp table of the engine's cursor (buffer
managed: it spills past the memory limit); the counts of every outcome and rule come from
one aggregate over it; the kept and the quarantined rows stream from it into their Delta
commits. Without rules, the query streams straight into the target's commit. Rows never
pass through Python code: only Arrow batches handed from DuckDB to ``deltalake``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import duckdb

from soundlake.engines import split_sql
from soundlake.engines.base import (
    CommitInfo,
    DeltaTarget,
    ExpectationSplit,
    QueryWriteResult,
    SplitCounts,
    WriteOutcome,
)
from soundlake.engines.not_null import commented_reader, not_null_reader
from soundlake.lake import delta

BATCH_ROWS = 131_072
FLAGGED = "__sl_flagged"


def write(
    cursor: duckdb.DuckDBPyConnection, sql: str, target: DeltaTarget, commit: CommitInfo,
    storage_options: Mapping[str, str],
) -> WriteOutcome:
    """Write the rows of ``sql`` to ``target`` in one commit with ``commit``'s app transaction.

    A DuckDB error while ``deltalake`` reads the stream aborts the commit and reaches the
    caller unchanged (the engine's session turns it into a soundlake error); so does a
    NULL in a NOT NULL column of ``target`` (:class:`ConstraintViolation`).
    """
    result = delta.write_table(
        target.uri,
        commented_reader(
            not_null_reader(cursor.sql(sql).to_arrow_reader(BATCH_ROWS), target.not_null), target.column_comments
        ),
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
    target = split_sql.quarantine_to(split)
    if target is None:
        return None
    return write(cursor, split_sql.quarantine_sql(FLAGGED, columns, split, "duckdb"), target, commit, storage_options)


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
