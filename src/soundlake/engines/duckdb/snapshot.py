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
from typing import Any

import pyarrow as pa
from deltalake import write_deltalake

from soundlake.core.errors import FlowError
from soundlake.engines import cdc_fold
from soundlake.engines.base import CdcMetrics, CdcSpec, CommitInfo
from soundlake.engines.cdc_columns import END_AT, bind_names
from soundlake.engines.duckdb.cdc import apply_cdc
from soundlake.engines.duckdb.cdc_io import register_delta
from soundlake.engines.duckdb.cdc_spec import q
from soundlake.engines.duckdb.cdc_state import commit_properties, committed, open_table
from soundlake.engines.duckdb.writes import columns

VERSION_COL = cdc_fold.SNAPSHOT_VERSION
OP_COL = cdc_fold.SNAPSHOT_OP
VERSION_KEY = "soundlake.snapshot.version"
SNAPSHOT = "__sl_snapshot"
"""The relation name the engine registers a snapshot under."""

def _diff_events(con: Any, spec: CdcSpec, version: int | str, target: Any) -> list[str]:
    """Create temp table ``snap_events`` (the snapshot's changes); returns its data columns."""
    target_names = None if target is None else pa.schema(target.schema().to_arrow()).names
    names = columns(con, SNAPSHOT)
    spec = bind_names(spec, names)
    cols = cdc_fold.snapshot_columns(spec, names, target_names)
    missing = [c for c in cols if c not in names]
    if missing:
        raise FlowError(f"flow {spec.flow!r}: snapshot lacks columns {missing}")
    sel = ", ".join(q(c) for c in cols)
    con.execute(f"CREATE OR REPLACE TEMP TABLE snap AS SELECT {sel} FROM {SNAPSHOT}")
    if target is None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE snap_cur AS SELECT {sel} FROM snap LIMIT 0")
    else:
        register_delta(con, "snap_target", target)
        live = f" WHERE {q(END_AT)} IS NULL" if spec.scd_type == 2 else ""
        con.execute(f"CREATE OR REPLACE TEMP TABLE snap_cur AS SELECT {sel} FROM snap_target{live}")
    vtype = "BIGINT" if isinstance(version, int) else "VARCHAR"
    sql = cdc_fold.render(cdc_fold.snapshot_diff_sql(spec.keys, cols, "snap", "snap_cur"), "duckdb",
                 {cdc_fold.VERSION: f"?::{vtype}"})
    con.execute(f"CREATE OR REPLACE TEMP TABLE snap_events AS {sql}", [version, version])
    return cols


def _check_order(con: Any, spec: CdcSpec, state_uri: str, so: dict[str, str] | None, version: int | str) -> None:
    state = open_table(state_uri, so)
    if state is None:
        return
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
    con: Any,
    spec: CdcSpec,
    version: int | str,
    target_uri: str,
    *,
    state_uri: str,
    storage_options: dict[str, str] | None = None,
    commit: CommitInfo,
) -> CdcMetrics:
    """Apply one full snapshot: inserts, updates, and deletes of keys absent from it.

    Args:
        con: The engine's DuckDB cursor, where the snapshot is registered as ``SNAPSHOT``.
        spec: The flow; ``sequence_by``, ``apply_as_deletes`` and truncates are ignored
            (the snapshot version is the sequence).
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
    _check_order(con, spec, state_uri, so, version)
    cols = _diff_events(con, spec, version, target)
    cdc_spec = dataclasses.replace(
        spec, sequence_by=(VERSION_COL,), apply_as_deletes=f"{OP_COL} = 'D'",
        apply_as_truncates=None, columns=tuple(cols), except_columns=(),
    )
    meta = {**commit.metadata, VERSION_KEY: json.dumps(version)}
    tagged = CommitInfo(commit.app_id, commit.version, meta)
    metrics = apply_cdc(con, cdc_spec, "snap_events", target_uri, state_uri=state_uri,
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
    """The version of the last snapshot applied to the target (from its commit metadata), or None."""
    target = open_table(target_uri, storage_options)
    if target is None:
        return None
    for entry in target.history(50):
        value = entry.get(VERSION_KEY)
        if value is not None:
            return json.loads(value)
    return None
