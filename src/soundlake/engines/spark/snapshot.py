"""AUTO CDC FROM SNAPSHOT on Spark: diff a full snapshot against the target, then MERGE.

The same semantics as the DuckDB engine (``engines/duckdb/snapshot.py``): the snapshot is
compared with the target's live rows (SCD1: every row; SCD2: the open versions); keys
absent from the target or with any changed value (NULL-safe, ``EXCEPT``) become upserts,
live keys absent from the snapshot become deletes, all sequenced by the snapshot's
version. The events then go through :func:`soundlake.engines.spark.cdc.apply_cdc`
(``MERGE INTO``), so state, tombstones, idempotence and metrics are AUTO CDC's. The
applied version is recorded in the commit's ``userMetadata``
(``soundlake.snapshot.version``).
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from soundlake.core.errors import FlowError
from soundlake.engines import cdc_fold
from soundlake.engines.base import CdcMetrics, CdcSpec, CommitInfo
from soundlake.engines.cdc_columns import END_AT, SEQ, bind_names
from soundlake.engines.spark.cdc import _load, _views, apply_cdc
from soundlake.engines.spark.cdc_sql import q
from soundlake.lake import delta

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

VERSION_COL = cdc_fold.SNAPSHOT_VERSION
OP_COL = cdc_fold.SNAPSHOT_OP
VERSION_KEY = "soundlake.snapshot.version"


def apply_snapshot(
    spark: SparkSession,
    spec: CdcSpec,
    snapshot: DataFrame,
    version: int | str,
    target_uri: str,
    *,
    state_uri: str,
    storage_options: dict[str, str],
    commit: CommitInfo,
) -> CdcMetrics:
    """Apply one full snapshot: inserts, updates, and deletes of keys absent from it.

    Raises:
        FlowError: an older version than one already applied, missing columns, NULL keys.
    """
    done = delta.transaction_version(target_uri, commit.app_id, storage_options)
    if done is not None and done >= commit.version:
        return CdcMetrics(plan="skip (batch already committed)")
    _check_order(spark, spec, state_uri, version)
    target = _load(spark, target_uri)
    meta = {**commit.metadata, VERSION_KEY: json.dumps(version)}
    tagged = CommitInfo(commit.app_id, commit.version, meta)
    with _views(spark) as view:
        events = _diff_events(spark, view, spec, snapshot, version, target).persist()
        try:
            cols = [c for c in events.columns if c not in (VERSION_COL, OP_COL)]
            cdc_spec = dataclasses.replace(
                spec,
                sequence_by=(VERSION_COL,),
                apply_as_deletes=f"{OP_COL} = 'D'",
                apply_as_truncates=None,
                columns=tuple(cols),
                except_columns=(),
            )
            metrics = apply_cdc(spark, cdc_spec, events, target_uri, state_path=state_uri, commit=tagged)
        finally:
            events.unpersist()
    after = delta.transaction_version(target_uri, commit.app_id, storage_options)
    if after is None or after < commit.version:  # nothing changed: still record the snapshot
        _record(spark, target_uri, tagged)
    return metrics


def _diff_events(
    spark: SparkSession, view: object, spec: CdcSpec, snapshot: DataFrame, version: int | str, target: DataFrame | None
) -> DataFrame:
    names = snapshot.columns  # one call: each asks the JVM
    spec = bind_names(spec, names)
    cols = cdc_fold.snapshot_columns(spec, names, None if target is None else target.columns)
    missing = [c for c in cols if c not in names]
    if missing:
        raise FlowError(f"flow {spec.flow!r}: snapshot lacks columns {missing}")
    snap_v = view("snap", snapshot.selectExpr(*(q(c) for c in cols)))  # type: ignore[operator]
    if target is None:
        cur = spark.table(snap_v).limit(0)
    else:
        live = target.where(f"{q(END_AT)} IS NULL") if spec.scd_type == 2 else target
        cur = live.selectExpr(*(q(c) for c in cols))
    cur_v = view("snap_cur", cur)  # type: ignore[operator]
    vlit = str(int(version)) if isinstance(version, int) else "'" + str(version).replace("'", "''") + "'"
    vtype = "BIGINT" if isinstance(version, int) else "STRING"
    schema = {f.name: f.dataType.simpleString() for f in spark.table(snap_v).schema.fields}
    sql = cdc_fold.snapshot_diff_sql(spec.keys, cols, snap_v, cur_v, schema)
    return spark.sql(cdc_fold.render(sql, "spark", {cdc_fold.VERSION: f"CAST({vlit} AS {vtype})"}))


def _check_order(spark: SparkSession, spec: CdcSpec, state_uri: str, version: int | str) -> None:
    state = _load(spark, state_uri)
    if state is None:
        return
    latest: Any = state.selectExpr(f"max({SEQ}) AS m").collect()[0]["m"]
    if latest is not None and type(latest) is not type(version):
        raise FlowError(
            f"flow {spec.flow!r}: snapshot version {version!r} is not of the type of the "
            f"applied versions ({type(latest).__name__})"
        )
    current: Any = version  # same type as latest here
    if latest is not None and current < latest:
        raise FlowError(
            f"flow {spec.flow!r}: snapshot version {version!r} is older than the applied "
            f"version {latest!r}; snapshots are applied in ascending version order"
        )


def _record(spark: SparkSession, target_uri: str, commit: CommitInfo) -> None:
    """An empty append carrying the app transaction and the snapshot version."""
    target = _load(spark, target_uri)
    if target is None:
        return
    meta = json.dumps({str(k): str(v) for k, v in commit.metadata.items()}, sort_keys=True)
    (
        target.limit(0)
        .write.format("delta")
        .mode("append")
        .option("txnAppId", commit.app_id)
        .option("txnVersion", str(commit.version))
        .option("userMetadata", meta)
        .save(target_uri)
    )
