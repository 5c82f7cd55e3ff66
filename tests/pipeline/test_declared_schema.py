"""Declared schemas are contracts: types, order, NOT NULL, generated columns, store assignment."""

from __future__ import annotations

import textwrap
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from soundlake.core.errors import DefinitionError
from soundlake.lake import delta
from soundlake.pipeline.definitions import SourceLocation
from soundlake.pipeline.sql.declared import parse_schema
from tests.pipeline.conftest import Lakehouse, statuses

HERE = SourceLocation("p.sql", 3)


def stored(lake: Lakehouse, table: str) -> list[tuple[str, pa.DataType, bool]]:
    """The Delta table's columns: name, Arrow type, nullable."""
    from deltalake import DeltaTable

    schema = pa.schema(DeltaTable(str(lake.root / "lake" / "main" / "silver" / table)).schema().to_arrow())
    return [(f.name, f.type, f.nullable) for f in schema]


def failed(result: Any, flow: str) -> str:
    assert statuses(result)[flow] == "FAILED", result.errors
    (message,) = [m for name, m in result.errors.items() if name.endswith(flow)]
    return str(message)


def test_sql_declared_types_order_and_generated_column(lakehouse: Lakehouse) -> None:
    lakehouse.sql("""
    CREATE OR REFRESH MATERIALIZED VIEW t (
      id INT NOT NULL COMMENT 'the id', d DATE, total DECIMAL(10,2), dbl DOUBLE GENERATED ALWAYS AS (total * 2),
      ts TIMESTAMP, small TINYINT,
      CONSTRAINT positive EXPECT (id > 0)
    ) AS SELECT 12.345 AS total, TIMESTAMP '2024-01-02 10:00:00' AS d, '2024-01-01 10:00:00' AS ts,
                7 AS small, 1 AS id  -- the query's own order and types
    """)
    result = lakehouse.run()
    assert statuses(result) == {"t": "COMPLETED"}, result.errors
    assert stored(lakehouse, "t") == [
        ("id", pa.int32(), False), ("d", pa.date32(), True), ("total", pa.decimal128(10, 2), True),
        ("dbl", pa.float64(), True), ("ts", pa.timestamp("us", tz="UTC"), True), ("small", pa.int8(), True),
    ]
    (row,) = lakehouse.rows("SELECT * FROM t")
    assert row == {
        "id": 1, "d": date(2024, 1, 2), "total": Decimal("12.35"), "dbl": 24.7,
        "ts": datetime(2024, 1, 1, 10, tzinfo=timezone.utc), "small": 7,
    }


def test_not_null_fails_the_update_naming_table_and_column(lakehouse: Lakehouse) -> None:
    lakehouse.parquet("in", "a.parquet", [{"id": 1, "v": "a"}])
    lakehouse.sql("""
    CREATE OR REFRESH STREAMING TABLE raw (id BIGINT NOT NULL, v STRING)
    AS SELECT id, v FROM STREAM read_files('${data}/in', format => 'parquet');
    """)
    assert statuses(lakehouse.run()) == {"raw": "COMPLETED"}
    lakehouse.parquet("in", "b.parquet", [{"id": 2, "v": "b"}, {"id": None, "v": "c"}])
    message = failed(lakehouse.run(), "raw")
    assert "\n" not in message
    assert "table main.silver.raw" in message and "column 'id' is declared NOT NULL" in message
    assert lakehouse.rows("SELECT id FROM raw") == [{"id": 1}]  # nothing of the failed batch was written


def test_not_null_is_checked_after_expectations_drop_rows(lakehouse: Lakehouse) -> None:
    lakehouse.sql("""
    CREATE OR REFRESH MATERIALIZED VIEW t (
      id INT NOT NULL, v STRING,
      CONSTRAINT has_id EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW
    ) AS SELECT * FROM VALUES (1, 'a'), (NULL, 'b') AS x(id, v)
    """)
    result = lakehouse.run()
    assert statuses(result) == {"t": "COMPLETED"}, result.errors
    assert lakehouse.rows("SELECT id, v FROM t") == [{"id": 1, "v": "a"}]


@pytest.mark.parametrize(
    ("column", "query", "needle"),
    [
        ("v TINYINT", "300", "out of range"),
        ("v DECIMAL(3,1)", "12345.5", "out of range"),
        ("v INT", "'abc'", "abc"),
        ("v INT", "3000000000", "out of range"),
    ],
)
def test_values_that_do_not_fit_fail_like_store_assignment(
    lakehouse: Lakehouse, column: str, query: str, needle: str
) -> None:
    lakehouse.sql(f"CREATE OR REFRESH MATERIALIZED VIEW t (id INT, {column}) AS SELECT 1 AS id, {query} AS v")
    message = failed(lakehouse.run(), "t")
    assert "\n" not in message
    assert f"table main.silver.t: a value cannot be stored in column 'v' (declared {column.split()[1]}" in (
        message.replace("DECIMAL(3, 1)", "DECIMAL(3,1)")
    )
    assert needle in message
    assert not delta.is_delta_table(str(lakehouse.root / "lake" / "main" / "silver" / "t"))


