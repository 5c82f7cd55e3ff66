"""Definition-time reads: what a pipeline file may learn from existing tables while it loads.

Databricks runs a Python pipeline file on a real session, so definitions may depend on
data that exists before the update: ``[c for c in spark.read.table("x").columns if ...]``,
or a configuration table read with ``collect()`` at module level to define one table per
row in a loop. soundlake's frame records queries instead of running them; for these
reads the project supplies a reader (:func:`definition_reads`: Spark SQL over the lake's
existing tables, run by DuckDB) and the frame asks it for the schema (``columns``,
``schema``, ``dtypes``) or the rows (``collect``, ``first``, ``head``, ``take``,
``count``, ``toPandas``) of a batch DataFrame.

The schema alone (``columns``, ``schema``, ``dtypes``) is known for the pipeline's own
datasets before their first update, as on Databricks, where the dataflow graph is analysed
before anything runs: the project binds the definitions loaded so far (files load in
library order) and gives the result's columns (:data:`SchemaReader`). Rows of a table that
does not exist yet are an error naming the file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import pyarrow as pa

from soundlake.core.errors import DefinitionError, SoundlakeError
from soundlake.pipeline.definitions import Registry
from soundlake.pipeline.python.frame import types as T

Reader = Callable[[str], pa.Table]
"""Spark SQL text -> its rows (read-only, over the lake's existing tables)."""

SchemaReader = Callable[[str, Registry], pa.Schema | None]
"""Spark SQL text and the definitions loaded so far -> the result's schema from the
definitions bound (no rows read); None when what it reads is not a dataset whose schema
the definitions give (the lake's tables are then asked)."""

READER: ContextVar[tuple[Reader, SchemaReader | None] | None] = ContextVar(
    "soundlake_definition_reader", default=None
)


@contextmanager
def definition_reads(reader: Reader, schemas: SchemaReader | None = None) -> Iterator[None]:
    """Pipeline files loaded inside this block read existing tables with ``reader``, and
    learn result schemas from the definitions loaded so far with ``schemas``."""
    token = READER.set((reader, schemas))
    try:
        yield
    finally:
        READER.reset(token)


def schema(sql: str, definitions: Registry | None, *, what: str, where: str) -> pa.Schema:
    """The result schema of ``sql`` for ``what`` at ``where``: bound from the pipeline's
    definitions loaded so far when it reads them, else from the lake's existing tables.

    Raises:
        DefinitionError: the query does not bind, or reads a table that neither the
            definitions loaded so far nor the lake holds.
    """
    found = READER.get()
    schemas = found[1] if found is not None else None
    if schemas is not None and definitions is not None and "read_files(" not in sql.lower():
        try:
            bound = schemas(sql, definitions)
        except SoundlakeError as exc:
            raise DefinitionError(f"{where}: {what} at definition time: {exc.message}") from exc
        if bound is not None:
            return bound
    return read(f"SELECT * FROM ({sql}) AS _sl_read LIMIT 0", what=what, where=where).schema


def read(sql: str, *, what: str, where: str) -> pa.Table:
    """The rows of ``sql`` for the definition-time call ``what`` at ``where`` (file:line).

    Raises:
        DefinitionError: when no reader is active or the query fails (a missing table).
    """
    if "read_files(" in sql.lower():
        raise DefinitionError(
            f"{where}: {what} at definition time reads files, which soundlake does not do (tables only)",
            hint="name the columns in a select(...), or read a table",
        )
    found = READER.get()
    if found is None:
        raise DefinitionError(f"{where}: {what} needs the project's tables (only while a pipeline loads)")
    try:
        return found[0](sql)
    except SoundlakeError as exc:
        raise DefinitionError(
            f"{where}: {what} at definition time: {exc.message}",
            hint="rows at definition time come from the tables that exist before the update; columns "
            "also from the definitions loaded before this call (files load in library order)",
        ) from exc


class Row(tuple[Any, ...]):
    """``pyspark.sql.Row``: values by position, by name (``row.x``, ``row["x"]``), ``asDict()``."""

    __fields__: tuple[str, ...]

    def __new__(cls, values: tuple[Any, ...], fields: tuple[str, ...]) -> Row:  # noqa: PYI034
        row = super().__new__(cls, values)
        row.__fields__ = fields
        return row

    def asDict(self, recursive: bool = False) -> dict[str, Any]:
        """The row as ``{column: value}``."""
        return dict(zip(self.__fields__, self))

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, str):
            try:
                return tuple.__getitem__(self, self.__fields__.index(item))
            except ValueError:
                raise KeyError(item) from None
        return tuple.__getitem__(self, item)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return "Row(" + ", ".join(f"{k}={v!r}" for k, v in zip(self.__fields__, self)) + ")"


def rows(table: pa.Table) -> list[Row]:
    """The rows of ``table`` as :class:`Row` values."""
    fields = tuple(table.column_names)
    return [Row(tuple(r[f] for f in fields), fields) for r in table.to_pylist()]


def spark_type(arrow: pa.DataType) -> T.DataType:
    """The Spark SQL type of an Arrow column type (as the frame's ``types`` module spells it)."""
    simple: list[tuple[Callable[[pa.DataType], bool], type[T.DataType]]] = [
        (pa.types.is_int8, T.ByteType), (pa.types.is_int16, T.ShortType), (pa.types.is_int32, T.IntegerType),
        (pa.types.is_int64, T.LongType), (pa.types.is_float32, T.FloatType), (pa.types.is_float64, T.DoubleType),
        (pa.types.is_boolean, T.BooleanType), (pa.types.is_date, T.DateType),
        (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), T.StringType),
        (lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t), T.BinaryType),
    ]
    for test, kind in simple:
        if test(arrow):
            return kind()
    if pa.types.is_timestamp(arrow):
        return T.TimestampType() if arrow.tz else T.TimestampNTZType()
    if pa.types.is_decimal(arrow):
        return T.DecimalType(arrow.precision, arrow.scale)
    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
        return T.ArrayType(spark_type(arrow.value_type))
    if pa.types.is_map(arrow):
        return T.MapType(spark_type(arrow.key_type), spark_type(arrow.item_type))
    if pa.types.is_struct(arrow):
        return struct_type(pa.schema(list(arrow)))
    return T.StringType()


def struct_type(schema: pa.Schema) -> T.StructType:
    """``df.schema``: a StructType of the Arrow schema's columns."""
    return T.StructType([T.StructField(f.name, spark_type(f.type), f.nullable) for f in schema])
