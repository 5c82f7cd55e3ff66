"""What flow strategies share: results, checkpoints, and writing one batch's outputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from soundlake.core.clock import utc_now
from soundlake.core.errors import (
    ConstraintViolation,
    DefinitionError,
    EngineError,
    FlowError,
    SoundlakeError,
)
from soundlake.engines.base import (
    CommitInfo,
    DeltaTarget,
    FunctionRelation,
    Relation,
    WriteMode,
)
from soundlake.pipeline.context import RunContext, fault_point, quarantine_name
from soundlake.pipeline.definitions import QueryFlow
from soundlake.pipeline.expectations import ExpectationMetrics, expectation_split, violation_error
from soundlake.pipeline.inputs import (
    Node,
    ReadGuard,
    open_relations,
    relation_schemas,
)
from soundlake.pipeline.planner import FlowPlan
from soundlake.pipeline.sql.declared import declared_schema
from soundlake.pipeline.sql.query import in_user_terms as user_terms
from soundlake.pipeline.sql.refusal import NotLikeSpark
from soundlake.pipeline.sql.settings import SparkSqlSettings

FUNCTION_VIEW = "__sl_function"


def flow_settings(ctx: RunContext, plan: FlowPlan) -> SparkSqlSettings:
    """The pipeline's Spark SQL settings with the flow's own ``spark_conf`` / ``SET`` keys."""
    flow = plan.flow
    return ctx.binder.settings.updated(flow.spark_conf) if isinstance(flow, QueryFlow) else ctx.binder.settings

FlowStatus = Literal[
    "QUEUED", "PLANNING", "STARTING", "RUNNING", "COMPLETED", "FAILED", "SKIPPED", "STOPPED", "EXCLUDED", "IDLE"
]


@dataclass
class FlowResult:
    """The outcome of one flow in one update."""

    status: FlowStatus
    num_output_rows: int = 0
    num_upserted_rows: int = 0
    num_deleted_rows: int = 0
    batch: int | None = None
    expectations: ExpectationMetrics | None = None
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None
    """Wall-clock time the flow ran in this update (None: it did not run)."""
    view_expectations: list[ExpectationMetrics] = field(default_factory=list)
    """Counts of the expectations of temporary views the flow read (reported in its
    ``data_quality``, each rule naming its view as ``dataset``)."""

    def details(self) -> dict[str, Any]:
        """The ``flow_progress`` details of docs/pipeline.md, "Event log"."""
        progress: dict[str, Any] = {
            "status": self.status,
            "metrics": {
                "num_output_rows": self.num_output_rows,
                "num_upserted_rows": self.num_upserted_rows,
                "num_deleted_rows": self.num_deleted_rows,
            },
        }
        if self.expectations is not None:
            progress["data_quality"] = self.expectations.as_data_quality()
            progress["metrics"]["num_input_rows"] = self.expectations.input_rows
        for view in self.view_expectations:
            quality = progress.setdefault("data_quality", {"dropped_records": 0, "quarantined_records": 0, "expectations": []})
            quality["expectations"].extend(view.as_data_quality()["expectations"])
        if self.batch is not None:
            progress["batch_id"] = self.batch
        progress.update(self.extra)
        return {"flow_progress": progress}


def delta_properties(props: Mapping[str, str]) -> dict[str, str]:
    """Table properties that are Delta table configuration (``delta.*``)."""
    return {k: str(v) for k, v in props.items() if k.lower().startswith("delta.")}


def native_function(ctx: RunContext, plan: FlowPlan) -> Callable[[Any], Any] | None:
    """The flow's Python function to run on the engine's own DataFrame API, or None.

    Set for Python dataset functions returning a DataFrame, on engines with
    ``native_dataframes``; other engines run the function's DataFrame as Spark SQL.
    """
    native = plan.flow.native if isinstance(plan.flow, QueryFlow) else None
    return native if native is not None and ctx.engine.capabilities.native_dataframes else None


def function_tables(nodes: list[Node]) -> dict[str, str]:
    """How a dataset function may name each input (``c.s.t``, ``s.t``, ``t``, ``files:<path>``)."""
    out: dict[str, str] = {}
    for node in nodes:
        inp = node.input
        if inp.kind in ("files", "path"):
            out[f"files:{inp.path}"] = node.placeholder
            continue
        table = inp.source_table
        for alias in (str(table), f"{table.schema}.{table.name}", table.name):
            out.setdefault(alias.lower(), node.placeholder)
    return out


def execute_batch(
    ctx: RunContext,
    plan: FlowPlan,
    sql: str,
    nodes: list[Node],
    entries: Mapping[str, Mapping[str, Any]],
    *,
    batch: int,
    mode: Literal["append", "overwrite"],
    skip_target: bool = False,
    skip_quarantine: bool = False,
    overrides: Mapping[str, Relation] | None = None,
) -> FlowResult:
    """Run the query of one batch, apply expectations, write target and quarantine.

    The target commit and the quarantine commit each carry the app transaction
    ``(pipeline:flow, batch)``; a table that already holds the batch is not written again.
    ``overrides`` gives relations the engine already holds for some inputs (by input key).
    """
    dialect = ctx.engine.capabilities.sql_dialect
    guard = ReadGuard()
    relations = open_relations(ctx, nodes, entries, guard, overrides)
    native = native_function(ctx, plan)
    settings = flow_settings(ctx, plan)
    dataset = plan.dataset
    contract = declared_schema(dataset)
    if native is not None:  # the Python function itself runs on the engine's DataFrame API
        relations = {FUNCTION_VIEW: FunctionRelation(native, relations, function_tables(nodes))}
        bound, columns = f"SELECT * FROM {FUNCTION_VIEW}", None
    else:
        try:
            typed = ctx.binder.bind_typed(
                sql, [n.input for n in nodes], dialect, relation_schemas(ctx.engine, relations), settings
            )
        except NotLikeSpark as exc:
            raise DefinitionError(f"{plan.flow.location}: flow '{plan.name}': {exc.message}", hint=exc.hint) from exc
        bound, columns = typed.sql, typed.columns
    if contract is not None:
        bound = contract.wrap(bound, dialect)
    if dataset.sink is not None and dataset.sink.format == "foreach_batch":
        return _foreach_batch(ctx, plan, bound, relations, guard, batch=batch, skip=skip_target)
    split = expectation_split(
        dataset.expectations, dialect, quarantine=None if skip_quarantine else quarantine_target(ctx, plan, mode),
        flow=plan.name, run_id=ctx.run_id, batch_id=batch, now=utc_now(), settings=settings,
        schema=columns,
    )
    commit = CommitInfo(ctx.app_id(plan.name), batch, ctx.commit_metadata(plan.name, batch))
    target = None if skip_target else DeltaTarget(
        ctx.table_uri(plan.target), mode, tuple(dataset.partition_cols),
        delta_properties(dataset.table_properties), dataset.comment,
        not_null=contract.not_null if contract is not None else (),
        column_comments=contract.comments if contract is not None else {},
    )
    try:
        written = ctx.engine.write_query(
            bound, relations, target, commit=commit, storage_options=ctx.storage_options, split=split,
            after_target=lambda: fault_point("after_target_commit", plan.name),
        )
    except Exception as exc:
        guard.reraise(exc)
        if isinstance(exc, ConstraintViolation):
            raise ConstraintViolation(
                f"table {plan.target}: column '{exc.column}' is declared NOT NULL, but flow '{plan.name}' "
                f"returned NULL in it; nothing was written ({plan.flow.location})",
                column=exc.column,
            ) from exc
        if isinstance(exc, EngineError) and contract is not None:
            text = contract.store_error(user_terms(exc.message, {}), str(plan.target))
            if text is not None:
                raise EngineError(f"{text} (flow '{plan.name}', {plan.flow.location})") from exc
        if isinstance(exc, EngineError):
            raise in_user_terms(exc, plan, nodes, sql) from exc
        raise
    if written.violation is not None:
        raise violation_error(written.violation, dataset.expectations, str(plan.target), plan.name)
    if written.quarantine is not None:
        fault_point("after_quarantine_commit", plan.name)
    metrics = ExpectationMetrics.from_counts(str(plan.target), dataset.expectations, written.counts)
    return FlowResult("COMPLETED", num_output_rows=metrics.output_rows, batch=batch, expectations=metrics,
                      view_expectations=list(guard.view_metrics))


def _foreach_batch(
    ctx: RunContext, plan: FlowPlan, sql: str, relations: Mapping[str, Relation], guard: ReadGuard,
    *, batch: int, skip: bool,
) -> FlowResult:
    """Call a ``foreach_batch_sink`` function once with the batch's rows; ``batch_id`` is ``batch - 1``
    (0 for a flow's first batch, as Spark numbers micro-batches).

    The engine's own DataFrame goes to the function as the engine defined it (Spark: the
    file run again on its session); on the DuckDB engine the rows come as a
    :class:`~soundlake.pipeline.python.frame.batch.BatchFrame`. Any error the function
    raises fails the flow naming the sink and the batch; the checkpoint is committed only
    after it returned (at least once).
    """
    from soundlake.pipeline.python.frame.batch import BatchFrame

    sink = plan.dataset.sink
    assert sink is not None and sink.function is not None
    defined: Callable[..., Any] = sink.function
    name = plan.target.name
    native = ctx.engine.capabilities.native_dataframes and sink.native is not None
    if skip:
        return FlowResult("COMPLETED", batch=batch)

    def call(frame: Any) -> None:
        session = getattr(frame, "sparkSession", None)  # the engine's DataFrame knows its session
        if native and sink.native is not None and session is not None:
            function = sink.native(session)
        else:
            function = defined
        df = BatchFrame(frame, name) if isinstance(frame, pa.Table) else frame
        try:
            function(df, batch - 1)
        except SoundlakeError:
            raise
        except Exception as exc:  # the user's function: one line naming it
            raise FlowError(
                f"flow '{plan.name}': foreach_batch_sink '{name}' failed in batch {batch - 1}: "
                f"{type(exc).__name__}: {exc} ({plan.dataset.location})"
            ) from exc

    try:
        rows = ctx.engine.foreach_batch(sql, relations, call)
    except Exception as exc:
        guard.reraise(exc)
        if isinstance(exc, EngineError):
            raise EngineError(f"flow '{plan.name}': {exc.message} ({plan.flow.location})", hint=exc.hint) from exc
        raise
    fault_point("after_target_commit", plan.name)
    return FlowResult("COMPLETED", num_output_rows=rows, batch=batch, view_expectations=list(guard.view_metrics))


def in_user_terms(exc: EngineError, plan: FlowPlan, nodes: Sequence[Node], sql: str) -> EngineError:
    """An engine error in the flow's own terms: inputs by their names, the query as written.

    The engine names the relations soundlake registered (``__sl_in_0``, ...) and shows the
    bound query; the user wrote table names and ``read_files(...)`` in Spark SQL.
    """
    text = user_terms(exc.message, {node.placeholder: node.input.describe() for node in nodes})
    return EngineError(
        f"flow '{plan.name}': {text} ({plan.flow.location})\n  query: {sql.strip()[:2000]}", hint=exc.hint
    )


def quarantine_target(ctx: RunContext, plan: FlowPlan, mode: WriteMode) -> DeltaTarget:
    """Where the quarantined rows of ``plan``'s target go."""
    return DeltaTarget(ctx.table_uri(quarantine_name(plan.target)), mode)
