"""The local PySpark-compatible DataFrame: its Spark SQL runs on DuckDB with Spark's results."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import SourceLocation
from soundlake.pipeline.python.frame import functions as F
from soundlake.pipeline.python.frame import types as T
from soundlake.pipeline.python.frame.column import Window
from soundlake.pipeline.python.frame.dataframe import DataFrame, PipelineSession
from soundlake.pipeline.sql import analyze_query, bind_query

USERS = pa.table({
    "user_id": [1, 2, 2, 3],
    "user_name": ["ana silva", "bo-li", "bo-li", None],
    "country": ["SE", "BR", "BR", "SE"],
    "plan": ["Free", "Premium", "Premium", "Family"],
    "updated_at": [1, 2, 3, 4],
})
PLAYS = pa.table({"user_id": [1, 1, 2, 9], "seconds": [100, 50, 300, 10]})
spark = PipelineSession({"k": "v"})


def run(df: DataFrame, **tables: pa.Table) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Bind the DataFrame's SQL like the runtime does and run it on DuckDB."""
    sql = df.to_sql()
    inputs = analyze_query(sql, catalog="c", schema="s", location=SourceLocation("t.py"))
    con = duckdb.connect()
    for item in inputs:
        assert item.table is not None
        con.register(item.placeholder, tables[item.table.name])
    bound = bind_query(sql, inputs, catalog="c", schema="s", dialect="duckdb")
    rows = con.execute(bound).fetchall()
    return [d[0] for d in con.description], rows


def test_seed_silver_style_replaces_and_adds_columns() -> None:
    df = (
        spark.readStream.table("users")
        .withColumn("user_name", F.upper(F.col("user_name")))
        .withColumn("user_name", F.regexp_replace("user_name", "-", " "))
        .withColumn("tier", F.when(F.col("plan") == "Free", "free").when(F.col("plan").isin("Premium"), "paid")
                    .otherwise(F.lit("family")))
        .dropDuplicates(["user_id"])
        .drop("updated_at")
        .orderBy("user_id")
    )
    assert df.isStreaming
    columns, rows = run(df, users=USERS)
    assert sorted(columns) == ["country", "plan", "tier", "user_id", "user_name"]
    as_dicts = [dict(zip(columns, r)) for r in rows]
    assert [(d["user_id"], d["user_name"], d["tier"]) for d in as_dicts] == [
        (1, "ANA SILVA", "free"), (2, "BO LI", "paid"), (3, None, "family")
    ]


def test_known_columns_keep_spark_column_order() -> None:
    df = spark.read.table("users").select("user_id", "user_name", "country")
    df = df.withColumn("user_name", F.initcap("user_name")).withColumnRenamed("country", "cc").withColumn("one", F.lit(1))
    assert df.columns == ["user_id", "user_name", "cc", "one"]
    columns, rows = run(df.filter(F.col("user_id") == 1), users=USERS)
    assert columns == ["user_id", "user_name", "cc", "one"] and rows == [(1, "Ana Silva", "SE", 1)]
    assert "COLUMNS" not in df.to_sql()


def test_rename_and_drop_with_unknown_columns() -> None:
    df = spark.read.table("users").withColumnRenamed("user_name", "name").drop("plan", "updated_at", "nope")
    columns, rows = run(df.filter("user_id = 1"), users=USERS)
    assert sorted(columns) == ["country", "name", "user_id"]
    assert dict(zip(columns, rows[0])) == {"user_id": 1, "country": "SE", "name": "ana silva"}


def test_join_group_by_and_aggregates() -> None:
    users = spark.read.table("users").dropDuplicates(["user_id"])
    plays = spark.read.table("plays")
    joined = plays.join(users, plays["user_id"] == users["user_id"], "left")
    result = joined.groupBy(F.coalesce(users["country"], F.lit("??")).alias("country")).agg(
        F.count("*").alias("plays"), F.sum(plays["seconds"]).alias("seconds"),
        F.countDistinct(plays["user_id"]).alias("listeners"),
    ).orderBy(F.desc("seconds"))
    assert result.columns == ["country", "plays", "seconds", "listeners"]
    _, rows = run(result, users=USERS, plays=PLAYS)
    assert rows == [("BR", 1, 300, 1), ("SE", 2, 150, 1), ("??", 1, 10, 1)]


def test_join_using_names_and_semi_anti() -> None:
    users = spark.read.table("users").select("user_id", "country").distinct()
    plays = spark.read.table("plays")
    _, rows = run(plays.join(users, "user_id").select("user_id", "seconds", "country").orderBy("seconds"),
                  users=USERS, plays=PLAYS)
    assert rows == [(1, 50, "SE"), (1, 100, "SE"), (2, 300, "BR")]
    _, anti = run(plays.join(users, on=["user_id"], how="left_anti"), users=USERS, plays=PLAYS)
    assert anti == [(9, 10)]


def test_window_functions_and_filter() -> None:
    window = Window.partitionBy("user_id").orderBy(F.col("updated_at").desc())
    df = (spark.read.table("users").withColumn("rn", F.row_number().over(window))
          .withColumn("prev", F.lag("updated_at", 1).over(Window.partitionBy("user_id").orderBy("updated_at")))
          .where(F.col("rn") == 1).select("user_id", "updated_at", "prev").orderBy("user_id"))
    _, rows = run(df, users=USERS)
    assert rows == [(1, 1, None), (2, 3, 2), (3, 4, None)]


