"""Declared schemas on the Spark engine (the oracle) and on DuckDB: same types, rows and failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.engines.cdc_reference import canonical
from tests.pipeline.conftest import Lakehouse, statuses

pytestmark = pytest.mark.spark

GOOD = """
CREATE OR REFRESH MATERIALIZED VIEW t (
  id INT NOT NULL, d DATE, total DECIMAL(10,2), dbl DOUBLE GENERATED ALWAYS AS (total * 2), small TINYINT
) AS SELECT 12.345 AS total, TIMESTAMP '2024-01-02 10:00:00' AS d, 7 AS small, 1 AS id
"""


def types(lake: Lakehouse) -> list[tuple[str, pa.DataType]]:
    from deltalake import DeltaTable

    schema = pa.schema(DeltaTable(str(lake.root / "lake" / "main" / "silver" / "t")).schema().to_arrow())
    return [(f.name, f.type) for f in schema]


def test_declared_schema_matches_spark(spark: Any, tmp_path: Path) -> None:
    lakes = {engine: Lakehouse(tmp_path / engine) for engine in ("duckdb", "spark")}
    for engine, lake in lakes.items():
        lake.sql(GOOD)
        result = lake.run(engine=engine)
        assert result.ok, (engine, result.errors)
    assert types(lakes["spark"]) == types(lakes["duckdb"]) == [
        ("id", pa.int32()), ("d", pa.date32()), ("total", pa.decimal128(10, 2)), ("dbl", pa.float64()),
        ("small", pa.int8()),
    ]
    assert canonical(lakes["spark"].rows("SELECT * FROM t")) == canonical(lakes["duckdb"].rows("SELECT * FROM t"))


@pytest.mark.parametrize(
    ("definition", "needle"),
    [
        ("(id INT NOT NULL, v INT) AS SELECT * FROM VALUES (1, 2), (NULL, 3) AS x(id, v)", "column 'id' is declared NOT NULL"),
        ("(id INT, v TINYINT) AS SELECT 1 AS id, 300 AS v", "column 'v'"),
        ("(id INT, v DECIMAL(3,1)) AS SELECT 1 AS id, 12345.5 AS v", "column 'v'"),
    ],
)
def test_contract_violations_fail_on_both_engines(spark: Any, tmp_path: Path, definition: str, needle: str) -> None:
    for engine in ("duckdb", "spark"):
        lake = Lakehouse(tmp_path / engine)
        lake.sql(f"CREATE OR REFRESH MATERIALIZED VIEW t {definition}")
        result = lake.run(engine=engine)
        assert statuses(result) == {"t": "FAILED"}, engine
        message = " ".join(str(m) for m in result.errors.values())
        assert needle in message or "CAST_OVERFLOW" in message or "NUMERIC_VALUE_OUT_OF_RANGE" in message, (engine, message)
