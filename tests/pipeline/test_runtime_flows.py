"""Streaming tables, materialized views, temporary views and append flows on DuckDB + Delta."""

from __future__ import annotations

import pyarrow as pa

from tests.pipeline.conftest import Lakehouse, statuses

PIPELINE = """
CREATE OR REFRESH STREAMING TABLE raw
AS SELECT * FROM STREAM read_files('${data}/events', format => 'parquet');

CREATE OR REFRESH STREAMING TABLE clean
AS SELECT id, user_id, amount FROM STREAM(raw) WHERE amount IS NOT NULL;

CREATE TEMPORARY VIEW big AS SELECT * FROM clean WHERE amount >= 10;

CREATE OR REFRESH MATERIALIZED VIEW totals
AS SELECT user_id, count(*) AS n, sum(amount) AS total FROM clean GROUP BY user_id;

CREATE OR REFRESH MATERIALIZED VIEW big_users
AS SELECT user_id, count(*) AS n FROM big GROUP BY user_id;
"""


def _setup(lh: Lakehouse) -> None:
    lh.sql(PIPELINE)
    lh.parquet("events", "f1.parquet", [
        {"id": 1, "user_id": "a", "amount": 5},
        {"id": 2, "user_id": "b", "amount": 15},
        {"id": 3, "user_id": "a", "amount": None},
    ])


def test_first_run_builds_every_table(lakehouse: Lakehouse) -> None:
    _setup(lakehouse)
    result = lakehouse.run()
    assert result.ok, result.errors
    assert statuses(result) == {"raw": "COMPLETED", "clean": "COMPLETED", "totals": "COMPLETED", "big_users": "COMPLETED"}
    assert lakehouse.rows("SELECT id FROM clean ORDER BY id") == [{"id": 1}, {"id": 2}]
    assert lakehouse.rows("SELECT user_id, n, total FROM totals ORDER BY user_id") == [
        {"user_id": "a", "n": 1, "total": 5}, {"user_id": "b", "n": 1, "total": 15},
    ]
    assert lakehouse.rows("SELECT * FROM big_users") == [{"user_id": "b", "n": 1}]


def test_second_run_without_new_input_is_a_no_op(lakehouse: Lakehouse) -> None:
    _setup(lakehouse)
    lakehouse.run()
    from soundlake.project.pipeline_ops import history

    before = {t: len(history(lakehouse.project, t)) for t in ("raw", "clean", "totals")}
    result = lakehouse.run()
    assert result.ok
    assert set(statuses(result).values()) == {"IDLE"}
    after = {t: len(history(lakehouse.project, t)) for t in ("raw", "clean", "totals")}
    assert before == after


def test_streaming_tables_process_only_new_files(lakehouse: Lakehouse) -> None:
    _setup(lakehouse)
    lakehouse.run()
    lakehouse.parquet("events", "f2.parquet", [{"id": 4, "user_id": "a", "amount": 20}])
    result = lakehouse.run()
    assert result.flows["main.silver.raw"].num_output_rows == 1
    assert result.flows["main.silver.clean"].num_output_rows == 1
    assert lakehouse.rows("SELECT count(*) AS n FROM raw") == [{"n": 4}]
    assert lakehouse.rows("SELECT total FROM totals WHERE user_id = 'a'") == [{"total": 25}]
    assert lakehouse.rows("SELECT n FROM big_users ORDER BY user_id") == [{"n": 1}, {"n": 1}]


def test_commits_carry_pipeline_run_flow_and_app_transaction(lakehouse: Lakehouse) -> None:
    _setup(lakehouse)
    result = lakehouse.run()
    from soundlake.lake import delta
    from soundlake.project.pipeline_ops import history

    commit = history(lakehouse.project, "clean")[0]
    assert commit["pipeline"] == "t" and commit["run"] == result.run_id
    assert commit["flow"] == "main.silver.clean"
    uri = lakehouse.project.lake.uri("main", "silver", "clean")
    assert delta.transaction_version(uri, "t:main.silver.clean") == 1


