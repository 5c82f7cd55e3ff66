"""The ``pyspark.pipelines`` / DLT decorator API (``from soundlake import pipelines as dp``).

Decorators and functions record definitions while soundlake loads a pipeline file (see
:func:`soundlake.pipeline.python.loader.load_python_file`); calling them outside a load
is an error. Dataset functions are called once the file has loaded; what they return (a
DataFrame built with the local PySpark API, or SQL text) becomes the flow's Spark SQL, so
Python and SQL definitions run on the same runtime.

``@table`` defines a streaming table when its query reads a stream
(``spark.readStream``) and a materialized view otherwise (the Databricks behaviour).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from soundlake.catalog.names import TableName
from soundlake.core.errors import DefinitionError
from soundlake.core.sql_text import ddl_name
from soundlake.pipeline.autoloader import resolve_path
from soundlake.pipeline.definitions import (
    AutoCdcFlow,
    Dataset,
    Expectation,
    ExpectationAction,
    SinkSpec,
    SnapshotCdcFlow,
    SourceLocation,
)
from soundlake.pipeline.python import snapshots
from soundlake.pipeline.python.state import PendingQuery, current_state
from soundlake.pipeline.sql.cdc import split_sequence_by
from soundlake.pipeline.sql.declared import declared_schema
from soundlake.pipeline.sql.query import validate_expression

_EXPECTATIONS_ATTR = "__soundlake_expectations__"

__all__ = [  # what ``from dlt import *`` / ``from pyspark.pipelines import *`` give
    "append_flow",
    "apply_changes",
    "apply_changes_from_snapshot",
    "create_auto_cdc_flow",
    "create_auto_cdc_from_snapshot_flow",
    "create_sink",
    "create_streaming_live_table",
    "create_streaming_table",
    "create_target_table",
    "expect",
    "expect_all",
    "expect_all_or_drop",
    "expect_all_or_fail",
    "expect_all_or_quarantine",
    "expect_or_drop",
    "expect_or_fail",
    "expect_or_quarantine",
    "foreach_batch_sink",
    "materialized_view",
    "read",
    "read_stream",
    "table",
    "temporary_view",
    "view",
]


def _caller_location() -> SourceLocation:
    state = current_state("a pipeline definition")
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == state.path_text:
            return SourceLocation(state.display_name, frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return SourceLocation(state.display_name, 1)


def _function_location(function: Callable[..., Any]) -> SourceLocation:
    state = current_state("a pipeline definition")
    code = getattr(function, "__code__", None)
    line = code.co_firstlineno if code is not None else 1
    return SourceLocation(state.display_name, line)


def _table_name(name: str | None, function: Callable[..., Any] | None, location: SourceLocation) -> TableName:
    state = current_state("a pipeline definition")
    text = name or (function.__name__ if function is not None else None)
    if not text:
        raise DefinitionError(f"{location}: a dataset needs a name")
    try:
        return TableName.parse(text, catalog=state.context.catalog, schema=state.context.schema)
    except DefinitionError as exc:
        raise DefinitionError(f"{location}: {exc.message}") from exc


def _schema_text(schema: Any) -> str | None:
    if schema is None or isinstance(schema, str):
        return schema
    ddl = getattr(schema, "ddl", None)
    if callable(ddl):
        return str(ddl())
    fields = getattr(schema, "fields", None)
    if isinstance(fields, list) and all(hasattr(f, "dataType") for f in fields):  # pyspark's StructType
        return ", ".join(
            f"{ddl_name(f.name)} {f.dataType.simpleString()}{'' if f.nullable else ' NOT NULL'}"
            for f in fields
        )
    raise DefinitionError(f"schema must be a DDL string or a StructType, not {type(schema).__name__}")


def _names(values: Any, what: str, location: SourceLocation) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        name = value if isinstance(value, str) else getattr(value, "output_name", None)
        if not name:
            raise DefinitionError(f"{location}: {what} must be column names, got {value!r}")
        out.append(name)
    return tuple(out)


def _sql_text(value: Any) -> str:
    expr = getattr(value, "expr", None)
    if expr is not None and hasattr(expr, "sql"):
        return str(expr.sql(dialect="databricks"))
    return str(value)


def _register_query(
    kind: str,
    function: Callable[..., Any],
    *,
    name: str | None,
    options: dict[str, Any],
) -> Callable[..., Any]:
    state = current_state(f"@{kind}")
    location = _function_location(function)
    options["_dataset_index"] = len(state.registry.datasets)
    options["_flow_index"] = len(state.registry.flows)
    # spark.conf.set earlier in the file applies to this flow; its own spark_conf wins
    options["spark_conf"] = {**state.session_conf(), **options.get("spark_conf", {})}
    target = _table_name(options.pop("target", None) or name, function, location)
    state.pending.append(
        PendingQuery(
            kind=kind,
            function=function,
            target=target,
            location=location,
            flow_name=name if kind == "append_flow" else None,
            options=options,
        )
    )
    return function


def _dataset_decorator(kind: str, query_function: Callable[..., Any] | None, name: str | None, options: dict[str, Any]) -> Any:
    if query_function is not None and callable(query_function):
        return _register_query(kind, query_function, name=name, options=dict(options))

    def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        return _register_query(kind, function, name=name, options=dict(options))

    return decorator


def table(
    query_function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    comment: str | None = None,
    spark_conf: Mapping[str, str] | None = None,
    table_properties: Mapping[str, str] | None = None,
    partition_cols: Sequence[str] | None = None,
    cluster_by: Sequence[str] | None = None,
    schema: Any = None,
    row_filter: str | None = None,
    temporary: bool = False,
    private: bool = False,
    path: str | None = None,
    format: str | None = None,
) -> Any:
    """Define a streaming table (streaming query) or materialized view (batch query).

    Args:
        query_function: The dataset function (when used as ``@table`` without arguments).
        name: Table name (1-3 parts); default: the function's name.
        comment: Table description.
        spark_conf: Spark configuration for this flow.
        table_properties: Delta table properties (``pipelines.reset.allowed`` ...).
        partition_cols: Partition columns.
        cluster_by: Liquid clustering columns.
        schema: DDL string or StructType.
        row_filter: Not supported (error).
        temporary: Legacy name of ``private``.
        private: Computed and readable inside the pipeline, not published to the catalog
            (stored under the pipeline's state folder; ``soundlake query`` does not see it).
        path: Not supported (tables live under the project's storage).
        format: Only ``delta``.
    """
    _reject(row_filter=row_filter, path=path, format=None if format in (None, "delta") else format)
    options = _dataset_options(comment, spark_conf, table_properties, partition_cols, cluster_by, schema)
    options["private"] = bool(private or temporary)
    return _dataset_decorator("table", query_function, name, options)


def materialized_view(
    query_function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    comment: str | None = None,
    spark_conf: Mapping[str, str] | None = None,
    table_properties: Mapping[str, str] | None = None,
    partition_cols: Sequence[str] | None = None,
    cluster_by: Sequence[str] | None = None,
    schema: Any = None,
    row_filter: str | None = None,
    private: bool = False,
    format: str | None = None,
    temporary: bool = False,
) -> Any:
    """Define a materialized view (a batch query recomputed on refresh); see :func:`table`."""
    _reject(row_filter=row_filter, format=None if format in (None, "delta") else format)
    options = _dataset_options(comment, spark_conf, table_properties, partition_cols, cluster_by, schema)
    options["private"] = bool(private or temporary)
    return _dataset_decorator("materialized_view", query_function, name, options)


def temporary_view(
    query_function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    comment: str | None = None,
    spark_conf: Mapping[str, str] | None = None,
) -> Any:
    """Define a temporary view: not stored, visible only inside the pipeline."""
    options = _dataset_options(comment, spark_conf, None, None, None, None)
    return _dataset_decorator("temporary_view", query_function, name, options)


view = temporary_view


def append_flow(
    *,
    target: str,
    name: str | None = None,
    spark_conf: Mapping[str, str] | None = None,
    comment: str | None = None,
    once: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add a flow that appends the function's query to the streaming table ``target``.

    ``once=True`` runs a batch query one time (again only on full refresh).
    """

    def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        options = {"target": target, "spark_conf": dict(spark_conf or {}), "once": once}
        return _register_query("append_flow", function, name=name or function.__name__, options=options)

    return decorator


def create_streaming_table(
    name: str,
    *,
    comment: str | None = None,
    spark_conf: Mapping[str, str] | None = None,
    table_properties: Mapping[str, str] | None = None,
    partition_cols: Sequence[str] | None = None,
    cluster_by: Sequence[str] | None = None,
    schema: Any = None,
    expect_all: Mapping[str, str] | None = None,
    expect_all_or_drop: Mapping[str, str] | None = None,
    expect_all_or_fail: Mapping[str, str] | None = None,
    expect_all_or_quarantine: Mapping[str, str] | None = None,
    row_filter: str | None = None,
    format: str | None = None,
    private: bool = False,
    temporary: bool = False,
) -> None:
    """Declare a streaming table without a default flow (target of append or AUTO CDC flows).

    ``private`` (legacy ``temporary``): not published to the catalog, see :func:`table`.
    """
    _reject(row_filter=row_filter, format=None if format in (None, "delta") else format)
    state = current_state("create_streaming_table")
    location = _caller_location()
    rules: list[Expectation] = []
    for action, mapping in (
        ("warn", expect_all), ("drop", expect_all_or_drop), ("fail", expect_all_or_fail),
        ("quarantine", expect_all_or_quarantine),
    ):
        for rule, condition in (mapping or {}).items():
            rules.append(_expectation(rule, condition, action, location))  # type: ignore[arg-type]
    dataset = Dataset(
        name=_table_name(name, None, location),
        kind="streaming_table",
        location=location,
        comment=comment,
        table_properties={str(k): str(v) for k, v in (table_properties or {}).items()},
        partition_cols=tuple(partition_cols or ()),
        cluster_by=tuple(cluster_by or ()),
        schema=_schema_text(schema),
        expectations=tuple(rules),
        private=bool(private or temporary),
    )
    declared_schema(dataset)  # a declared schema is checked when it loads
    state.registry.add_dataset(dataset)


create_target_table = create_streaming_table
"""Deprecated DLT name of :func:`create_streaming_table`."""

create_streaming_live_table = create_streaming_table
"""Deprecated DLT name of :func:`create_streaming_table`."""


def create_auto_cdc_flow(
    target: str,
    source: str,
    keys: Sequence[Any],
    sequence_by: Any,
    ignore_null_updates: bool = False,
    apply_as_deletes: Any = None,
    apply_as_truncates: Any = None,
    column_list: Sequence[Any] | None = None,
    except_column_list: Sequence[Any] | None = None,
    stored_as_scd_type: int | str = 1,
    track_history_column_list: Sequence[Any] | None = None,
    track_history_except_column_list: Sequence[Any] | None = None,
    name: str | None = None,
    once: bool = False,
) -> None:
    """An AUTO CDC flow (docs/cdc.md, "AUTO CDC") from ``source`` into streaming table ``target``.

    ``sequence_by`` is a column name, a Column, or ``struct(a, b)``; ``apply_as_deletes`` and
    ``apply_as_truncates`` are SQL strings or Columns (``expr("op = 'DELETE'")``).
    """
    state = current_state("create_auto_cdc_flow")
    location = _caller_location()
    scd = _scd_type(stored_as_scd_type, location)
    if column_list is not None and except_column_list is not None:
        raise DefinitionError(f"{location}: give column_list or except_column_list, not both")
    if scd == 1 and (track_history_column_list or track_history_except_column_list):
        raise DefinitionError(f"{location}: track_history_* needs stored_as_scd_type=2")
    if scd == 2 and apply_as_truncates is not None:
        raise DefinitionError(f"{location}: apply_as_truncates is only allowed with SCD type 1")
    sequence = split_sequence_by(_sql_text(sequence_by), location=location)
    deletes = _condition(apply_as_deletes, "apply_as_deletes", location)
    truncates = _condition(apply_as_truncates, "apply_as_truncates", location)
    target_name = _table_name(target, None, location)

    def optional(values: Sequence[Any] | None, what: str) -> tuple[str, ...] | None:
        return None if values is None else _names(values, what, location)

    state.registry.add_flow(
        AutoCdcFlow(
            name=name or str(target_name),
            target=target_name,
            source=_table_name(source, None, location),
            keys=_names(keys, "keys", location),
            sequence_by=sequence,
            location=location,
            stored_as_scd_type=scd,
            ignore_null_updates=bool(ignore_null_updates),
            apply_as_deletes=deletes,
            apply_as_truncates=truncates,
            column_list=optional(column_list, "column_list"),
            except_column_list=optional(except_column_list, "except_column_list"),
            track_history_column_list=optional(track_history_column_list, "track_history_column_list"),
            track_history_except_column_list=optional(
                track_history_except_column_list, "track_history_except_column_list"
            ),
            once=once,
            source_is_stream=not once,
        )
    )


apply_changes = create_auto_cdc_flow


def create_auto_cdc_from_snapshot_flow(
    target: str,
    source: Any,
    keys: Sequence[Any],
    stored_as_scd_type: int | str = 1,
    track_history_column_list: Sequence[Any] | None = None,
    track_history_except_column_list: Sequence[Any] | None = None,
    name: str | None = None,
) -> None:
    """AUTO CDC FROM SNAPSHOT: ``source`` is a table name or ``f(latest_version)``."""
    state = current_state("create_auto_cdc_from_snapshot_flow")
    location = _caller_location()
    scd = _scd_type(stored_as_scd_type, location)
    if scd == 1 and (track_history_column_list or track_history_except_column_list):
        raise DefinitionError(f"{location}: track_history_* needs stored_as_scd_type=2")
    target_name = _table_name(target, None, location)
    table_source = _table_name(source, None, location) if isinstance(source, str) else None
    if table_source is None and not callable(source):
        raise DefinitionError(f"{location}: source must be a table name or a function")
    if table_source is None:
        snapshots.check_signature(source, location)
    state.registry.add_flow(
        SnapshotCdcFlow(
            name=name or str(target_name),
            target=target_name,
            keys=_names(keys, "keys", location),
            location=location,
            source=table_source,
            source_function=None if table_source is not None else source,
            snapshot_reader=None if table_source is not None else snapshots.snapshot_reader(source, location, state),
            stored_as_scd_type=scd,
            track_history_column_list=None if track_history_column_list is None
            else _names(track_history_column_list, "track_history_column_list", location),
            track_history_except_column_list=None if track_history_except_column_list is None
            else _names(track_history_except_column_list, "track_history_except_column_list", location),
        )
    )


apply_changes_from_snapshot = create_auto_cdc_from_snapshot_flow


_SINK_SERVICES = {"kafka": "Apache Kafka", "eventhubs": "Azure Event Hubs"}
_DELTA_SINK_OPTIONS = ("path", "tableName")


def _sink_refusal(call: str, why: str) -> DefinitionError:
    return DefinitionError(
        f"{_caller_location()}: {call}: {why}; nothing of this pipeline ran",
        hint="write to a Delta sink (create_sink(name, 'delta', {'path': ...}) or {'tableName': ...}) "
        "or a @foreach_batch_sink function locally; the Kafka / Event Hubs sink runs once the pipeline "
        "is deployed to Databricks",
    )


def create_sink(name: str, format: str, options: Mapping[str, str] | None = None) -> None:
    """Define a sink: a Delta table outside the pipeline that streaming append flows write.

    ``format="delta"`` with ``options={"path": ...}`` (relative paths are under the project
    folder) or ``{"tableName": ...}`` (a table of the lake, one to three name parts). Only
    ``@append_flow(target=name)`` flows that read a stream write a sink, each input row
    once across updates (the flow's checkpoint and a Delta app transaction per batch);
    nothing reads it. ``kafka`` and ``eventhubs`` sinks cannot run locally and are refused.
    """
    state = current_state("create_sink")
    location = _caller_location()
    call = f"create_sink('{name}', format='{format}')"
    kind = str(format).strip().lower()
    if kind in _SINK_SERVICES:
        raise _sink_refusal(call, f"a {kind} sink writes to {_SINK_SERVICES[kind]}, which soundlake cannot reach locally")
    if kind != "delta":
        raise _sink_refusal(call, "the sink format must be 'delta', 'kafka' or 'eventhubs'")
    given = {str(k): str(v) for k, v in (options or {}).items()}
    unknown = sorted(k for k in given if k not in _DELTA_SINK_OPTIONS)
    if unknown:
        raise DefinitionError(
            f"{location}: {call}: unknown option(s) {', '.join(unknown)} (a delta sink takes 'path' or 'tableName')"
        )
    path, table = given.get("path"), given.get("tableName")
    if (path is None) == (table is None) or not (path or table):
        raise DefinitionError(f"{location}: {call}: a delta sink needs one of options 'path' or 'tableName'")
    spec = SinkSpec(
        format="delta",
        path=resolve_path(path, state.context.root) if path else None,
        table=_table_name(table, None, location) if table else None,
        options=given,
    )
    _add_sink(name, spec, location)


def foreach_batch_sink(
    function: Callable[..., Any] | None = None, *, name: str | None = None
) -> Any:
    """Define a sink that calls ``function(df, batch_id)`` once per micro-batch.

    ``df`` holds the rows of the micro-batch (on the DuckDB engine a
    :class:`~soundlake.pipeline.python.frame.batch.BatchFrame`, on the Spark engine a
    PySpark DataFrame); ``batch_id`` increases with every batch of the flow. Append flows
    target the sink by ``name`` (default: the function's name). A batch is recorded in the
    flow's checkpoint only after the function returned: a crash in between calls it again
    with the same rows (at least once, as on Databricks).
    """

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        location = _function_location(func)
        sink_name = name or func.__name__
        if function_expectations(func):
            raise DefinitionError(
                f"{location}: foreach_batch_sink '{sink_name}': expectations on a sink are not supported "
                "(a sink is not a table); declare them on a streaming table the flow reads"
            )
        try:
            parameters = inspect.signature(func).parameters.values()
        except (TypeError, ValueError):
            parameters = None
        if parameters is not None:
            positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            varargs = any(p.kind == p.VAR_POSITIONAL for p in parameters)
            if len(positional) < 2 and not varargs:
                raise DefinitionError(
                    f"{location}: foreach_batch_sink '{sink_name}': the function must take (df, batch_id)"
                )
        _add_sink(sink_name, SinkSpec(format="foreach_batch", function=func), location)
        return func

    if function is not None and callable(function):
        return decorator(function)
    return decorator


def _add_sink(name: str, spec: SinkSpec, location: SourceLocation) -> None:
    state = current_state("a sink")
    state.registry.add_dataset(
        Dataset(name=_table_name(name, None, location), kind="sink", location=location, sink=spec)
    )


def read(name: str) -> Any:
    """Legacy ``dlt.read(name)``: a batch read of a pipeline dataset."""
    return current_state("read").session.read.table(name)


def read_stream(name: str) -> Any:
    """Legacy ``dlt.read_stream(name)``: a streaming read of a pipeline dataset."""
    return current_state("read_stream").session.readStream.table(name)


# -- expectations ------------------------------------------------------------------------------


def _expectation_decorator(rules: Mapping[str, str], action: ExpectationAction) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    state = current_state(f"expect ({action})")
    location = _caller_location()
    built = [_expectation(n, c, action, location) for n, c in rules.items()]
    del state

    def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        existing = list(getattr(function, _EXPECTATIONS_ATTR, []))
        # decorators apply bottom-up: keep the written (top-down) order
        setattr(function, _EXPECTATIONS_ATTR, built + existing)
        return function

    return decorator


def expect(description: str, constraint: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Keep violating rows and count them."""
    return _expectation_decorator({description: constraint}, "warn")


def expect_or_drop(description: str, constraint: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Drop violating rows and count them."""
    return _expectation_decorator({description: constraint}, "drop")


def expect_or_fail(description: str, constraint: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Fail the flow (write nothing) on a violating row."""
    return _expectation_decorator({description: constraint}, "fail")


def expect_or_quarantine(description: str, constraint: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Move violating rows to ``<table>_quarantine`` (soundlake extension)."""
    return _expectation_decorator({description: constraint}, "quarantine")


def expect_all(expectations: Mapping[str, str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Several warn expectations: ``{name: condition}``."""
    return _expectation_decorator(expectations, "warn")


def expect_all_or_drop(expectations: Mapping[str, str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Several drop expectations."""
    return _expectation_decorator(expectations, "drop")


def expect_all_or_fail(expectations: Mapping[str, str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Several fail expectations."""
    return _expectation_decorator(expectations, "fail")


def expect_all_or_quarantine(expectations: Mapping[str, str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Several quarantine expectations (soundlake extension)."""
    return _expectation_decorator(expectations, "quarantine")


def function_expectations(function: Callable[..., Any]) -> tuple[Expectation, ...]:
    """The expectations attached to a dataset function by the ``expect*`` decorators."""
    return tuple(getattr(function, _EXPECTATIONS_ATTR, ()))


# -- helpers ----------------------------------------------------------------------------------


def _expectation(name: str, condition: Any, action: ExpectationAction, location: SourceLocation) -> Expectation:
    text = _sql_text(condition).strip()
    if not isinstance(name, str) or not name:
        raise DefinitionError(f"{location}: an expectation needs a name")
    validate_expression(text, location=location, what=f"expectation '{name}'")
    return Expectation(name=name, condition=text, action=action, location=location)


def _condition(value: Any, what: str, location: SourceLocation) -> str | None:
    if value is None:
        return None
    text = _sql_text(value).strip()
    validate_expression(text, location=location, what=what)
    return text


def _scd_type(value: int | str, location: SourceLocation) -> Any:
    text = str(value).strip()
    if text not in ("1", "2"):
        raise DefinitionError(f"{location}: stored_as_scd_type must be 1 or 2, not {value!r}")
    return int(text)


def _dataset_options(
    comment: str | None,
    spark_conf: Mapping[str, str] | None,
    table_properties: Mapping[str, str] | None,
    partition_cols: Sequence[str] | None,
    cluster_by: Sequence[str] | None,
    schema: Any,
) -> dict[str, Any]:
    return {
        "comment": comment,
        "spark_conf": {str(k): str(v) for k, v in (spark_conf or {}).items()},
        "table_properties": {str(k): str(v) for k, v in (table_properties or {}).items()},
        "partition_cols": tuple(partition_cols or ()),
        "cluster_by": tuple(cluster_by or ()),
        "schema": _schema_text(schema),
    }


def _reject(**values: Any) -> None:
    for key, value in values.items():
        if value:
            location = _caller_location() if _has_state() else None
            where = f"{location}: " if location else ""
            raise DefinitionError(f"{where}parameter {key}={value!r} is not supported by soundlake")


def _has_state() -> bool:
    from soundlake.pipeline.python.state import STATE

    return STATE.get() is not None