def test_store_assignment_fails_also_when_queries_run_without_ansi(lakehouse: Lakehouse) -> None:
    """``spark.sql.ansi.enabled = false`` softens the query's own casts, not the store assignment."""
    lakehouse.config(configuration={"data": "data", "spark.sql.ansi.enabled": "false"})
    lakehouse.sql("CREATE OR REFRESH MATERIALIZED VIEW t (id INT, v TINYINT) AS SELECT 1 AS id, 300 AS v")
    assert "a value cannot be stored in column 'v' (declared TINYINT)" in failed(lakehouse.run(), "t")


def test_append_flows_into_a_declared_streaming_table(lakehouse: Lakehouse) -> None:
    lakehouse.parquet("a", "1.parquet", [{"k": 1, "at": "2024-03-01 12:30:00"}])
    lakehouse.parquet("b", "1.parquet", [{"k": 2, "at": "2024-03-02 00:00:00"}])
    lakehouse.sql("""
    CREATE OR REFRESH STREAMING TABLE events (k SMALLINT NOT NULL, day DATE GENERATED ALWAYS AS (CAST(at AS DATE)), at TIMESTAMP);
    CREATE FLOW from_a AS INSERT INTO events BY NAME SELECT k, at FROM STREAM read_files('${data}/a', format => 'parquet');
    CREATE FLOW from_b AS INSERT INTO events BY NAME SELECT k, at FROM STREAM read_files('${data}/b', format => 'parquet');
    """)
    result = lakehouse.run()
    assert set(statuses(result).values()) == {"COMPLETED"}, result.errors
    assert stored(lakehouse, "events") == [
        ("k", pa.int16(), False), ("day", pa.date32(), True), ("at", pa.timestamp("us", tz="UTC"), True),
    ]
    rows = lakehouse.rows("SELECT k, day FROM events ORDER BY k")
    assert rows == [{"k": 1, "day": date(2024, 3, 1)}, {"k": 2, "day": date(2024, 3, 2)}]


PYTHON = """
from soundlake import pipelines as dp
from pyspark.sql.types import StructType, StructField, IntegerType, DateType, StringType


@dp.table(schema="id INT NOT NULL, d DATE, label STRING GENERATED ALWAYS AS (concat('#', id))")
def ddl():
    return spark.read.format("parquet").load(spark.conf.get("data") + "/in").select("d", "id")


@dp.table(schema=StructType([StructField("id", IntegerType(), False), StructField("d", DateType()),
                             StructField("odd name", StringType())]))
def typed():
    return spark.sql("SELECT 5 AS id, '2024-05-06' AS d, 'x' AS `odd name`")
"""


def test_python_schema_string_and_struct_type(lakehouse: Lakehouse) -> None:
    lakehouse.config(libraries=["pipelines/*.py"])
    lakehouse.parquet("in", "a.parquet", [{"id": 5, "d": datetime(2024, 5, 6, 7, 8, 9)}])
    (lakehouse.root / "pipelines" / "defs.py").write_text(textwrap.dedent(PYTHON), encoding="utf-8")
    result = lakehouse.run()
    assert set(statuses(result).values()) == {"COMPLETED"}, result.errors
    assert stored(lakehouse, "ddl") == [("id", pa.int32(), False), ("d", pa.date32(), True), ("label", pa.string(), True)]
    assert lakehouse.rows("SELECT id, d, label FROM ddl") == [{"id": 5, "d": date(2024, 5, 6), "label": "#5"}]
    assert stored(lakehouse, "typed") == [
        ("id", pa.int32(), False), ("d", pa.date32(), True), ("odd name", pa.string(), True),
    ]


def test_column_lists_parse_and_refuse_what_is_not_supported() -> None:
    schema = parse_schema("id INT NOT NULL, `a b` STRUCT<x: INT>, g BIGINT GENERATED ALWAYS AS (id + 1)", location=HERE)
    assert [(c.name, c.type_sql, c.not_null, c.generated) for c in schema.columns] == [
        ("id", "INT", True, None), ("a b", "STRUCT<x: INT>", False, None), ("g", "BIGINT", False, "id + 1"),
    ]
    assert schema.not_null == ("id",)
    assert parse_schema("a, b", location=HERE).columns == ()  # names only: no contract
    for text, needle in [
        ("id BIGINT GENERATED ALWAYS AS IDENTITY", "identity columns are not supported"),
        ("id INT DEFAULT 3", "DEFAULT values are not supported"),
        ("id INT, id STRING", "declared twice"),
        ("id INT, g INT GENERATED ALWAYS AS (nope + 1)", "reads 'nope'"),
        ("id INT, g INT GENERATED ALWAYS AS (id), h INT GENERATED ALWAYS AS (g)", "reads generated column 'g'"),
        ("id INT MASK f", "invalid column list"),
    ]:
        with pytest.raises(DefinitionError, match=needle) as info:
            parse_schema(text, location=HERE)
        assert str(info.value).startswith("p.sql:3")


def test_an_invalid_declared_schema_fails_when_definitions_load(lakehouse: Lakehouse) -> None:
    lakehouse.sql("CREATE OR REFRESH MATERIALIZED VIEW t (id BIGINT GENERATED ALWAYS AS IDENTITY) AS SELECT 1 AS x")
    with pytest.raises(DefinitionError, match="identity columns are not supported"):
        lakehouse.run()
