"""Statement forms at run time: LIVE. names, qualified names, PARTITIONED BY, COMMENT,
TBLPROPERTIES, ${} substitution, legacy cloud_files, and parallel independent flows."""

from __future__ import annotations

from tests.pipeline.conftest import Lakehouse, statuses


def test_live_prefix_partitioning_comment_properties(lakehouse: Lakehouse) -> None:
    lakehouse.sql("""
    CREATE OR REFRESH STREAMING TABLE bronze.events
    COMMENT 'raw events'
    PARTITIONED BY (day)
    TBLPROPERTIES ('delta.appendOnly' = 'true', 'quality' = 'bronze')
    AS SELECT *, CAST(ts AS DATE) AS day FROM STREAM read_files('${data}/in', format => 'parquet');

    CREATE OR REFRESH MATERIALIZED VIEW main.gold.per_day AS
    SELECT day, count(*) AS n FROM LIVE.bronze.events GROUP BY day;

    CREATE OR REFRESH MATERIALIZED VIEW legacy AS
    SELECT count(*) AS n FROM cloud_files('${data}/in', 'parquet');
    """)
    import datetime as dt

    lakehouse.parquet("in", "a.parquet", [
        {"id": 1, "ts": dt.datetime(2025, 1, 1, 10)}, {"id": 2, "ts": dt.datetime(2025, 1, 2, 11)},
        {"id": 3, "ts": dt.datetime(2025, 1, 2, 12)},
    ])
    result = lakehouse.run()
    assert result.ok, result.errors
    assert lakehouse.rows("SELECT day, n FROM gold.per_day ORDER BY day") == [
        {"day": dt.date(2025, 1, 1), "n": 1}, {"day": dt.date(2025, 1, 2), "n": 2},
    ]
    assert lakehouse.rows("SELECT n FROM legacy") == [{"n": 3}]
    from soundlake.lake import delta

    uri = lakehouse.project.lake.uri("main", "bronze", "events")
    table = delta.open_table(uri)
    assert list(table.metadata().partition_columns) == ["day"]
    assert table.metadata().description == "raw events"
    assert table.metadata().configuration.get("delta.appendOnly") == "true"
    assert lakehouse.rows("SELECT count(*) AS n FROM main.bronze.events WHERE day = DATE '2025-01-02'") == [{"n": 2}]


def test_independent_flows_run_and_complete(lakehouse: Lakehouse) -> None:
    parts = []
    for i in range(4):
        parts.append(f"CREATE OR REFRESH STREAMING TABLE t{i} AS "
                     f"SELECT * FROM STREAM read_files('${{data}}/d{i}', format => 'parquet');")
        lakehouse.parquet(f"d{i}", "a.parquet", [{"x": i}])
    parts.append("CREATE OR REFRESH MATERIALIZED VIEW u AS "
                 "SELECT x FROM t0 UNION ALL SELECT x FROM t1 UNION ALL SELECT x FROM t2 UNION ALL SELECT x FROM t3;")
    lakehouse.sql("\n".join(parts))
    result = lakehouse.run()
    assert result.ok, result.errors
    assert set(statuses(result).values()) == {"COMPLETED"}
    assert lakehouse.rows("SELECT x FROM u ORDER BY x") == [{"x": 0}, {"x": 1}, {"x": 2}, {"x": 3}]
