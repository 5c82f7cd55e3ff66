"""Cross-check the pipeline's state against its tables before an update writes anything.

Checkpoints (under ``_soundlake/pipelines/<pipeline>/``) and tables live apart; a user can
delete, restore or corrupt one without the other. Trusting such state silently loses or
duplicates data: a flow whose checkpoint is gone plans batch 1, which the table's app
transaction says is done, so its new input is marked processed and never written. At the
start of every update, one log read per table checks:

- ownership: a table whose newest pipeline commit names another pipeline is refused
  (a table belongs to one pipeline; a rename is ``soundlake rename-pipeline``);
- lost state: the table holds a batch of a flow (app transaction) that the flow's
  checkpoint does not know (checkpoint deleted, or restored from an older copy);
- lost commits: the table's version is lower than the one recorded after the flow's last
  commit, its folder is gone while the checkpoint has offsets, or its log has a gap;
- a RESTORE (``soundlake restore``, Delta's ``RESTORE TABLE``, ``DeltaTable.restore``)
  committed after the flow's last commit: the rows of the batches after the restored
  version are gone while the checkpoint says they were written;
- a streaming source that went back below the version a flow already read.

A mismatch fails the update naming the tables and the repair (``--full-refresh``).
Materialized views are rebuilt automatically instead (they are recomputed from their
inputs), with a warning event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from soundlake.catalog.names import TableName
from soundlake.catalog.state import checkpoint_key, safe_name
from soundlake.core.errors import DefinitionError, GraphError, SoundlakeError, StorageError
from soundlake.lake.delta_log import TableLog, inspect_table, restores_after
from soundlake.pipeline.checkpoint import Checkpoint
from soundlake.pipeline.context import RunContext
from soundlake.pipeline.graph import Graph
from soundlake.pipeline.planner import FlowPlan, UpdatePlan

STREAM_KINDS = frozenset({"streaming", "once", "auto_cdc", "snapshot_cdc"})
DOCS = "docs/pipeline.md, 'State and repair'"


class StateMismatchError(StorageError):
    """The pipeline's state and its tables disagree; nothing was written."""


class OwnershipError(StorageError):
    """A target table belongs to another pipeline; nothing was written."""


@dataclass
class StateReport:
    """What the check found: problems per table, and views it rebuilds."""

    problems: dict[TableName, list[str]] = field(default_factory=dict)
    rebuilt: list[TableName] = field(default_factory=list)

    def add(self, table: TableName, text: str) -> None:
        """Record a problem of ``table``."""
        self.problems.setdefault(table, []).append(text)


def check_owners(pipeline: str, logs: Mapping[TableName, TableLog]) -> None:
    """Refuse tables whose newest pipeline commit names another pipeline.

    Raises:
        OwnershipError: naming the first such table, its owner and the explicit rename.
    """
    foreign = {t: log.owner for t, log in logs.items() if log.owner is not None and log.owner != pipeline}
    if not foreign:
        return
    table, owner = min(foreign.items())
    more = f" (and {len(foreign) - 1} more table(s))" if len(foreign) > 1 else ""
    raise OwnershipError(
        f"table {table} belongs to pipeline '{owner}', not to this pipeline '{pipeline}'{more}: "
        f"a table is written by one pipeline only, nothing was written",
        hint=(
            f"if you renamed the pipeline, run `soundlake rename-pipeline {owner} {pipeline}`; "
            f"otherwise write other tables or set name: {owner} in soundlake.yml (see {DOCS})"
        ),
    )


def inspect_targets(ctx: RunContext, plan: UpdatePlan) -> dict[TableName, TableLog]:
    """One log read per target table of the selected flows (with the flows' app ids)."""
    app_ids: dict[TableName, list[str]] = {}
    for fp in plan.flows:
        if fp.kind == "view" or not fp.selected:
            continue
        app_ids.setdefault(fp.target, []).append(ctx.app_id(fp.name))
    return {t: inspect_table(ctx.table_uri(t), ids, ctx.storage_options) for t, ids in app_ids.items()}


