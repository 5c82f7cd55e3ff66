"""Loading a Python pipeline file: run it with a local ``spark``, then call its functions.

The file runs with ``spark`` (a :class:`~soundlake.pipeline.python.frame.dataframe.PipelineSession`)
and ``dbutils`` (:class:`~soundlake.pipeline.python.dbutils.DBUtils`) in its globals and as
builtins, and with ``pyspark.sql.functions`` / ``pyspark.sql.types`` /
``pyspark.sql.window`` / ``pyspark.pipelines`` / ``pyspark.sql.SparkSession`` importable as
soundlake's local versions while the file loads (the real modules, if imported, are put
back afterwards). ``import dlt``, ``from databricks.sdk.runtime import dbutils, spark`` and
``from pyspark.dbutils import DBUtils`` in the pipeline's own code give soundlake's versions
without touching ``sys.modules`` (:mod:`soundlake.pipeline.python.imports`): dlthub's
``dlt`` or the Databricks SDK, when installed, stay what everyone else imports. After the
file has run, every decorated dataset function is called once: its DataFrame (or SQL
text) becomes the flow's Spark SQL. Errors name the file and line of the definition or of
the offending call.
"""

from __future__ import annotations

import builtins
import os
import sys
import traceback
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soundlake.catalog.names import TableName
from soundlake.core.errors import DefinitionError
from soundlake.lake.delta import is_delta_table
from soundlake.lake.storage import Lake
from soundlake.pipeline.definitions import Dataset, QueryFlow, Registry, WrittenSql
from soundlake.pipeline.python import api
from soundlake.pipeline.python.dbutils import LAKE, DBUtils
from soundlake.pipeline.python.frame import column as dataframe_column
from soundlake.pipeline.python.frame import dataframe as df_module
from soundlake.pipeline.python.frame import functions as dataframe_functions
from soundlake.pipeline.python.frame import types as dataframe_types
from soundlake.pipeline.python.imports import ImportScope, import_scope, module, session_class
from soundlake.pipeline.python.state import STATE, LoadState, PendingQuery
from soundlake.pipeline.sql.declared import declared_schema
from soundlake.pipeline.sql.query import analyze_query

if TYPE_CHECKING:
    from soundlake.pipeline.loader import LoadContext

_KIND = {"materialized_view": "materialized_view", "temporary_view": "temporary_view"}


