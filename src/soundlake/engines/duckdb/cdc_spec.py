"""Resolve a :class:`CdcSpec` against the event schema into DuckDB-ready names and SQL.

The pipeline hands over Spark SQL text; this module transpiles the spec's expressions
with sqlglot; the binding itself (columns, tracked columns, sequence) is the shared
``engines.cdc_fold.resolve_spec``.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp

from soundlake.core.errors import FlowError
from soundlake.core.sql_text import duckdb_identifier
from soundlake.engines.base import CdcSpec
from soundlake.engines.cdc_fold import ResolvedCdc, resolve_spec

__all__ = ["ResolvedCdc", "q", "resolve", "to_duckdb"]


q = duckdb_identifier
"""Quote an identifier for DuckDB (the helper of ``core.sql_text``)."""


_IDENTIFIER = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)$")


def to_duckdb(flow: str, spark_sql: str) -> str:
    """Transpile one Spark SQL expression to DuckDB SQL, naming the flow on failure."""
    text = spark_sql.strip()
    if _IDENTIFIER.match(text):  # a plain column name: no parser needed
        return q(text.strip("`"))
    try:
        out = sqlglot.transpile(spark_sql, read="spark", write="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise FlowError(f"flow {flow!r}: cannot parse expression {spark_sql!r}: {exc}") from exc
    if len(out) != 1:
        raise FlowError(f"flow {flow!r}: expected one expression, got {spark_sql!r}")
    return out[0]


def _field_name(spark_sql: str, index: int) -> str:
    text = spark_sql.strip()
    if _IDENTIFIER.match(text):
        return text.strip("`")
    try:
        node = sqlglot.parse_one(spark_sql, read="spark")
    except sqlglot.errors.ParseError:
        return f"_{index}"
    if isinstance(node, (exp.Column, exp.Alias)) and node.alias_or_name:
        return str(node.alias_or_name)
    return f"_{index}"


def resolve(
    spec: CdcSpec, event_columns: list[str], target_names: list[str] | None
) -> ResolvedCdc:
    """Bind ``spec`` to the event columns (and the existing target's columns, if any).

    Raises:
        FlowError: unknown columns, no keys, or truncates requested on SCD type 2.
    """
    return resolve_spec(
        spec, list(event_columns), target_names, "duckdb",
        expression=lambda e: to_duckdb(spec.flow, e), field_name=_field_name,
        struct=lambda pairs: "struct_pack(" + ", ".join(f"{q(f)} := {p}" for f, p in pairs) + ")",
    )
