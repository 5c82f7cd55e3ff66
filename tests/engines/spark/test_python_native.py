"""Python dataset functions run on the real SparkSession on the Spark engine.

The same pipeline file loads everywhere (soundlake's local PySpark API gives the graph
and the DuckDB engine's SQL); on Spark each function runs again with the engine's
session, its ``pyspark`` imports being the real modules, and returns a real pyspark
DataFrame. Tables must equal the DuckDB engine's.
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

SQL = """
CREATE OR REFRESH STREAMING TABLE plays
AS SELECT * FROM STREAM read_files('${data}/plays', format => 'parquet');
"""

PYTHON = '''
from pyspark import pipelines as dp
from pyspark.sql import functions as F

import seen_by_functions as seen


@dp.table(comment="long plays, streamed from plays")
@dp.expect_or_drop("long", "seconds > 2")
def long_plays():
    plays = spark.readStream.table("plays")
    seen.TYPES.append(type(plays).__module__)
    return plays.withColumn("minutes", F.col("seconds") / 60).select("id", "user_id", "seconds", "minutes")


@dp.materialized_view(name="per_user")
def per_user():
    rows = dp.read("long_plays")
    seen.TYPES.append(type(rows).__module__)
    limit = int(spark.conf.get("limit"))
    return (
        rows.where(F.col("seconds") < limit)
        .groupBy("user_id")
        .agg(F.count("*").alias("plays"), F.sum("seconds").alias("seconds"))
    )
'''


def build(root: Path) -> Lakehouse:
    lake = Lakehouse(root)
    lake.config(libraries=["pipelines/*.sql", "pipelines/*.py"], configuration={"data": "data", "limit": "100"})
    lake.sql(SQL)
    (root / "pipelines" / "functions.py").write_text(textwrap.dedent(PYTHON), encoding="utf-8")
    (root / "pipelines" / "seen_by_functions.py").write_text("TYPES = []\n", encoding="utf-8")
    return lake


def test_python_functions_get_the_engine_session_and_match_duckdb(spark: Any, tmp_path: Path) -> None:
    lakes = {"duckdb": build(tmp_path / "duck"), "spark": build(tmp_path / "spark")}
    for batch in (1, 2):
        for engine, lake in lakes.items():
            rows = [{"id": batch * 10 + i, "user_id": i % 2, "seconds": i * 3} for i in range(5)]
            lake.parquet("plays", f"{batch}.parquet", rows)
            sys.modules.pop("seen_by_functions", None)
            result = lake.run(engine=engine)
            assert result.ok, (engine, result.errors)
            seen = sys.modules["seen_by_functions"].TYPES
            if engine == "spark":
                # loaded with the local API (the graph), then both functions ran on Spark
                assert sum(t.startswith("pyspark.") for t in seen) == 2, seen
            else:
                assert not any(t.startswith("pyspark.") for t in seen), seen
    for name in ("long_plays", "per_user"):
        got = canonical(lakes["spark"].rows(f"SELECT * FROM {name}"))
        assert got == canonical(lakes["duckdb"].rows(f"SELECT * FROM {name}")), name
    assert len(lakes["spark"].rows("SELECT * FROM long_plays")) == 8
