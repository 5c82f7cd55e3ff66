"""Spark SQL types of query inputs, and typing a query tree with them (sqlglot's annotator).

Some Spark semantics depend on argument types (``sum`` of INT is BIGINT, a STRING
compared with a DATE is cast to DATE, a STRING cast to INT follows Spark's parser). The
DuckDB translation (:mod:`semantics`) reads the types this module puts on the tree: the
input schemas come from the relations the engine holds (schema only, no data read).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import pyarrow as pa
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify_columns import qualify_columns
from sqlglot.schema import MappingSchema

ROW_TABLE = "__sl_row"
"""The relation name an expression is typed against (``transpile_expression``)."""

_SIMPLE: dict[pa.DataType, str] = {
    pa.int8(): "TINYINT", pa.int16(): "SMALLINT", pa.int32(): "INT", pa.int64(): "BIGINT",
    pa.float32(): "FLOAT", pa.float64(): "DOUBLE", pa.string(): "STRING", pa.large_string(): "STRING",
    pa.string_view(): "STRING", pa.bool_(): "BOOLEAN", pa.date32(): "DATE", pa.binary(): "BINARY",
    pa.large_binary(): "BINARY",
}


def spark_type_text(arrow: pa.DataType) -> str | None:
    """The Spark SQL type of an Arrow type, or None when it has no Spark equivalent."""
    if arrow in _SIMPLE:
        return _SIMPLE[arrow]
    if pa.types.is_decimal(arrow):
        return f"DECIMAL({arrow.precision}, {arrow.scale})"
    if pa.types.is_timestamp(arrow):
        return "TIMESTAMP" if arrow.tz else "TIMESTAMP_NTZ"
    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow) or pa.types.is_list_view(arrow):
        inner = spark_type_text(arrow.value_type)
        return f"ARRAY<{inner}>" if inner else None
    if pa.types.is_map(arrow):
        key, item = spark_type_text(arrow.key_type), spark_type_text(arrow.item_type)
        return f"MAP<{key}, {item}>" if key and item else None
    if pa.types.is_struct(arrow):
        fields = [(f.name, spark_type_text(f.type)) for f in arrow]
        if any(t is None for _, t in fields):
            return None
        return "STRUCT<" + ", ".join(f"`{n}`: {t}" for n, t in fields) + ">"
    return None


Columns: TypeAlias = "pa.Schema | Mapping[str, str]"
"""A relation's columns: an Arrow schema, or column name -> Spark SQL type text."""


def _mapping(schemas: Mapping[str, Columns]) -> MappingSchema:
    tables: dict[str, object] = {}
    for name, schema in schemas.items():
        if isinstance(schema, pa.Schema):
            tables[name] = {f.name: spark_type_text(f.type) or "UNKNOWN" for f in schema}
        else:
            tables[name] = dict(schema)
    return MappingSchema(tables, dialect="spark", normalize=False)


def output_types(tree: exp.Expr) -> dict[str, str]:
    """Spark types of a typed query's result columns (those :func:`annotate` could type)."""
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return {}
    columns: dict[str, str] = {}
    for projection in select.expressions:
        typed = projection.type
        name = projection.alias_or_name
        if isinstance(projection, exp.Star) or not name or typed is None or typed.this == exp.DataType.Type.UNKNOWN:
            continue
        columns[name] = typed.sql("spark")
    return columns


def annotate(tree: exp.Expr, schemas: Mapping[str, Columns]) -> bool:
    """Put Spark types on ``tree``'s nodes (``node.type``) from the input ``schemas``.

    ``tree`` is a query over the relations named in ``schemas``, or one expression over
    the single relation :data:`ROW_TABLE`. The tree itself is not changed otherwise (typing
    runs on a copy). Returns False when the tree cannot be typed (its nodes stay untyped
    and the translation keeps its type-independent rewrites only).
    """
    copy = tree.copy()
    pairs = list(zip(tree.walk(), copy.walk()))
    pairs += _decimal_literals(pairs)
    root: exp.Expr = copy if isinstance(copy, exp.Query) else exp.Select(expressions=[copy]).from_(ROW_TABLE, copy=False)
    try:
        schema = _mapping(schemas)
        qualify_columns(root, schema=schema, dialect="spark")
        annotate_types(root, schema=schema, dialect="spark")
    except (SqlglotError, KeyError, ValueError, TypeError, AttributeError):
        return False
    for original, typed in pairs:
        if typed.type is not None:
            original.type = typed.type.copy()
    return True


def _decimal_literals(pairs: list[tuple[exp.Expr, exp.Expr]]) -> list[tuple[exp.Expr, exp.Expr]]:
    """Type number literals with a point as Spark does: ``2.50`` is DECIMAL(3, 2), not DOUBLE.

    Each such literal of the copy is wrapped in a cast for the annotator; the returned pairs
    give the original literals the casts' types.
    """
    typed: list[tuple[exp.Expr, exp.Expr]] = []
    for original, twin in pairs:
        if not isinstance(twin, exp.Literal) or twin.is_string or "." not in twin.this or "e" in twin.this.lower():
            continue
        whole, _, fraction = twin.this.lstrip("+-").partition(".")
        scale = len(fraction)
        precision = max(len((whole + fraction).lstrip("0")), scale, 1)
        if precision > 38:
            continue
        cast = exp.Cast(this=twin.copy(), to=exp.DataType.build(f"DECIMAL({precision}, {scale})"))
        twin.replace(cast)
        typed.append((original, cast))
    return typed


def is_type(node: exp.Expr, *kinds: Any) -> bool:
    """True when ``node`` was typed as one of ``kinds``."""
    typed = node.type
    return typed is not None and typed.this in kinds


INTEGRAL = (exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT, exp.DataType.Type.BIGINT)
FRACTIONAL = (exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE)
TEXT = (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT, exp.DataType.Type.CHAR)
