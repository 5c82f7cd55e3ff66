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
    AsWritten,
    Column,
    call_site,
    column_ref,
    record,
    unsupported,
)
from soundlake.pipeline.python.frame.dataframe import DataFrame
from soundlake.pipeline.sql.settings import ANSI_KEY, TIME_ZONE_KEY, SparkSqlSettings

SPARK_DEFAULTS = {ANSI_KEY: "true", TIME_ZONE_KEY: "UTC"}
"""Spark's defaults of the session settings soundlake applies (``spark.conf.get`` without a value)."""


STREAM_SOURCES = {
    "kafka": "Apache Kafka", "kinesis": "Amazon Kinesis", "pubsub": "Google Pub/Sub", "pulsar": "Apache Pulsar",
    "eventhubs": "Azure Event Hubs", "socket": "a network socket",
}
"""Streaming sources other than files and Delta tables: they cannot run locally."""


def _table_sql(name: str, *, streaming: bool) -> exp.Query:
    quoted = ".".join(exp.to_identifier(p.strip("`")).sql(DIALECT) for p in name.split("."))
    text = f"SELECT * FROM STREAM({quoted})" if streaming else f"SELECT * FROM {quoted}"
    query = sqlglot.parse_one(text, read=DIALECT)
    assert isinstance(query, exp.Query)
    return query


def _delta_path_sql(path: str, *, streaming: bool) -> exp.Query:
    """``delta.`path```: the Delta table at ``path`` (dots in the path are not name parts)."""
    relation = f"delta.`{path.replace('`', '``')}`"
    text = f"SELECT * FROM STREAM({relation})" if streaming else f"SELECT * FROM {relation}"
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
        options: dict[str, str] = {}
        fmt = self._format
        for key, value in self._options.items():
            plain = key[len("cloudFiles."):] if key.lower().startswith("cloudfiles.") else key
            if plain.lower() == "format":
                fmt = value
                continue
            options[plain] = value
        if fmt is not None and fmt.lower() in STREAM_SOURCES:
            raise DefinitionError(
                f"{call_site()}: format('{fmt}') reads {STREAM_SOURCES[fmt.lower()]}, which soundlake cannot reach locally",
                hint="land the events as files (JSON, Parquet ...) and read them with format('cloudFiles')",
            )
        if path is None:
            raise unsupported("load() without a path")
        if fmt is None or fmt.lower() == "cloudfiles":
            raise DefinitionError(f"{call_site()}: reading files needs a format (cloudFiles.format)")
        if fmt.lower() == "delta":
            return DataFrame(_delta_path_sql(path, streaming=self._streaming), streaming=self._streaming)
        if (self._format or "").lower() != "cloudfiles":
            # Spark's own file source (read.parquet/csv/json, format(...).load), not Auto
            # Loader: no rescued-data column, no schema evolution, CSV columns stay STRING
            # unless inferSchema is set
            options.setdefault("schemaEvolutionMode", "none")
            if fmt.lower() == "csv" and not any(k.lower() in ("inferschema", "infercolumntypes") for k in options):
                options["inferSchema"] = "false"
        ordered = {"format": fmt.lower(), **options}
        FileSourceOptions.parse(ordered, path, where=call_site())
        return DataFrame(_files_sql(path, ordered, streaming=self._streaming), streaming=self._streaming)

    def _file(self, fmt: str, path: str, schema: Any = None, options: Mapping[str, Any] | None = None) -> DataFrame:
        """``csv(path, header=True, sep=";")``: keyword options as ``option(key, value)``
        (None values are not set, as in PySpark)."""
        self._format = fmt
        if schema is not None:
            self.schema(schema)
        for key, value in (options or {}).items():
            if value is not None:
                self.option(key, value)
        return self.load(path)

    def parquet(self, path: str, **options: Any) -> DataFrame:
        return self._file("parquet", path, options=options)

    def json(self, path: str, schema: Any = None, **options: Any) -> DataFrame:
        return self._file("json", path, schema, options)

    def csv(self, path: str, schema: Any = None, **options: Any) -> DataFrame:
        return self._file("csv", path, schema, options)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise unsupported(f"{'readStream' if self._streaming else 'read'}.{name}")


class RuntimeConfig:
    """``spark.conf``: the pipeline's ``configuration``, plus what ``spark.conf.set`` sets.

    ``get`` reads values set with :meth:`set` first, then ``configuration``, then Spark's
    defaults of the settings soundlake applies (``spark.sql.ansi.enabled`` = true,
    ``spark.sql.session.timeZone`` = UTC). Values set are kept in :attr:`assigned`: the
    definitions made after the call carry them as their ``spark_conf``, as Databricks
    applies session conf when a dataset is defined.
    """

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.assigned: dict[str, str] = {}

    def get(self, key: str, default: Any = ...) -> Any:
        if key in self.assigned:
            return self.assigned[key]
        if key in self._values:
            return self._values[key]
        if default is not ...:
            return default
        if key in SPARK_DEFAULTS:
            return SPARK_DEFAULTS[key]
        raise DefinitionError(
            f"{call_site()}: spark.conf.get('{key}'): no such configuration key "
            f"(configuration keys: {', '.join(sorted(self._values)) or 'none'})",
            hint="add it under 'configuration:' in soundlake.yml",
        )

    def set(self, key: str, value: Any) -> None:
        """Record ``key`` for the definitions after this call (their ``spark_conf``)."""
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if key in SPARK_DEFAULTS:
            try:
                SparkSqlSettings.from_conf({key: text})
            except DefinitionError as exc:
                raise DefinitionError(f"{call_site()}: spark.conf.set: {exc.message}") from exc
        self.assigned[key] = text

    def unset(self, key: str) -> None:
        """Forget a value set with :meth:`set` (the configuration's value applies again)."""
        self.assigned.pop(key, None)

    @property
    def getAll(self) -> dict[str, str]:  # a property in PySpark 4
        """Every configured and set value."""
        return {**self._values, **self.assigned}

    def isModifiable(self, key: str) -> bool:
        return True


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
        record(query)
        try:
            tree = sqlglot.parse_one(query, read=AsWritten)
        except sqlglot.errors.SqlglotError as exc:
            message = str(exc).strip().splitlines()[0]
            raise DefinitionError(f"{call_site()}: spark.sql: invalid query: {message}") from exc
        if not isinstance(tree, exp.Query):
            raise DefinitionError(f"{call_site()}: spark.sql must be given a query (SELECT ...)")
        streaming = tree.find(exp.Stream) is not None
        return DataFrame(tree, streaming=streaming)

    def range(self, start: int, end: int | None = None, step: int = 1, numPartitions: int | None = None) -> DataFrame:
        """``spark.range``: one BIGINT column ``id`` from ``start`` (inclusive) to ``end`` (exclusive)."""
        del numPartitions  # partitioning is the engine's business
        if end is None:
            start, end = 0, start
        values = (start, end, step)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values) or step == 0:
            raise DefinitionError(f"{call_site()}: spark.range needs integers and a step other than 0, got {values}")
        query = sqlglot.parse_one(f"SELECT id FROM range({start}, {end}, {step}) AS `range`(id)", read=DIALECT)
        assert isinstance(query, exp.Query)
        return DataFrame(query, streaming=False, known_columns=("id",))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise unsupported(f"spark.{name}")


def column(name: str) -> Column:
    """Shortcut used by the pipeline front end: a Column for ``name``."""
    return Column(column_ref(name))
