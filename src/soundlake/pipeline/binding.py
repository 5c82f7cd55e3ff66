"""Column binding at dry-run, as Spark's analyzer does before anything runs.

Each query flow of the plan is bound, in run order, against the schemas of what it reads:
tables already in the lake, files found under a ``read_files`` path (Parquet footers,
with soundlake's Auto Loader schema: hints, rescued-data column, ``_metadata``), and the
result schemas of the upstream flows bound before it. The engine resolves the query over
empty inputs of those schemas (no data is read), so an unknown column, a wrong type or an
unknown function fails here, naming the flow, its file and line, in the user's terms.

A dataset's expectations are bound over its flow's rows the same way, and an AUTO CDC
flow's column choices (keys, sequence_by, the column lists, the delete and truncate
conditions) over its source's rows.

An AUTO CDC target's schema follows from its source's (the chosen columns, and for SCD
type 2 ``__START_AT`` / ``__END_AT`` of the sequence's type), so what reads the target is
bound too. A flow whose inputs cannot all be known yet (no files under a path, a table no
update has written, a snapshot CDC target, a target sequenced by several columns) is not
bound; nor is anything downstream of it. Binding then happens at run time, before
anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pyarrow as pa

from soundlake.catalog.names import TableName
from soundlake.core.errors import DefinitionError, EngineError, SoundlakeError
from soundlake.engines.base import ArrowRelation, Engine
from soundlake.engines.cdc_columns import END_AT, START_AT, cdc_columns
from soundlake.pipeline import autoloader as al
from soundlake.pipeline.context import SqlBinder
from soundlake.pipeline.definitions import (
    AutoCdcFlow,
    Expectation,
    QueryFlow,
    SnapshotCdcFlow,
    SourceLocation,
)
from soundlake.pipeline.expectations import translate_rule, transpile_condition
from soundlake.pipeline.flows.cdc import build_spec
from soundlake.pipeline.planner import UpdatePlan, input_table
from soundlake.pipeline.sql.query import BoundQuery, FlowInput, analyze_query, in_user_terms
from soundlake.pipeline.sql.refusal import NotLikeSpark
from soundlake.pipeline.sql.settings import DEFAULT_SETTINGS, SparkSqlSettings

SchemaOf = Callable[[TableName], pa.Schema | None]


def bind_columns(
    plan: UpdatePlan,
    engine: Engine,
    *,
    catalog: str,
    schema: str,
    base_dir: Path,
    stored: SchemaOf,
    settings: SparkSqlSettings = DEFAULT_SETTINGS,
) -> dict[TableName, pa.Schema]:
    """Bind every query flow whose inputs are known; return the bound result schemas.

    ``stored`` gives the schema of a table already in the lake (None when absent).

    Raises:
        DefinitionError: a flow's query does not bind (unknown column, type, function).
    """
    binder = SqlBinder(catalog, schema, settings)  # as the run binds: stars hide _metadata, typed
    bound: dict[TableName, pa.Schema] = {}
    for fp in plan.flows:
        flow = fp.flow
        if isinstance(flow, AutoCdcFlow):
            events = bound.get(flow.source) or stored(flow.source)
            if events is not None:
                _check_cdc(flow, fp.name, events, engine, settings)
                target = _cdc_target(flow, fp.name, events, engine, settings)
                dataset = plan.datasets.get(flow.target)
                if target is not None and (dataset is None or not dataset.schema):
                    bound.setdefault(flow.target, target)
            continue
        if isinstance(flow, SnapshotCdcFlow) and flow.source is not None:
            snapshot = bound.get(flow.source) or stored(flow.source)
            if snapshot is not None:
                _check_columns(flow, fp.name, flow.source, snapshot, (
                    ("keys", flow.keys),
                    ("track_history_column_list", flow.track_history_column_list or ()),
                    ("track_history_except_column_list", flow.track_history_except_column_list or ()),
                ))
            continue
        if not isinstance(flow, QueryFlow) or flow.sql is None:
            continue
        schemas = {inp.placeholder: input_schema(inp, bound, stored, base_dir, flow.sql) for inp in fp.inputs}
        if any(s is None for s in schemas.values()):
            continue
        known = {key: s for key, s in schemas.items() if s is not None}
        flow_settings = settings.updated(flow.spark_conf)
        try:
            typed, out = bind_over_empty(flow.sql, fp.inputs, known, engine, binder, flow_settings)
        except NotLikeSpark as exc:
            raise DefinitionError(f"{flow.location}: flow '{fp.name}': {exc.message}", hint=exc.hint) from exc
        except EngineError as exc:
            raise DefinitionError(
                f"{flow.location}: flow '{fp.name}' does not bind: {exc.message}\n  query: {flow.sql.strip()[:2000]}"
            ) from exc
        bound.setdefault(fp.target, out)
        dataset = plan.datasets.get(fp.target)
        if dataset is not None and engine.capabilities.sql_dialect == "duckdb":
            _check_expectations(dataset.expectations, typed.columns or out, flow_settings, engine, out)
    return bound


def bind_over_empty(sql: str, inputs: Sequence[FlowInput], schemas: Mapping[str, pa.Schema], engine: Engine,
                    binder: SqlBinder, settings: SparkSqlSettings) -> tuple[BoundQuery, pa.Schema]:
    """Bind ``sql`` over empty inputs of ``schemas`` (by placeholder): the typed query and its
    result schema. No data is read.

    Raises:
        NotLikeSpark: a construct whose result would differ from Spark's.
        EngineError: the query does not bind, in the user's terms (no internal names).
    """
    typed = binder.bind_typed(sql, inputs, engine.capabilities.sql_dialect, schemas, settings)
    relations = {key: ArrowRelation(s.empty_table()) for key, s in schemas.items()}
    try:
        result = engine.execute(f"SELECT * FROM ({typed.sql}) AS __sl_bind LIMIT 0", relations)
        out = result.schema
        result.read_all()
    except EngineError as exc:
        text = in_user_terms(exc.message, {inp.placeholder: inp.describe() for inp in inputs})
        raise EngineError(text) from exc
    return typed, out


def query_schema(sql: str, plan: UpdatePlan, engine: Engine, *, catalog: str, schema: str, base_dir: Path,
                 stored: SchemaOf, settings: SparkSqlSettings = DEFAULT_SETTINGS) -> pa.Schema | None:
    """The result schema of a Spark SQL query over the plan's datasets, each bound from its
    definition (:func:`bind_columns`), and over the lake's tables and files; None when an
    input cannot be known yet. This is what ``DataFrame.columns`` of a Python definition
    sees before the datasets it reads have been written, as on Databricks.

    Raises:
        DefinitionError: a flow of the plan, or ``sql`` itself, does not bind.
    """
    bound = bind_columns(plan, engine, catalog=catalog, schema=schema, base_dir=base_dir, stored=stored,
                         settings=settings)
    inputs = analyze_query(sql, catalog=catalog, schema=schema, location=SourceLocation("<definition read>"))
    schemas = {inp.placeholder: input_schema(inp, bound, stored, base_dir, sql) for inp in inputs}
    known = {key: s for key, s in schemas.items() if s is not None}
    if len(known) < len(schemas):
        return None
    try:
        return bind_over_empty(sql, inputs, known, engine, SqlBinder(catalog, schema, settings), settings)[1]
    except (NotLikeSpark, EngineError) as exc:
        raise DefinitionError(exc.message) from exc


def _check_expectations(expectations: Sequence[Expectation], rows: pa.Schema | Mapping[str, str],
                        settings: SparkSqlSettings, engine: Engine, out: pa.Schema) -> None:
    """Translate each expectation typed by the rows it reads, as the run will (refusals fail here),
    and bind it over empty rows of the flow's result (an unknown column fails here)."""
    for rule in expectations:
        condition = translate_rule(rule, "duckdb", settings, rows)
        problem = _bind_condition(engine, condition, out)
        if problem is not None:
            raise DefinitionError(f"{rule.location}: expectation '{rule.name}' does not bind: {problem}")


