"""Un-aliased select expressions get Spark's column names on DuckDB too (Spark is the oracle)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from soundlake.engines.base import ArrowRelation
from soundlake.pipeline.definitions import SourceLocation
from soundlake.pipeline.sql.query import analyze_query, bind_query

pytestmark = pytest.mark.spark

EXPRESSIONS = [
    "count(*)", "COUNT(1)", "count(x)", "count(DISTINCT s)", "Sum(x)", "avg(x)", "min(x)", "max(x) - min(x)",
    "UPPER(s)", "lower(s)", "abs(x)", "round(y, 2)", "round(y)", "length(s)", "coalesce(x, 0)", "concat(s, 'x')",
    "x + 1", "x * 2 = 4", "x % 3", "x / 2", "NOT b", "-x", "x IS NULL", "b AND x > 1", "CAST(x AS STRING)", "CAST(x + 1 AS STRING)",
    "CAST(y AS INT)",
    "CASE WHEN x > 1 THEN 'a' ELSE 'b' END", "'a'", "1", "x",
]
ROWS = pa.table({"x": [1, 2, 3], "y": [1.5, 2.25, None], "s": ["a", "b", None], "b": [True, False, None]})


def test_result_column_names_equal_sparks(spark: Any) -> None:
    from soundlake.engines.duckdb.engine import DuckDBEngine

    spark.createDataFrame(ROWS.to_pylist()).createOrReplaceTempView("t")
    engine = DuckDBEngine()
    try:
        differ = []
        for expression in EXPRESSIONS:
            sql = f"SELECT {expression} FROM t"
            expected = spark.sql(sql).columns
            inputs = analyze_query(sql, catalog="c", schema="s", location=SourceLocation("<test>"))
            bound = bind_query(sql, inputs, catalog="c", schema="s", dialect="duckdb")
            got = engine.execute(bound, {inputs[0].placeholder: ArrowRelation(ROWS)}).schema.names
            if got != expected:
                differ.append((expression, got, expected))
        assert not differ, differ
    finally:
        engine.close()
