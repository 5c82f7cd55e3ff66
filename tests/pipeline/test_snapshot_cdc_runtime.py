"""AUTO CDC FROM SNAPSHOT with a table source, wired through the runtime (one snapshot per run)."""

from __future__ import annotations

import json

import pytest

from tests.pipeline.conftest import Lakehouse

PY = '''
from pyspark import pipelines as dp

dp.create_streaming_table("dim")
dp.create_auto_cdc_from_snapshot_flow(target="dim", source="snap", keys=["{key}"], stored_as_scd_type=2)
'''


@pytest.mark.parametrize("key", ["id", "ID"])  # names resolve case-insensitively, as in Spark
def test_periodic_snapshots_become_scd2_history(lakehouse: Lakehouse, key: str) -> None:
    pytest.importorskip("soundlake.pipeline.python")
    base = {"name": "t", "catalog": "main", "schema": "silver", "storage": "lake",
            "libraries": ["pipelines/*.sql", "pipelines/*.py"], "configuration": {"data": "data"}}
    (lakehouse.root / "soundlake.yml").write_text(json.dumps(base))
    lakehouse.sql("CREATE OR REFRESH MATERIALIZED VIEW snap AS SELECT * FROM read_files('${data}/snap', format => 'parquet');")
    (lakehouse.root / "pipelines" / "dim.py").write_text(PY.replace("{key}", key))
    lakehouse.parquet("snap", "s.parquet", [{"id": 1, "plan": "free"}, {"id": 2, "plan": "free"}])
    result = lakehouse.run()
    assert result.ok, result.errors
    assert lakehouse.run().flows["main.silver.dim"].status == "IDLE"
    (lakehouse.root / "data" / "snap" / "s.parquet").unlink()
    lakehouse.parquet("snap", "s2.parquet", [{"id": 1, "plan": "premium"}])
    result = lakehouse.run()
    assert result.ok, result.errors
    rows = lakehouse.rows("SELECT id, plan, __END_AT IS NULL AS open FROM dim ORDER BY id, __START_AT")
    assert rows == [
        {"id": 1, "plan": "free", "open": False},
        {"id": 1, "plan": "premium", "open": True},
        {"id": 2, "plan": "free", "open": False},
    ]
