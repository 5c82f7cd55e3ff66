"""AUTO CDC FROM SNAPSHOT with a snapshot function: ``f(latest_version) -> (DataFrame, version) | None``.

Each update calls the function with the latest processed version (None before the first
snapshot); every snapshot it returns is diffed into the target (SCD1/SCD2, the version is
SCD2's ``__START_AT``/``__END_AT``), and the function is called again with that version
until it returns None. Versions must increase.

Each snapshot is one batch of the exactly-once protocol (:mod:`soundlake.pipeline.checkpoint`):
its Spark SQL, version and input files / Delta versions are recorded before the target is
written; after a crash the recorded batch is committed (the target holds it) or applied
again with the recorded input, so no version is applied twice or skipped. The checkpoint's
``source_versions`` holds ``{"function": <latest processed version>}``.
"""

from __future__ import annotations

from typing import Any

from soundlake.catalog.state import safe_name
from soundlake.core.errors import EngineError, FlowError
from soundlake.engines.base import CdcSpec, CommitInfo, ViewRelation
from soundlake.pipeline.checkpoint import Checkpoint, PendingBatch
from soundlake.pipeline.context import RunContext
from soundlake.pipeline.definitions import SnapshotCdcFlow
from soundlake.pipeline.flows.base import FlowResult
from soundlake.pipeline.inputs import (
    ReadGuard,
    expand,
    open_relations,
    plan_batch,
    relation_schemas,
)
from soundlake.pipeline.planner import FlowPlan
from soundlake.pipeline.sql.query import analyze_query

_KEY = "function"


def snapshot_spec(flow: SnapshotCdcFlow, name: str) -> CdcSpec:
    """The snapshot flow's keys and SCD choices in engine terms."""
    tracked = tuple(flow.track_history_column_list) if flow.track_history_column_list else None
    return CdcSpec(
        flow=name, target=str(flow.target), keys=tuple(flow.keys), sequence_by=(),
        scd_type=flow.stored_as_scd_type, tracked_columns=tracked,
        untracked_columns=() if tracked is not None else tuple(flow.track_history_except_column_list or ()),
        location=str(flow.location),
    )


def run_snapshot_function(ctx: RunContext, plan: FlowPlan) -> FlowResult:
    """Apply every snapshot the flow's function returns, in version order, one batch each."""
    flow = plan.flow
    assert isinstance(flow, SnapshotCdcFlow)
    reader = flow.snapshot_reader
    if reader is None:
        raise FlowError(f"flow '{plan.name}': snapshot functions need the Python front end ({flow.location})")
    cp = Checkpoint.load(ctx, plan.name)
    totals = _Totals()
    held = cp.planned
    if held is not None:  # a crash came after the plan: commit it, or apply it again as recorded
        version = int(held.extra["version"])
        pending = cp.resume(ctx, plan.target, has_quarantine=False, replan=False,
                            done_fields={"source_versions": {_KEY: version}})
        if pending is not None:
            _apply(ctx, plan, flow, cp, pending, totals)
    while True:
        latest = _latest(cp)
        snapshot = reader(plan.name, latest)
        if snapshot is None:
            break
        if latest is not None and snapshot.version <= latest:
            raise FlowError(
                f"flow '{plan.name}': the snapshot function returned version {snapshot.version}, which is not "
                f"above the latest processed version {latest} ({flow.location})"
            )
        extra = {"version": snapshot.version, "sql": snapshot.sql, "catalog": snapshot.catalog,
                 "schema": snapshot.schema}
        nodes = _nodes(ctx, flow, extra)
        planned = plan_batch(ctx, nodes, {}, flow=plan.name, target=plan.target)
        if planned.missing:
            raise FlowError(
                f"flow '{plan.name}': snapshot version {snapshot.version} reads {', '.join(planned.missing)}, "
                f"which does not exist ({flow.location})"
            )
        pending = PendingBatch(cp.next_batch(), planned.entries, extra=extra)
        cp.record_plan(ctx, pending)
        _apply(ctx, plan, flow, cp, pending, totals)
    if totals.batch is None:
        return FlowResult("IDLE", message="the snapshot function returned no new snapshot")
    return FlowResult(
        "COMPLETED", num_output_rows=totals.output, num_upserted_rows=totals.upserted,
        num_deleted_rows=totals.deleted, batch=totals.batch, extra={"snapshot_versions": totals.versions},
    )


class _Totals:
    """Metrics summed over the snapshots of one update."""

    def __init__(self) -> None:
        self.output = self.upserted = self.deleted = 0
        self.batch: int | None = None
        self.versions: list[int] = []


def _latest(cp: Checkpoint) -> int | None:
    value = (cp.source_versions or {}).get(_KEY)
    return int(value) if value is not None else None


def _nodes(ctx: RunContext, flow: SnapshotCdcFlow, extra: dict[str, Any]) -> list[Any]:
    inputs = analyze_query(str(extra["sql"]), catalog=str(extra["catalog"]), schema=str(extra["schema"]),
                           location=flow.location)
    return expand(ctx, str(extra["sql"]), inputs)


def _apply(
    ctx: RunContext, plan: FlowPlan, flow: SnapshotCdcFlow, cp: Checkpoint, pending: PendingBatch, totals: _Totals
) -> None:
    """Diff one recorded snapshot into the target (app transaction = its batch), then commit it."""
    version = int(pending.extra["version"])
    nodes = _nodes(ctx, flow, pending.extra)
    guard = ReadGuard()
    relations = open_relations(ctx, nodes, pending.entries, guard)
    try:
        sql = ctx.binder.bind(str(pending.extra["sql"]), [n.input for n in nodes], ctx.engine.capabilities.sql_dialect,
                              relation_schemas(ctx.engine, relations))
        commit = CommitInfo(ctx.app_id(plan.name), pending.batch, ctx.commit_metadata(plan.name, pending.batch))
        metrics = ctx.engine.apply_cdc_snapshot(
            snapshot_spec(flow, plan.name), ViewRelation(sql, relations), version, ctx.table_uri(plan.target),
            state_uri=ctx.state.uri("cdc", safe_name(plan.name)), storage_options=ctx.storage_options,
            commit=commit,
        )
    except Exception as exc:
        guard.reraise(exc)
        if isinstance(exc, EngineError):
            raise FlowError(f"flow '{plan.name}': snapshot version {version} ({flow.location}): {exc}") from exc
        raise
    cp.commit(ctx, pending.batch, target=plan.target, source_versions={_KEY: version})
    totals.output += metrics.num_output_rows or 0
    totals.upserted += metrics.num_upserted_rows or 0
    totals.deleted += metrics.num_deleted_rows or 0
    totals.batch = pending.batch
    totals.versions.append(version)
