"""Python definitions give the same tables as their SQL equivalents on the real runtime."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from soundlake.core.errors import DefinitionError
from tests.pipeline.conftest import Lakehouse

SQL = """
CREATE OR REFRESH STREAMING TABLE tracks (
  CONSTRAINT id_present EXPECT (track_id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT sane_duration EXPECT (duration_sec > 0)
)
AS SELECT track_id, regexp_replace(track_name, '-', ' ') AS track_name, upper(genre) AS genre, duration_sec,
  CASE WHEN duration_sec < 150 THEN 'low' WHEN duration_sec < 300 THEN 'medium' ELSE 'high' END AS durationFlag,
  updated_at
FROM STREAM read_files('${data}/tracks', format => 'parquet');
-- no QUALIFY row_number() here: Spark refuses window functions over a stream (Python's
-- dropDuplicates is streaming de-duplication; the batches repeat no track_id)

CREATE TEMPORARY VIEW long_tracks AS SELECT * FROM tracks WHERE duration_sec >= 300;

CREATE OR REFRESH MATERIALIZED VIEW genre_stats
AS SELECT genre, count(*) AS n, sum(duration_sec) AS total FROM tracks GROUP BY genre;

CREATE OR REFRESH MATERIALIZED VIEW long_by_genre
AS SELECT l.genre, count(*) AS n FROM long_tracks l JOIN genre_stats g ON l.genre = g.genre GROUP BY l.genre;

CREATE OR REFRESH STREAMING TABLE tracks_history;
CREATE FLOW tracks_history_cdc AS AUTO CDC INTO tracks_history FROM STREAM(tracks)
KEYS (track_id) SEQUENCE BY updated_at COLUMNS * EXCEPT (durationFlag) STORED AS SCD TYPE 2;
"""

PYTHON = """
from soundlake import pipelines as dp
from pyspark.sql.functions import col, upper, regexp_replace, when, count, sum

data = spark.conf.get("data")


@dp.table(name="tracks")
@dp.expect_or_drop("id_present", "track_id IS NOT NULL")
@dp.expect("sane_duration", "duration_sec > 0")
def tracks():
    df = (spark.readStream.format("cloudFiles").option("cloudFiles.format", "parquet")
          .load(f"{data}/tracks"))
    df = df.withColumn("track_name", regexp_replace(col("track_name"), "-", " "))
    df = df.withColumn("genre", upper(col("genre")))
    df = df.withColumn("durationFlag", when(col("duration_sec") < 150, "low")
                       .when(col("duration_sec") < 300, "medium").otherwise("high"))
    return df.select("track_id", "track_name", "genre", "duration_sec", "durationFlag", "updated_at") \\
             .dropDuplicates(["track_id"])


@dp.temporary_view
def long_tracks():
    return spark.read.table("tracks").filter(col("duration_sec") >= 300)


@dp.materialized_view
def genre_stats():
    return spark.read.table("tracks").groupBy("genre").agg(count("*").alias("n"),
                                                            sum("duration_sec").alias("total"))


@dp.materialized_view
def long_by_genre():
    l = spark.read.table("long_tracks").alias("l")
    g = spark.read.table("genre_stats").alias("g")
    return l.join(g, col("l.genre") == col("g.genre")).groupBy(col("l.genre").alias("genre")) \\
            .agg(count("*").alias("n"))


dp.create_streaming_table("tracks_history")
dp.create_auto_cdc_flow(target="tracks_history", source="tracks", keys=["track_id"],
                        sequence_by="updated_at", except_column_list=["durationFlag"],
                        stored_as_scd_type=2, name="tracks_history_cdc")
"""

BATCH_1 = [
    {"track_id": 1, "track_name": "Blue-Sky", "genre": "pop", "duration_sec": 120, "updated_at": 1},
    {"track_id": 2, "track_name": "Red-Road-Remix", "genre": "rock", "duration_sec": 320, "updated_at": 1},
    {"track_id": 3, "track_name": "Calm", "genre": "jazz", "duration_sec": 200, "updated_at": 1},
    {"track_id": None, "track_name": "Lost", "genre": "pop", "duration_sec": 100, "updated_at": 1},
    {"track_id": 4, "track_name": "Zero", "genre": "pop", "duration_sec": 0, "updated_at": 1},
]
BATCH_2 = [
    {"track_id": 1, "track_name": "Blue-Sky", "genre": "pop", "duration_sec": 400, "updated_at": 2},
    {"track_id": 5, "track_name": "New-One", "genre": "rock", "duration_sec": 310, "updated_at": 2},
]
TABLES = ("tracks", "genre_stats", "long_by_genre", "tracks_history")


def _project(root: Path, *, python: bool) -> Lakehouse:
    lake = Lakehouse(root)
    if python:
        lake.config(libraries=["pipelines/*.py"])
        (lake.root / "pipelines" / "defs.py").write_text(textwrap.dedent(PYTHON), encoding="utf-8")
    else:
        lake.sql(SQL)
    return lake


def _snapshot(lake: Lakehouse) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for table in TABLES:
        rows = lake.rows(f"SELECT * FROM {table}")
        out[table] = sorted((dict(sorted(r.items())) for r in rows), key=repr)
    return out


def test_python_and_sql_definitions_build_the_same_tables(tmp_path: Path) -> None:
    sql_lake = _project(tmp_path / "sql", python=False)
    py_lake = _project(tmp_path / "py", python=True)
    for batch, rows in (("b1.parquet", BATCH_1), ("b2.parquet", BATCH_2)):
        for lake in (sql_lake, py_lake):
            lake.parquet("tracks", batch, rows)
            result = lake.run()
            assert result.ok, result.errors
        assert _snapshot(py_lake) == _snapshot(sql_lake)
    tracks = {r["track_id"]: r for r in py_lake.rows("SELECT * FROM tracks")}
    assert tracks[2]["track_name"] == "Red Road Remix" and tracks[2]["durationFlag"] == "high"
    assert tracks[1]["genre"] == "POP" and None not in tracks
    history = py_lake.rows("SELECT track_id, duration_sec, __START_AT, __END_AT FROM tracks_history "
                           "WHERE track_id = 1 ORDER BY __START_AT")
    assert history == [
        {"track_id": 1, "duration_sec": 120, "__START_AT": 1, "__END_AT": 2},
        {"track_id": 1, "duration_sec": 400, "__START_AT": 2, "__END_AT": None},
    ]


def test_side_effect_in_python_definition_fails_dry_run(tmp_path: Path) -> None:
    from soundlake.project.pipeline_ops import dry_run

    lake = Lakehouse(tmp_path / "p")
    lake.config(libraries=["pipelines/*.py"])
    (lake.root / "pipelines" / "bad.py").write_text(textwrap.dedent("""
        from soundlake import pipelines as dp

        @dp.materialized_view
        def totals():
            df = spark.read.table("silver.src")
            rows = df.collect()
            return df
    """), encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"pipelines/bad\.py:7: DataFrame\.collect\(\) in a dataset function"):
        dry_run(lake.project)


SEED_SILVER = '''
from soundlake import pipelines as dp
from pyspark.sql.functions import *
from pyspark.sql.types import *


@dp.table(name="silver.dimuser")
def dimuser():
    df_user = spark.readStream.format("cloudFiles") \\
        .option("cloudFiles.format", "parquet") \\
        .option("cloudFiles.schemaLocation", "/ignored/checkpoint") \\
        .option("schemaEvolutionMode", "addNewColumns") \\
        .load(spark.conf.get("data") + "/DimUser")
    df_user = df_user.withColumn("user_name", upper(col("user_name")))
    df_user = df_user.withColumn("plan_rank", when(col("subscription_type") == "Free", lit(0))
                                 .when(col("subscription_type") == "Premium", lit(1)).otherwise(lit(2)))
    df_user = df_user.withColumn("country", regexp_replace(col("country"), "-", " "))
    df_user = df_user.drop("_rescued_data")
    return df_user.dropDuplicates(["user_id"])
'''

SEED_GOLD = '''
from soundlake import pipelines as dp

expectations = {"rule_1": "user_id IS NOT NULL"}


@dp.table
@dp.expect_all_or_drop(expectations)
def dimuser_stg():
    df = spark.readStream.table("main.silver.dimuser")
    return df


dp.create_streaming_table(name="dimuser", expect_all_or_drop=expectations)
dp.create_auto_cdc_flow(
    target="dimuser",
    source="dimuser_stg",
    keys=["user_id"],
    sequence_by="updated_at",
    stored_as_scd_type=2,
    track_history_except_column_list=None,
    name=None,
    once=False,
)
'''


def test_seed_notebook_style_runs_unchanged_except_the_import(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "seed")
    lake.config(libraries=["pipelines/*.py"], schema="gold")
    (lake.root / "pipelines" / "silver.py").write_text(SEED_SILVER, encoding="utf-8")
    (lake.root / "pipelines" / "gold.py").write_text(SEED_GOLD, encoding="utf-8")
    lake.parquet("DimUser", "u1.parquet", [
        {"user_id": 1, "user_name": "ana", "country": "New-Zealand", "subscription_type": "Free", "updated_at": 1},
        {"user_id": 2, "user_name": "bo", "country": "Chile", "subscription_type": "Family", "updated_at": 1},
        {"user_id": None, "user_name": "x", "country": "Chile", "subscription_type": "Free", "updated_at": 1},
    ])
    assert lake.run().ok
    lake.parquet("DimUser", "u2.parquet", [
        {"user_id": 1, "user_name": "ana", "country": "New-Zealand", "subscription_type": "Premium", "updated_at": 2},
    ])
    result = lake.run()
    assert result.ok, result.errors
    silver = lake.rows("SELECT user_id, user_name, country, plan_rank FROM silver.dimuser "
                       "WHERE user_id = 1 ORDER BY plan_rank")
    assert silver == [{"user_id": 1, "user_name": "ANA", "country": "New Zealand", "plan_rank": 0},
                      {"user_id": 1, "user_name": "ANA", "country": "New Zealand", "plan_rank": 1}]
    gold = lake.rows("SELECT user_id, subscription_type, __START_AT, __END_AT FROM dimuser ORDER BY user_id, __START_AT")
    assert gold == [
        {"user_id": 1, "subscription_type": "Free", "__START_AT": 1, "__END_AT": 2},
        {"user_id": 1, "subscription_type": "Premium", "__START_AT": 2, "__END_AT": None},
        {"user_id": 2, "subscription_type": "Family", "__START_AT": 1, "__END_AT": None},
    ]


def test_loading_a_python_file_never_changes_sys_path_in_place(tmp_path: Path) -> None:
    """Another thread may iterate sys.path (the engine imports while the graph loads).

    An in-place removal shifts the list under its iterator, which then skips an entry
    (site-packages: importlib.metadata found no 'duckdb'), so the list is replaced instead.
    """
    import sys

    from soundlake.pipeline.python.loader import _environment

    before = sys.path
    snapshot = list(before)
    with _environment(tmp_path / "defs.py", None):
        assert sys.path[0] == str(tmp_path)
        assert before == snapshot
    assert before == snapshot
    assert sys.path == snapshot
