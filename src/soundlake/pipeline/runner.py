"""Run an update: resets, then every selected flow in dependency order.

Independent flows run at once up to ``capabilities.parallel_flows``. A failed flow marks
everything downstream of it SKIPPED; the other flows complete. Every step is reported to
the event log (docs/pipeline.md, "Event log").
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from soundlake.catalog.names import TableName
from soundlake.catalog.state import dataset_key, safe_name
from soundlake.core.errors import SoundlakeError
from soundlake.core.text import status_sentence
from soundlake.lake import delta
from soundlake.lake.delta_log import inspect_table, remove_table
from soundlake.observe.counts import describe_counts
from soundlake.observe.events import unfinished_updates
from soundlake.pipeline.checkpoint import Checkpoint
from soundlake.pipeline.context import RunContext, fault_point, quarantine_name
from soundlake.pipeline.definitions import AutoCdcFlow, FlowKind, QueryFlow
from soundlake.pipeline.flows.base import FlowResult
from soundlake.pipeline.flows.cdc import run_auto_cdc, run_snapshot_cdc
from soundlake.pipeline.flows.query import run_materialized_view, run_streaming
from soundlake.pipeline.inputs import input_key
from soundlake.pipeline.integrity import check_owners, inspect_targets, verify_state
from soundlake.pipeline.planner import FlowPlan, UpdatePlan, input_table

TERMINAL_OK = ("COMPLETED", "IDLE", "EXCLUDED")


@dataclass
class UpdateResult:
    """The outcome of one update."""

    run_id: str
    status: str
    flows: dict[str, FlowResult] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    """Wall-clock time of the whole update."""

    @property
    def ok(self) -> bool:
        """True when no flow failed."""
        return self.status == "COMPLETED"


def _inlined_view(ctx: RunContext, plan: FlowPlan) -> FlowResult:
    raise SoundlakeError(f"flow '{plan.name}': a temporary view runs inside the flows that read it")


FLOW_RUNNERS: dict[FlowKind, Callable[[RunContext, FlowPlan], FlowResult]] = {
    "materialized_view": run_materialized_view,
    "streaming": run_streaming,
    "once": run_streaming,
    "auto_cdc": run_auto_cdc,
    "snapshot_cdc": run_snapshot_cdc,
    "view": _inlined_view,
}
"""How each flow kind runs: one entry per :data:`FlowKind` (a test checks that none is missing)."""


def run_update(ctx: RunContext, plan: UpdatePlan, *, cause: str = "API_CALL") -> UpdateResult:
    """Run ``plan``; never raises for a flow failure (see :attr:`UpdateResult.errors`).

    Before anything is written, the targets' logs are read once and checked: every
    target must belong to this pipeline, and the checkpoints must match the tables
    (:mod:`soundlake.pipeline.integrity`).

    Raises:
        OwnershipError: a target belongs to another pipeline (nothing is logged).
        StateMismatchError: state and tables disagree (the update is logged as FAILED).
    """
    logs = inspect_targets(ctx, plan)
    check_owners(ctx.pipeline, logs)
    events = ctx.events
    events.emit(
        "create_update",
        f"Update {ctx.run_id} started",
        details={
            "create_update": {
                "cause": cause,
                "full_refresh_selection": [str(t) for t in plan.resets],
                "refresh_selection": sorted({str(p.target) for p in plan.flows if p.selected}),
            }
        },
    )
    for warning in plan.warnings:
        events.emit("update_progress", warning, level="WARN")
    for fp in plan.flows:
        events.emit(
            "flow_definition",
            f"Flow '{fp.name}' is defined as {fp.kind}",
            flow=fp.name,
            dataset=str(fp.target),
            details={
                "flow_definition": {
                    "output_dataset": str(fp.target),
                    "input_datasets": _input_names(fp),
                    "flow_type": fp.kind,
                }
            },
        )
    _mark_interrupted(ctx)
    events.emit("update_progress", "Update is RUNNING", details={"update_progress": {"state": "RUNNING"}})
    # durable before anything is written: an update killed from here on stays visible as
    # RUNNING, and the next update marks it interrupted
    events.flush()
    result = UpdateResult(ctx.run_id, "RUNNING")
    started = time.perf_counter()
    crashed = True
    try:
        verify_state(ctx, plan, logs)
        apply_resets(ctx, plan)
        _run_flows(ctx, plan, result)
        crashed = False
    finally:
        failed = crashed or bool(result.errors)
        result.seconds = time.perf_counter() - started
        result.status = "FAILED" if failed else "COMPLETED"
        events.emit(
            "update_progress",
            f"Update {ctx.run_id} is {result.status}",
            level="ERROR" if failed else "INFO",
            details={"update_progress": {"state": result.status}},
        )
        events.flush()
    return result


def _mark_interrupted(ctx: RunContext) -> None:
    """Give every earlier update that is still RUNNING in the log (its process died) an end.

    The caller holds the project's writer lock, so no other update is running: an update
    whose last state is RUNNING was interrupted (killed, or the machine stopped).
    """
    for update in unfinished_updates(ctx.events.uri, ctx.storage_options):
        if update == ctx.run_id:
            continue
        ctx.events.emit(
            "update_progress",
            f"Update {update} was interrupted (process killed); marked CANCELED by update {ctx.run_id}",
            level="WARN",
            update_id=update,
            details={"update_progress": {"state": "CANCELED", "interrupted": True, "marked_by": ctx.run_id}},
        )


def _input_names(fp: FlowPlan) -> list[str]:
    names = []
    for inp in fp.inputs:
        table = input_table(inp)
        names.append(str(table) if table is not None else input_key(inp))
    if isinstance(fp.flow, AutoCdcFlow):
        names.append(str(fp.flow.source))
    return names


def _run_flows(ctx: RunContext, plan: UpdatePlan, result: UpdateResult) -> None:
    status: dict[str, str] = {}
    todo: list[FlowPlan] = []
    for fp in plan.flows:
        if not fp.selected and fp.kind != "view":
            status[fp.name] = "EXCLUDED"
            _report(ctx, fp, FlowResult("EXCLUDED"), result)
        else:
            todo.append(fp)
            if fp.kind != "view":
                _progress(ctx, fp, "QUEUED")
    workers = max(1, ctx.engine.capabilities.parallel_flows)
    running: dict[Future[FlowResult], FlowPlan] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flow") as pool:
        while todo or running:
            progressed = False
            for fp in list(todo):
                upstream = [status.get(u) for u in fp.upstream]
                if any(s in ("FAILED", "SKIPPED") for s in upstream):
                    todo.remove(fp)
                    status[fp.name] = "SKIPPED"
                    bad = sorted(u for u in fp.upstream if status.get(u) in ("FAILED", "SKIPPED"))
                    if fp.kind != "view":
                        message = f"upstream failed: {', '.join(bad)}"
                        _report(ctx, fp, FlowResult("SKIPPED", message=message), result)
                    progressed = True
                elif fp.kind == "view" and all(s is not None and s in TERMINAL_OK for s in upstream):
                    todo.remove(fp)  # computed inside the flows that read it
                    status[fp.name] = "COMPLETED"
                    progressed = True
                elif (
                    all(s is not None and s in TERMINAL_OK for s in upstream)
                    and len(running) < workers
                    and all(other.target != fp.target for other in running.values())  # one writer per table
                ):
                    todo.remove(fp)
                    _progress(ctx, fp, "RUNNING")
                    running[pool.submit(_run_one, ctx, fp)] = fp
                    progressed = True
            if not running:
                if todo and not progressed:  # pragma: no cover - cycles fail in planning
                    for fp in todo:
                        status[fp.name] = "SKIPPED"
                    break
                continue
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                fp = running.pop(future)
                flow_result = future.result()
                status[fp.name] = flow_result.status
                _report(ctx, fp, flow_result, result)


def _run_one(ctx: RunContext, fp: FlowPlan) -> FlowResult:
    started = time.perf_counter()
    try:
        conf = fp.flow.spark_conf if isinstance(fp.flow, QueryFlow) else {}
        with ctx.engine.flow_conf(conf):
            outcome = FLOW_RUNNERS[fp.kind](ctx, fp)
    except SoundlakeError as exc:
        outcome = FlowResult("FAILED", message=str(exc), extra={"error_class": type(exc).__name__})
    except Exception as exc:  # noqa: BLE001 (an engine bug must not take the other flows down)
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        outcome = FlowResult("FAILED", message=text, extra={"error_class": type(exc).__name__})
    outcome.seconds = time.perf_counter() - started
    return outcome


def _progress(ctx: RunContext, fp: FlowPlan, status: str) -> None:
    ctx.events.emit(
        "flow_progress",
        f"Flow '{fp.name}' is {status}",
        flow=fp.name,
        dataset=str(fp.target),
        details={"flow_progress": {"status": status}},
    )


QUIET_STATUSES = frozenset({"IDLE", "EXCLUDED", "SKIPPED"})


def _report(ctx: RunContext, fp: FlowPlan, flow_result: FlowResult, result: UpdateResult) -> None:
    result.flows[fp.name] = flow_result
    failed = flow_result.status == "FAILED"
    if failed:
        result.errors[fp.name] = flow_result.message
    details = flow_result.details()
    said = flow_result.message
    if flow_result.status == "COMPLETED":  # the counts, in words, for `events` and logs
        said = "; ".join(part for part in (describe_counts(details["flow_progress"]), said) if part)
    message = status_sentence(f"Flow '{fp.name}'", flow_result.status) + (f": {said}" if said else "")
    level = "ERROR" if failed else ("METRICS" if flow_result.status == "COMPLETED" else "INFO")
    ctx.events.emit(
        "flow_progress",
        message,
        level=level,
        flow=fp.name,
        dataset=str(fp.target),
        details=details,
        error={"exceptions": [{"class_name": flow_result.extra.get("error_class", "FlowError"), "message": flow_result.message}], "fatal": True} if failed else None,
    )
    # A flow that changed something is logged promptly (a background group commit: flows
    # that finish together share one Delta commit, and the runner does not wait); idle or
    # excluded flows wrote nothing, so their events wait for the update's final flush.
    if flow_result.status not in QUIET_STATUSES:
        ctx.events.flush_soon()


# --- full refresh ---------------------------------------------------------------------


def apply_resets(ctx: RunContext, plan: UpdatePlan) -> None:
    """Reset the tables selected for full refresh, and finish resets a crash interrupted.

    Protocol per table: write a pending-reset marker; clear the checkpoints of the flows
    into it (keeping their batch counters monotonic, so app transactions stay unique);
    truncate the table and its quarantine table (not a sink's: its flows' checkpoints are
    cleared and they append their input again, as on Databricks); remove the marker. A crash anywhere
    leaves the marker, and the next update completes the reset first.
    """
    pending = set()
    for key in ctx.state.keys("datasets"):
        doc = ctx.state.read(key) or {}
        if doc.get("pending_reset") and doc.get("table"):
            pending.add(doc["table"])
    targets = {str(t) for t in plan.resets} | pending
    for text in sorted(targets):
        table = next((t for t in plan.datasets if str(t) == text), None)
        if table is None:
            for key in ctx.state.keys("datasets"):
                if (ctx.state.read(key) or {}).get("table") == text:
                    ctx.state.delete(key)
            continue
        _reset(ctx, plan, table)


def _reset(ctx: RunContext, plan: UpdatePlan, table: TableName) -> None:
    flows = [fp for fp in plan.flows if fp.target == table]
    key = dataset_key(str(table))
    ctx.state.write(key, {"pending_reset": True, "table": str(table), "run_id": ctx.run_id})
    fault_point("after_reset_marker")
    uri = ctx.table_uri(table)
    sink = plan.datasets[table].kind == "sink"
    log = inspect_table(uri, [ctx.app_id(fp.name) for fp in flows], ctx.storage_options)
    if log.problem is not None and not sink:  # a broken log cannot be truncated: the table is rebuilt from scratch
        remove_table(uri, ctx.storage_options)
    for fp in flows:
        try:
            cp = Checkpoint.load(ctx, fp.name)
        except SoundlakeError:  # a corrupt checkpoint: the reset replaces it
            cp = Checkpoint(fp.name)
        cp.rewound(log.transactions.get(ctx.app_id(fp.name)) or 0).save(ctx)
        ctx.state.delete_tree(f"cdc/{safe_name(fp.name)}")
        ctx.state.delete_tree(f"streams/{safe_name(fp.name)}")  # an engine's stream checkpoints
    for fp in plan.flows:
        if fp.kind == "auto_cdc" and not fp.dataset.reset_allowed and fp.target != table:
            _rewind(ctx, fp.name, table)
    meta = {"pipeline": ctx.pipeline, "run": ctx.run_id, "reason": "full_refresh"}
    if not sink:  # as on Databricks, a full refresh does not clear a sink: its flows re-append
        delta.delete_all(uri, storage_options=ctx.storage_options, metadata=meta)
        delta.delete_all(ctx.table_uri(quarantine_name(table)), storage_options=ctx.storage_options, metadata=meta)
    fault_point("after_truncate")
    ctx.state.delete(key)
    ctx.events.emit(
        "update_progress",
        f"{'Sink' if sink else 'Table'} {table} was reset for a full refresh",
        dataset=str(table),
        details={"reset": {"dataset": str(table), "flows": [fp.name for fp in flows]}},
    )


def _rewind(ctx: RunContext, flow: str, table: TableName) -> None:
    """Make a protected AUTO CDC flow re-read ``table`` from its first row after a reset.

    A table with ``pipelines.reset.allowed = false`` keeps its rows and its CDC state, but
    the source it reads is being rebuilt: the flow's offsets for that source are cleared
    (also in a planned, not yet committed batch), so its next batch reads every row of the
    rebuilt source. Re-applying change events is idempotent (identical events are one
    event), so the history stays as it was and only genuinely new events change it.
    """
    cp = Checkpoint.load(ctx, flow)
    suffix = f"table:{table}"
    kept = {k: v for k, v in cp.sources.items() if not k.endswith(suffix)}
    after = cp.planned.after if cp.planned is not None else {}
    kept_after = {k: v for k, v in after.items() if not k.endswith(suffix)}
    if kept != cp.sources or kept_after != after:
        cp.sources = kept
        if cp.planned is not None:
            cp.planned.after = kept_after
        cp.save(ctx)
