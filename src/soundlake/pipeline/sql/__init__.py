"""SQL front end: Databricks / Lakeflow pipeline statements and Spark SQL query analysis."""

from __future__ import annotations

from soundlake.pipeline.sql.parser import parse_sql_file, parse_sql_text
from soundlake.pipeline.sql.query import (
    FlowInput,
    analyze_query,
    bind_query,
    transpile_expression,
)

__all__ = [
    "FlowInput",
    "analyze_query",
    "bind_query",
    "parse_sql_file",
    "parse_sql_text",
    "transpile_expression",
]
