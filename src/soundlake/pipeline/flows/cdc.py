"""AUTO CDC flows: new change events from the source, applied by the engine (SCD1/SCD2).

The pipeline layer reads the new events (the same exactly-once offsets as a streaming
flow), applies the target's expectations to them, resolves the column lists and hands a
:class:`CdcSpec` to ``engine.apply_cdc``, which is idempotent per app transaction.
"""

from __future__ import annotations

from typing import Any

from soundlake.catalog.names import TableName
from soundlake.catalog.state import safe_name
from soundlake.core.clock import utc_now
from soundlake.core.errors import EngineError
from soundlake.engines.base import CdcSpec, CommitInfo, ViewRelation
from soundlake.pipeline.checkpoint import Checkpoint, PendingBatch
from soundlake.pipeline.context import RunContext, fault_point
from soundlake.pipeline.definitions import AutoCdcFlow, SnapshotCdcFlow
from soundlake.pipeline.expectations import ExpectationMetrics, expectation_split, violation_error
from soundlake.pipeline.flows.base import FlowResult, in_user_terms, quarantine_target
from soundlake.pipeline.flows.snapshot_function import run_snapshot_function, snapshot_spec
from soundlake.pipeline.inputs import Node, ReadGuard, expand, open_relations, plan_batch
from soundlake.pipeline.planner import FlowPlan
from soundlake.pipeline.sql.query import FlowInput

SOURCE_PLACEHOLDER = "__sl_cdc_source"


def source_input(source: TableName, *, streaming: bool) -> FlowInput:
    """The source of an AUTO CDC flow as the input the SQL front end would give."""
    return FlowInput("table", streaming, table=source, placeholder=SOURCE_PLACEHOLDER)


def build_spec(flow: AutoCdcFlow, name: str) -> CdcSpec:
    """The flow's AUTO CDC parameters in engine terms.

    The engine binds the column choices to the events' columns (``column_list`` /
    ``except_column_list``; tracked columns: all value columns, those of
    ``track_history_column_list``, or all but ``track_history_except_column_list``) and
    names any column the source lacks.
    """
    tracked = tuple(flow.track_history_column_list) if flow.track_history_column_list else None
    return CdcSpec(
        flow=name,
        target=str(flow.target),
        keys=tuple(flow.keys),
        sequence_by=tuple(flow.sequence_by),
        scd_type=flow.stored_as_scd_type,
        columns=tuple(flow.column_list) if flow.column_list else None,
        except_columns=tuple(flow.except_column_list or ()),
        ignore_null_updates=flow.ignore_null_updates,
        apply_as_deletes=flow.apply_as_deletes,
        apply_as_truncates=flow.apply_as_truncates,
        tracked_columns=tracked,
        untracked_columns=() if tracked is not None else tuple(flow.track_history_except_column_list or ()),
        location=str(flow.location),
    )


def source_label(flow: AutoCdcFlow) -> str:
    """The flow's source as written: ``STREAM(c.s.t)`` or ``c.s.t``."""
    return f"STREAM({flow.source})" if flow.source_is_stream and not flow.once else str(flow.source)


def run_auto_cdc(ctx: RunContext, plan: FlowPlan) -> FlowResult:
    """Apply the source's new change events to the target."""
    flow = plan.flow
    assert isinstance(flow, AutoCdcFlow)
    cp = Checkpoint.load(ctx, plan.name)
    if flow.once and cp.once_done:
        return FlowResult("IDLE", message="once flow already ran")
    source = source_input(flow.source, streaming=flow.source_is_stream and not flow.once)
    sql = f"SELECT * FROM {SOURCE_PLACEHOLDER}_0"
    nodes = expand(ctx, sql, [source], prefix=SOURCE_PLACEHOLDER)
    done_fields = {"once_done": True} if flow.once else {}
    # the engine's CDC state may hold part of a planned batch: it re-runs with its input
    pending = cp.resume(ctx, plan.target, has_quarantine=plan.has_quarantine, replan=False, done_fields=done_fields)
    if pending is None:
        planned = plan_batch(ctx, nodes, cp.sources, flow=plan.name, target=plan.target)
        if planned.missing:
            return FlowResult("IDLE", message=f"waiting for input: {', '.join(planned.missing)}")
        if not planned.has_new and not flow.once:
            return FlowResult("IDLE", message="no new change events")
        pending = PendingBatch(cp.next_batch(), planned.entries, planned.after)
        cp.record_plan(ctx, pending)
    result = _apply(ctx, plan, flow, nodes, pending, sql, pending.batch)
    cp.commit(ctx, pending.batch, target=plan.target, after=pending.after, **done_fields)
    return result


