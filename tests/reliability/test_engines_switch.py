"""Issue #12, item 7: switching engines between updates keeps every table exact.

One pipeline (files -> streaming table -> AUTO CDC SCD1 and SCD2, and a materialized
view) gets three incremental batches, its updates alternating DuckDB and Spark; a second
copy runs every update on DuckDB. The tables must be equal row for row. Before the fix,
the DuckDB update after a Spark one failed every AUTO CDC flow (``Referenced column
"__commit" not found``): the CDC state files Spark appended were read without union by
name.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.conftest import Lakehouse

pytestmark = [pytest.mark.spark, pytest.mark.slow]

PIPELINE = """
CREATE OR REFRESH STREAMING TABLE raw
AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');

CREATE OR REFRESH STREAMING TABLE users_scd1;
CREATE FLOW scd1 AS AUTO CDC INTO users_scd1 FROM STREAM(raw) KEYS (id)
  SEQUENCE BY seq COLUMNS * EXCEPT (seq, _rescued_data) STORED AS SCD TYPE 1;

CREATE OR REFRESH STREAMING TABLE users_scd2;
CREATE FLOW scd2 AS AUTO CDC INTO users_scd2 FROM STREAM(raw) KEYS (id)
  SEQUENCE BY seq COLUMNS * EXCEPT (seq, _rescued_data) STORED AS SCD TYPE 2;

CREATE OR REFRESH MATERIALIZED VIEW total AS SELECT count(*) AS n, sum(v) AS s FROM raw;
"""
ENGINES = ["duckdb", "spark", "duckdb"]  # both directions: DuckDB state read by Spark, and back


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local Spark session with Delta for this module (the Spark engine reuses it)."""
    missing = [m for m in ("pyspark", "delta") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: pip install -e '.[spark]'")
    from soundlake.engines.spark.session import spark_session

    small = {
        "spark.sql.shuffle.partitions": "1",
        "spark.default.parallelism": "2",
        "spark.databricks.delta.snapshotPartitions": "1",
    }
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = spark_session("local[2]", small, app_name="soundlake-switch", warehouse_dir=str(warehouse))
    yield session
    session.stop()


def _batch(lh: Lakehouse, n: int) -> None:
    """Batch n: key 1 changes, key 2 changes every other batch, a new key 10 + n."""
    rows = [{"id": 1, "v": n, "seq": n}, {"id": 10 + n, "v": n, "seq": n}]
    if n % 2:
        rows.append({"id": 2, "v": 100 + n, "seq": n})
    lh.parquet("in", f"{n:03d}.parquet", rows)


def _tables(lh: Lakehouse) -> dict[str, Any]:
    return {
        "raw": lh.rows("SELECT id, v, seq FROM raw ORDER BY id, seq"),
        "scd1": lh.rows("SELECT id, v FROM users_scd1 ORDER BY id"),
        "scd2": lh.rows(
            "SELECT id, v, __START_AT AS s, __END_AT AS e FROM users_scd2 ORDER BY id, __START_AT"
        ),
        "total": lh.rows("SELECT n, CAST(s AS BIGINT) AS s FROM total"),
    }


def test_engines_switch_alternating_duckdb_and_spark_equals_one_engine(spark: Any, tmp_path: Path) -> None:
    """Item 7: tables and CDC state written by one engine are read by the other, batch by batch."""
    mixed, single = Lakehouse(tmp_path / "mixed"), Lakehouse(tmp_path / "single")
    for lh in (mixed, single):
        lh.sql(PIPELINE)
    for n, engine in enumerate(ENGINES, start=1):
        for lh, eng in ((mixed, engine), (single, "duckdb")):
            _batch(lh, n)
            result = lh.run(engine=eng)
            assert result.ok, (n, eng, result.errors)
        assert _tables(mixed) == _tables(single), f"after batch {n} ({engine})"
    final = _tables(single)
    assert len(final["raw"]) == 8
    assert [r["id"] for r in final["scd1"]] == [1, 2, 11, 12, 13]
    assert sum(1 for r in final["scd2"] if r["e"] is None) == 5  # one open version per key
