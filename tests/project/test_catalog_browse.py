"""Browsing the catalog: ``soundlake catalog``, ``soundlake describe`` and SHOW / DESCRIBE in
``soundlake query``, on a small pipeline with every kind of table (streaming table,
materialized view, temporary view, quarantine table, private table, external table), run
once so the Delta logs exist."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from soundlake.core.errors import SoundlakeError
from soundlake.lake import delta
from soundlake.project.catalog_ops import catalog_entries, describe_table
from tests.cli import soundlake
from tests.pipeline.conftest import Lakehouse

PIPELINE = """
CREATE OR REFRESH STREAMING TABLE plays (
  id BIGINT COMMENT 'the play',
  user_id BIGINT,
  CONSTRAINT known_user EXPECT (user_id IS NOT NULL) ON VIOLATION QUARANTINE
) COMMENT 'plays of known users' TBLPROPERTIES ('quality' = 'silver') CLUSTER BY (user_id)
AS SELECT id, user_id FROM STREAM read_files('${data}/in', format => 'parquet');
CREATE PRIVATE MATERIALIZED VIEW hidden AS SELECT count(*) AS n FROM plays;
CREATE TEMPORARY VIEW known AS SELECT * FROM plays WHERE user_id > 0;
CREATE OR REFRESH MATERIALIZED VIEW per_user AS SELECT user_id, count(*) AS n FROM known GROUP BY user_id;
"""


@pytest.fixture()
def lake(tmp_path: Path) -> Lakehouse:
    lake = Lakehouse(tmp_path / "p")
    lake.sql(PIPELINE)
    lake.parquet("in", "a.parquet", [{"id": 1, "user_id": 1}, {"id": 2, "user_id": None}, {"id": 3, "user_id": 1}])
    delta.write_table(str(lake.root / "lake" / "main" / "gold" / "ext"), pa.table({"x": [1]}).to_reader(), mode="overwrite")
    assert lake.run().ok
    return lake


def test_the_catalog_lists_every_kind_of_table(lake: Lakehouse) -> None:
    kinds = {e.name: e.kind for e in catalog_entries(lake.project)}
    assert kinds == {
        "main.silver.plays": "streaming table",
        "main.silver.plays_quarantine": "quarantine",
        "main.silver.known": "view",
        "main.silver.per_user": "materialized view",
        "main.gold.ext": "table",
        "main.silver.event_log_t": "event log",
    }  # the private view is not in the catalog
    assert [e.name for e in catalog_entries(lake.project, "gold.*")] == ["main.gold.ext"]
    assert [e.name for e in catalog_entries(lake.project, "*_quarantine")] == ["main.silver.plays_quarantine"]


def test_describe_gives_definition_delta_facts_and_lineage(lake: Lakehouse) -> None:
    info = describe_table(lake.project, "plays")
    assert (info.name, info.kind, info.comment) == ("main.silver.plays", "streaming table", "plays of known users")
    assert [(c.name, c.data_type, c.comment) for c in info.columns] == [("id", "bigint", "the play"), ("user_id", "bigint", None)]
    assert info.expectations == [{"name": "known_user", "condition": "user_id IS NOT NULL", "action": "quarantine"}]
    assert info.properties["quality"] == "silver" and info.clustered_by == ["user_id"]
    assert (info.rows, info.files, info.version) == (2, 1, 0)
    assert info.last_update["flow"] == "main.silver.plays" and info.last_update["pipeline"] == "t"
    assert info.written_by == ["main.silver.plays"]
    assert sorted(info.read_by) == ["main.silver.hidden", "main.silver.known"]
    assert describe_table(lake.project, "silver.plays_quarantine").rows == 1
    with pytest.raises(SoundlakeError, match="no table named 'hidden' in the catalog"):
        describe_table(lake.project, "hidden")


def test_show_and_describe_statements_in_query(lake: Lakehouse) -> None:
    assert lake.rows("SHOW CATALOGS") == [{"catalog": "main"}]
    assert lake.rows("SHOW SCHEMAS IN main") == [{"databaseName": "gold"}, {"databaseName": "silver"}]
    tables = lake.rows("SHOW TABLES")
    assert {r["tableName"]: r["isTemporary"] for r in tables} == {
        "event_log_t": False, "known": True, "per_user": False, "plays": False, "plays_quarantine": False,
    }
    assert lake.rows("describe plays") == [
        {"col_name": "id", "data_type": "bigint", "comment": "the play"},
        {"col_name": "user_id", "data_type": "bigint", "comment": None},
    ]
    extended = {r["col_name"]: r["data_type"] for r in lake.rows("DESCRIBE TABLE EXTENDED main.silver.plays")}
    assert extended["Type"] == "STREAMING TABLE" and extended["Provider"] == "delta"
    assert {"key": "quality", "value": "silver"} in lake.rows("SHOW TBLPROPERTIES plays")
    history = lake.rows("DESCRIBE HISTORY plays")
    assert [(h["version"], h["flow"]) for h in history] == [(0, "main.silver.plays")]


def test_the_cli_prints_the_tree_and_json(lake: Lakehouse) -> None:
    out = soundlake("catalog", project=lake.root)
    assert out.returncode == 0, out.stderr
    assert "plays_quarantine  (quarantine)" in out.stdout and "per_user  (materialized view)" in out.stdout
    out = soundlake("describe", "plays", "--format", "json", project=lake.root)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["columns"][0] == {"name": "id", "data_type": "bigint", "nullable": True, "comment": "the play"}
    out = soundlake("describe", "nope", project=lake.root)
    assert out.returncode == 2 and "no table named 'nope'" in out.stderr and "Traceback" not in out.stderr


def test_restore_an_external_table_and_time_travel_to_it(lake: Lakehouse) -> None:
    from soundlake.project.catalog_ops import restore_table

    ext = str(lake.root / "lake" / "main" / "gold" / "ext")
    delta.write_table(ext, pa.table({"x": [2]}).to_reader(), mode="append")
    assert lake.rows("SELECT x FROM gold.ext ORDER BY x") == [{"x": 1}, {"x": 2}]
    done = restore_table(lake.project, "gold.ext", version=0)
    assert (done.restored_version, done.new_version, done.consequence) == (0, 2, "")
    assert lake.rows("SELECT x FROM gold.ext") == [{"x": 1}]
    assert lake.rows("SELECT x FROM gold.ext@v1 ORDER BY x") == [{"x": 1}, {"x": 2}]  # history stays


def test_restoring_a_pipeline_table_needs_force_and_the_next_update_is_still_correct(lake: Lakehouse) -> None:
    from soundlake.pipeline.integrity import StateMismatchError
    from soundlake.project.catalog_ops import restore_table

    lake.parquet("in", "b.parquet", [{"id": 4, "user_id": 2}])
    assert lake.run().ok
    assert lake.rows("SELECT count(*) AS n FROM plays") == [{"n": 3}]
    with pytest.raises(SoundlakeError, match=r"main\.silver\.plays is a streaming table written by pipeline 't'.*"
                       r"add --force"):
        restore_table(lake.project, "plays", version=0)
    done = restore_table(lake.project, "plays", version=0, force=True)
    assert "soundlake run --full-refresh main.silver.plays" in done.consequence
    assert lake.rows("SELECT count(*) AS n FROM plays") == [{"n": 2}]
    with pytest.raises(StateMismatchError, match=r"table main\.silver\.plays was restored \(RESTORE at version"):
        lake.run()  # it would never write row 4 again: refused before anything is written
    assert lake.run(full_refresh=["plays"]).ok
    assert lake.rows("SELECT count(*) AS n FROM plays") == [{"n": 3}]
    # a materialized view is recomputed by the next update
    before = lake.rows("SELECT * FROM per_user ORDER BY user_id")
    restore_table(lake.project, "per_user", version=0, force=True)
    assert lake.run().ok
    assert lake.rows("SELECT * FROM per_user ORDER BY user_id") == before


def test_restore_on_the_cli(lake: Lakehouse) -> None:
    lake.parquet("in", "b.parquet", [{"id": 4, "user_id": 2}])
    assert lake.run().ok
    out = soundlake("restore", "plays", "--version", "0", project=lake.root)
    assert out.returncode == 2 and "add --force" in out.stderr and "Traceback" not in out.stderr
    out = soundlake("restore", "known", "--version", "0", project=lake.root)
    assert out.returncode == 2 and "main.silver.known is a view: only Delta tables can be restored" in out.stderr
    out = soundlake("restore", "gold.ext", "--version", "7", project=lake.root)
    assert out.returncode != 0 and "available versions are 0 to 0" in out.stderr
    out = soundlake("restore", "gold.ext", "--version", "0", project=lake.root)
    assert out.returncode == 0 and "nothing to restore: main.gold.ext is at version 0" in out.stdout, out.stderr
    delta.write_table(str(lake.root / "lake" / "main" / "gold" / "ext"), pa.table({"x": [2]}).to_reader(), mode="append")
    out = soundlake("restore", "gold.ext", "--version", "0", project=lake.root)
    assert out.returncode == 0 and "restored main.gold.ext to version 0 (new version 2" in out.stdout, out.stderr
