"""Incremental refresh of aggregate materialized views over an append-only table.

A materialized view of the form ``SELECT <group expressions and expressions over COUNT /
SUM / MIN / MAX> FROM t [WHERE ...] GROUP BY <expressions>``, reading one streaming
table of the pipeline, is maintained from partial aggregates kept in a hidden Delta table
(``_soundlake/pipelines/<p>/mv_partials/<flow>``): each refresh aggregates only the rows
the source's append commits added since the last refresh, merges them into the partials
(count and sum add up, min and max combine) and rewrites the view from the partials. The
result equals a full recompute; anything else (joins, DISTINCT aggregates, HAVING,
windows, expectations on the view, a source commit that changed rows) recomputes fully.

Exactly-once: the partials and the view commit with the flow's app transaction for batch
N; the planned version range is stored in the checkpoint first, so a re-run after a crash
merges the same range at most once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass

import pyarrow as pa
import sqlglot
from sqlglot import exp

from soundlake.catalog.state import safe_name
from soundlake.core.errors import EngineError
from soundlake.core.sql_text import quote_identifier
from soundlake.engines.base import CommitInfo, DeltaRelation, DeltaTarget, Relation, ViewRelation
from soundlake.lake import delta
from soundlake.pipeline.checkpoint import Checkpoint, PendingBatch
from soundlake.pipeline.context import RunContext, fault_point
from soundlake.pipeline.flows.base import (
    FlowResult,
    delta_properties,
    flow_settings,
)
from soundlake.pipeline.inputs import relation_schemas
from soundlake.pipeline.planner import FlowPlan
from soundlake.pipeline.sql.dialect import SPARK_SQL
from soundlake.pipeline.sql.query import in_user_terms, transpile_query

PARTIALS = "__sl_partials"
NEW_PARTIALS = "__sl_new"
_MERGE = {exp.Count: "sum", exp.Sum: "sum", exp.Min: "min", exp.Max: "max"}


@dataclass(frozen=True)
class AggregatePlan:
    """The rewritten queries of an incrementally maintained aggregate view."""

    partial_sql: str
    keys: tuple[str, ...]
    aggregates: tuple[tuple[str, str], ...]
    final: exp.Expression


def analyze_aggregate(sql: str) -> AggregatePlan | None:
    """Rewrite an eligible aggregate query into partial and final queries, else None."""
    try:
        tree = sqlglot.parse_one(sql, read=SPARK_SQL)
    except sqlglot.errors.SqlglotError:
        return None
    if not isinstance(tree, exp.Select):
        return None
    for arg in ("joins", "having", "order", "limit", "distinct", "with", "qualify", "laterals"):
        if tree.args.get(arg):
            return None
    group = tree.args.get("group")
    source = tree.args.get("from") or tree.args.get("from_")
    if group is None or not group.expressions or source is None or not isinstance(source.this, exp.Table):
        return None
    if tree.find(exp.Window) or tree.find(exp.Subquery) or any(isinstance(g, exp.Literal) for g in group.expressions):
        return None
    groups = list(group.expressions)
    aggs: list[exp.Expression] = []
    for item in tree.expressions:
        for node in item.find_all(exp.AggFunc):
            nested = any(inner is not node for inner in node.find_all(exp.AggFunc))
            if type(node) not in _MERGE or node.find(exp.Distinct) or nested:
                return None
            if not any(node == a for a in aggs):
                aggs.append(node)
    if not aggs:
        return None
    keys = tuple(f"__k{i}" for i in range(len(groups)))
    names = tuple(f"__a{i}" for i in range(len(aggs)))
    partial = tree.copy()
    partial.set("expressions", [exp.alias_(g.copy(), k) for g, k in zip(groups, keys)]
                + [exp.alias_(a.copy(), n) for a, n in zip(aggs, names)])
    final_items = []
    for item in tree.expressions:
        name = item.alias_or_name
        if not name:
            return None
        body = item.this if isinstance(item, exp.Alias) else item

        def swap(node: exp.Expression) -> exp.Expression:
            for g, k in zip(groups, keys):
                if node == g:
                    return exp.column(k)
            for a, n in zip(aggs, names):
                if node == a:
                    return exp.column(n)
            return node

        new = body.copy().transform(swap)
        if any(c.name not in keys + names for c in new.find_all(exp.Column)):
            return None
        final_items.append(exp.alias_(new, name, quoted=True))
    final = exp.select(*final_items).from_(PARTIALS)
    ops = tuple((n, _MERGE[type(a)]) for a, n in zip(aggs, names))  # type: ignore[index]  # checked above
    return AggregatePlan(partial.sql(dialect=SPARK_SQL), keys, ops, final)


def eligible(plan: FlowPlan, ctx: RunContext) -> bool:
    """True when the view reads exactly one append-only pipeline table and has no rules
    and no declared schema (whose contract the full refresh applies)."""
    if plan.dataset.expectations or plan.dataset.schema or len(plan.inputs) != 1:
        return False
    inp = plan.inputs[0]
    if inp.kind != "table" or inp.streaming:
        return False
    source = ctx.datasets.get(inp.source_table)
    return source is not None and source.kind == "streaming_table"


def _sql_type(dtype: pa.DataType) -> str | None:
    if pa.types.is_int64(dtype):
        return "BIGINT"
    if pa.types.is_int32(dtype):
        return "INTEGER"
    if pa.types.is_float64(dtype):
        return "DOUBLE"
    if pa.types.is_decimal(dtype):
        return f"DECIMAL({dtype.precision}, {dtype.scale})"
    return None


def _merge_sql(agg: AggregatePlan, schema: pa.Schema, dialect: str) -> str:
    """Combine old and new partial aggregates; identifiers quoted for ``dialect``."""

    def q(name: str) -> str:
        return quote_identifier(name, dialect)

    cols = [q(k) for k in agg.keys]
    for name, op in agg.aggregates:
        expr = f"{op}({q(name)})"
        sql_type = _sql_type(schema.field(name).type) if op == "sum" else None
        cols.append(f"CAST({expr} AS {sql_type}) AS {q(name)}" if sql_type else f"{expr} AS {q(name)}")
    keys = ", ".join(q(k) for k in agg.keys)
    every = ", ".join(q(c) for c in (*agg.keys, *(n for n, _ in agg.aggregates)))
    return (
        f"SELECT {', '.join(cols)} FROM (SELECT {every} FROM __sl_old UNION ALL SELECT {every} FROM __sl_new) "
        f"AS __sl_u GROUP BY {keys}"
    )


def run_incremental(ctx: RunContext, plan: FlowPlan, sql: str, agg: AggregatePlan) -> FlowResult | None:
    """Refresh the view from partial aggregates; None when a full recompute is needed.

    An engine error names the flow's input and query as the user wrote them: none of the
    partial-aggregate relations and columns (``__sl_mv_in``, ``__k0``, ``__a0``) it ran.
    """
    try:
        return _refresh(ctx, plan, sql, agg)
    except EngineError as exc:
        text = exc.message.split("\nLINE ")[0].split("\n\nLINE ")[0]
        text = in_user_terms(text, {"__sl_mv_in": plan.inputs[0].describe()})
        text = _INTERNAL_COLUMN.sub("an aggregate of the query", text).strip()
        raise EngineError(
            f"flow '{plan.name}': {text} ({plan.flow.location})\n  query: {sql.strip()[:2000]}", hint=exc.hint
        ) from exc


_INTERNAL_COLUMN = re.compile(r"\b__[ka]\d+\b")
"""The key and aggregate columns of the partials (``__k0``, ``__a0``)."""


def _refresh(ctx: RunContext, plan: FlowPlan, sql: str, agg: AggregatePlan) -> FlowResult | None:
    inp = plan.inputs[0]
    source_uri = ctx.table_uri(inp.source_table)
    version = delta.table_version(source_uri, ctx.storage_options)
    if version is None:
        return None
    cp = Checkpoint.load(ctx, plan.name)
    digest = hashlib.sha256(sql.encode("utf-8")).hexdigest()
    partials_uri = ctx.state.uri("mv_partials", safe_name(plan.name))
    target_uri = ctx.table_uri(plan.target)
    state = cp.incremental or {}
    have = (state.get("sql") == digest and delta.is_delta_table(partials_uri, ctx.storage_options)
            and delta.is_delta_table(target_uri, ctx.storage_options))
    pending = cp.planned
    if pending is not None and pending.extra.get("sql") != digest:
        pending = None
    if pending is None:
        start = int(state["version"]) if have else None
        if start is not None and start == version:
            return FlowResult("IDLE", message="source unchanged since the last refresh")
        pending = _plan_range(ctx, plan, cp, source_uri, start, version, digest)
    batch, planned = pending.batch, pending.extra
    commit = CommitInfo(ctx.app_id(plan.name), batch, ctx.commit_metadata(plan.name, batch))
    dialect = ctx.engine.capabilities.sql_dialect
    placeholder = "__sl_mv_in"
    bound_input = dataclasses.replace(inp, placeholder=placeholder)
    files = planned["files"]
    relation = DeltaRelation(source_uri, int(planned["to"]), None if files is None else tuple(files),
                             ctx.storage_options)
    settings = flow_settings(ctx, plan)  # both steps typed and translated as the full query is
    schemas = relation_schemas(ctx.engine, {placeholder: relation})
    partial_sql = ctx.binder.bind_typed(agg.partial_sql, [bound_input], dialect, schemas, settings).sql
    partials_done = delta.transaction_version(partials_uri, ctx.app_id(plan.name), ctx.storage_options)
    if partials_done is None or partials_done < batch:
        partial = ViewRelation(partial_sql, {placeholder: relation})
        merged_sql = f"SELECT * FROM {NEW_PARTIALS}"
        merged: dict[str, Relation] = {NEW_PARTIALS: partial}
        if planned["from"] is not None:
            old_schema = delta.table_schema(partials_uri, ctx.storage_options)
            assert old_schema is not None
            merged_sql = _merge_sql(agg, old_schema, dialect)
            merged = {"__sl_old": DeltaRelation(partials_uri, storage_options=ctx.storage_options),
                      NEW_PARTIALS: partial}
        ctx.engine.write_query(merged_sql, merged, DeltaTarget(partials_uri, "overwrite"), commit=commit,
                               storage_options=ctx.storage_options)
    fault_point("after_partials_commit", plan.name)
    partials_schema = delta.table_schema(partials_uri, ctx.storage_options)
    final_sql = transpile_query(agg.final.sql(dialect=SPARK_SQL), dialect=dialect, settings=settings,
                                schemas=None if partials_schema is None else {PARTIALS: partials_schema})
    written = ctx.engine.write_query(
        final_sql,
        {PARTIALS: DeltaRelation(partials_uri, storage_options=ctx.storage_options)},
        DeltaTarget(target_uri, "overwrite", tuple(plan.dataset.partition_cols),
                    delta_properties(plan.dataset.table_properties), plan.dataset.comment),
        commit=commit, storage_options=ctx.storage_options,
    )
    cp.commit(ctx, batch, target=plan.target, signature=None,
              incremental={"sql": digest, "version": int(planned["to"])})
    mode = "incremental" if planned["from"] is not None else "full"
    return FlowResult("COMPLETED", num_output_rows=written.counts.output_rows, batch=batch, extra={"refresh": mode})


def _plan_range(
    ctx: RunContext, plan: FlowPlan, cp: Checkpoint, source_uri: str, start: int | None, version: int, digest: str
) -> PendingBatch:
    """Store the version range (and its added files) this refresh merges, before it runs."""
    files: list[str] | None = None
    if start is not None:
        commits = delta.commits_between(source_uri, start, version, ctx.storage_options)
        if any(c.changes_existing_rows for c in commits):
            start = None
        else:
            files = [f for c in commits for f in c.added_files]
    target_uri = ctx.table_uri(plan.target)
    done = delta.transaction_version(target_uri, ctx.app_id(plan.name), ctx.storage_options) or 0
    pending = PendingBatch(cp.next_batch(done), extra={"from": start, "to": version, "files": files, "sql": digest})
    cp.record_plan(ctx, pending)
    return pending
