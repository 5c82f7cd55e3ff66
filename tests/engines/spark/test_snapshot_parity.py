"""AUTO CDC FROM SNAPSHOT on Spark equals the DuckDB engine (SCD1 and SCD2).

Three full snapshots (inserts; an update, a delete and an unchanged row; a re-insert of
the deleted key plus a row whose value becomes NULL) are applied on both engines, plus
a fourth update with an unchanged source (IDLE). Snapshot versions are the update's
start time, which differs between the two runs, so SCD2 intervals are compared by the
index of the update that opened and closed them.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.engines.cdc_reference import canonical
from tests.pipeline.conftest import Lakehouse

pytestmark = pytest.mark.spark

SQL = """
CREATE OR REFRESH MATERIALIZED VIEW snap AS SELECT * FROM read_files('${data}/snap', format => 'parquet');
"""
PYTHON = """
from soundlake import pipelines as dp

dp.create_streaming_table("users_scd1")
dp.create_auto_cdc_from_snapshot_flow(target="users_scd1", source="snap", keys=["id"], stored_as_scd_type=1)
dp.create_streaming_table("users_scd2")
dp.create_auto_cdc_from_snapshot_flow(target="users_scd2", source="snap", keys=["id"], stored_as_scd_type=2,
                                      name="scd2")
"""
SNAPSHOTS = [
    [{"id": 1, "city": "Oslo"}, {"id": 2, "city": "Rome"}, {"id": 3, "city": "Lima"}],
    [{"id": 1, "city": "Oslo"}, {"id": 2, "city": "Nice"}, {"id": 4, "city": "Kyiv"}],
    [{"id": 1, "city": None}, {"id": 2, "city": "Nice"}, {"id": 3, "city": "Lima"}, {"id": 4, "city": "Kyiv"}],
]


def build(root: Path) -> Lakehouse:
    lake = Lakehouse(root)
    lake.config(libraries=["pipelines/*.sql", "pipelines/*.py"])
    lake.sql(SQL)
    (root / "pipelines" / "snap.py").write_text(textwrap.dedent(PYTHON), encoding="utf-8")
    return lake


def scd2(lake: Lakehouse) -> list[tuple[Any, ...]]:
    """Rows with each version replaced by its rank (every update here changed something)."""
    rows = lake.rows("SELECT * FROM users_scd2")
    versions = sorted({r[c] for r in rows for c in ("__START_AT", "__END_AT") if r[c] is not None})
    index = {v: i for i, v in enumerate(versions)}
    for r in rows:
        r["__START_AT"] = index[r["__START_AT"]]
        r["__END_AT"] = None if r["__END_AT"] is None else index[r["__END_AT"]]
    return canonical(rows)


def progress(lake: Lakehouse, run_id: str) -> dict[str, Any]:
    out = {}
    for flow in ("main.silver.users_scd1", "scd2"):
        details = lake.progress(run_id, flow)
        out[flow] = (details.get("status"), details.get("metrics"))
    return out


def test_snapshot_cdc_on_spark_equals_duckdb(spark: Any, tmp_path: Path) -> None:
    lakes = {"duckdb": build(tmp_path / "duck"), "spark": build(tmp_path / "spark")}
    for update, snapshot in enumerate([*SNAPSHOTS, SNAPSHOTS[-1]]):
        seen = {}
        for engine, lake in lakes.items():
            if update < len(SNAPSHOTS):
                lake.parquet("snap", "current.parquet", snapshot)
            result = lake.run(engine=engine)
            assert result.ok, (engine, update, result.errors)
            seen[engine] = progress(lake, result.run_id)
        assert seen["spark"] == seen["duckdb"], update
    assert seen["spark"]["scd2"][0] == "IDLE"
    one = {engine: canonical(lake.rows("SELECT * FROM users_scd1")) for engine, lake in lakes.items()}
    assert one["spark"] == one["duckdb"]
    assert len(one["spark"]) == 4
    two = {engine: scd2(lake) for engine, lake in lakes.items()}
    assert two["spark"] == two["duckdb"]
    assert len(two["spark"]) == 7  # 1: Oslo, None; 2: Rome, Nice; 3: Lima twice; 4: Kyiv