def load_python_file(path: Path, registry: Registry, context: LoadContext) -> None:
    """Run one Python pipeline file and add its definitions to ``registry``.

    Raises:
        DefinitionError: naming file and line for syntax errors, exceptions while the file
            runs, unsupported PySpark calls, side effects in dataset functions, and invalid
            definitions.
    """
    display = context.display_name or str(path)
    try:
        source = _read_source(path, context)
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise DefinitionError(f"{display}:{exc.lineno or 1}: syntax error: {exc.msg}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"{display}: cannot read pipeline file: {exc}") from exc
    session = df_module.PipelineSession(context.configuration)
    dbutils = DBUtils(context.configuration, path, context.root, LAKE.get())
    state = LoadState(registry, context, str(path), display, session)
    marks = (len(registry.datasets), len(registry.flows))
    namespace: dict[str, Any] = {
        "__name__": f"soundlake_pipeline_{Path(display).stem}",
        "__file__": str(path),
        "spark": session,
        "dbutils": dbutils,
    }
    absolute = os.path.abspath(str(path))
    dataframe_column.DISPLAY_NAMES[absolute] = display
    token = STATE.set(state)
    try:
        with _environment(path, session, dbutils, root=context.root):
            _run(code, namespace, state)
            _finalize(state, marks)
    finally:
        STATE.reset(token)
        dataframe_column.DISPLAY_NAMES.pop(absolute, None)


def _read_source(path: Path, context: LoadContext) -> str:
    """The Python text to run: a notebook's Python cells (``context.source``) or the file."""
    return context.source if context.source is not None else path.read_text(encoding="utf-8")


def _run(code: types.CodeType, namespace: dict[str, Any], state: LoadState) -> None:
    try:
        exec(code, namespace)  # noqa: S102 - running the user's pipeline definitions is the point
    except DefinitionError:
        raise
    except Exception as exc:
        line = _line_in_file(exc, state.path_text)
        raise DefinitionError(
            f"{state.display_name}:{line}: {type(exc).__name__}: {exc}"
        ) from exc


def _line_in_file(exc: BaseException, path_text: str) -> int:
    line = 1
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == path_text and frame.lineno is not None:
            line = frame.lineno
    return line


def _finalize(state: LoadState, marks: tuple[int, int]) -> None:
    """Call every pending function and insert its definitions where it was declared."""
    inserts: list[tuple[int, int, PendingQuery, Dataset | None, QueryFlow]] = []
    for pending in state.pending:
        dataset, flow = _build(pending, state)
        state.built.append((dataset, flow))
        inserts.append((pending.options.get("_dataset_index", marks[0]), pending.options.get("_flow_index", marks[1]), pending, dataset, flow))
    for ds_index, flow_index, _pending, dataset, flow in reversed(inserts):
        state.registry.flows.insert(flow_index, flow)
        if dataset is not None:
            state.registry.datasets.insert(ds_index, dataset)
    path = Path(state.path_text)
    for index, dataset in enumerate(state.registry.datasets):
        sink = dataset.sink
        if index >= marks[0] and sink is not None and sink.function is not None and sink.native is None:
            native = _native_sink(path, state.context, dataset)
            state.registry.datasets[index] = replace(dataset, sink=replace(sink, native=native))


def _build(pending: PendingQuery, state: LoadState) -> tuple[Dataset | None, QueryFlow]:
    state.calling = pending.function.__name__
    try:
        sql, written = _query_sql(pending)
    finally:
        state.calling = None
    native = _native(Path(state.path_text), state.context, pending) if written is not None else None
    inputs = analyze_query(sql, catalog=state.context.catalog, schema=state.context.schema, location=pending.location)
    streaming = any(i.streaming for i in inputs)
    options = pending.options
    expectations = api.function_expectations(pending.function)
    if pending.kind == "append_flow":
        if expectations:
            if any(d.name == pending.target and d.kind == "sink" for d in state.registry.datasets):
                raise DefinitionError(
                    f"{pending.location}: append flow '{pending.flow_name}' writes sink {pending.target}: "
                    "expectations on a sink are not supported (a sink is not a table)",
                    hint="declare them on a streaming table the flow reads",
                )
            raise DefinitionError(
                f"{pending.location}: expectations on an append flow are not supported; "
                "declare them on the target table"
            )
        flow = QueryFlow(
            name=pending.flow_name or pending.function.__name__,
            target=pending.target,
            location=pending.location,
            streaming=streaming,
            sql=sql,
            once=bool(options.get("once")),
            is_default=False,
            spark_conf=options.get("spark_conf", {}),
            native=native,
            written=written,
        )
        return None, flow
    kind = _KIND.get(pending.kind) or ("streaming_table" if streaming else "materialized_view")
    dataset = Dataset(
        name=pending.target,
        kind=kind,  # type: ignore[arg-type]
        location=pending.location,
        comment=options.get("comment"),
        table_properties=options.get("table_properties", {}),
        partition_cols=options.get("partition_cols", ()),
        cluster_by=options.get("cluster_by", ()),
        schema=options.get("schema"),
        expectations=expectations,
        private=bool(options.get("private")),
    )
    declared_schema(dataset)  # a declared schema is checked when it loads
    flow = QueryFlow(
        name=str(pending.target),
        target=pending.target,
        location=pending.location,
        streaming=streaming,
        sql=sql,
        is_default=True,
        spark_conf=options.get("spark_conf", {}),
        native=native,
        written=written,
    )
    return dataset, flow


def _query_sql(pending: PendingQuery) -> tuple[str, tuple[WrittenSql, ...] | None]:
    """The function's query as Spark SQL, and for a DataFrame the SQL each of its calls wrote."""
    name = pending.function.__name__
    df_module.reset_aliases()
    try:
        with dataframe_column.recording() as written:
            result = pending.function()
    except DefinitionError:
        raise
    except TypeError as exc:
        raise DefinitionError(f"{pending.location}: dataset function '{name}' failed: {exc}") from exc
    except Exception as exc:
        raise DefinitionError(
            f"{pending.location}: dataset function '{name}' failed: {type(exc).__name__}: {exc}"
        ) from exc
    if isinstance(result, df_module.DataFrame):
        return result.to_sql(), tuple(written)
    if isinstance(result, str) and result.strip():
        return result.strip().rstrip(";"), None
    raise DefinitionError(
        f"{pending.location}: dataset function '{name}' returned {type(result).__name__}; "
        "it must return a DataFrame or a SQL query string"
    )


def _native(path: Path, context: LoadContext, defined: PendingQuery) -> Callable[[Any], Any]:
    """``QueryFlow.native``: run the file again with real PySpark, call the function.

    The file runs with ``spark`` = the engine's session (``spark.conf.get`` reads the
    pipeline's configuration first) and without soundlake's PySpark shims, so its
    ``pyspark`` imports are the real modules; decorators record into a scratch registry.
    The function defined at ``defined.location`` for the same target and flow (one line
    defines several tables in a loop) is called and its DataFrame returned.
    """
    location, target, flow_name = defined.location, defined.target, defined.flow_name

    lake = LAKE.get()  # functions run again at update time, after the load's scope ended

    def run(session: Any) -> Any:
        with _run_natively(path, context, lake, session) as state:
            for pending in state.pending:
                if (pending.location, pending.target, pending.flow_name) == (location, target, flow_name):
                    return pending.function()
        raise DefinitionError(f"{location}: the dataset function is gone from {path} (was the file changed?)")

    return run


@contextmanager
def _run_natively(path: Path, context: LoadContext, lake: Lake | None, session: Any) -> Iterator[LoadState]:
    """Run the file with ``spark`` = ``session`` and the real ``pyspark`` modules (no shims);
    its decorators record into a scratch registry, which the ``with`` block reads."""
    configured = _ConfiguredSession(session, context.configuration, _catalog_tables(context, lake))
    dbutils = DBUtils(context.configuration, path, context.root, lake)
    state = LoadState(Registry(), context, str(path), context.display_name or str(path), configured)
    namespace: dict[str, Any] = {
        "__name__": f"soundlake_pipeline_{path.stem}", "__file__": str(path), "spark": configured, "dbutils": dbutils,
    }
    token = STATE.set(state)
    try:
        with _environment(path, configured, dbutils, shims=False, root=context.root):
            exec(compile(_read_source(path, context), str(path), "exec"), namespace)  # noqa: S102
            yield state
    finally:
        STATE.reset(token)


def _native_sink(path: Path, context: LoadContext, defined: Dataset) -> Callable[[Any], Callable[..., Any]]:
    """``SinkSpec.native``: run the file again with real PySpark and return the sink's function.

    As for :func:`_native`, the file's ``pyspark`` imports are then the real modules, so
    the ``foreach_batch_sink`` function works on the engine's DataFrame.
    """
    lake = LAKE.get()

    def run(session: Any) -> Callable[..., Any]:
        with _run_natively(path, context, lake, session) as state:
            for dataset in state.registry.datasets:
                if dataset.name == defined.name and dataset.sink is not None and dataset.sink.function is not None:
                    return dataset.sink.function
        raise DefinitionError(f"{defined.location}: the foreach_batch_sink function is gone from {path} (was the file changed?)")

    return run


def _catalog_tables(context: LoadContext, lake: Lake | None) -> Callable[[str], str | None]:
    """Table name -> the URI of the Delta table the lake holds under it, or None."""

    def uri(name: str) -> str | None:
        if lake is None:
            return None
        try:
            table = TableName.parse(name, catalog=context.catalog, schema=context.schema)
        except DefinitionError:
            return None
        found = lake.uri(*table.parts)
        return found if is_delta_table(found, lake.storage_options) else None

    return uri


class _ConfiguredSession:
    """An engine session whose ``conf`` reads the pipeline's configuration first.

    ``conf.set`` is recorded here, not in the engine's session (which every flow shares):
    the flows of the file carry the values as their ``spark_conf`` from the graph's load.
    ``spark.table`` / ``spark.read.table`` of a catalog table that is not an input of the
    flow (a configuration table read at the file's top level) read the lake's Delta table.
    """

    def __init__(
        self, session: Any, configuration: Mapping[str, str], tables: Callable[[str], str | None] | None = None
    ) -> None:
        self._session = session
        self._tables = tables
        self.conf = _ConfiguredConf(session.conf, configuration)

    def table(self, name: str) -> Any:
        route = getattr(self._session, "route", None)
        if route is not None and route(name) is None and self._tables is not None:
            uri = self._tables(name)
            if uri is not None:
                return self._session.read.format("delta").load(uri)
        return self._session.table(name)

    @property
    def read(self) -> Any:
        return _CatalogReader(self, self._session.read)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class _CatalogReader:
    """``spark.read`` whose ``table`` goes through :meth:`_ConfiguredSession.table`."""

    def __init__(self, session: _ConfiguredSession, reader: Any) -> None:
        self._session = session
        self._reader = reader

    def table(self, name: str) -> Any:
        return self._session.table(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


class _ConfiguredConf:
    def __init__(self, conf: Any, configuration: Mapping[str, str]) -> None:
        self._conf = conf
        self._values = dict(configuration)
        self.assigned: dict[str, str] = {}

    def get(self, key: str, *default: Any) -> Any:
        if key in self.assigned:
            return self.assigned[key]
        if key in self._values:
            return self._values[key]
        return self._conf.get(key, *default)

    def set(self, key: str, value: Any) -> None:
        self.assigned[key] = str(value).lower() if isinstance(value, bool) else str(value)

    def unset(self, key: str) -> None:
        self.assigned.pop(key, None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conf, name)


@contextmanager
def _environment(
    path: Path, session: Any, dbutils: DBUtils | None = None, *, shims: bool = True, root: Path | None = None
) -> Iterator[None]:
    """``spark`` and ``dbutils`` as builtins, the file's folder and the project root
    importable, Databricks imports.

    With ``shims`` (the local API) the ``pyspark`` modules are soundlake's; without, the
    real ``pyspark`` is used, except ``pyspark.pipelines`` and ``SparkSession``. Modules of
    the project that import ``dlt``, ``databricks`` or ``pyspark`` names (helpers, packages
    of pipeline modules) are dropped from ``sys.modules`` afterwards: the next file (or the
    Spark engine's run of a function) imports them again with its own ``spark`` and API.
    """
    if dbutils is None:
        dbutils = DBUtils({}, path, path.parent)
    folders = _code_folders(path, root)
    # sys.path is replaced, never changed in place: another thread (the engine starting
    # while the graph loads) may be iterating it, and an in-place removal would make it
    # skip site-packages (importlib.metadata then misses installed packages)
    sys.path = [*folders, *sys.path]
    scope = _scope(path, session, dbutils, shims=shims, folder=folders[-1])
    added_builtins = [name for name in ("spark", "dbutils") if not hasattr(builtins, name)]
    for name, value in (("spark", session), ("dbutils", dbutils)):
        if name in added_builtins:
            setattr(builtins, name, value)  # a builtin, as on Databricks
    # without shims the real pyspark is used, but pyspark.pipelines stays soundlake's API
    modules = _shim_modules(session) if shims else {"pyspark.pipelines": api}
    previous = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    real = None if shims else sys.modules.get("pyspark")
    real_pipelines = getattr(real, "pipelines", None)
    if real is not None:
        real.pipelines = api  # type: ignore[attr-defined]
    try:
        with import_scope(scope):
            yield
    finally:
        _forget_bound_modules(scope)
        if real is not None:
            if real_pipelines is None:
                delattr(real, "pipelines")
            else:
                real.pipelines = real_pipelines  # type: ignore[attr-defined]
        for name, previous_module in previous.items():
            if previous_module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous_module
        for name in added_builtins:
            delattr(builtins, name)
        for added_path in folders:
            if added_path in sys.path:
                index = sys.path.index(added_path)
                sys.path = sys.path[:index] + sys.path[index + 1 :]


def _code_folders(path: Path, root: Path | None) -> list[str]:
    """The folders pipeline code imports from: the file's, then the project root holding it.

    The last one is the folder whose code is the pipeline's own (:class:`ImportScope`).
    """
    folder = os.path.abspath(str(path.parent))
    if root is None:
        return [folder]
    top = os.path.abspath(str(root))
    if folder == top or not folder.startswith(top + os.sep):
        return [folder]
    return [folder, top]


def _forget_bound_modules(scope: ImportScope) -> None:
    """Drop the pipeline's helper modules that hold this load's ``spark`` or API.

    Their packages go too (a package keeps its submodules as attributes), so the next
    file's ``from utils import helpers`` imports them again with its own session.
    """
    for name in scope.bound:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            prefix = ".".join(parts[:end])
            found = sys.modules.get(prefix)
            if found is not None and scope.covers(getattr(found, "__dict__", None)):
                sys.modules.pop(prefix, None)


def _scope(path: Path, session: Any, dbutils: DBUtils, *, shims: bool, folder: str) -> ImportScope:
    """The Databricks module names pipeline code imports (see :mod:`.imports`)."""
    runtime = module(
        "databricks.sdk.runtime", spark=session, dbutils=dbutils, getArgument=dbutils.widgets.getArgument,
        __all__=["dbutils", "getArgument", "spark"],
    )
    databricks = module("databricks", sdk=module("databricks.sdk", runtime=runtime), __path__=[])
    modules = {
        "dlt": api,  # the classic DLT module: the same functions as pyspark.pipelines
        "databricks.sdk.runtime": runtime,
        "pyspark.dbutils": module("pyspark.dbutils", DBUtils=lambda spark=None: dbutils),
    }
    overlays: dict[str, dict[str, Any]] = {}
    if not shims:  # the real pyspark.sql, with a SparkSession that gives the pipeline's session
        real_sql = sys.modules.get("pyspark.sql")
        spark_session = {"SparkSession": session_class(session, getattr(real_sql, "SparkSession", None))}
        overlays = {"pyspark.sql": spark_session, "pyspark.sql.session": spark_session}
    return ImportScope(
        folder=folder,
        modules=modules,
        packages={"dlt": api, "databricks.sdk.runtime": databricks},
        overlays=overlays,
    )


def _shim_modules(session: Any) -> dict[str, types.ModuleType]:
    window = module(
        "pyspark.sql.window", Window=dataframe_column.Window, WindowSpec=dataframe_column.WindowSpec
    )
    spark_session = session_class(session)
    sql = module(
        "pyspark.sql",
        functions=dataframe_functions,
        types=dataframe_types,
        window=window,
        Window=dataframe_column.Window,
        Column=dataframe_column.Column,
        DataFrame=df_module.DataFrame,
        SparkSession=spark_session,
        session=module("pyspark.sql.session", SparkSession=spark_session),
        __path__=[],
    )
    pyspark = module("pyspark", sql=sql, pipelines=api, __path__=[])
    return {
        "pyspark": pyspark,
        "pyspark.sql": sql,
        "pyspark.sql.functions": dataframe_functions,
        "pyspark.sql.types": dataframe_types,
        "pyspark.sql.window": window,
        "pyspark.sql.session": sql.session,
        "pyspark.pipelines": api,
    }