def _apply(
    ctx: RunContext, plan: FlowPlan, flow: AutoCdcFlow, nodes: list[Node], planned: PendingBatch, sql: str, batch: int
) -> FlowResult:
    dialect = ctx.engine.capabilities.sql_dialect
    guard = ReadGuard()
    relations = open_relations(ctx, nodes, planned.entries, guard)
    expectations = plan.dataset.expectations
    split = expectation_split(
        expectations, dialect, quarantine=quarantine_target(ctx, plan, "append"), flow=plan.name,
        run_id=ctx.run_id, batch_id=batch, now=utc_now(), settings=ctx.binder.settings,
    )
    commit = CommitInfo(ctx.app_id(plan.name), batch, ctx.commit_metadata(plan.name, batch))
    try:
        metrics = ctx.engine.apply_cdc(
            build_spec(flow, plan.name),
            ViewRelation(sql, relations),
            ctx.table_uri(plan.target),
            state_uri=ctx.state.uri("cdc", safe_name(plan.name)),
            storage_options=ctx.storage_options,
            commit=commit,
            split=split,
            after_target=lambda: fault_point("after_target_commit", plan.name),
        )
    except Exception as exc:
        guard.reraise(exc)
        if isinstance(exc, EngineError):
            raise in_user_terms(exc, plan, nodes, f"APPLY CHANGES FROM {source_label(flow)}") from exc
        raise
    if metrics.violation is not None:
        raise violation_error(metrics.violation, expectations, str(plan.target), plan.name)
    return FlowResult(
        "COMPLETED",
        num_output_rows=metrics.num_output_rows,
        num_upserted_rows=metrics.num_upserted_rows,
        num_deleted_rows=metrics.num_deleted_rows,
        batch=batch,
        expectations=ExpectationMetrics.from_counts(str(plan.target), expectations, metrics.split)
        if expectations and metrics.split is not None else None,
        extra={"cdc_plan": metrics.plan} if metrics.plan else {},
    )


def run_snapshot_cdc(ctx: RunContext, plan: FlowPlan) -> FlowResult:
    """AUTO CDC FROM SNAPSHOT with a table source: one snapshot per update.

    A snapshot function source runs in :mod:`soundlake.pipeline.flows.snapshot_function`.

    The snapshot's version is the update's start time (microseconds since the epoch), so
    versions increase from run to run. A snapshot whose source table did not change
    since the last applied one is skipped (IDLE).
    """
    flow = plan.flow
    assert isinstance(flow, SnapshotCdcFlow)
    if flow.source is None:  # a snapshot function: its own versions, possibly several per update
        return run_snapshot_function(ctx, plan)
    cp = Checkpoint.load(ctx, plan.name)
    source = source_input(flow.source, streaming=False)
    sql = f"SELECT * FROM {SOURCE_PLACEHOLDER}_0"
    nodes = expand(ctx, sql, [source], prefix=SOURCE_PLACEHOLDER)
    held = cp.planned
    done_fields = {"source_versions": _versions(held.entries)} if held is not None else {}
    pending = cp.resume(ctx, plan.target, has_quarantine=False, replan=False, done_fields=done_fields)
    if pending is None:
        planned = plan_batch(ctx, nodes, {}, flow=plan.name, target=plan.target)
        if planned.missing:
            return FlowResult("IDLE", message=f"waiting for input: {', '.join(planned.missing)}")
        if cp.source_versions == _versions(planned.entries):
            return FlowResult("IDLE", message="source unchanged since the last snapshot")
        version = int(ctx.started.timestamp() * 1_000_000)
        pending = PendingBatch(cp.next_batch(), planned.entries, extra={"version": version})
        cp.record_plan(ctx, pending)
    batch, version = pending.batch, int(pending.extra["version"])
    guard = ReadGuard()
    relations = open_relations(ctx, nodes, pending.entries, guard)
    try:
        spec = snapshot_spec(flow, plan.name)
        commit = CommitInfo(ctx.app_id(plan.name), batch, ctx.commit_metadata(plan.name, batch))
        metrics = ctx.engine.apply_cdc_snapshot(
            spec, ViewRelation(sql, relations), version, ctx.table_uri(plan.target),
            state_uri=ctx.state.uri("cdc", safe_name(plan.name)), storage_options=ctx.storage_options,
            commit=commit,
        )
    except Exception as exc:
        guard.reraise(exc)
        raise
    cp.commit(ctx, batch, target=plan.target, source_versions=_versions(pending.entries))
    return FlowResult(
        "COMPLETED", num_output_rows=metrics.num_output_rows, num_upserted_rows=metrics.num_upserted_rows,
        num_deleted_rows=metrics.num_deleted_rows, batch=batch,
    )


def _versions(entries: dict[str, Any]) -> dict[str, Any]:
    """The source versions a snapshot read, per input key."""
    return {k: e.get("version") for k, e in entries.items()}
