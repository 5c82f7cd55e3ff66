"""One local SparkSession with Delta for every Spark test (it takes ~10 s to start)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local[2] SparkSession with Delta Lake.

    Skips when the spark extra is absent, except under CI (``CI=true``), where the Spark
    tests must run: there a missing extra is a failure.
    """
    import importlib.util
    import os

    missing = [m for m in ("pyspark", "delta") if importlib.util.find_spec(m) is None]
    if missing:
        message = f"{', '.join(missing)} not installed: pip install -e '.[spark]' to run Spark tests"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI must run the Spark tests)")
        pytest.skip(message)
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
