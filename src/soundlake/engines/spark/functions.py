"""Python dataset functions on the real SparkSession (``FunctionRelation``).

The function gets a :class:`RoutedSession`: the engine's SparkSession, except that reads
of the flow's inputs by name (``spark.table``, ``spark.read.table``,
``spark.readStream.table``, ``dlt.read``) and file loads of its file inputs
(``spark.readStream.format("cloudFiles").load(path)``) read the relation the pipeline
planned for this batch (registered as a temporary view). Everything else is the real
PySpark API. A streaming read returns the batch's increment as a batch DataFrame: the
pipeline, not the function, decides what is new.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from soundlake.core.errors import EngineError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class RoutedSession:
    """A SparkSession whose table reads of pipeline datasets go to registered views."""

    def __init__(self, spark: SparkSession, tables: Mapping[str, str]) -> None:
        self._spark = spark
        self._tables = {_normal(k): v for k, v in tables.items()}

    def route(self, name: str) -> str | None:
        """The view that stands for ``name`` in this batch, or None for other tables."""
        return self._tables.get(_normal(name))

    def table(self, name: str) -> DataFrame:
        """``spark.table``: a pipeline dataset reads this batch's relation."""
        view = self.route(name)
        return self._spark.table(view if view is not None else name)

    @property
    def read(self) -> RoutedReader:
        """``spark.read`` with routed ``table``/``load``."""
        return RoutedReader(self, self._spark.read)

    @property
    def readStream(self) -> RoutedReader:
        """``spark.readStream``: reads the increment the pipeline planned (a batch read)."""
        return RoutedReader(self, self._spark.read)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._spark, name)


class RoutedReader:
    """``DataFrameReader`` whose ``table``, ``load`` and file reads of pipeline inputs are routed."""

    def __init__(self, session: RoutedSession, reader: Any) -> None:
        self._session = session
        self._reader = reader

    def table(self, name: str) -> DataFrame:
        return self._session.table(name)

    def load(self, path: str | None = None, format: str | None = None, **options: Any) -> DataFrame:
        view = self._session.route(f"files:{path}") if path is not None else None
        if view is not None:
            return self._session.table(view)
        frame: DataFrame = self._reader.load(path, format=format, **options)
        return frame

    def _file(self, method: str, path: Any, *args: Any, **kwargs: Any) -> DataFrame:
        """``parquet/json/csv/orc/text(path)``: a file input of the flow reads its planned files."""
        view = self._session.route(f"files:{path}") if isinstance(path, str) else None
        if view is not None:
            return self._session.table(view)
        frame: DataFrame = getattr(self._reader, method)(path, *args, **kwargs)
        return frame

    def parquet(self, *paths: Any, **options: Any) -> DataFrame:
        if len(paths) == 1:
            return self._file("parquet", paths[0], **options)
        frame: DataFrame = self._reader.parquet(*paths, **options)
        return frame

    def json(self, path: Any, *args: Any, **kwargs: Any) -> DataFrame:
        return self._file("json", path, *args, **kwargs)

    def csv(self, path: Any, *args: Any, **kwargs: Any) -> DataFrame:
        return self._file("csv", path, *args, **kwargs)

    def orc(self, path: Any, *args: Any, **kwargs: Any) -> DataFrame:
        return self._file("orc", path, *args, **kwargs)

    def text(self, paths: Any, *args: Any, **kwargs: Any) -> DataFrame:
        return self._file("text", paths, *args, **kwargs)

    def format(self, source: str) -> RoutedReader:
        # cloudFiles is Databricks' Auto Loader; the routed load reads soundlake's files
        fmt = "parquet" if source.lower() == "cloudfiles" else source
        return RoutedReader(self._session, self._reader.format(fmt))

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._reader, name)
        if not callable(attr):
            return attr

        def chained(*args: Any, **kwargs: Any) -> Any:
            out = attr(*args, **kwargs)
            return (
                RoutedReader(self._session, out)
                if out is self._reader or type(out) is type(self._reader)
                else out
            )

        return chained


def call_function(
    spark: SparkSession, call: Any, tables: Mapping[str, str], description: str = ""
) -> DataFrame:
    """Run a dataset function with a routed session; its result must be a DataFrame.

    Raises:
        EngineError: when the function returns something else.
    """
    from pyspark.sql import DataFrame as SparkFrame

    result = call(RoutedSession(spark, tables))
    if isinstance(result, str):
        return spark.sql(result)
    if not isinstance(result, SparkFrame):
        raise EngineError(
            f"the dataset function {description} returned {type(result).__name__}, not a pyspark DataFrame"
        )
    return result


def _normal(name: str) -> str:
    return name.replace("`", "").strip().lower()