def _bind_condition(engine: Engine, condition: str, rows: pa.Schema) -> str | None:
    """None when ``condition`` (in the engine's dialect) binds over ``rows``, else the engine's words."""
    try:
        _expression_type(engine, condition, rows)
    except EngineError as exc:
        return in_user_terms(exc.message, {"__sl_rows": "the rows"})
    return None


def _expression_type(engine: Engine, expression: str, rows: pa.Schema) -> pa.DataType:
    """The type of ``expression`` (in the engine's dialect) over empty rows of ``rows``.

    Raises:
        EngineError: it does not bind.
    """
    relations = {"__sl_rows": ArrowRelation(rows.empty_table())}
    result = engine.execute(f"SELECT ({expression}) AS __sl_rule FROM __sl_rows LIMIT 0", relations)
    kind = result.schema.field("__sl_rule").type
    result.read_all()
    return kind


def _cdc_target(flow: AutoCdcFlow, name: str, events: pa.Schema, engine: Engine,
                settings: SparkSqlSettings) -> pa.Schema | None:
    """The schema an AUTO CDC flow gives its target over ``events``: the chosen columns in
    the run's order, and for SCD type 2 ``__START_AT`` / ``__END_AT`` of the sequence's type.
    None for a sequence of several columns (a struct whose field names the engine chooses)."""
    if len(flow.sequence_by) != 1:
        return None
    chosen = cdc_columns(build_spec(flow, name), events.names, None)
    fields = [events.field(c) for c in chosen.columns]
    if int(flow.stored_as_scd_type) == 2:
        sequence = transpile_condition(flow.sequence_by[0], engine.capabilities.sql_dialect, settings, events)
        kind = _expression_type(engine, sequence, events)
        fields += [pa.field(START_AT, kind), pa.field(END_AT, kind)]
    return pa.schema(fields)


