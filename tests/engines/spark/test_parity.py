"""Parity: one small pipeline run on the DuckDB engine and on the Spark engine.

The pipeline reads Parquet files (Auto Loader), validates them with warn / drop /
quarantine expectations, aggregates them in a materialized view and applies AUTO CDC
(SCD1 and SCD2) over two updates. Every table must be equal row for row, and the event
log's flow metrics (rows written, upserted, deleted, expectation counts) must agree.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.engines.cdc_reference import canonical
from tests.pipeline.conftest import Lakehouse

pytestmark = pytest.mark.spark

deltalake = pytest.importorskip("deltalake")

PIPELINE = """
CREATE OR REFRESH STREAMING TABLE plays (
  CONSTRAINT id_not_null EXPECT (play_id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT positive EXPECT (seconds > 0) ON VIOLATION QUARANTINE,
  CONSTRAINT known_device EXPECT (device IN ('mobile', 'web'))
)
AS SELECT play_id, user_id, seconds, upper(device) AS device_uc, device
FROM STREAM read_files('${data}/plays', format => 'parquet');

-- count(DISTINCT) keeps this view on the full-recompute path ...
CREATE OR REFRESH MATERIALIZED VIEW plays_per_user
AS SELECT user_id, count(*) AS plays, sum(seconds) AS seconds, count(DISTINCT device) AS devices
FROM plays GROUP BY user_id;

-- ... and this one is maintained incrementally from stored partial aggregates.
CREATE OR REFRESH MATERIALIZED VIEW seconds_per_device
AS SELECT device, count(*) AS plays, sum(seconds) AS seconds, max(seconds) AS longest
FROM plays GROUP BY device;

CREATE OR REFRESH STREAMING TABLE users_cdc
AS SELECT * FROM STREAM read_files('${data}/cdc', format => 'parquet');

CREATE OR REFRESH STREAMING TABLE users_scd1;
CREATE FLOW scd1 AS AUTO CDC INTO users_scd1 FROM STREAM(users_cdc) KEYS (userId)
  APPLY AS DELETE WHEN operation = 'DELETE' SEQUENCE BY sequenceNum
  COLUMNS * EXCEPT (operation, sequenceNum, _rescued_data) STORED AS SCD TYPE 1;

CREATE OR REFRESH STREAMING TABLE users_scd2;
CREATE FLOW scd2 AS AUTO CDC INTO users_scd2 FROM STREAM(users_cdc) KEYS (userId)
  APPLY AS DELETE WHEN operation = 'DELETE' SEQUENCE BY sequenceNum
  COLUMNS * EXCEPT (operation, sequenceNum, _rescued_data) STORED AS SCD TYPE 2;

-- Column names in another case: Spark resolves them case-insensitively (the target has
-- users_scd2's columns, spelled as in the events).
CREATE OR REFRESH STREAMING TABLE users_scd2_case;
CREATE FLOW scd2_case AS AUTO CDC INTO users_scd2_case FROM STREAM(users_cdc) KEYS (USERID)
  APPLY AS DELETE WHEN Operation = 'DELETE' SEQUENCE BY SequenceNum
  COLUMNS * EXCEPT (OPERATION, sequencenum, _Rescued_Data) STORED AS SCD TYPE 2 TRACK HISTORY ON * EXCEPT (NAME);
"""
CDC_COLUMNS = ("userId", "name", "city", "operation", "sequenceNum")
CDC_EVENTS = [
    (124, "Raul", "Oaxaca", "INSERT", 1),
    (123, "Isabel", "Monterrey", "INSERT", 1),
    (125, "Mercedes", "Tijuana", "INSERT", 2),
    (126, "Lily", "Cancun", "INSERT", 2),
    (123, None, None, "DELETE", 6),
    (125, "Mercedes", "Guadalajara", "UPDATE", 6),
    (125, "Mercedes", "Mexicali", "UPDATE", 5),
    (123, "Isabel", "Chihuahua", "UPDATE", 5),
]
PLAYS = [
    {"play_id": i, "user_id": i % 3, "seconds": (i * 7) % 11 - 2, "device": ["mobile", "web", "tv"][i % 3]}
    for i in range(30)
] + [{"play_id": None, "user_id": 1, "seconds": 5, "device": "web"}]
TABLES = ("plays", "plays_quarantine", "plays_per_user", "seconds_per_device", "users_cdc", "users_scd1", "users_scd2",
          "users_scd2_case")
# Run ids differ between the two runs; times and file paths too (dropped by type/name below).
IGNORED_COLUMNS = {"_quarantine_run", "_quarantine_run_id", "_run_id"}


def build(root: Path) -> Lakehouse:
    lake = Lakehouse(root)
    lake.sql(PIPELINE)
    return lake


def land(lake: Lakehouse, batch: int) -> None:
    cdc = [dict(zip(CDC_COLUMNS, e)) for e in CDC_EVENTS]
    plays = PLAYS[:16] if batch == 1 else PLAYS[16:]
    lake.parquet("plays", f"{batch}.parquet", plays)
    lake.parquet("cdc", f"{batch}.parquet", cdc[:5] if batch == 1 else cdc[5:])


def table_rows(lake: Lakehouse, name: str) -> list[tuple[Any, ...]]:
    path = lake.root / "lake" / "main" / "silver" / name
    rows = deltalake.DeltaTable(str(path)).to_pyarrow_table().to_pylist()
    keep = [
        {k: v for k, v in r.items() if k not in IGNORED_COLUMNS and not isinstance(v, datetime) and "file" not in k}
        for r in rows
    ]
    return canonical(keep)


def flow_metrics(lake: Lakehouse, run_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for event in lake.events(run_id):
        if event["event_type"] == "flow_progress":
            details = json.loads(event["details"])["flow_progress"]
            if details["status"] == "COMPLETED":
                found[event["origin"]["flow_name"]] = {
                    "metrics": details.get("metrics"),
                    "data_quality": details.get("data_quality"),
                }
    return found


def test_duckdb_and_spark_produce_the_same_tables_and_metrics(spark: Any, tmp_path: Path) -> None:
    lakes = {"duckdb": build(tmp_path / "duck"), "spark": build(tmp_path / "spark")}
    metrics: dict[str, list[dict[str, Any]]] = {"duckdb": [], "spark": []}
    for batch in (1, 2):
        for engine, lake in lakes.items():
            land(lake, batch)
            result = lake.run(engine=engine)
            assert result.ok, (engine, result.errors)
            metrics[engine].append(flow_metrics(lake, result.run_id))
    for name in TABLES:
        assert table_rows(lakes["spark"], name) == table_rows(lakes["duckdb"], name), name
    silver = lakes["spark"].root / "lake" / "main" / "silver"
    names = [deltalake.DeltaTable(str(silver / t)).schema().to_arrow().names for t in ("users_scd2", "users_scd2_case")]
    assert names[0] == names[1] and table_rows(lakes["spark"], "users_scd2_case"), names
    assert metrics["spark"] == metrics["duckdb"]