def test_expressions_casts_and_null_handling() -> None:
    df = spark.read.table("users").select(
        (F.col("user_id") * 10 + 1).alias("x"),
        F.col("user_id").cast("string").alias("s"),
        F.col("updated_at").cast(T.LongType()).alias("l"),
        F.col("user_name").isNull().alias("missing"),
        F.expr("concat_ws('-', country, plan)").alias("cp"),
        F.col("user_id").between(2, 3).alias("mid"),
        (~(F.col("country") == "SE") | F.col("plan").like("F%")).alias("flag"),
    ).fillna({"s": "?"}).filter(F.col("x") < 30)
    _, rows = run(df, users=USERS)
    assert rows == [(11, "1", 1, False, "SE-Free", False, True), (21, "2", 2, False, "BR-Premium", True, True),
                    (21, "2", 3, False, "BR-Premium", True, True)]


def test_dropna_union_and_limit() -> None:
    users = spark.read.table("users").select("user_id", "user_name")
    both = users.dropna(subset=["user_name"]).union(users.filter("user_id = 3"))
    _, rows = run(both.orderBy("user_id").limit(10), users=USERS)
    assert rows == [(1, "ana silva"), (2, "bo-li"), (2, "bo-li"), (3, None)]
    by_name = users.unionByName(spark.read.table("users").select("user_name", "user_id"))
    _, rows = run(by_name.filter("user_id = 1"), users=USERS)
    assert rows == [(1, "ana silva"), (1, "ana silva")]


def test_spark_sql_and_date_functions() -> None:
    df = spark.sql("SELECT user_id, make_date(2024, 1, updated_at) AS d FROM STREAM(users)")
    assert df.isStreaming
    out = df.select("user_id", F.date_format("d", "yyyyMMdd").alias("key"), F.year("d").alias("y"),
                    F.date_add("d", 1).alias("next"))
    _, rows = run(out.filter(F.col("user_id") == 1), users=USERS)
    assert rows == [(1, "20240101", 2024, dt.date(2024, 1, 2))]


def test_readers_build_read_files_inputs() -> None:
    stream = (spark.readStream.format("cloudFiles").option("cloudFiles.format", "json")
              .option("cloudFiles.schemaHints", "id INT").option("rescuedDataColumn", "_rescued_data")
              .load("/b/users"))
    (item,) = analyze_query(stream.to_sql(), catalog="c", schema="s", location=SourceLocation("t.py"))
    assert item.kind == "files" and item.streaming and item.path == "/b/users"
    assert item.options == {"format": "json", "schemaHints": "id INT", "rescuedDataColumn": "_rescued_data"}
    batch = spark.read.schema("id INT").csv("/b/x.csv")
    (item,) = analyze_query(batch.to_sql(), catalog="c", schema="s", location=SourceLocation("t.py"))
    # Spark's own CSV source: no rescued-data column or evolution, strings unless inferSchema
    assert not item.streaming and item.options == {
        "format": "csv", "schema": "id INT", "schemaEvolutionMode": "none", "inferSchema": "false",
    }
    # a Delta load reads the table at a path, as in Spark: a dot is part of the path, not a name part
    (item,) = analyze_query(spark.read.format("delta").load("data/v1.2/t").to_sql(), catalog="c", schema="s",
                            location=SourceLocation("t.py"))
    assert item.kind == "path" and item.path == "data/v1.2/t" and not item.streaming


def test_sql_is_deterministic_per_function_call() -> None:
    from soundlake.pipeline.python.frame.dataframe import reset_aliases

    def build() -> str:
        reset_aliases()
        return spark.read.table("a").withColumn("x", F.lit(1)).join(spark.read.table("b"), "id").to_sql()

    assert build() == build()


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda: spark.read.table("a").collect(), "DataFrame.collect"),
        (lambda: spark.read.table("a").columns, "DataFrame.columns needs the project's tables"),
        (lambda: F.col("a") and F.col("b"), "has no truth value"),
        (lambda: spark.createDataFrame([]), "spark.createDataFrame"),
        (lambda: spark.read.load("/x"), "needs a format"),
        (lambda: spark.read.table("a").join(spark.read.table("b"), "id", "sideways"), "unknown join type"),
        (lambda: F.col("a").cast("no_such_type(("), "unknown type"),
        (lambda: F.expr("a +"), "invalid SQL expression"),
    ],
)
def test_errors_name_the_call(action: Any, message: str) -> None:
    with pytest.raises(DefinitionError, match=message) as info:
        action()
    assert "test_dataframe.py:" in str(info.value)


def test_unknown_column_replacement_is_duckdb_only_and_known_columns_run_anywhere() -> None:
    unknown = spark.read.table("users").withColumn("plan", F.lower("plan"))
    sql = unknown.to_sql()
    inputs = analyze_query(sql, catalog="c", schema="s", location=SourceLocation("t.py"))
    with pytest.raises(DefinitionError, match="the spark engine cannot run it"):
        bind_query(sql, inputs, catalog="c", schema="s", dialect="spark")
    known = spark.read.table("users").select("user_id", "plan").withColumn("plan", F.lower("plan"))
    sql = known.to_sql()
    inputs = analyze_query(sql, catalog="c", schema="s", location=SourceLocation("t.py"))
    spark_sql = bind_query(sql, inputs, catalog="c", schema="s", dialect="spark")
    assert spark_sql.startswith("SELECT user_id, LOWER(plan) AS plan FROM")
