"""AUTO CDC FROM SNAPSHOT: turn full snapshots into change events and apply them.

Each snapshot is compared with the target's live rows (SCD1: every row; SCD2: the open
versions): keys absent from the target or with any changed value (NULL-safe) become
upserts, live keys absent from the snapshot become deletes, all sequenced by the
snapshot's version. The events then go through :func:`apply_cdc`, so state, tombstones,
idempotence and the physical plan are shared with AUTO CDC.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from deltalake import write_deltalake

from soundlake.core.errors import FlowError
from soundlake.engines import cdc_fold
from soundlake.engines.base import CdcMetrics, CdcSpec, CommitInfo
from soundlake.engines.cdc_columns import END_AT
from soundlake.engines.duckdb.cdc import apply_cdc, connect
from soundlake.engines.duckdb.cdc_io import register_delta
from soundlake.engines.duckdb.cdc_spec import q
from soundlake.engines.duckdb.cdc_state import commit_properties, committed, open_table

VERSION_COL = cdc_fold.SNAPSHOT_VERSION
OP_COL = cdc_fold.SNAPSHOT_OP
VERSION_KEY = "soundlake.snapshot.version"

SnapshotSource = Callable[[Any], "tuple[pa.Table | pa.RecordBatchReader, int | str] | None"]


def _diff_events(
    con: Any, spec: CdcSpec, snapshot: pa.Table | pa.RecordBatchReader, version: int | str,
    target: Any,
) -> pa.Table:
    target_names = None if target is None else pa.schema(target.schema().to_arrow()).names
    cols = cdc_fold.snapshot_columns(spec, list(snapshot.schema.names), target_names)
    missing = [c for c in cols if c not in snapshot.schema.names]
    if missing:
        raise FlowError(f"flow {spec.flow!r}: snapshot lacks columns {missing}")
    con.register("snap_raw", snapshot)
    sel = ", ".join(q(c) for c in cols)
    con.execute(f"CREATE OR REPLACE TEMP TABLE snap AS SELECT {sel} FROM snap_raw")
    if target is None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE snap_cur AS SELECT {sel} FROM snap LIMIT 0")
    else:
        register_delta(con, "snap_target", target)
        live = f" WHERE {q(END_AT)} IS NULL" if spec.scd_type == 2 else ""
        con.execute(f"CREATE OR REPLACE TEMP TABLE snap_cur AS SELECT {sel} FROM snap_target{live}")
    vtype = "BIGINT" if isinstance(version, int) else "VARCHAR"
    sql = cdc_fold.render(cdc_fold.snapshot_diff_sql(spec.keys, cols, "snap", "snap_cur"), "duckdb",
                 {cdc_fold.VERSION: f"?::{vtype}"})
    return con.sql(sql, params=[version, version]).to_arrow_table()


def _check_order(spec: CdcSpec, state_uri: str, so: dict[str, str] | None, version: int | str) -> None:
    state = open_table(state_uri, so)
    if state is None:
        return
    with connect() as con:
        register_delta(con, "snap_state", state)
        latest = con.execute("SELECT max(__seq) FROM snap_state").fetchall()[0][0]
    if latest is not None and type(latest) is not type(version):
        raise FlowError(
            f"flow {spec.flow!r}: snapshot version {version!r} is not of the type of the "
            f"applied versions ({type(latest).__name__})"
        )
    if latest is not None and version < latest:  # type: ignore[operator, unused-ignore]  # same type, checked above
        raise FlowError(
            f"flow {spec.flow!r}: snapshot version {version!r} is older than the applied "
            f"version {latest!r}; snapshots are applied in ascending version order"
        )


def apply_snapshot(
    spec: CdcSpec,
    snapshot: pa.Table | pa.RecordBatchReader,
    version: int | str,
    target_uri: str,
    *,
    state_uri: str,
    storage_options: dict[str, str] | None = None,
    commit: CommitInfo,
) -> CdcMetrics:
    """Apply one full snapshot: inserts, updates, and deletes of keys absent from it.

    Args:
        spec: The flow; ``sequence_by``, ``apply_as_deletes`` and truncates are ignored
            (the snapshot version is the sequence).
        snapshot: The complete source rows at ``version``.
        version: The snapshot's version (int or str); versions must not decrease.
        target_uri: The target Delta table (created on the first snapshot).
        state_uri: Folder of the hidden state table.
        storage_options: deltalake storage options.
        commit: The app transaction of this application.

    Raises:
        FlowError: an older version than one already applied, missing columns, NULL keys.
    """
    so = storage_options
    target = open_table(target_uri, so)
    if committed(target, commit):
        return CdcMetrics(plan="skip (batch already committed)")
    _check_order(spec, state_uri, so, version)
    with connect() as con:
        events = _diff_events(con, spec, snapshot, version, target)
    cols = [c for c in events.schema.names if c not in (VERSION_COL, OP_COL)]
    cdc_spec = dataclasses.replace(
        spec, sequence_by=(VERSION_COL,), apply_as_deletes=f"{OP_COL} = 'D'",
        apply_as_truncates=None, columns=tuple(cols), except_columns=(),
    )
    meta = {**commit.metadata, VERSION_KEY: json.dumps(version)}
    tagged = CommitInfo(commit.app_id, commit.version, meta)
    metrics = apply_cdc(cdc_spec, events, target_uri, state_uri=state_uri,
                        storage_options=so, commit=tagged)
    if not committed(open_table(target_uri, so), tagged):  # noop: still record the snapshot
        write_deltalake(target_uri, _empty_like(target_uri, so), mode="append",
                        storage_options=so, commit_properties=commit_properties(tagged))
    return metrics


def _empty_like(uri: str, so: dict[str, str] | None) -> pa.Table:
    table = open_table(uri, so)
    assert table is not None
    return pa.schema(table.schema().to_arrow()).empty_table()


def latest_snapshot_version(target_uri: str, storage_options: dict[str, str] | None = None) -> Any:
    """The version of the last snapshot applied to the target, or None."""
    target = open_table(target_uri, storage_options)
    if target is None:
        return None
    for entry in target.history(50):
        value = entry.get(VERSION_KEY)
        if value is not None:
            return json.loads(value)
    return None


def apply_snapshot_source(
    spec: CdcSpec,
    next_snapshot: SnapshotSource,
    target_uri: str,
    *,
    state_uri: str,
    storage_options: dict[str, str] | None = None,
    app_id: str,
) -> list[CdcMetrics]:
    """Apply every snapshot a historical source function returns, in ascending order.

    ``next_snapshot(latest_version)`` returns the next ``(snapshot, version)`` after the
    latest applied version (None before the first), or None when there is none. Each
    snapshot commits with app transaction ``(app_id, n)``, ``n`` counting snapshots, so a
    re-run after a crash resumes exactly where the target stopped.
    """
    out: list[CdcMetrics] = []
    while True:
        target = open_table(target_uri, storage_options)
        latest = latest_snapshot_version(target_uri, storage_options)
        done = None if target is None else target.transaction_version(app_id)
        nxt = next_snapshot(latest)
        if nxt is None:
            return out
        snapshot, version = nxt
        if latest is not None and not version > latest:
            raise FlowError(
                f"flow {spec.flow!r}: the snapshot source returned version {version!r} "
                f"after {latest!r}; versions must increase"
            )
        n = 0 if done is None else done + 1
        out.append(apply_snapshot(spec, snapshot, version, target_uri, state_uri=state_uri,
                                  storage_options=storage_options, commit=CommitInfo(app_id, n)))
