"""A pipeline file written for Databricks gives the same tables on Spark as on DuckDB.

``import dlt``, ``SparkSession.builder...getOrCreate()`` / ``active()`` /
``getActiveSession()``, ``from databricks.sdk.runtime import dbutils, spark`` and
``dbutils`` (widgets, fs, the notebook context) in the same file: on the Spark engine its
dataset functions run again on the real session (the real ``pyspark``), where these names
must give the engine's session, routed to the pipeline's inputs.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.engines.cdc_reference import canonical
from tests.pipeline.conftest import Lakehouse

pytestmark = pytest.mark.spark

PYTHON = '''
import dlt
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from databricks.sdk.runtime import dbutils as runtime_dbutils, spark as runtime_spark

import seen_by_databricks as seen

dbutils.widgets.text("min_seconds", "0", "Shortest play")
dbutils.widgets.dropdown("unit", "minutes", ["minutes", "hours"], "Unit")
files = sorted(f.name for f in dbutils.fs.ls(spark.conf.get("data") + "/plays"))
user = dbutils.notebook.entry_point.getDbutils().notebook().getContext().userName().get()

session = SparkSession.builder.appName("plays").getOrCreate()
assert session is spark and SparkSession.builder.getOrCreate() is spark
assert SparkSession.active() is spark and SparkSession.getActiveSession() is spark
assert runtime_spark is spark and runtime_dbutils is dbutils


@dlt.table(comment="plays longer than min_seconds")
@dlt.expect_or_drop("long", "seconds > 2")
def long_plays():
    active = SparkSession.getActiveSession()
    seen.TYPES.append(type(active.read.table("plays")).__module__)
    limit = int(runtime_dbutils.widgets.get("min_seconds"))
    divisor = 60 if dbutils.widgets.get("unit") == "minutes" else 3600
    return (
        SparkSession.active().readStream.table("plays")
        .where(F.col("seconds") >= limit)
        .withColumn("duration", F.col("seconds") / divisor)
        .withColumn("files", F.lit(len(files)))
        .withColumn("known_user", F.lit(len(user) > 0))
        .select("id", "user_id", "seconds", "duration", "files", "known_user")
    )


@dlt.table
def per_user():
    rows = dlt.read("long_plays")
    ids = SparkSession.builder.getOrCreate().range(3).withColumnRenamed("id", "user_id")
    return ids.join(rows, "user_id", "left").groupBy("user_id").agg(F.count("id").alias("plays"))
'''


def build(root: Path) -> Lakehouse:
    lake = Lakehouse(root)
    lake.sql("CREATE OR REFRESH STREAMING TABLE plays AS SELECT * FROM STREAM read_files('${data}/plays', format => 'parquet');")
    lake.config(libraries=["pipelines/*.sql", "pipelines/*.py"], configuration={"data": "data", "min_seconds": "4"})
    (root / "pipelines" / "databricks.py").write_text(textwrap.dedent(PYTHON), encoding="utf-8")
    (root / "pipelines" / "seen_by_databricks.py").write_text("TYPES = []\n", encoding="utf-8")
    return lake


def test_a_databricks_pipeline_file_gives_the_same_tables_on_spark_and_duckdb(spark: Any, tmp_path: Path) -> None:
    lakes = {"duckdb": build(tmp_path / "duck"), "spark": build(tmp_path / "spark")}
    for batch in (1, 2):
        for engine, lake in lakes.items():
            rows = [{"id": batch * 10 + i, "user_id": i % 2, "seconds": i * 3} for i in range(5)]
            lake.parquet("plays", f"{batch}.parquet", rows)
            sys.modules.pop("seen_by_databricks", None)
            result = lake.run(engine=engine)
            assert result.ok, (engine, result.errors)
            seen = sys.modules["seen_by_databricks"].TYPES
            real = [t for t in seen if t.startswith("pyspark.")]
            assert len(real) == (1 if engine == "spark" else 0), (engine, seen)
    for name in ("long_plays", "per_user"):
        got = canonical(lakes["spark"].rows(f"SELECT * FROM {name}"))
        assert got == canonical(lakes["duckdb"].rows(f"SELECT * FROM {name}")), name
    assert {r["files"] for r in lakes["spark"].rows("SELECT files FROM long_plays")} == {1, 2}
    assert len(lakes["spark"].rows("SELECT * FROM long_plays")) == 6
    assert sorted((r["user_id"], r["plays"]) for r in lakes["spark"].rows("SELECT * FROM per_user")) == [
        (0, 4), (1, 2), (2, 0)
    ]
