"""Query writes with the expectation split, as Spark jobs.

With rules, the flagged result is persisted on the executors (memory, then disk); one
aggregate reads every count from it, and the kept and quarantined rows are written from
it by Delta's writer. Without rules, the query is written as it is. The driver receives
the counts, the commit's metrics and, for a violated ``fail`` rule, one example row.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from soundlake.core.errors import ConstraintViolation
from soundlake.engines import split_sql
from soundlake.engines.base import (
    CommitInfo,
    DeltaTarget,
    ExpectationSplit,
    QueryWriteResult,
    RuleViolation,
    SplitCounts,
    WriteOutcome,
)
from soundlake.engines.spark.session import drop_view, is_connect
from soundlake.lake.delta_log import local_newest_commit

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, Row, SparkSession


def txn_options(commit: CommitInfo) -> dict[str, str]:
    """Delta writer options recording ``commit``'s app transaction and metadata."""
    return {
        "txnAppId": commit.app_id,
        "txnVersion": str(commit.version),
        "userMetadata": json.dumps({str(k): str(v) for k, v in commit.metadata.items()}, sort_keys=True),
    }


#: Delta's error condition for ``DESCRIBE HISTORY`` where there is no Delta table.
NOT_A_DELTA_TABLE = "DELTA_TABLE_ONLY_OPERATION"


def delta_path(uri: str) -> str:
    """``delta.`uri``` : the Delta table at ``uri`` as a Spark SQL table name."""
    return "delta.`" + uri.replace("`", "``") + "`"


def latest_history(spark: SparkSession, uri: str) -> Row | None:
    """The newest ``DESCRIBE HISTORY`` entry of the Delta table at ``uri`` (None: no table).

    Plain Spark SQL, so it works on a classic session and over Spark Connect alike (the
    ``delta.tables.DeltaTable`` Python API needs the JVM gateway).
    """
    from pyspark.errors import AnalysisException

    try:
        rows = spark.sql(f"DESCRIBE HISTORY {delta_path(uri)} LIMIT 1").collect()
    except AnalysisException as exc:
        # Only "no Delta table here" (no such path, or a folder without a Delta log) means
        # absent; any other failure must not make an existing table look new (a CDC target
        # taken for absent would be written again in full).
        if exc.getCondition() == NOT_A_DELTA_TABLE:
            return None
        raise
    return rows[0] if rows else None


def last_commit(spark: SparkSession, uri: str) -> tuple[int | None, int]:
    """The table's latest version (None: no table) and the rows that commit wrote.

    A table on a path this process sees is read from its log folder directly: ``DESCRIBE
    HISTORY`` costs a Spark job and a Delta snapshot per call, twice per write. Spark is
    asked when the path is remote or shows no commit here (over Spark Connect a path may be
    the server's, so a table is never taken for absent without Spark).
    """
    local = None if is_connect("", spark) else local_newest_commit(uri)
    if local is not None:
        version, info = local
        metrics = info.get("operationMetrics") or {}
    else:
        entry = latest_history(spark, uri)
        if entry is None:
            return None, 0
        version, metrics = int(entry["version"]), entry["operationMetrics"] or {}
    return version, int(metrics.get("numOutputRows", 0) or 0)


def table_exists(spark: SparkSession, uri: str) -> bool:
    """True when a Delta table is at ``uri`` (:func:`last_commit`'s cheap path first)."""
    return last_commit(spark, uri)[0] is not None


def save(frame: DataFrame, target: DeltaTarget, commit: CommitInfo) -> WriteOutcome:
    """Write ``frame`` to ``target`` in one commit carrying ``commit``'s app transaction."""
    spark = frame.sparkSession
    check_not_null(frame, target.not_null)
    for name, comment in target.column_comments.items():  # Delta keeps them as column metadata
        if name in frame.columns:
            frame = frame.withMetadata(name, {**frame.schema[name].metadata, "comment": comment})
    before, _ = last_commit(spark, target.uri)
    writer = frame.write.format("delta").mode(target.mode)
    writer = writer.option("overwriteSchema" if target.mode == "overwrite" else "mergeSchema", "true")
    for key, value in txn_options(commit).items():
        writer = writer.option(key, value)
    if before is None:
        for key, value in target.table_properties.items():
            writer = writer.option(key, value)
    if target.partition_by:
        writer = writer.partitionBy(*target.partition_by)
    writer.save(target.uri)
    after, rows = last_commit(spark, target.uri)
    committed = after is not None and after != before
    return WriteOutcome(committed, rows if committed else 0, after)