def verify_state(ctx: RunContext, plan: UpdatePlan, logs: Mapping[TableName, TableLog]) -> StateReport:
    """Compare every selected flow's checkpoint with its target (and streaming sources).

    Tables being reset (``--full-refresh``, or a reset a crash interrupted) are skipped:
    the reset is their repair. Materialized views whose table went back are rebuilt.

    Raises:
        StateMismatchError: naming every table in trouble and the full refresh to run.
    """
    resetting = set(plan.resets) | pending_resets(ctx)
    report = StateReport()
    sources: dict[TableName, TableLog] = dict(logs)
    for fp in plan.flows:
        if fp.kind == "view" or not fp.selected or fp.target in resetting:
            continue
        log = logs.get(fp.target) or TableLog(exists=False)
        if log.problem is not None:
            report.add(fp.target, f"table {fp.target}: {log.problem}")
            continue
        cp = _read_checkpoint(ctx, fp)
        if fp.kind in STREAM_KINDS:
            sink = fp.dataset.sink
            if sink is None or sink.format != "foreach_batch":  # a function sink has no table to check
                _check_stream(ctx, fp, cp, log, report)
            _check_sources(ctx, fp, cp, sources, report)
        elif fp.kind == "materialized_view" and cp is not None:
            _check_view(ctx, fp, cp, log, report)
    if report.problems:
        raise _mismatch(report, plan)
    return report


def pending_resets(ctx: RunContext) -> set[TableName]:
    """Tables with a pending-reset marker (a full refresh a crash interrupted)."""
    out: set[TableName] = set()
    for key in ctx.state.keys("datasets"):
        try:
            doc = ctx.state.read(key) or {}
        except SoundlakeError:
            continue
        text = doc.get("table")
        if doc.get("pending_reset") and text:
            out.update(t for t in ctx.datasets if str(t) == text)
    return out


def _read_checkpoint(ctx: RunContext, fp: FlowPlan) -> Checkpoint | None:
    key = checkpoint_key(fp.name)
    try:
        return Checkpoint.read(ctx, fp.name)
    except StorageError as exc:
        raise StateMismatchError(
            f"flow '{fp.name}': its checkpoint {ctx.state.uri(key)} is corrupt ({exc.message}); "
            f"nothing was written",
            hint=f"run `soundlake run --full-refresh {fp.target}` to rebuild the table (see {DOCS})",
        ) from exc


def _check_stream(
    ctx: RunContext, fp: FlowPlan, cp: Checkpoint | None, log: TableLog, report: StateReport
) -> None:
    done = log.transactions.get(ctx.app_id(fp.name))
    where = ctx.state.uri(checkpoint_key(fp.name))
    if cp is None:
        if done is not None:
            report.add(
                fp.target,
                f"table {fp.target} holds batch {done} of flow '{fp.name}' but its checkpoint {where} "
                f"is missing (pipeline state deleted)",
            )
        return
    known = cp.known_batch
    if done == known + 1 and ctx.state.has_folder(f"streams/{safe_name(fp.name)}"):
        # an engine stream (file_stream.py) committed micro-batch `done` and stopped before
        # its checkpoint: the engine's own checkpoint replays that micro-batch (same files)
        done = known
    if done is not None and done > known:
        report.add(
            fp.target,
            f"table {fp.target} holds batch {done} of flow '{fp.name}' but its checkpoint {where} "
            f"is at batch {known} (state restored from an older copy)",
        )
        return
    recorded = cp.table_version
    if not log.exists:
        if cp.batch > 0 and (cp.sources or recorded is not None):
            report.add(
                fp.target,
                f"table {fp.target} does not exist but flow '{fp.name}' checkpointed batch {cp.batch} "
                f"into it (table folder deleted)",
            )
        return
    if recorded is not None and log.version is not None and log.version < int(recorded):
        report.add(
            fp.target,
            f"table {fp.target} is at version {log.version} but flow '{fp.name}' committed version "
            f"{recorded} (Delta commit files deleted)",
        )
        return
    restored = _restored(ctx, fp, recorded, log)
    if restored:
        report.add(
            fp.target,
            f"table {fp.target} was restored ({restored}) after flow '{fp.name}' committed version {recorded}: "
            "the rows of its later batches are gone while its checkpoint says they were written",
        )


def _restored(ctx: RunContext, fp: FlowPlan, recorded: int | None, log: TableLog) -> str | None:
    """``RESTORE at version 5 to version 0``: the newest RESTORE after the flow's last commit, or None."""
    if recorded is None or log.version is None or log.version <= int(recorded):
        return None
    found = restores_after(ctx.table_uri(fp.target), int(recorded), ctx.storage_options)
    if not found:
        return None
    at, to = found[-1]
    return f"RESTORE at version {at} to {to}"


