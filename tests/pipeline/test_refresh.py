"""Selective refresh, full refresh (with pipelines.reset.allowed), downstream skipping."""

from __future__ import annotations

import pytest

from soundlake.core.errors import GraphError
from tests.pipeline.conftest import Lakehouse, statuses

PIPELINE = """
CREATE OR REFRESH STREAMING TABLE raw
AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');

CREATE OR REFRESH STREAMING TABLE kept TBLPROPERTIES ('pipelines.reset.allowed' = 'false')
AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');

CREATE OR REFRESH MATERIALIZED VIEW total AS SELECT sum(v) AS s FROM raw;

CREATE OR REFRESH STREAMING TABLE other
AS SELECT * FROM STREAM read_files('${data}/other', format => 'parquet');
"""


@pytest.fixture()
def lh(lakehouse: Lakehouse) -> Lakehouse:
    lakehouse.sql(PIPELINE)
    lakehouse.parquet("in", "1.parquet", [{"v": 1}])
    lakehouse.parquet("other", "1.parquet", [{"v": 100}])
    assert lakehouse.run().ok
    return lakehouse


def test_selective_refresh_excludes_the_rest(lh: Lakehouse) -> None:
    lh.parquet("in", "2.parquet", [{"v": 2}])
    result = lh.run(refresh=["other"])
    assert statuses(result) == {"raw": "EXCLUDED", "kept": "EXCLUDED", "total": "EXCLUDED", "other": "IDLE"}
    assert lh.rows("SELECT count(*) AS n FROM raw") == [{"n": 1}]
    result = lh.run(refresh=["raw", "total"])
    assert statuses(result)["raw"] == "COMPLETED"
    assert lh.rows("SELECT s FROM total") == [{"s": 3}]


def test_full_refresh_truncates_and_reprocesses(lh: Lakehouse) -> None:
    from deltalake import DeltaTable

    # Damage the table: a full refresh rebuilds it from all input.
    DeltaTable(lh.project.lake.uri("main", "silver", "raw")).delete()
    lh.parquet("in", "2.parquet", [{"v": 2}])
    result = lh.run(full_refresh=["raw", "total"])
    assert result.ok, result.errors
    assert lh.rows("SELECT v FROM raw ORDER BY v") == [{"v": 1}, {"v": 2}]
    assert lh.rows("SELECT s FROM total") == [{"s": 3}]
    assert statuses(result)["kept"] == "EXCLUDED"
    # a normal refresh afterwards finds nothing new
    assert lh.run().flows["main.silver.raw"].status == "IDLE"


def test_full_refresh_all_respects_reset_allowed_false(lh: Lakehouse) -> None:
    lh.parquet("in", "2.parquet", [{"v": 2}])
    result = lh.run(full_refresh_all=True)
    assert result.ok, result.errors
    assert lh.rows("SELECT count(*) AS n FROM raw") == [{"n": 2}]
    # 'kept' was not reset: it only appended the new file
    assert lh.rows("SELECT v FROM kept ORDER BY v") == [{"v": 1}, {"v": 2}]
    from soundlake.project.pipeline_ops import history

    operations = [c["operation"] for c in history(lh.project, "kept")]
    assert "DELETE" not in operations
    warnings = [e for e in lh.events(result.run_id) if e["level"] == "WARN"]
    assert any("reset.allowed" in e["message"] for e in warnings)


def test_full_refresh_of_a_protected_table_is_an_error(lh: Lakehouse) -> None:
    with pytest.raises(GraphError, match="reset.allowed"):
        lh.run(full_refresh=["kept"])


def test_unknown_selection_is_an_error(lh: Lakehouse) -> None:
    with pytest.raises(GraphError, match="no dataset named 'nope'"):
        lh.run(refresh=["nope"])


def test_failed_flow_skips_downstream_and_others_complete(lh: Lakehouse) -> None:
    lh.text("in", "2.parquet", "garbage")
    lh.parquet("other", "2.parquet", [{"v": 200}])
    result = lh.run()
    assert not result.ok
    got = statuses(result)
    assert got["raw"] == "FAILED" and got["total"] == "SKIPPED"
    assert got["other"] == "COMPLETED"
    assert lh.rows("SELECT count(*) AS n FROM other") == [{"n": 2}]
    skipped = lh.progress(result.run_id, "main.silver.total")
    assert skipped["status"] == "SKIPPED"
