"""AUTO CDC on Delta with DuckDB: SCD type 1 and 2 (docs/cdc.md, "AUTO CDC").

One call applies one batch of change events:

1. normalise the events (sequence, operation, selected columns) and reject NULL keys and
   NULL sequence values;
2. gather every remembered event of the batch's keys from the hidden state table and
   recompute those keys' target rows from all of them (so the result never depends on
   how events were split into batches or in which order they arrived);
3. commit the batch's events to the state, then the recomputed rows to the target, both
   with the batch's Delta app transaction (a re-run of a committed batch is a no-op, a
   re-run after a crash between the two commits finishes the target from the state).

See docs/cdc.md ("AUTO CDC") for every semantic choice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from soundlake.core.faults import crash_point
from soundlake.engines import split_sql
from soundlake.engines.base import CdcMetrics, CdcSpec, CommitInfo, ExpectationSplit
from soundlake.engines.duckdb.cdc_events import load_events
from soundlake.engines.duckdb.cdc_fold import target_rows_sql
from soundlake.engines.duckdb.cdc_plan import write_create, write_target
from soundlake.engines.duckdb.cdc_spec import ResolvedCdc, q, resolve
from soundlake.engines.duckdb.cdc_state import (
    append_state,
    commit_tag,
    committed,
    load_state_events,
    open_table,
)
from soundlake.engines.duckdb.writes import FLAGGED, columns, stage_split, write_quarantine

FAULT_ENV = "SOUNDLAKE_CDC_FAULT"
FAULT_EXIT_CODE = 77


def _fault(point: str) -> None:
    """Crash here (exit 77) when ``SOUNDLAKE_CDC_FAULT`` names ``point`` (tests only)."""
    crash_point(point, exit_code=FAULT_EXIT_CODE, env=FAULT_ENV)


EVENTS = "__sl_cdc_events"
"""The relation name the engine registers a batch of change events under."""


def apply_cdc(
    con: Any,
    spec: CdcSpec,
    events: str,
    target_uri: str,
    *,
    state_uri: str,
    storage_options: dict[str, str] | None = None,
    commit: CommitInfo,
) -> CdcMetrics:
    """Apply one batch of change events to an SCD1 or SCD2 Delta target.

    Args:
        con: The engine's DuckDB cursor (temp tables of this call live and die with it).
        spec: The AUTO CDC flow (keys, sequence_by, SCD type, options).
        events: The relation in ``con`` holding the batch of change events
            (Spark-SQL-named columns).
        target_uri: The target Delta table; created on the first batch.
        state_uri: Folder of the hidden state table (remembered events, tombstones).
        storage_options: deltalake storage options for both tables.
        commit: The batch's app transaction; an already committed batch is a no-op.

    Returns:
        Row counts and the physical plan chosen.

    Raises:
        FlowError: NULL key or sequence values, unknown columns, invalid options.
    """
    so = storage_options
    target = open_table(target_uri, so)
    if committed(target, commit):
        return CdcMetrics(plan="skip (batch already committed)")
    target_names = None if target is None else list(pa.schema(target.schema().to_arrow()).names)
    names = columns(con, events)
    rc = resolve(spec, names, target_names)
    return _apply(con, rc, events, target, target_uri, state_uri, so, commit)


def apply_cdc_split(
    cursor: Any,
    spec: CdcSpec,
    target_uri: str,
    *,
    state_uri: str,
    storage_options: dict[str, str],
    commit: CommitInfo,
    split: ExpectationSplit,
    after_target: Callable[[], None] | None = None,
) -> CdcMetrics:
    """Apply the events registered as ``EVENTS`` after the split; quarantine after the target."""
    events = EVENTS
    counts = None
    data: list[str] = []
    if split.rules:
        counts, violated, data = stage_split(cursor, f"SELECT * FROM {EVENTS}", split)
        if violated is not None:
            return CdcMetrics(split=counts, violation=violated)
        cursor.execute(
            f"CREATE OR REPLACE TEMP VIEW __sl_kept AS "
            f"{split_sql.kept_sql(FLAGGED, data, split.rules, 'duckdb')}"
        )
        events = "__sl_kept"
    metrics = apply_cdc(cursor, spec, events, target_uri, state_uri=state_uri,
                        storage_options=storage_options, commit=commit)
    if after_target is not None:
        after_target()
    if counts is not None:
        write_quarantine(cursor, data, split, commit, storage_options)
        metrics = dataclasses.replace(metrics, split=counts)
    return metrics


def _apply(
    con: Any,
    rc: ResolvedCdc,
    events: str,
    target: Any,
    target_uri: str,
    state_uri: str,
    so: dict[str, str] | None,
    commit: CommitInfo,
) -> CdcMetrics:
    load_events(con, rc, events)
    keys = ", ".join(q(k) for k in rc.keys)
    con.execute(f"CREATE OR REPLACE TEMP TABLE cdc_affected AS SELECT DISTINCT {keys} FROM cdc_batch")
    full = con.execute("SELECT count(*) FROM cdc_batch_truncates").fetchall()[0][0] > 0
    state = open_table(state_uri, so)
    load_state_events(con, rc, state, full, commit_tag(commit))
    con.execute("CREATE OR REPLACE TEMP TABLE cdc_new AS " + target_rows_sql(rc, "cdc_events"))
    # the target holds exactly the rows of the events stored before this batch
    con.execute("CREATE OR REPLACE TEMP TABLE cdc_old AS " + target_rows_sql(rc, "cdc_events_before"))
    if not committed(state, commit):
        _fault("before_state")
        append_state(con, rc, state_uri, so, commit)
    _fault("after_state")
    if target is None:
        result = write_create(con, rc, target_uri, so, commit)
    else:
        result = write_target(con, rc, target, target_uri, so, commit)
    _fault("after_target")
    return CdcMetrics(
        num_upserted_rows=result.upserted,
        num_deleted_rows=result.deleted,
        num_output_rows=result.upserted,
        target_rows=result.rows_after,
        plan=result.plan,
    )
