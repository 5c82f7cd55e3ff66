"""Pipeline commands of the Python facade: run, dry_run, query, events, history, status.

This module is the composition root of the pipeline runtime: it loads definitions,
builds and validates the graph, chooses the engine from the configuration (imported
lazily, so ``import soundlake`` never loads DuckDB or Spark), holds the project's writer
lock and runs the update.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from soundlake.catalog.lock import ProjectLock
from soundlake.catalog.names import TableName
from soundlake.catalog.state import StateStore
from soundlake.core.errors import (
    AccessError,
    ConfigError,
    EngineError,
    GraphError,
    SoundlakeError,
    StorageError,
    UsageError,
)
from soundlake.core.ids import new_run_id
from soundlake.engines.base import DeltaRelation, Engine
from soundlake.lake import delta
from soundlake.lake.delta_log import inspect_table
from soundlake.lake.leases import reader_lease
from soundlake.observe.counts import describe_counts, flow_counts
from soundlake.observe.events import EventListener, EventLog, read_events
from soundlake.pipeline.binding import SchemaOf, bind_columns, query_schema
from soundlake.pipeline.context import RunContext, SqlBinder, dataset_uri
from soundlake.pipeline.definitions import Registry, SourceLocation
from soundlake.pipeline.engine_support import refuse_unsupported
from soundlake.pipeline.graph import Graph, build_graph
from soundlake.pipeline.integrity import check_external_inputs, check_owners
from soundlake.pipeline.loader import load_definitions
from soundlake.pipeline.planner import UpdatePlan, input_table, plan_update
from soundlake.pipeline.python.dbutils import project_lake
from soundlake.pipeline.python.frame.reads import definition_reads
from soundlake.pipeline.runner import UpdateResult, run_update
from soundlake.pipeline.sql.query import analyze_query, bind_query
from soundlake.pipeline.sql.settings import SparkSqlSettings
from soundlake.pipeline.sql.time_travel import expand_at_syntax
from soundlake.pipeline.streaming_rules import check_streaming_flows
from soundlake.project.context import Project


def make_engine(project: Project, engine: str | None = None) -> Engine:
    """Build the configured engine (``duckdb`` or ``spark``), importing it lazily.

    Raises:
        ConfigError: for an unknown engine name.
        EngineError: when the engine's packages are not installed.
    """
    name = engine or project.config.engine
    if name == "duckdb":
        from soundlake.engines.duckdb.engine import DuckDBEngine

        settings = project.config.duckdb
        spill = project.lake.uri("_soundlake", "tmp") if project.lake.is_local else None
        confined = [project.lake.root] if project.lake.is_local else None  # DuckDB touches the lake only
        return DuckDBEngine(
            memory_limit=settings.memory_limit, threads=settings.threads, temp_directory=spill,
            allowed_directories=confined,
            time_zone=SparkSqlSettings.from_conf(project.config.pipeline_configuration).time_zone,
        )
    if name == "spark":
        try:
            from soundlake.engines.spark import engine as spark_engine
        except ImportError as exc:
            raise EngineError(
                "the Spark engine is not available: install it with pip install 'soundlake[spark]'"
            ) from exc
        return spark_engine.SparkEngine(
            project.config.spark, storage=project.lake.root, storage_options=project.lake.storage_options
        )
    raise ConfigError(f"unknown engine '{name}' (duckdb or spark)")


def start_engine(project: Project, engine: str | None = None) -> Engine:
    """:func:`make_engine`, started (:meth:`Engine.start`): call it in a thread to overlap
    the engine's start with other work."""
    made = make_engine(project, engine)
    try:
        made.start()
    except BaseException:
        made.close()
        raise
    return made


def close_when_done(future: Future[Engine]) -> None:
    """Close the engine of ``future`` once it has started (it is not used after all)."""
    future.add_done_callback(_close_when_done)


