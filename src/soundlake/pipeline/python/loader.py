"""Loading a Python pipeline file: run it with a local ``spark``, then call its functions.

The file runs with ``spark`` (a :class:`~soundlake.pipeline.python.frame.dataframe.PipelineSession`)
in its globals, and with ``pyspark.sql.functions`` / ``pyspark.sql.types`` /
``pyspark.sql.window`` / ``pyspark.pipelines`` importable as soundlake's local versions
while the file loads (the real modules, if imported, are put back afterwards). After the file has run, every
decorated dataset function is called once: its DataFrame (or SQL text) becomes the flow's
Spark SQL. Errors name the file and line of the definition or of the offending call.
"""

from __future__ import annotations

import builtins
import os
import sys
import traceback
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import Dataset, QueryFlow, Registry, SourceLocation
from soundlake.pipeline.python import api
from soundlake.pipeline.python.frame import column as dataframe_column
from soundlake.pipeline.python.frame import dataframe as df_module
from soundlake.pipeline.python.frame import functions as dataframe_functions
from soundlake.pipeline.python.frame import types as dataframe_types
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
        source = path.read_text(encoding="utf-8")
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise DefinitionError(f"{display}:{exc.lineno or 1}: syntax error: {exc.msg}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"{display}: cannot read pipeline file: {exc}") from exc
    session = df_module.PipelineSession(context.configuration)
    state = LoadState(registry, context, str(path), display, session)
    marks = (len(registry.datasets), len(registry.flows))
    namespace: dict[str, Any] = {
        "__name__": f"soundlake_pipeline_{Path(display).stem}",
        "__file__": str(path),
        "spark": session,
    }
    absolute = os.path.abspath(str(path))
    dataframe_column.DISPLAY_NAMES[absolute] = display
    token = STATE.set(state)
    try:
        with _environment(path, session):
            _run(code, namespace, state)
            _finalize(state, marks)
    finally:
        STATE.reset(token)
        dataframe_column.DISPLAY_NAMES.pop(absolute, None)


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
        inserts.append((pending.options.get("_dataset_index", marks[0]), pending.options.get("_flow_index", marks[1]), pending, dataset, flow))
    for ds_index, flow_index, _pending, dataset, flow in reversed(inserts):
        state.registry.flows.insert(flow_index, flow)
        if dataset is not None:
            state.registry.datasets.insert(ds_index, dataset)


def _build(pending: PendingQuery, state: LoadState) -> tuple[Dataset | None, QueryFlow]:
    sql, is_frame = _query_sql(pending)
    native = _native(Path(state.path_text), state.context, pending.location) if is_frame else None
    inputs = analyze_query(sql, catalog=state.context.catalog, schema=state.context.schema, location=pending.location)
    streaming = any(i.streaming for i in inputs)
    options = pending.options
    expectations = api.function_expectations(pending.function)
    if pending.kind == "append_flow":
        if expectations:
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
    )
    return dataset, flow


def _query_sql(pending: PendingQuery) -> tuple[str, bool]:
    name = pending.function.__name__
    df_module.reset_aliases()
    try:
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
        return result.to_sql(), True
    if isinstance(result, str) and result.strip():
        return result.strip().rstrip(";"), False
    raise DefinitionError(
        f"{pending.location}: dataset function '{name}' returned {type(result).__name__}; "
        "it must return a DataFrame or a SQL query string"
    )


def _native(path: Path, context: LoadContext, location: SourceLocation) -> Callable[[Any], Any]:
    """``QueryFlow.native``: run the file again with real PySpark, call the function.

    The file runs with ``spark`` = the engine's session (``spark.conf.get`` reads the
    pipeline's configuration first) and without soundlake's PySpark shims, so its
    ``pyspark`` imports are the real modules; decorators record into a scratch registry.
    The function defined at ``location`` is called and its DataFrame returned.
    """

    def run(session: Any) -> Any:
        configured = _ConfiguredSession(session, context.configuration)
        state = LoadState(Registry(), context, str(path), context.display_name or str(path), configured)
        namespace: dict[str, Any] = {"__name__": f"soundlake_pipeline_{path.stem}", "__file__": str(path), "spark": configured}
        token = STATE.set(state)
        try:
            with _environment(path, configured, shims=False):
                exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # noqa: S102
                for pending in state.pending:
                    if pending.location == location:
                        return pending.function()
        finally:
            STATE.reset(token)
        raise DefinitionError(f"{location}: the dataset function is gone from {path} (was the file changed?)")

    return run


class _ConfiguredSession:
    """An engine session whose ``conf.get`` reads the pipeline's configuration first."""

    def __init__(self, session: Any, configuration: Mapping[str, str]) -> None:
        self._session = session
        self.conf = _ConfiguredConf(session.conf, configuration)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class _ConfiguredConf:
    def __init__(self, conf: Any, configuration: Mapping[str, str]) -> None:
        self._conf = conf
        self._values = dict(configuration)

    def get(self, key: str, *default: Any) -> Any:
        if key in self._values:
            return self._values[key]
        return self._conf.get(key, *default)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conf, name)


@contextmanager
def _environment(path: Path, session: Any, *, shims: bool = True) -> Iterator[None]:
    """``spark`` as a builtin, the file's folder importable, and (``shims``) the PySpark shims."""
    added_path = str(path.parent)
    # sys.path is replaced, never changed in place: another thread (the engine starting
    # while the graph loads) may be iterating it, and an in-place removal would make it
    # skip site-packages (importlib.metadata then misses installed packages)
    sys.path = [added_path, *sys.path]
    had_spark = hasattr(builtins, "spark")
    if not had_spark:
        setattr(builtins, "spark", session)  # noqa: B010 - a builtin, as on Databricks
    # without shims the real pyspark is used, but pyspark.pipelines stays soundlake's API
    modules = _shim_modules() if shims else {"pyspark.pipelines": api}
    previous = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    real = None if shims else sys.modules.get("pyspark")
    real_pipelines = getattr(real, "pipelines", None)
    if real is not None:
        real.pipelines = api  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if real is not None:
            if real_pipelines is None:
                delattr(real, "pipelines")
            else:
                real.pipelines = real_pipelines  # type: ignore[attr-defined]
        for name, module in previous.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        if not had_spark:
            delattr(builtins, "spark")
        if added_path in sys.path:
            index = sys.path.index(added_path)
            sys.path = sys.path[:index] + sys.path[index + 1 :]


def _module(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in attributes.items():
        setattr(module, key, value)
    return module


def _shim_modules() -> dict[str, types.ModuleType]:
    window = _module(
        "pyspark.sql.window", Window=dataframe_column.Window, WindowSpec=dataframe_column.WindowSpec
    )
    sql = _module(
        "pyspark.sql",
        functions=dataframe_functions,
        types=dataframe_types,
        window=window,
        Window=dataframe_column.Window,
        Column=dataframe_column.Column,
        DataFrame=df_module.DataFrame,
        __path__=[],
    )
    pyspark = _module("pyspark", sql=sql, pipelines=api, __path__=[])
    return {
        "pyspark": pyspark,
        "pyspark.sql": sql,
        "pyspark.sql.functions": dataframe_functions,
        "pyspark.sql.types": dataframe_types,
        "pyspark.sql.window": window,
        "pyspark.pipelines": api,
    }