def _check_sources(
    ctx: RunContext,
    fp: FlowPlan,
    cp: Checkpoint | None,
    logs: dict[TableName, TableLog],
    report: StateReport,
) -> None:
    """A streaming source below the version the flow read would hide its next commits."""
    if cp is None:
        return
    for key, offsets in cp.sources.items():
        if "table:" not in key or not isinstance(offsets, dict) or offsets.get("version") is None:
            continue
        try:
            source = TableName.parse(key.rsplit("table:", 1)[1], catalog="_", schema="_")
        except DefinitionError:
            continue
        if source not in logs:
            logs[source] = inspect_table(ctx.table_uri(source), (), ctx.storage_options)
        log = logs[source]
        if log.exists and log.version is not None and log.version < int(offsets["version"]):
            report.add(
                source if source in ctx.datasets else fp.target,
                f"flow '{fp.name}' read table {source} up to version {offsets['version']} but the table "
                f"is at version {log.version} (Delta commit files deleted)",
            )


def _check_view(ctx: RunContext, fp: FlowPlan, cp: Checkpoint, log: TableLog, report: StateReport) -> None:
    """A view that lost commits is recomputed (its inputs are the truth)."""
    recorded = cp.table_version
    if recorded is None or not log.exists or log.version is None:
        return
    if log.version >= int(recorded):
        restored = _restored(ctx, fp, recorded, log)
        if restored is None:
            return
        why = f"was restored ({restored}) after its last refresh"
    else:
        why = f"is at version {log.version} but was written at version {recorded} (Delta commit files deleted)"
    cp.signature = cp.incremental = cp.definition = None
    cp.save(ctx)
    report.rebuilt.append(fp.target)
    ctx.events.emit(
        "update_progress",
        f"materialized view {fp.target} {why}; it is recomputed in full",
        level="WARN",
        dataset=str(fp.target),
        details={"state_repair": {"dataset": str(fp.target), "recompute": True}},
    )


def _mismatch(report: StateReport, plan: UpdatePlan) -> StateMismatchError:
    tables = sorted(report.problems)
    texts = [text for t in tables for text in report.problems[t]]
    shown = "; ".join(texts[:3]) + (f"; and {len(texts) - 3} more" if len(texts) > 3 else "")
    # a reset table gets a truncating commit: streaming tables reading it need a reset too
    repair = set(tables)
    for fp in plan.flows:
        if fp.target in tables:
            repair.update(plan.flow(n).target for n in plan.downstream(fp.name) if plan.flow(n).kind in STREAM_KINDS)
    names = ",".join(str(t) for t in sorted(repair))
    by_name = plan.datasets
    protected = sorted(str(t) for t in repair if t in by_name and not by_name[t].reset_allowed)
    flag = ""
    if protected:  # history tables: resetting them is an explicit choice, rebuilt from their sources
        flag = f" --reset-protected` ({', '.join(protected)} have pipelines.reset.allowed = false; their history is rebuilt from the sources)"
    command = f"`soundlake run --full-refresh {names}" + (flag or "`")
    return StateMismatchError(
        f"the pipeline state does not match its tables, nothing was written: {shown}",
        hint=f"rebuild with {command} (see {DOCS})",
    )



def check_external_inputs(graph: Graph, exists: Callable[[TableName], bool]) -> None:
    """Every table a flow reads is a dataset of the pipeline or an existing lake table.

    A name that is neither (a typo such as ``STREAM(silvr.dimuser)``) would make a
    streaming flow wait forever while the update reports success.

    Raises:
        GraphError: naming the first such name, the flow, and its file and line.
    """
    checked: dict[TableName, bool] = {}
    for name in graph.order:
        node = graph.flows[name]
        for table in node.reads:
            if table in graph.datasets:
                continue
            if table not in checked:
                checked[table] = exists(table)
            if not checked[table]:
                flow = node.flow
                written = next((i.written for i in node.inputs if i.table == table and i.written), None)
                raise GraphError(
                    f"{flow.location}: flow '{flow.name}' reads '{written or table}', which is neither a "
                    f"dataset of this pipeline nor an existing table (no Delta table {table} in the lake)",
                    hint="fix the name, define the dataset in the pipeline, or create the table first",
                )