def pipeline_state(project: Project) -> StateStore:
    """The pipeline's state store under ``<storage>/_soundlake``."""
    return StateStore(project.lake, project.config.name)


def event_log_uri(project: Project) -> str:
    """Where the pipeline's event log table lives."""
    return pipeline_state(project).uri("event_log")


def writer_lock(project: Project) -> ProjectLock:
    """The project's one-writer lock (in the lake when local, else in the project folder)."""
    if project.lake.is_local:
        path = Path(project.lake.uri("_soundlake", "lock.json"))
    else:
        path = project.root / ".soundlake" / "lock.json"
    return ProjectLock(path, what=f"project '{project.config.name}'")


def load_graph(project: Project) -> Graph:
    """Load the library files and build the validated graph.

    Streaming flows are checked against Spark Structured Streaming's rules
    (``pipeline.streaming_rules``) whatever the engine.
    """
    config = project.config
    # dbutils.fs in Python files: the lake's credentials; collect() / columns at definition
    # time: the lake's existing tables, read with DuckDB
    with project_lake(project.lake), definition_reads(lambda sql: query(project, sql),
                                                      lambda sql, loaded: definition_schema(project, sql, loaded)):
        registry = load_definitions(
            project.root, config.libraries, catalog=config.catalog, schema=config.schema_,
            configuration=config.pipeline_configuration,
        )
    graph = build_graph(registry, catalog=config.catalog, schema=config.schema_)
    check_streaming_flows(graph)  # on every engine: what runs here must run on Databricks
    return graph


def definition_schema(project: Project, sql: str, loaded: Registry) -> pa.Schema | None:
    """The result schema of ``sql`` (a Python definition's ``DataFrame.columns``) over the
    definitions ``loaded`` so far, each bound from its definition as dry-run binds it, and
    the lake's tables and files; None when it reads nothing those definitions give.

    Raises:
        DefinitionError: the query, or a definition it reads, does not bind.
    """
    config = project.config
    inputs = analyze_query(sql, catalog=config.catalog, schema=config.schema_, location=SourceLocation("<read>"))
    defined = {d.name for d in loaded.datasets}
    if not any(input_table(inp) in defined for inp in inputs):
        return None  # the lake's tables answer, as for rows
    try:
        graph = build_graph(loaded, catalog=config.catalog, schema=config.schema_)
    except GraphError:
        return None  # definitions still incomplete: the lake's tables answer, or the missing table is named
    plan = plan_for(project, graph)
    engine = make_engine(project, "duckdb")
    try:
        return query_schema(
            sql, plan, engine, catalog=config.catalog, schema=config.schema_, base_dir=project.root,
            settings=SparkSqlSettings.from_conf(config.pipeline_configuration), stored=stored_schemas(project, plan),
        )
    finally:
        engine.close()


def plan_for(
    project: Project,
    graph: Graph,
    *,
    refresh: Sequence[str] | None = None,
    full_refresh: Sequence[str] | None = None,
    full_refresh_all: bool = False,
    reset_protected: bool = False,
) -> UpdatePlan:
    """The update plan for ``graph`` with a refresh selection."""
    flows = [(name, graph.flows[name].flow, graph.flows[name].inputs) for name in graph.order]
    return plan_update(
        graph.datasets.values(),
        flows,
        catalog=project.config.catalog,
        schema=project.config.schema_,
        refresh=refresh,
        full_refresh=full_refresh,
        full_refresh_all=full_refresh_all,
        reset_protected=reset_protected,
    )


@dataclass(frozen=True)
class DryRun:
    """A validated graph and the plan a run would follow."""

    graph: Graph
    plan: UpdatePlan

    def render(self) -> str:
        """The graph as text plus the flow order."""
        order = "\n".join(f"  {i + 1}. {fp.name} ({fp.kind})" for i, fp in enumerate(self.plan.flows))
        warnings = "".join(f"\nwarning: {w}" for w in self.plan.warnings)
        return f"{self.graph.render()}\n\nrun order:\n{order}{warnings}"


