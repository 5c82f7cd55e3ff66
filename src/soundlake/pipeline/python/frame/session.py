"""``spark``, ``spark.read`` / ``spark.readStream`` and ``spark.conf`` for pipeline files.

Readers build the query of a new :class:`~soundlake.pipeline.python.frame.dataframe.DataFrame`:
``STREAM(table)`` / ``table`` for table reads and ``[STREAM] read_files(path, ...)`` for
file reads (``cloudFiles.*`` options map to ``read_files`` options).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlglot
from sqlglot import exp

from soundlake.core.errors import DefinitionError
from soundlake.pipeline.autoloader import FileSourceOptions
from soundlake.pipeline.python.frame.column import (
    DIALECT,
    Column,
    call_site,
    column_ref,
    unsupported,
)
from soundlake.pipeline.python.frame.dataframe import DataFrame


def _table_sql(name: str, *, streaming: bool) -> exp.Query:
    quoted = ".".join(exp.to_identifier(p.strip("`")).sql(DIALECT) for p in name.split("."))
    text = f"SELECT * FROM STREAM({quoted})" if streaming else f"SELECT * FROM {quoted}"
    query = sqlglot.parse_one(text, read=DIALECT)
    assert isinstance(query, exp.Query)
    return query


def _files_sql(path: str, options: Mapping[str, str], *, streaming: bool) -> exp.Query:
    args: list[exp.Expr] = [exp.Literal.string(path)]
    args += [
        exp.Kwarg(this=exp.var(k), expression=exp.Literal.string(str(v))) for k, v in options.items()
    ]
    call = exp.Anonymous(this="read_files", expressions=args).sql(DIALECT)
    text = f"SELECT * FROM STREAM {call}" if streaming else f"SELECT * FROM {call}"
    query = sqlglot.parse_one(text, read=DIALECT)
    assert isinstance(query, exp.Query)
    return query


class DataFrameReader:
    """``spark.read`` / ``spark.readStream``: tables and files (``cloudFiles`` = Auto Loader)."""

    def __init__(self, *, streaming: bool) -> None:
        self._streaming = streaming
        self._format: str | None = None
        self._options: dict[str, str] = {}

    def format(self, source: str) -> DataFrameReader:
        self._format = source
        return self

    def option(self, key: str, value: Any) -> DataFrameReader:
        self._options[key] = str(value).lower() if isinstance(value, bool) else str(value)
        return self

    def options(self, **options: Any) -> DataFrameReader:
        for key, value in options.items():
            self.option(key, value)
        return self

    def schema(self, schema: Any) -> DataFrameReader:
        text = schema if isinstance(schema, str) else schema.simpleString()
        self._options["schema"] = text
        return self

    def table(self, name: str) -> DataFrame:
        if self._options:
            raise unsupported(
                f"reader options {sorted(self._options)} on a table read",
                "set the table property pipelines.skipChangeCommits = 'true' on the target instead",
            )
        return DataFrame(_table_sql(name, streaming=self._streaming), streaming=self._streaming)

    def load(self, path: str | None = None) -> DataFrame:
        if path is None:
            raise unsupported("load() without a path")
        options: dict[str, str] = {}
        fmt = self._format
        for key, value in self._options.items():
            plain = key[len("cloudFiles."):] if key.lower().startswith("cloudfiles.") else key
            if plain.lower() == "format":
                fmt = value
                continue
            options[plain] = value
        if fmt is None or fmt.lower() == "cloudfiles":
            raise DefinitionError(f"{call_site()}: reading files needs a format (cloudFiles.format)")
        if fmt.lower() == "delta":
            return DataFrame(_table_sql(path, streaming=self._streaming), streaming=self._streaming)
        ordered = {"format": fmt.lower(), **options}
        FileSourceOptions.parse(ordered, path, where=call_site())
        return DataFrame(_files_sql(path, ordered, streaming=self._streaming), streaming=self._streaming)

    def _file(self, fmt: str, path: str) -> DataFrame:
        self._format = fmt
        return self.load(path)

    def parquet(self, path: str) -> DataFrame:
        return self._file("parquet", path)

    def json(self, path: str) -> DataFrame:
        return self._file("json", path)

    def csv(self, path: str) -> DataFrame:
        return self._file("csv", path)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise unsupported(f"{'readStream' if self._streaming else 'read'}.{name}")


class RuntimeConfig:
    """``spark.conf``: reads the pipeline's ``configuration``."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def get(self, key: str, default: Any = ...) -> Any:
        if key in self._values:
            return self._values[key]
        if default is not ...:
            return default
        raise DefinitionError(
            f"{call_site()}: spark.conf.get('{key}'): no such configuration key "
            f"(configuration keys: {', '.join(sorted(self._values)) or 'none'})",
            hint="add it under 'configuration:' in soundlake.yml",
        )

    def set(self, key: str, value: Any) -> None:
        raise unsupported("spark.conf.set", "set values under 'configuration:' in soundlake.yml")

    def isModifiable(self, key: str) -> bool:
        return False


class PipelineSession:
    """The ``spark`` object of a pipeline definition file (PySpark ``SparkSession`` subset)."""

    def __init__(self, configuration: Mapping[str, str] | None = None) -> None:
        self.conf = RuntimeConfig(configuration or {})

    @property
    def read(self) -> DataFrameReader:
        return DataFrameReader(streaming=False)

    @property
    def readStream(self) -> DataFrameReader:
        return DataFrameReader(streaming=True)

    def table(self, name: str) -> DataFrame:
        return self.read.table(name)

    def sql(self, query: str, args: Any = None, **kwargs: Any) -> DataFrame:
        if args or kwargs:
            raise unsupported("spark.sql with parameters", "use ${key} configuration values")
        try:
            tree = sqlglot.parse_one(query, read=DIALECT)
        except sqlglot.errors.SqlglotError as exc:
            message = str(exc).strip().splitlines()[0]
            raise DefinitionError(f"{call_site()}: spark.sql: invalid query: {message}") from exc
        if not isinstance(tree, exp.Query):
            raise DefinitionError(f"{call_site()}: spark.sql must be given a query (SELECT ...)")
        streaming = tree.find(exp.Stream) is not None
        return DataFrame(tree, streaming=streaming)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in ("createDataFrame", "range", "stop", "udf", "catalog", "sparkContext"):
            raise unsupported(f"spark.{name}")
        raise unsupported(f"spark.{name}")


def column(name: str) -> Column:
    """Shortcut used by the pipeline front end: a Column for ``name``."""
    return Column(column_ref(name))