def test_append_flows_and_once(lakehouse: Lakehouse) -> None:
    lakehouse.sql("""
    CREATE OR REFRESH STREAMING TABLE a AS SELECT * FROM STREAM read_files('${data}/a', format => 'parquet');
    CREATE OR REFRESH STREAMING TABLE b AS SELECT * FROM STREAM read_files('${data}/b', format => 'parquet');
    CREATE STREAMING TABLE everything;
    CREATE FLOW from_a AS INSERT INTO everything BY NAME SELECT id, 'a' AS src FROM STREAM(a);
    CREATE FLOW from_b AS INSERT INTO everything BY NAME SELECT id, 'b' AS src FROM STREAM(b);
    CREATE FLOW backfill AS INSERT INTO ONCE everything BY NAME SELECT 0 AS id, 'backfill' AS src;
    """)
    lakehouse.parquet("a", "1.parquet", [{"id": 1}])
    lakehouse.parquet("b", "1.parquet", [{"id": 2}])
    result = lakehouse.run()
    assert result.ok, result.errors
    assert lakehouse.rows("SELECT id, src FROM everything ORDER BY id") == [
        {"id": 0, "src": "backfill"}, {"id": 1, "src": "a"}, {"id": 2, "src": "b"},
    ]
    lakehouse.parquet("b", "2.parquet", [{"id": 3}])
    result = lakehouse.run()
    assert statuses(result)["backfill"] == "IDLE"
    assert statuses(result)["from_a"] == "IDLE"
    assert lakehouse.rows("SELECT count(*) AS n FROM everything") == [{"n": 4}]


def test_streaming_source_table_update_fails_unless_skip_change_commits(lakehouse: Lakehouse) -> None:
    _setup(lakehouse)
    lakehouse.run()
    from deltalake import DeltaTable

    DeltaTable(lakehouse.project.lake.uri("main", "silver", "raw")).delete("id = 1")
    lakehouse.parquet("events", "f2.parquet", [{"id": 9, "user_id": "c", "amount": 1}])
    result = lakehouse.run(refresh=["clean"])
    assert not result.ok
    message = result.errors["main.silver.clean"]
    assert "updated or deleted rows" in message and "skipChangeCommits" in message
    lakehouse.sql(PIPELINE.replace(
        "CREATE OR REFRESH STREAMING TABLE clean\n",
        "CREATE OR REFRESH STREAMING TABLE clean TBLPROPERTIES ('skipChangeCommits' = 'true')\n",
    ))
    result = lakehouse.run()
    assert result.ok, result.errors
    assert lakehouse.rows("SELECT id FROM clean ORDER BY id") == [{"id": 1}, {"id": 2}, {"id": 9}]


def test_polars_reads_a_table_soundlake_wrote(lakehouse: Lakehouse) -> None:
    import polars as pl

    _setup(lakehouse)
    lakehouse.run()
    uri = lakehouse.project.lake.uri("main", "silver", "totals")
    frame = pl.read_delta(uri).sort("user_id")
    assert frame["user_id"].to_list() == ["a", "b"]
    assert pl.scan_delta(uri).select(pl.col("n").sum()).collect().item() == 2


def test_an_unknown_column_is_reported_in_the_flows_own_terms(lakehouse: Lakehouse) -> None:
    """Engine errors name the inputs as written and the definition's file, never __sl_ names."""
    lakehouse.sql("""
    CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');
    CREATE OR REFRESH MATERIALIZED VIEW totals AS SELECT sum(nope) AS total FROM raw;
    """)
    lakehouse.parquet("in", "a.parquet", pa.table({"id": [1, 2]}))
    result = lakehouse.run()
    message = result.errors["main.silver.totals"]
    assert "__sl_" not in message, message
    assert "nope" in message and "flow 'main.silver.totals'" in message
    assert "SELECT sum(nope) AS total FROM raw" in message and ".sql:" in message