def dry_run(project: Project, **selection: Any) -> DryRun:
    """Validate every definition and the graph; run nothing.

    Also checks what a run checks before writing: every table read exists (or is a
    dataset of the pipeline) and no target belongs to another pipeline.
    """
    graph = load_graph(project)
    check_inputs(project, graph)
    plan = plan_for(project, graph, **selection)
    lake = project.lake
    logs = {
        fp.target: inspect_table(dataset_uri(lake, project.config.name, fp.target, plan.datasets), (),
                                 lake.storage_options)
        for fp in plan.flows
        if fp.kind != "view"
    }
    check_owners(project.config.name, logs)
    plan = refuse_unsupported(
        plan, SparkSqlSettings.from_conf(project.config.pipeline_configuration), engine=project.config.engine
    )
    if project.config.engine == "duckdb":
        bind_flows(project, plan)
    return DryRun(graph, plan)


def bind_flows(project: Project, plan: UpdatePlan) -> None:
    """Bind the columns of every flow whose inputs are known (``pipeline.binding``).

    Raises:
        DefinitionError: naming the flow, its file and line, and what does not bind.
    """
    engine = make_engine(project, "duckdb")
    try:
        bind_columns(plan, engine, catalog=project.config.catalog, schema=project.config.schema_,
                     settings=SparkSqlSettings.from_conf(project.config.pipeline_configuration),
                     base_dir=project.root, stored=stored_schemas(project, plan))
    finally:
        engine.close()


def stored_schemas(project: Project, plan: UpdatePlan) -> SchemaOf:
    """The schema of a dataset's (or any table's) Delta table in the lake, None when absent."""
    lake = project.lake

    def stored(table: TableName) -> pa.Schema | None:
        uri = dataset_uri(lake, project.config.name, table, plan.datasets)
        return delta.table_schema(uri, lake.storage_options)

    return stored


def check_inputs(project: Project, graph: Graph) -> None:
    """Every table a flow reads is a dataset of the pipeline or exists in the lake.

    Raises:
        GraphError: naming the missing name, the flow, file and line.
    """
    lake = project.lake
    check_external_inputs(graph, lambda t: delta.is_delta_table(lake.uri(*t.parts), lake.storage_options))



def _close_when_done(future: Future[Engine]) -> None:
    """Close an engine that finished starting after the update it was for failed."""
    if future.exception() is None:
        future.result().close()


def run(
    project: Project,
    *,
    refresh: Sequence[str] | None = None,
    full_refresh: Sequence[str] | None = None,
    full_refresh_all: bool = False,
    reset_protected: bool = False,
    engine: str | None = None,
    listeners: Sequence[EventListener] = (),
    started: Future[Engine] | None = None,
) -> UpdateResult:
    """Run a pipeline update under the project's writer lock.

    ``started`` is an engine being started for this update (:func:`start_engine`, e.g.
    while ``soundlake job`` ingests); the update closes it.

    Raises:
        LockedError: when another process holds the lock.
        DefinitionError: when definitions or the graph are invalid (nothing runs).
    """
    try:
        with writer_lock(project), ThreadPoolExecutor(max_workers=2) as pool:
            # The engine (importing DuckDB takes a few hundred ms) and the event log (reading
            # its last sequence number) start while the graph loads. An engine already
            # starting finishes first: while pipeline files load, pyspark's modules are
            # soundlake's own (pipeline.python.imports), and Spark must not start then.
            pending = started if started is not None else pool.submit(make_engine, project, engine)
            if started is not None:
                wait([started])
            run_id = new_run_id()
            state = pipeline_state(project)
            log = pool.submit(
                EventLog,
                state.uri("event_log"),
                project.config.name,
                run_id,
                storage_options=project.lake.storage_options,
                listeners=listeners,
            )
            try:
                graph = load_graph(project)
                check_inputs(project, graph)
                plan = plan_for(
                    project,
                    graph,
                    refresh=refresh,
                    full_refresh=full_refresh,
                    full_refresh_all=full_refresh_all,
                    reset_protected=reset_protected,
                )
                events = log.result()
            except BaseException:
                close_when_done(pending)
                raise
            eng = pending.result()
            try:
                plan = refuse_unsupported(
                    plan, SparkSqlSettings.from_conf(project.config.pipeline_configuration), engine=eng.capabilities.name
                )
                ctx = RunContext(
                    pipeline=project.config.name,
                    run_id=run_id,
                    lake=project.lake,
                    engine=eng,
                    state=state,
                    events=events,
                    binder=SqlBinder(project.config.catalog, project.config.schema_,
                                     SparkSqlSettings.from_conf(project.config.pipeline_configuration)),
                    base_dir=project.root,
                    datasets=plan.datasets,
                    view_flows={fp.target: fp for fp in plan.flows if fp.kind == "view"},
                )
                result = run_update(ctx, plan)
                _maintain(project, plan, graph, result, events)
                _send_lineage(project, plan, result, events)
                return result
            finally:
                eng.close()
    except BaseException:
        if started is not None:  # a lock held elsewhere, a bad definition: the engine is not used
            close_when_done(started)
        raise


