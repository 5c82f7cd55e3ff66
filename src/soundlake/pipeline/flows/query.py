"""Query flows: streaming (append) flows, ``once`` flows and materialized views.

Each batch follows the exactly-once protocol of :mod:`soundlake.pipeline.checkpoint`
(plan, write with the app transaction, commit). On restart, a planned batch that some
table already holds is re-run with the same input (tables holding it skip the write); a
planned batch no table holds is planned afresh.
"""

from __future__ import annotations

import hashlib
import json

from soundlake.core.errors import FlowError
from soundlake.lake import delta
from soundlake.pipeline.checkpoint import Checkpoint, PendingBatch
from soundlake.pipeline.context import RunContext
from soundlake.pipeline.definitions import QueryFlow
from soundlake.pipeline.flows import incremental_mv, windowed_mv
from soundlake.pipeline.flows.base import FlowResult, execute_batch, native_function
from soundlake.pipeline.flows.file_stream import run_file_stream, stream_leaf
from soundlake.pipeline.inputs import PlannedBatch, expand, plan_batch
from soundlake.pipeline.planner import FlowPlan
from soundlake.pipeline.sql.determinism import is_nondeterministic


def flow_sql(plan: FlowPlan) -> str:
    """The flow's Spark SQL; Python dataset functions returning SQL text are called here.

    Raises:
        FlowError: when a Python function returns something this engine cannot run yet.
    """
    flow = plan.flow
    assert isinstance(flow, QueryFlow)
    if flow.sql is not None:
        return flow.sql
    if flow.function is not None:
        result = flow.function()
        if isinstance(result, str):
            return result
        raise FlowError(
            f"flow '{plan.name}': the dataset function returned {type(result).__name__}; "
            f"DataFrame results need the Python front end ({flow.location})"
        )
    raise FlowError(f"flow '{plan.name}' has no query ({flow.location})")


def run_streaming(ctx: RunContext, plan: FlowPlan) -> FlowResult:
    """Process the input that is new since the checkpoint (or run a ``once`` flow)."""
    cp = Checkpoint.load(ctx, plan.name)
    once = plan.kind == "once"
    if once and cp.once_done:
        return FlowResult("IDLE", message="once flow already ran (re-runs on full refresh)")
    sql = flow_sql(plan)
    nodes = expand(ctx, sql, plan.inputs)
    leaf = stream_leaf(ctx, plan, nodes, cp)
    if leaf is not None:  # the engine streams the files itself (capabilities.native_streaming)
        return run_file_stream(ctx, plan, sql, nodes, leaf)
    done_fields = {"once_done": True} if once else {}
    pending = cp.resume(ctx, plan.target, has_quarantine=plan.has_quarantine, replan=True, done_fields=done_fields)
    if pending is None:
        planned = plan_batch(ctx, nodes, cp.sources, flow=plan.name, target=plan.target)
        if planned.missing:
            return FlowResult("IDLE", message=f"waiting for input: {', '.join(planned.missing)}")
        if not planned.has_new and not once:
            return FlowResult("IDLE", message="no new input")
        pending = PendingBatch(cp.next_batch(), planned.entries, planned.after)
        cp.record_plan(ctx, pending)
    result = execute_batch(
        ctx, plan, sql, nodes, pending.entries, batch=pending.batch, mode="append",
        skip_target=pending.target_done, skip_quarantine=pending.quarantine_done,
    )
    cp.commit(ctx, pending.batch, target=plan.target, after=pending.after, **done_fields)
    added = [c for e in pending.entries.values() for c in e.get("added_columns", ())]
    if added:
        result.extra["schema_evolution"] = {"added_columns": added}
    return result


def run_materialized_view(ctx: RunContext, plan: FlowPlan) -> FlowResult:
    """Recompute the view and overwrite it in one commit (skipped when inputs are unchanged)."""
    sql = flow_sql(plan)
    if native_function(ctx, plan) is None and incremental_mv.eligible(plan, ctx):
        aggregate = incremental_mv.analyze_aggregate(sql)
        if aggregate is not None:
            result = incremental_mv.run_incremental(ctx, plan, sql, aggregate)
            if result is not None:
                return result
    cp = Checkpoint.load(ctx, plan.name)
    nodes = expand(ctx, sql, plan.inputs)
    planned = plan_batch(ctx, nodes, {}, flow=plan.name, target=plan.target)
    if planned.missing:
        internal = {str(name) for name in ctx.datasets}
        if all(m in internal for m in planned.missing):
            # upstream tables of this pipeline that have produced nothing yet
            return FlowResult("IDLE", message=f"waiting for input: {', '.join(planned.missing)}")
        raise FlowError(
            f"materialized view {plan.target}: input {', '.join(planned.missing)} does not exist"
        )
    signature = _signature(sql, planned, plan)
    uri = ctx.table_uri(plan.target)
    if signature is not None and cp.signature == signature and delta.is_delta_table(uri, ctx.storage_options):
        return FlowResult("IDLE", message="inputs unchanged since the last refresh")
    done = delta.transaction_version(uri, ctx.app_id(plan.name), ctx.storage_options) or 0
    batch = cp.next_batch(done)
    window = windowed_mv.refresh_window(plan.dataset)
    definition = windowed_mv.definition_hash(sql, plan.dataset, window)
    run = windowed_mv.WindowedBatch(sql, nodes, dict(planned.entries))
    # a Python function run natively computes its whole result: no windowed query
    if window is not None and cp.definition == definition and native_function(ctx, plan) is None:
        run = windowed_mv.windowed_batch(ctx, plan.dataset, window, sql, nodes, dict(planned.entries))
    result = execute_batch(ctx, plan, run.sql, run.nodes, run.entries, batch=batch, mode="overwrite")
    if window is not None:
        result.extra["refresh"] = "window" if run.lower else "full"
        result.extra["refresh_window"] = {"partition_column": window.column, "lower_bound": run.lower}
    cp.commit(ctx, batch, target=plan.target, signature=signature, definition=definition)
    return result


def _signature(sql: str, planned: PlannedBatch, plan: FlowPlan) -> str | None:
    if is_nondeterministic(sql):
        return None
    body = json.dumps(
        {
            "sql": sql,
            "inputs": planned.entries,
            "expectations": [(e.name, e.condition, e.action) for e in plan.dataset.expectations],
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
