"""Expectations at run time: warn, drop, fail, quarantine; NULL is not a violation; counts add up."""

from __future__ import annotations

from tests.pipeline.conftest import Lakehouse, statuses

ROWS = [
    {"id": 1, "amount": 10},
    {"id": 2, "amount": -5},
    {"id": None, "amount": 7},
    {"id": 4, "amount": None},
    {"id": 5, "amount": 2000},
]


def _pipeline(lh: Lakehouse, constraints: str) -> None:
    lh.sql(f"""
    CREATE OR REFRESH STREAMING TABLE raw
    AS SELECT * FROM STREAM read_files('${{data}}/in', format => 'parquet');

    CREATE OR REFRESH STREAMING TABLE clean ({constraints})
    AS SELECT * FROM STREAM(raw);

    CREATE OR REFRESH MATERIALIZED VIEW n_clean AS SELECT count(*) AS n FROM clean;
    """)
    lh.parquet("in", "a.parquet", ROWS)


def test_warn_keeps_rows_and_counts_them(lakehouse: Lakehouse) -> None:
    _pipeline(lakehouse, "CONSTRAINT positive EXPECT (amount > 0)")
    result = lakehouse.run()
    assert result.ok
    assert lakehouse.rows("SELECT count(*) AS n FROM clean") == [{"n": 5}]
    quality = lakehouse.progress(result.run_id, "main.silver.clean")["data_quality"]
    # amount NULL is not a violation: only -5 fails
    assert quality["expectations"] == [
        {"name": "positive", "dataset": "main.silver.clean", "passed_records": 4, "failed_records": 1}
    ]
    assert quality["dropped_records"] == 0


def test_drop_removes_violating_rows(lakehouse: Lakehouse) -> None:
    _pipeline(lakehouse, "CONSTRAINT id_present EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW, "
                         "CONSTRAINT small EXPECT (amount < 1000) ON VIOLATION DROP ROW")
    result = lakehouse.run()
    assert lakehouse.rows("SELECT id FROM clean ORDER BY id") == [{"id": 1}, {"id": 2}, {"id": 4}]
    progress = lakehouse.progress(result.run_id, "main.silver.clean")
    assert progress["data_quality"]["dropped_records"] == 2
    assert progress["metrics"]["num_output_rows"] == 3
    assert progress["metrics"]["num_input_rows"] == 5


def test_fail_writes_nothing_and_skips_downstream(lakehouse: Lakehouse) -> None:
    _pipeline(lakehouse, "CONSTRAINT positive EXPECT (amount > 0) ON VIOLATION FAIL UPDATE")
    result = lakehouse.run()
    assert statuses(result) == {"raw": "COMPLETED", "clean": "FAILED", "n_clean": "SKIPPED"}
    message = result.errors["main.silver.clean"]
    assert "positive" in message and "-5" in message
    from soundlake.lake import delta

    assert not delta.is_delta_table(lakehouse.project.lake.uri("main", "silver", "clean"))


def test_quarantine_moves_rows_with_rule_names_flow_and_run(lakehouse: Lakehouse) -> None:
    _pipeline(lakehouse, "CONSTRAINT positive EXPECT (amount > 0) ON VIOLATION QUARANTINE, "
                         "CONSTRAINT small EXPECT (amount < 1000) ON VIOLATION QUARANTINE, "
                         "CONSTRAINT id_present EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW")
    result = lakehouse.run()
    assert result.ok, result.errors
    assert lakehouse.rows("SELECT id FROM clean ORDER BY id") == [{"id": 1}, {"id": 4}]
    quarantined = lakehouse.rows("SELECT * FROM clean_quarantine ORDER BY id")
    assert [(r["id"], r["_failed_expectations"]) for r in quarantined] == [(2, ["positive"]), (5, ["small"])]
    assert {r["_flow"] for r in quarantined} == {"main.silver.clean"}
    assert {r["_run_id"] for r in quarantined} == {result.run_id}
    progress = lakehouse.progress(result.run_id, "main.silver.clean")
    quality = progress["data_quality"]
    assert quality["quarantined_records"] == 2 and quality["dropped_records"] == 1
    # every row accounted for
    assert progress["metrics"]["num_input_rows"] == (
        progress["metrics"]["num_output_rows"] + quality["dropped_records"] + quality["quarantined_records"]
    )


def test_expectation_on_materialized_view(lakehouse: Lakehouse) -> None:
    lakehouse.sql("""
    CREATE OR REFRESH MATERIALIZED VIEW mv (CONSTRAINT pos EXPECT (amount > 0) ON VIOLATION DROP ROW)
    AS SELECT * FROM read_files('${data}/in', format => 'parquet');
    """)
    lakehouse.parquet("in", "a.parquet", ROWS)
    result = lakehouse.run()
    assert result.ok
    assert lakehouse.rows("SELECT count(*) AS n FROM mv") == [{"n": 4}]  # NULL passes
    assert result.flows["main.silver.mv"].expectations.dropped_rows == 1


def test_quarantine_of_many_rows_keeps_every_row(lakehouse: Lakehouse) -> None:
    import pyarrow as pa

    lakehouse.sql("""
    CREATE OR REFRESH STREAMING TABLE raw (CONSTRAINT even EXPECT (id % 2 = 0) ON VIOLATION QUARANTINE)
    AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');
    """)
    lakehouse.parquet("in", "a.parquet", pa.table({"id": list(range(300_000))}))
    assert lakehouse.run().ok
    assert lakehouse.rows("SELECT count(*) AS n FROM raw") == [{"n": 150_000}]
    assert lakehouse.rows("SELECT count(*) AS n, min(id) AS lo, max(id) AS hi FROM raw_quarantine") == [
        {"n": 150_000, "lo": 1, "hi": 299_999}
    ]