def _maintain(project: Project, plan: UpdatePlan, graph: Graph, result: UpdateResult, events: EventLog) -> None:
    """Compact and VACUUM the tables a successful update wrote (``maintenance:`` in soundlake.yml).

    Maintenance never fails an update: a table it cannot maintain is a WARN event.
    """
    if not result.ok or not project.config.maintenance.auto:
        return
    from soundlake.project.maintain_ops import after_update, summary  # it builds on this module

    written = {fp.target for fp in plan.flows if fp.kind != "view"}
    try:
        done = after_update(project, written, graph)
    except SoundlakeError as exc:
        events.emit("update_progress", f"maintenance failed: {exc}", level="WARN")
        events.flush()
        return
    for item in done:
        events.emit("update_progress", f"maintenance: {summary(item)}", level="WARN" if item.skipped else "INFO",
                    dataset=item.table)
    if done:
        events.flush()


def _send_lineage(project: Project, plan: UpdatePlan, result: UpdateResult, events: EventLog) -> None:
    """OpenLineage events of the update, where soundlake.yml says (``openlineage:``).

    The update's tables are written whatever happens here: a failed export is a WARN event
    of the update (and ``soundlake events`` shows it), not a failed update.
    """
    if project.config.openlineage is None:
        return
    from soundlake.project.lineage_ops import export_openlineage  # it plans with this module

    try:
        sent = export_openlineage(project, plan, result)
    except Exception as exc:  # noqa: BLE001 - any transport or lineage error is reported, not raised
        events.emit("update_progress", f"OpenLineage export failed: {type(exc).__name__}: {exc}", level="WARN")
    else:
        events.emit("update_progress", f"OpenLineage: sent {sent} run event{'s' if sent != 1 else ''}")
    events.flush()


