"""AUTO CDC on Spark: SCD type 1 and 2 with Delta ``MERGE INTO`` (docs/cdc.md, "AUTO CDC").

Every change event ever applied is remembered in a hidden Delta state table (keys,
values, ``__seq``, ``__op``; the same layout as the DuckDB engine's, so either engine can
continue the other's flow). One batch is applied in two idempotent commits:

1. the batch's new events are appended to the state with the batch's Delta app
   transaction (``txnAppId`` / ``txnVersion``): a re-run of a committed batch adds nothing;
2. the target rows of the affected keys are recomputed from all their remembered events
   and merged into the target with one ``MERGE INTO`` (rows no longer produced are
   deleted, changed rows updated, new rows inserted).

Because the target is a pure function of the state, a crash between the two commits is
repaired by re-running the batch, and the result does not depend on how events were split
into batches or in what order they arrived.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from soundlake.core.errors import FlowError
from soundlake.engines.base import CdcMetrics, CdcSpec, CommitInfo
from soundlake.engines.cdc_columns import DELETE, END_AT, OP, SEQ, TRUNCATE, state_table_properties
from soundlake.engines.spark.cdc_sql import (
    ResolvedCdc,
    dedup_sql,
    event_columns,
    merge_sql,
    normalise_sql,
    q,
    qs,
    resolve,
    target_rows_sql,
)
from soundlake.engines.spark.session import drop_view
from soundlake.engines.spark.writes import last_commit, table_exists

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def apply_cdc(
    spark: SparkSession,
    spec: CdcSpec,
    events: DataFrame,
    target_path: str,
    *,
    state_path: str,
    commit: CommitInfo,
) -> CdcMetrics:
    """Apply one batch of change events to an SCD1/SCD2 Delta target.

    Args:
        spark: The session (Delta configured).
        spec: The flow's AUTO CDC parameters.
        events: The batch of change events (a batch DataFrame).
        target_path: Location of the target Delta table (created when absent).
        state_path: Location of the flow's hidden state table (created when absent).
        commit: App transaction and commit metadata of this batch.

    Returns:
        Upserted rows (inserted plus updated target rows), deleted target rows, and output
        rows (rows written: inserted plus updated).

    Raises:
        FlowError: NULL keys or sequence values, unknown columns, invalid spec.
    """
    target = _load(spark, target_path)
    rc = resolve(spec, list(events.columns), None if target is None else list(target.columns))
    state = _load(spark, state_path)
    with _views(spark) as view:
        view("cdc_raw", events)
        normal = spark.sql(normalise_sql(rc, view.name("cdc_raw")))
        # Later batches read the normalised events several times (checks, new events,
        # affected keys, the state's set difference): they are cached once. A first batch
        # reads them twice, the checks only a few columns: caching would cost more. Every
        # persisted frame here is unpersisted by the views block that registers it.
        normal = normal if state is None else normal.persist()
        all_v = view("cdc_all", normal)
        has_truncates = _check_events(spark, rc, all_v)
        pending = f"(SELECT * FROM {all_v} WHERE {OP} < {TRUNCATE})"
        if state is None and not has_truncates:
            # A first batch's state is exactly its de-duplicated events, and the target
            # is folded from them: they are shuffled once, by the keys (the fold's
            # partitioning too), and cached, so the state is written and the fold runs
            # from the cache without a second shuffle or reading the state back.
            pending = f"(SELECT /*+ REPARTITION({qs(rc.keys)}) */ * FROM {pending})"
            batch = spark.sql(dedup_sql(rc, pending)).persist()
        else:
            batch = spark.sql(dedup_sql(rc, pending))
        view("cdc_batch", batch)
        events_v = _affected_events(spark, rc, view, state, has_truncates)
        _append_state(spark, rc, view, state_path, commit, remembered=state is not None,
                      truncates=has_truncates)
        rows = spark.sql(target_rows_sql(rc, events_v))
        return _write_target(spark, rc, view, rows, target_path, target, commit)


class _Views:
    """Temporary views with unique names, dropped when the block ends."""

    def __init__(self, spark: SparkSession) -> None:
        self._spark = spark
        self._suffix = uuid.uuid4().hex[:10]
        self._names: list[str] = []
        self._frames: list[DataFrame] = []

    def name(self, base: str) -> str:
        return f"{base}_{self._suffix}"

    def __call__(self, base: str, frame: DataFrame) -> str:
        name = self.name(base)
        # recorded before the view: a frame the caller persisted is released even if this fails
        self._frames.append(frame)
        frame.createOrReplaceTempView(name)
        self._names.append(name)
        return name

    def drop_all(self) -> None:
        # Frames first: over Spark Connect a frame of ``spark.sql`` is its SQL text, analysed
        # again on every use, so it cannot be inspected once the views it names are gone.
        for frame in self._frames:
            if frame.is_cached:
                frame.unpersist()
        for name in self._names:
            drop_view(self._spark, name)


@contextmanager
def _views(spark: SparkSession) -> Iterator[_Views]:
    views = _Views(spark)
    try:
        yield views
    finally:
        views.drop_all()


def _load(spark: SparkSession, path: str) -> DataFrame | None:
    """The Delta table at ``path`` as a DataFrame, or None when there is none."""
    if not table_exists(spark, path):
        return None
    return spark.read.format("delta").load(path)


def _check_events(spark: SparkSession, rc: ResolvedCdc, source: str) -> bool:
    """Fail on NULL sequence values or keys (one query); return True when truncates occur."""
    key_null = " OR ".join(f"{q(k)} IS NULL" for k in rc.keys)
    checks = {
        "__seq_null": ("a NULL sequence value", f"sequence_by {list(rc.seq_parts)}"),
        f"{OP} < {TRUNCATE} AND ({key_null})": ("a NULL key", f"keys {list(rc.keys)}"),
    }
    counts = ", ".join(f"count_if({cond}) AS c{i}" for i, cond in enumerate(checks))
    row = spark.sql(f"SELECT {counts}, count_if({OP} = {TRUNCATE}) AS truncates FROM {source}").collect()[0]
    for i, (condition, (what, detail)) in enumerate(checks.items()):
        if row[f"c{i}"]:
            first = spark.sql(f"SELECT {event_columns(rc)} FROM {source} WHERE {condition}").take(1)[0]
            shown = ", ".join(f"{k}={v!r}" for k, v in first.asDict().items())
            raise FlowError(
                f"flow {rc.flow!r}: {row[f'c{i}']} change event(s) have {what} ({detail}); first: {shown}"
            )
    return bool(row["truncates"])


def _affected_events(
    spark: SparkSession, rc: ResolvedCdc, view: _Views, state: DataFrame | None, full: bool
) -> str:
    """Register the remembered + new events of the affected keys; return the view name.

    With truncates (SCD1) every key is affected and receives a delete at the latest
    truncate's sequence, so rows older than it disappear.
    """
    cols = event_columns(rc)
    batch_v = view.name("cdc_batch")
    all_v = view.name("cdc_all")
    truncates = f"SELECT {SEQ} FROM {all_v} WHERE {OP} = {TRUNCATE}"
    if state is None:
        old = spark.sql(f"SELECT {cols} FROM {batch_v} LIMIT 0")
    else:
        view("cdc_state", state)
        state_v = view.name("cdc_state")
        truncates += f" UNION ALL SELECT {SEQ} FROM {state_v} WHERE {OP} = {TRUNCATE}"
        join = "" if full else f" LEFT SEMI JOIN (SELECT DISTINCT {qs(rc.keys)} FROM {batch_v}) a ON {rc.key_join('s', 'a')}"
        old = spark.sql(f"SELECT {qs((*rc.keys, *rc.values, SEQ, OP), 's.')} FROM {state_v} s{join} WHERE s.{OP} < {TRUNCATE}")
    view("cdc_state_old", old)
    old_v = view.name("cdc_state_old")
    view("cdc_truncates", spark.sql(truncates))
    trunc_v = view.name("cdc_truncates")
    view(
        "cdc_affected",
        spark.sql(f"SELECT DISTINCT {qs(rc.keys)} FROM (SELECT {qs(rc.keys)} FROM {old_v} UNION ALL SELECT {qs(rc.keys)} FROM {batch_v})"),
    )
    parts = [f"SELECT {cols} FROM {old_v}", f"SELECT {cols} FROM {batch_v}"]
    if rc.scd_type == 1:
        nulls = "".join(f", NULL AS {q(c)}" for c in rc.values)
        parts.append(
            f"SELECT {qs(rc.keys, 'a.')}{nulls}, t.__max AS {SEQ}, CAST({DELETE} AS TINYINT) AS {OP} "
            f"FROM {view.name('cdc_affected')} a CROSS JOIN (SELECT max({SEQ}) AS __max FROM {trunc_v}) t "
            f"WHERE t.__max IS NOT NULL"
        )
    if state is None and not full:  # only the batch, already one event per (keys, sequence)
        return view("cdc_events", spark.table(batch_v))
    union = "(" + " UNION ALL ".join(parts) + ")"
    return view("cdc_events", spark.sql(dedup_sql(rc, union)))


def _append_state(spark: SparkSession, rc: ResolvedCdc, view: _Views, state_path: str, commit: CommitInfo,
                  *, remembered: bool, truncates: bool) -> None:
    """Append the batch's events not yet remembered (and its truncates) in one commit
    (without ``remembered`` state, every event of the batch is new: no set difference;
    without ``truncates`` the events are not read again to find them)."""
    cols = event_columns(rc)
    batch_v, old_v, all_v = view.name("cdc_batch"), view.name("cdc_state_old"), view.name("cdc_all")
    events = f"SELECT {cols} FROM {batch_v}"
    if remembered:
        events = f"({events} EXCEPT ALL SELECT {cols} FROM {old_v})"
    if truncates:
        batch_schema = {f.name: f.dataType.simpleString() for f in spark.table(batch_v).schema.fields}
        nulls = ", ".join(f"CAST(NULL AS {batch_schema[c]}) AS {q(c)}" for c in (*rc.keys, *rc.values))
        events += f" UNION ALL SELECT {nulls}, {SEQ}, {OP} FROM {all_v} WHERE {OP} = {TRUNCATE}"
    created = {} if remembered else state_table_properties(rc.keys)
    _append(spark.sql(events), state_path, commit, "state", created)


def _append(frame: DataFrame, path: str, commit: CommitInfo, part: str,
            properties: Mapping[str, str] | None = None) -> None:
    """Append ``frame`` to the Delta table at ``path`` in one commit carrying ``commit``
    (``properties``: table properties, when this append creates the table)."""
    writer = frame.write.format("delta").mode("append")
    for key, value in {**_write_options(commit, part), **(properties or {})}.items():
        writer = writer.option(key, value)
    writer.save(path)


def _write_options(commit: CommitInfo, part: str) -> dict[str, str]:
    meta = {str(k): str(v) for k, v in commit.metadata.items()}
    meta["soundlake.cdc"] = part
    return {
        "txnAppId": commit.app_id,
        "txnVersion": str(commit.version),
        "userMetadata": json.dumps(meta, sort_keys=True),
    }


def _write_target(
    spark: SparkSession,
    rc: ResolvedCdc,
    view: _Views,
    rows: DataFrame,
    target_path: str,
    target: DataFrame | None,
    commit: CommitInfo,
) -> CdcMetrics:
    """Create the target, or MERGE the recomputed rows of the affected keys into it.

    Metrics match the DuckDB engine: upserted = rows written (new or changed), deleted =
    keys live before and not after, output = rows written (upserted), target_rows = the
    target's row count afterwards.
    """
    if target is None:  # the rows written are the commit's own count: no counting pass
        _append(rows, target_path, commit, "target")
        _, output = last_commit(spark, target_path)
        return CdcMetrics(num_upserted_rows=output, num_output_rows=output, target_rows=output, plan="create")
    rows = rows.persist()
    try:
        view("cdc_rows", rows)
        old_v = _old_rows(rc, view, target)
        stats = _count_changes(spark, rc, view.name("cdc_rows"), old_v)
        after = target.count() + stats["n_new"] - stats["n_old"]
        if not stats["upserted"] and not stats["removed"]:
            return CdcMetrics(target_rows=after, plan="noop")
        source = _merge_source(spark, rc, view, old_v)
        with _commit_conf(spark, commit):
            spark.sql(merge_sql(rc, target_path, source)).collect()
        return CdcMetrics(
            num_upserted_rows=stats["upserted"],
            num_deleted_rows=stats["deleted"],
            num_output_rows=stats["upserted"],
            target_rows=after,
            plan="merge",
        )
    finally:
        rows.unpersist()


def _old_rows(rc: ResolvedCdc, view: _Views, target: DataFrame) -> str:
    """Register the target's current rows of the affected keys (target column order)."""
    view("cdc_target", target)
    affected_v, target_v = view.name("cdc_affected"), view.name("cdc_target")
    old = target.sparkSession.sql(
        f"SELECT {qs(target.columns, 't.')} FROM {target_v} t LEFT SEMI JOIN {affected_v} a ON {rc.key_join('t', 'a')}"
    )
    return view("cdc_old", old.persist())


