"""Column binding at dry-run, as Spark's analyzer does before anything runs.

Each query flow of the plan is bound, in run order, against the schemas of what it reads:
tables already in the lake, files found under a ``read_files`` path (Parquet footers,
with soundlake's Auto Loader schema: hints, rescued-data column, ``_metadata``), and the
result schemas of the upstream flows bound before it. The engine resolves the query over
empty inputs of those schemas (no data is read), so an unknown column, a wrong type or an
unknown function fails here, naming the flow, its file and line, in the user's terms.

A flow whose inputs cannot all be known yet (no files under a path, a table no update has
written, an AUTO CDC target, a Python function) is not bound; nor is anything downstream
of it. Binding then happens at run time, before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pyarrow as pa

from soundlake.catalog.names import TableName
from soundlake.core.errors import DefinitionError, EngineError
from soundlake.engines.base import ArrowRelation, Engine
from soundlake.pipeline import autoloader as al
from soundlake.pipeline.context import SqlBinder
from soundlake.pipeline.definitions import Expectation, QueryFlow
from soundlake.pipeline.expectations import translate_rule
from soundlake.pipeline.planner import UpdatePlan, input_table
from soundlake.pipeline.sql.query import FlowInput, in_user_terms
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
        if not isinstance(flow, QueryFlow) or flow.sql is None:
            continue
        schemas = {inp.placeholder: _input_schema(inp, bound, stored, base_dir, flow.sql) for inp in fp.inputs}
        if any(s is None for s in schemas.values()):
            continue
        known = {key: s for key, s in schemas.items() if s is not None}
        flow_settings = settings.updated(flow.spark_conf)
        try:
            typed = binder.bind_typed(flow.sql, fp.inputs, engine.capabilities.sql_dialect, known, flow_settings)
        except NotLikeSpark as exc:
            raise DefinitionError(f"{flow.location}: flow '{fp.name}': {exc.message}", hint=exc.hint) from exc
        sql = typed.sql
        relations = {key: ArrowRelation(s.empty_table()) for key, s in schemas.items() if s is not None}
        try:
            result = engine.execute(f"SELECT * FROM ({sql}) AS __sl_bind LIMIT 0", relations)
            out = result.schema
            result.read_all()
        except EngineError as exc:
            text = in_user_terms(exc.message, {inp.placeholder: inp.describe() for inp in fp.inputs})
            raise DefinitionError(
                f"{flow.location}: flow '{fp.name}' does not bind: {text}\n  query: {flow.sql.strip()[:2000]}"
            ) from exc
        bound.setdefault(fp.target, out)
        dataset = plan.datasets.get(fp.target)
        if dataset is not None and engine.capabilities.sql_dialect == "duckdb":
            _check_expectations(dataset.expectations, typed.columns or out, flow_settings)
    return bound


def _check_expectations(expectations: Sequence[Expectation], rows: pa.Schema | Mapping[str, str],
                        settings: SparkSqlSettings) -> None:
    """Translate each expectation typed by the rows it reads, as the run will (refusals fail here)."""
    for rule in expectations:
        translate_rule(rule, "duckdb", settings, rows)


def _input_schema(
    inp: FlowInput, bound: dict[TableName, pa.Schema], stored: SchemaOf, base_dir: Path, sql: str
) -> pa.Schema | None:
    if inp.kind == "files":
        return _files_schema(inp, base_dir, "_metadata" in sql)
    table = input_table(inp)
    if table is None:
        return None
    return bound.get(table) or stored(table)


def _files_schema(inp: FlowInput, base_dir: Path, with_metadata: bool) -> pa.Schema | None:
    """The schema soundlake's Auto Loader gives the files under the path (Parquet only)."""
    options = al.FileSourceOptions.parse(dict(inp.options), str(inp.path))
    if options.format != "parquet":
        return None  # reading every CSV/JSON file for its schema costs a full read
    root = al.resolve_path(str(inp.path), base_dir)
    try:
        files = al.discover(root, options, set())
    except (OSError, ValueError):
        return None
    if not files:
        return None
    schema, _ = al.evolve_schema(None, files, root, options)
    return None if schema is None else al.read_schema(schema, with_metadata)