def query(project: Project, sql: str, *, limit: int | None = None) -> pa.Table:
    """Run a read-only Spark SQL query over the lake's Delta tables with DuckDB.

    Table names resolve as ``catalog.schema.table`` with the project defaults. Time
    travel reads an earlier snapshot, as on Databricks: ``t VERSION AS OF 3``,
    ``t TIMESTAMP AS OF '2026-01-31 12:00:00'``, ``t@v3``, ``t@20260131120000000``.
    ``SHOW CATALOGS|SCHEMAS|TABLES``, ``DESCRIBE [EXTENDED|HISTORY] t`` and ``SHOW
    TBLPROPERTIES t`` answer from the catalog (:mod:`soundlake.project.catalog_ops`).

    Raises:
        DefinitionError: when the query does not parse.
        StorageError: when a table does not exist.
        EngineError: when DuckDB fails (an overflow, a bad cast) or Arrow cannot hold the result.
    """
    from soundlake.project.catalog_ops import catalog_statement  # it lists the pipeline's tables

    shown = catalog_statement(project, sql)  # SHOW ... / DESCRIBE ...
    if shown is not None:
        return shown
    config = project.config
    sql = expand_at_syntax(sql)
    inputs = analyze_query(sql, catalog=config.catalog, schema=config.schema_, location=SourceLocation("<query>"))
    relations = {}
    schemas: dict[str, pa.Schema] = {}
    held: dict[str, int] = {}
    options = project.lake.storage_options
    for inp in inputs:
        if inp.kind != "table" or inp.table is None:
            raise AccessError("soundlake query reads the lake's tables only: read_files is not allowed")
        uri = project.lake.uri(*inp.table.parts)
        schema = delta.table_schema(uri, options)
        if schema is None:
            raise StorageError(f"table {inp.table} does not exist (no Delta table at {uri})")
        if inp.as_of is not None:  # VERSION / TIMESTAMP AS OF, t@v12: that snapshot, its schema
            version = delta.time_travel_version(uri, *inp.as_of, options, name=str(inp.table))
            schema = delta.snapshot_schema(uri, version, options)
        else:  # pinned: the lease below keeps its files from VACUUM while the query reads
            version = int(delta.table_version(uri, options) or 0)
        relations[inp.placeholder] = DeltaRelation(uri, version=version, storage_options=options)
        schemas[inp.placeholder] = schema
        held[uri] = version
    from soundlake.engines.duckdb.engine import DuckDBEngine

    limits = project.config.duckdb
    spill = project.lake.uri("_soundlake", "tmp") if project.lake.is_local else None
    engine = DuckDBEngine(  # user SQL: the lake's tables only (spilling still works)
        parallel_flows=1, sandbox=True, memory_limit=limits.memory_limit, threads=limits.threads, temp_directory=spill
    )
    try:
        bound = bind_query(sql, inputs, catalog=config.catalog, schema=config.schema_, dialect="duckdb",
                           settings=SparkSqlSettings.from_conf(config.pipeline_configuration), schemas=schemas)
        if limit is not None:
            bound = f"SELECT * FROM ({bound}) AS __sl_q LIMIT {int(limit)}"
        with reader_lease(project.lake, held):
            return engine.execute(bound, relations).read_all()
    except pa.ArrowException as exc:  # a result Arrow cannot hold: one line, like DuckDB's errors
        raise EngineError(f"cannot read the query result: {exc}") from exc
    finally:
        engine.close()


def events(project: Project, *, run_id: str | None = None, last: int | None = None) -> pa.Table:
    """The event log (one update, or the whole log), oldest first; ``last`` keeps the tail.

    ``run_id`` may be a prefix of an update id (``status`` and ``history`` print the first
    12 characters).

    Raises:
        UsageError: when no update, or more than one, starts with ``run_id``.
    """
    table = read_events(event_log_uri(project), project.lake.storage_options)
    if run_id is not None:
        update = resolve_update_id(table, run_id)
        table = table.filter(pc.equal(pc.struct_field(table.column("origin"), "update_id"), update))
    if last is not None and table.num_rows > last:
        table = table.slice(table.num_rows - last)
    return table


def resolve_update_id(events: pa.Table, prefix: str) -> str:
    """The one update id in ``events`` that starts with ``prefix``.

    Raises:
        UsageError: when none or several match.
    """
    ids = pc.unique(pc.struct_field(events.column("origin"), "update_id")).to_pylist()
    matches = sorted(i for i in ids if i and i.startswith(prefix.strip()))
    if not prefix.strip() or not matches:
        raise UsageError(f"no update '{prefix}' in the event log (soundlake status lists the recent ones)")
    if len(matches) > 1:
        raise UsageError(f"update id '{prefix}' is ambiguous: it starts {len(matches)} updates ({', '.join(matches[:5])})")
    return str(matches[0])