def _count_changes(spark: SparkSession, rc: ResolvedCdc, new_v: str, old_v: str) -> dict[str, int]:
    cols = qs(spark.table(old_v).columns)
    live = "" if rc.scd_type == 1 else f" WHERE {q(END_AT)} IS NULL"
    keys = qs(rc.keys)
    row = spark.sql(
        f"SELECT (SELECT count(*) FROM (SELECT {cols} FROM {new_v} EXCEPT ALL SELECT {cols} FROM {old_v})) AS upserted, "
        f"(SELECT count(*) FROM (SELECT DISTINCT {keys} FROM {old_v}{live} EXCEPT "
        f"SELECT DISTINCT {keys} FROM {new_v}{live})) AS deleted, "
        f"(SELECT count(*) FROM (SELECT {cols} FROM {old_v} EXCEPT ALL SELECT {cols} FROM {new_v})) AS removed, "
        f"(SELECT count(*) FROM {new_v}) AS n_new, (SELECT count(*) FROM {old_v}) AS n_old"
    ).collect()[0]
    return {k: int(v) for k, v in row.asDict().items()}


def _merge_source(spark: SparkSession, rc: ResolvedCdc, view: _Views, old_v: str) -> str:
    """Recomputed rows (present) plus the affected keys' target rows no longer produced."""
    match = rc.match_columns
    rows_v = view.name("cdc_rows")
    all_cols = spark.table(old_v).columns
    gone = (
        f"SELECT {qs(all_cols, 'o.')}, false AS __present FROM {old_v} o "
        f"LEFT ANTI JOIN {rows_v} r ON {rc.key_join('o', 'r', match)}"
    )
    present = f"SELECT {qs(all_cols)}, true AS __present FROM {rows_v}"
    return view("cdc_merge_source", spark.sql(f"{present} UNION ALL {gone}"))


@contextmanager
def _commit_conf(spark: SparkSession, commit: CommitInfo) -> Iterator[None]:
    """Session settings that make Delta record the app transaction and metadata on DML."""
    meta = {str(k): str(v) for k, v in commit.metadata.items()}
    meta["soundlake.cdc"] = "target"
    settings = {
        "spark.databricks.delta.write.txnAppId": commit.app_id,
        "spark.databricks.delta.write.txnVersion": str(commit.version),
        "spark.databricks.delta.commitInfo.userMetadata": json.dumps(meta, sort_keys=True),
    }
    previous = {k: spark.conf.get(k, None) for k in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, old in previous.items():
            if old is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, old)
