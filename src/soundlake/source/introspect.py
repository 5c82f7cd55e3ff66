"""Introspection of source tables: columns, declared SQL types and their Arrow types.

Types come from the *declared* column types (via SQLAlchemy reflection), never from the
values: SQLite is dynamically typed, and a driver that infers types from the first rows
would type the same column differently from one batch to the next.

Mapping (SQL -> Arrow): SMALLINT int16, INT int32, BIGINT int64, BOOLEAN bool,
REAL float32 (float64 on SQLite, where REAL is 8 bytes), FLOAT/DOUBLE float64,
DECIMAL/NUMERIC(p, s) decimal128(p, s) (decimal256 above 38 digits; float64 when no
precision is declared), CHAR/VARCHAR/TEXT string, DATE date32, DATETIME/TIMESTAMP
timestamp[us] (naive values are UTC), TIMESTAMP WITH TIME ZONE timestamp[us, UTC],
TIME time64[us], BINARY/BLOB binary. Anything else is read as a string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import types as sat

from soundlake.core.errors import ConfigError, SourceError
from soundlake.source.dialects import (
    Dialect,
    Timeouts,
    check_source,
    dialect_of,
    is_transient,
    transient_error,
)

CdcKind = Literal["date", "timestamp", "integer"]


@dataclass(frozen=True)
class ColumnInfo:
    """One column of a source table.

    Attributes:
        name: Column name as stored in the database.
        sql_type: The declared SQL type, as the database reports it.
        arrow_type: The Arrow type soundlake reads it as.
        nullable: Whether the column accepts NULL.
    """

    name: str
    sql_type: str
    arrow_type: pa.DataType
    nullable: bool = True


@dataclass(frozen=True)
class TableInfo:
    """A validated source table with its columns and primary key."""

    dialect: Dialect
    schema: str | None
    table: str
    columns: tuple[ColumnInfo, ...]
    primary_key: tuple[str, ...]

    @property
    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of a full row of this table."""
        return pa.schema([pa.field(c.name, c.arrow_type, c.nullable) for c in self.columns])

    @property
    def qualified(self) -> str:
        """``schema.table`` for messages."""
        return f"{self.schema}.{self.table}" if self.schema else self.table

    def column(self, name: str) -> ColumnInfo:
        """The column called ``name``.

        Raises:
            ConfigError: naming the table and the column when it does not exist.
        """
        for col in self.columns:
            if col.name == name:
                return col
        for col in self.columns:  # SQL identifiers are usually case-insensitive
            if col.name.lower() == name.lower():
                return col
        known = ", ".join(c.name for c in self.columns)
        raise ConfigError(f"table {self.qualified}: unknown column '{name}' (columns: {known})")

    def cdc_kind(self, name: str) -> CdcKind:
        """The kind of watermark a CDC column supports.

        Raises:
            ConfigError: when the column is neither a date, a timestamp nor an integer.
        """
        arrow_type = self.column(name).arrow_type
        if pa.types.is_date(arrow_type):
            return "date"
        if pa.types.is_timestamp(arrow_type):
            return "timestamp"
        if pa.types.is_integer(arrow_type):
            return "integer"
        raise ConfigError(
            f"table {self.qualified}: CDC column '{name}' has type {self.column(name).sql_type}; "
            "a watermark needs a DATE, DATETIME/TIMESTAMP or integer column"
        )


def arrow_type_for(sql_type: sat.TypeEngine[Any], dialect: Dialect) -> pa.DataType:
    """The Arrow type for a reflected SQLAlchemy column type (see the module docstring)."""
    name = type(sql_type).__name__.upper()
    if isinstance(sql_type, sat.Boolean):
        return pa.bool_()
    if isinstance(sql_type, sat.SmallInteger):
        return pa.int16()
    if isinstance(sql_type, sat.BigInteger):
        return pa.int64()
    if isinstance(sql_type, sat.Integer):
        return pa.int32() if "TINY" not in name else pa.int8()
    if isinstance(sql_type, sat.Float):  # before Numeric: Float subclasses it
        precision = getattr(sql_type, "precision", None)
        if name == "REAL" and dialect.name != "sqlite":
            return pa.float32()
        if precision is not None and precision <= 24 and dialect.name != "sqlite":
            return pa.float32()
        return pa.float64()
    if isinstance(sql_type, sat.Numeric):
        precision, scale = sql_type.precision, sql_type.scale
        if precision is None:
            return pa.float64()
        scale = scale or 0
        return (
            pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
        )
    if isinstance(sql_type, sat.DateTime):
        return (
            pa.timestamp("us", tz="UTC")
            if getattr(sql_type, "timezone", False)
            else pa.timestamp("us")
        )
    if isinstance(sql_type, sat.Date):
        return pa.date32()
    if isinstance(sql_type, sat.Time):
        return pa.time64("us")
    if isinstance(sql_type, sat._Binary):
        return pa.binary()
    return pa.string()


def describe_table(
    url: str, schema: str | None, table: str, timeouts: Timeouts | None = None
) -> TableInfo:
    """Reflect ``table`` and return its columns with their Arrow types.

    On SQLite, which has no schemas, a schema that is not an attached database (such as
    the seed's ``dbo``) is ignored; on other dialects ``dbo`` (SQL Server's default
    schema) means the default schema unless a schema of that name exists.

    Raises:
        ConfigError: naming the table (and schema) when it does not exist.
        TransientError: when the database cannot be reached right now.
        SourceError: for other database failures.
    """
    check_source(url)
    dialect = dialect_of(url, timeouts=timeouts)
    engine = sa.create_engine(
        dialect.sqlalchemy_url, poolclass=sa.pool.NullPool, connect_args=dialect.connect_args()
    )
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            schema = _effective_schema(inspector, dialect, schema, table)
            if not inspector.has_table(table, schema=schema):
                where = f" in schema '{schema}'" if schema else ""
                raise ConfigError(
                    f"source table '{table}' not found{where} ({dialect.display_url})"
                )
            reflected = inspector.get_columns(table, schema=schema)
            pk = inspector.get_pk_constraint(table, schema=schema) or {}
    except ConfigError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        if is_transient(exc):
            raise transient_error(f"cannot describe '{table}'", exc) from exc
        raise SourceError(f"cannot describe source table '{table}': {exc}") from exc
    finally:
        engine.dispose()
    columns = tuple(
        ColumnInfo(
            name=col["name"],
            sql_type=str(col["type"]),
            arrow_type=arrow_type_for(col["type"], dialect),
            nullable=bool(col.get("nullable", True)),
        )
        for col in reflected
    )
    return TableInfo(dialect, schema, table, columns, tuple(pk.get("constrained_columns") or ()))


def _effective_schema(
    inspector: sa.Inspector, dialect: Dialect, schema: str | None, table: str
) -> str | None:
    if schema is None:
        return None
    if dialect.name == "sqlite":
        return schema if schema in inspector.get_schema_names() else None
    if schema not in inspector.get_schema_names():
        if schema.lower() == "dbo" and dialect.name != "mssql":
            return None  # the seed's SQL Server default schema means "the default schema"
        raise ConfigError(
            f"source table '{table}': schema '{schema}' does not exist ({dialect.display_url})",
            hint="set the table's 'schema' in ingest.tables to an existing schema or leave it out",
        )
    return schema