def check_not_null(frame: DataFrame, columns: tuple[str, ...]) -> None:
    """Fail before writing when a NOT NULL column of ``frame`` holds a NULL (one aggregate).

    Raises:
        ConstraintViolation: naming the first such column.
    """
    if not columns:
        return
    from pyspark.sql import functions as F

    flags = [F.max(F.col(f"`{c}`").isNull().cast("int")).alias(f"_{i}") for i, c in enumerate(columns)]
    row = frame.agg(*flags).collect()[0]
    for i, name in enumerate(columns):
        if row[f"_{i}"]:
            raise ConstraintViolation(f"NOT NULL column '{name}' holds NULL in a row to be written", column=name)


@contextmanager
def staged(frame: DataFrame, split: ExpectationSplit) -> Iterator[tuple[SplitCounts, RuleViolation | None, str, list[str]]]:
    """Flag, persist and count ``frame``; yields counts, violation, flagged view, data columns."""
    spark = frame.sparkSession
    rules = split.rules
    tag = uuid.uuid4().hex[:12]
    source, flagged_view = f"__sl_split_in_{tag}", f"__sl_flagged_{tag}"
    frame.createOrReplaceTempView(source)
    flagged = spark.sql(split_sql.flagged_sql(f"SELECT * FROM {source}", rules)).persist()
    try:
        flagged.createOrReplaceTempView(flagged_view)
        columns = split_sql.data_columns(flagged.columns)
        counts = split_sql.counts_from_row(tuple(spark.sql(split_sql.counts_sql(flagged_view, rules)).collect()[0]), rules)
        failed = split_sql.first_failed(counts, rules)
        violated = None
        if failed is not None:
            row = spark.sql(split_sql.example_sql(flagged_view, columns, failed, "spark")).collect()
            violated = split_sql.violation(failed, columns, tuple(row[0]) if row else ())
        yield counts, violated, flagged_view, columns
    finally:
        flagged.unpersist()
        drop_view(spark, flagged_view)
        drop_view(spark, source)


def write_quarantine(
    spark: SparkSession, flagged_view: str, columns: list[str], split: ExpectationSplit, commit: CommitInfo
) -> WriteOutcome | None:
    """Append the quarantined rows (an empty batch still records the app transaction)."""
    target = split_sql.quarantine_to(split)
    if target is None:
        return None
    return save(spark.sql(split_sql.quarantine_sql(flagged_view, columns, split, "spark")), target, commit)


def write_frame(
    frame: DataFrame,
    target: DeltaTarget | None,
    *,
    commit: CommitInfo,
    split: ExpectationSplit,
    after_target: Callable[[], None] | None,
) -> QueryWriteResult:
    """Write ``frame`` with the split: target, then ``after_target``, then quarantine."""
    if not split.rules:
        if target is None:
            n = frame.count()
            if after_target is not None:
                after_target()
            return QueryWriteResult(SplitCounts(n, n))
        outcome = save(frame, target, commit)
        if after_target is not None:
            after_target()
        return QueryWriteResult(SplitCounts(outcome.num_rows, outcome.num_rows), outcome)
    spark = frame.sparkSession
    with staged(frame, split) as (counts, violated, flagged_view, columns):
        if violated is not None:
            return QueryWriteResult(counts, violation=violated)
        written: WriteOutcome | None = None
        if target is not None:
            written = save(kept_frame(spark, flagged_view, columns, split), target, commit)
        if after_target is not None:
            after_target()
        quarantined = write_quarantine(spark, flagged_view, columns, split, commit)
        return QueryWriteResult(counts, written, quarantined)


def kept_frame(spark: SparkSession, flagged_view: str, columns: list[str], split: ExpectationSplit) -> DataFrame:
    """The rows that pass the split, as a DataFrame over the persisted flagged rows."""
    return spark.sql(split_sql.kept_sql(flagged_view, columns, split.rules, "spark"))