def _check_columns(flow: AutoCdcFlow | SnapshotCdcFlow, name: str, source: TableName, rows: pa.Schema,
                   chosen: Sequence[tuple[str, Sequence[str]]]) -> None:
    """Every column a CDC flow chooses is a column of its source, as the run requires (exact names)."""
    columns = list(rows.names)
    for what, named in chosen:
        missing = [c for c in named if c not in columns]
        if missing:
            raise DefinitionError(
                f"{flow.location}: flow '{name}': {what} names {', '.join(repr(c) for c in missing)}, "
                f"not a column of {source} (columns: {', '.join(columns)})"
            )


def _check_cdc(flow: AutoCdcFlow, name: str, events: pa.Schema, engine: Engine, settings: SparkSqlSettings) -> None:
    """The columns an AUTO CDC flow names exist in its source's rows, as the run requires."""
    _check_columns(flow, name, flow.source, events, (
        ("keys", flow.keys), ("column_list", flow.column_list or ()),
        ("except_column_list", flow.except_column_list or ()),
        ("track_history_column_list", flow.track_history_column_list or ()),
        ("track_history_except_column_list", flow.track_history_except_column_list or ()),
    ))
    dialect = engine.capabilities.sql_dialect
    conditions = [("sequence_by", s) for s in flow.sequence_by]
    conditions += [(what, c) for what, c in (("apply_as_deletes", flow.apply_as_deletes),
                                              ("apply_as_truncates", flow.apply_as_truncates)) if c]
    for what, expression in conditions:
        problem = _bind_condition(engine, transpile_condition(expression, dialect, settings, events), events)
        if problem is not None:
            raise DefinitionError(
                f"{flow.location}: flow '{name}': {what} ({expression}) does not bind over "
                f"{flow.source}: {problem}"
            )


def input_schema(
    inp: FlowInput, bound: dict[TableName, pa.Schema], stored: SchemaOf, base_dir: Path, sql: str
) -> pa.Schema | None:
    """The schema of what ``inp`` reads: files under its path (Auto Loader's schema), a
    dataset bound earlier (``bound``) or a table in the lake (``stored``); None if unknown."""
    if inp.kind == "files":
        return _files_schema(inp, base_dir, "_metadata" in sql)
    table = input_table(inp)
    if table is None:
        return None
    return bound.get(table) or stored(table)


TEXT_BIND_BYTES = 16 * 1024 * 1024
"""Text files (CSV, JSON, ...) up to this total size are read for their schema at dry-run."""


def _files_schema(inp: FlowInput, base_dir: Path, with_metadata: bool) -> pa.Schema | None:
    """The schema soundlake's Auto Loader gives the files under the path.

    Parquet schemas come from the footers; other formats are inferred as the run infers
    them (a full read), so only when the files are small (``TEXT_BIND_BYTES``) or the
    source gives its schema.
    """
    options = al.FileSourceOptions.parse(dict(inp.options), str(inp.path))
    root = al.resolve_path(str(inp.path), base_dir)
    try:
        files = al.discover(root, options, set())
    except (OSError, ValueError):
        return None
    if not files:
        return None
    if options.format != "parquet" and options.schema is None and sum(f.size for f in files) > TEXT_BIND_BYTES:
        return None
    try:
        schema, _ = al.evolve_schema(None, files, root, options)
    except (SoundlakeError, OSError, ValueError, pa.ArrowException):
        return None  # the run reports what cannot be read, naming the file
    return None if schema is None else al.read_schema(schema, with_metadata)
