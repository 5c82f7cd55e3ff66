"""One local SparkSession with Delta for every Spark test (it takes ~10 s to start)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local[2] SparkSession with Delta Lake (skips when the spark extra is absent)."""
    pytest.importorskip("pyspark", reason="pip install -e '.[spark]' to run Spark tests")
    pytest.importorskip("delta", reason="pip install -e '.[spark]' to run Spark tests")
    from soundlake.engines.spark.session import spark_session

    warehouse: Path = tmp_path_factory.mktemp("spark-warehouse")
    small = {
        "spark.sql.shuffle.partitions": "1",
        "spark.default.parallelism": "2",
        "spark.databricks.delta.snapshotPartitions": "1",
    }
    session = spark_session("local[2]", small, app_name="soundlake-tests", warehouse_dir=str(warehouse))
    yield session
    session.stop()
