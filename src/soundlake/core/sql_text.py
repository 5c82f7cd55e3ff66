"""Quoting of identifiers and literals in the SQL soundlake generates, one helper per dialect.

Spark SQL quotes identifiers with backticks, DuckDB (and standard SQL) with double
quotes; an embedded quote character is doubled. String literals use single quotes with
embedded single quotes doubled (valid in both dialects).
"""

from __future__ import annotations

import datetime as dt
import re


def spark_identifier(name: str) -> str:
    """``name`` quoted for Spark SQL: ``a`b`` becomes ```a``b```."""
    return "`" + name.replace("`", "``") + "`"


def duckdb_identifier(name: str) -> str:
    """``name`` quoted for DuckDB: ``a"b`` becomes ``"a""b"``."""
    return '"' + name.replace('"', '""') + '"'


def quote_identifier(name: str, dialect: str) -> str:
    """``name`` quoted for ``dialect`` (``spark``; anything else is DuckDB/standard SQL)."""
    return spark_identifier(name) if dialect == "spark" else duckdb_identifier(name)


def ddl_name(name: str) -> str:
    """A column name for a Spark DDL column list: as is when a plain identifier, else quoted."""
    return name if _PLAIN_NAME.fullmatch(name) else spark_identifier(name)


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def string_literal(value: str) -> str:
    """A single-quoted SQL string literal of ``value``."""
    return "'" + value.replace("'", "''") + "'"


def value_literal(value: object) -> str | None:
    """A SQL literal for an int, float, string, date or timestamp (naive, as written); None otherwise.

    Booleans are refused (None): as keys or bounds they are nearly always a mistake.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return string_literal(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.replace(tzinfo=None).isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return None