def history(project: Project, table: str, *, limit: int | None = None) -> list[dict[str, Any]]:
    """The Delta history of a table (newest first).

    Raises:
        StorageError: when the table does not exist.
    """
    name = TableName.parse(table, catalog=project.config.catalog, schema=project.config.schema_)
    uri = project.lake.uri(*name.parts)
    if not delta.is_delta_table(uri, project.lake.storage_options):
        raise StorageError(f"table {name} does not exist (no Delta table at {uri})")
    return delta.history(uri, project.lake.storage_options, limit)


@dataclass(frozen=True)
class FlowStatusRow:
    """The last outcome of one flow, and what its last update with data wrote."""

    flow: str
    dataset: str
    status: str
    run_id: str
    timestamp: str
    num_output_rows: int
    message: str
    data_run_id: str = ""
    """The last update in which the flow processed data (not IDLE or SKIPPED)."""
    data_output_rows: int = 0
    """Rows that update wrote (``num_output_rows`` of its ``flow_progress``)."""
    table_rows: int | None = None
    """Rows in the flow's target table now (None: no table yet, or no statistics)."""
    counts: Mapping[str, int | None] = dataclasses.field(default_factory=dict)
    """This status's counts by Databricks metric name (``observe.counts.flow_counts``)."""
    data_counts: Mapping[str, int | None] = dataclasses.field(default_factory=dict)
    """The counts of the last update with data, by metric name (None: not measured)."""
    data_summary: str = ""
    """Those counts in words (``6 rows in, 5 written, 1 dropped``), as ``events`` says them."""


_NOT_TERMINAL = ("QUEUED", "RUNNING", "STARTING", "PLANNING")
_NO_DATA = ("IDLE", "SKIPPED", "EXCLUDED")


def status(project: Project) -> list[FlowStatusRow]:
    """The last terminal status of every flow in the event log, with its last data and size."""
    table = read_events(event_log_uri(project), project.lake.storage_options)
    latest: dict[str, FlowStatusRow] = {}
    with_data: dict[str, FlowStatusRow] = {}
    for row in table.to_pylist():
        if row["event_type"] != "flow_progress":
            continue
        details = json.loads(row["details"] or "{}").get("flow_progress", {})
        state = details.get("status")
        if state in _NOT_TERMINAL:
            continue
        origin = row["origin"] or {}
        flow = origin.get("flow_name") or ""
        latest[flow] = FlowStatusRow(
            flow=flow,
            dataset=origin.get("dataset_name") or "",
            status=str(state),
            run_id=origin.get("update_id") or "",
            timestamp=row["timestamp"].isoformat() if row["timestamp"] else "",
            num_output_rows=int((details.get("metrics") or {}).get("num_output_rows", 0)),
            message=row["message"] or "",
            counts=flow_counts(details),
            data_summary=describe_counts(details) if state not in _NO_DATA and state != "FAILED" else "",
        )
        if state not in _NO_DATA:
            with_data[flow] = latest[flow]
    return [_with_size(project, row, with_data.get(flow)) for flow, row in latest.items()]


def _with_size(project: Project, row: FlowStatusRow, data: FlowStatusRow | None) -> FlowStatusRow:
    size = None
    if row.dataset:
        try:
            name = TableName.parse(row.dataset, catalog=project.config.catalog, schema=project.config.schema_)
            size = delta.row_count(project.lake.uri(*name.parts), project.lake.storage_options)
        except (SoundlakeError, OSError, ValueError):  # a view, or a name that is not a table
            size = None
    return dataclasses.replace(
        row,
        data_run_id=data.run_id if data else "",
        data_output_rows=data.num_output_rows if data else 0,
        data_counts=data.counts if data else {},
        data_summary=data.data_summary if data else "",
        table_rows=size,
    )
