"""read_files with Auto Loader semantics: discovery, schema, evolution modes, rescue, metadata."""

from __future__ import annotations

import json

import pytest

from tests.pipeline.conftest import Lakehouse, statuses


def _pipeline(lh: Lakehouse, options: str = "", fmt: str = "parquet", select: str = "*") -> None:
    extra = f", {options}" if options else ""
    lh.sql(f"""
    CREATE OR REFRESH STREAMING TABLE raw
    AS SELECT {select} FROM STREAM read_files('${{data}}/in', format => '{fmt}'{extra});
    """)


def test_each_file_is_processed_exactly_once(lakehouse: Lakehouse) -> None:
    _pipeline(lakehouse)
    lakehouse.parquet("in", "a.parquet", [{"id": 1}])
    lakehouse.parquet("in", "_hidden.parquet", [{"id": 99}])
    assert lakehouse.run().ok
    assert lakehouse.run().flows["main.silver.raw"].status == "IDLE"
    lakehouse.parquet("in", "sub/b.parquet", [{"id": 2}])
    assert lakehouse.run().flows["main.silver.raw"].num_output_rows == 1
    assert lakehouse.rows("SELECT id FROM raw ORDER BY id") == [{"id": 1}, {"id": 2}]


def test_add_new_columns_appear_in_the_same_run(lakehouse: Lakehouse) -> None:
    _pipeline(lakehouse)
    lakehouse.parquet("in", "a.parquet", [{"id": 1}])
    lakehouse.run()
    lakehouse.parquet("in", "b.parquet", [{"id": 2, "color": "red"}])
    result = lakehouse.run()
    assert result.ok, result.errors
    assert lakehouse.rows("SELECT id, color FROM raw ORDER BY id") == [
        {"id": 1, "color": None}, {"id": 2, "color": "red"},
    ]
    progress = lakehouse.progress(result.run_id, "main.silver.raw")
    assert progress["schema_evolution"] == {"added_columns": ["color"]}


def test_rescue_mode_keeps_schema_and_rescues_unknown_columns(lakehouse: Lakehouse) -> None:
    _pipeline(lakehouse, "schemaEvolutionMode => 'rescue'")
    lakehouse.parquet("in", "a.parquet", [{"id": 1}])
    lakehouse.run()
    path = lakehouse.parquet("in", "b.parquet", [{"id": 2, "color": "red"}])
    assert lakehouse.run().ok
    rows = lakehouse.rows("SELECT * FROM raw ORDER BY id")
    assert set(rows[0]) == {"id", "_rescued_data"}
    assert rows[0]["_rescued_data"] is None
    assert json.loads(rows[1]["_rescued_data"]) == {"color": "red", "_file_path": str(path)}


def test_fail_on_new_columns_names_the_file(lakehouse: Lakehouse) -> None:
    _pipeline(lakehouse, "schemaEvolutionMode => 'failOnNewColumns'")
    lakehouse.parquet("in", "a.parquet", [{"id": 1}])
    lakehouse.run()
    path = lakehouse.parquet("in", "b.parquet", [{"id": 2, "color": "red"}])
    result = lakehouse.run()
    assert not result.ok
    message = result.errors["main.silver.raw"]
    assert str(path) in message and "color" in message
    assert lakehouse.rows("SELECT count(*) AS n FROM raw") == [{"n": 1}]


def test_none_mode_ignores_new_columns(lakehouse: Lakehouse) -> None:
    _pipeline(lakehouse, "schemaEvolutionMode => 'none'")
    lakehouse.parquet("in", "a.parquet", [{"id": 1}])
    lakehouse.run()
    lakehouse.parquet("in", "b.parquet", [{"id": 2, "color": "red"}])
    assert lakehouse.run().ok
    assert lakehouse.rows("SELECT * FROM raw ORDER BY id") == [{"id": 1}, {"id": 2}]


def test_type_mismatch_and_case_mismatch_are_rescued(lakehouse: Lakehouse) -> None:
    _pipeline(lakehouse, fmt="json")
    lakehouse.text("in", "a.json", '{"id": 1, "name": "x"}\n')
    lakehouse.run()
    path = lakehouse.text("in", "b.json", '{"id": "seven", "Name": "y"}\n{"id": 3, "name": "z"}\n')
    assert lakehouse.run().ok, "type mismatch must not fail the flow"
    rows = lakehouse.rows("SELECT * FROM raw ORDER BY name NULLS FIRST")
    bad = rows[0]
    assert bad["id"] is None and bad["name"] is None
    assert json.loads(bad["_rescued_data"]) == {"id": "seven", "Name": "y", "_file_path": str(path)}
    assert [r["name"] for r in rows[1:]] == ["x", "z"]


def test_schema_hints_override_inferred_types(lakehouse: Lakehouse) -> None:
    _pipeline(lakehouse, "schemaHints => 'amount DECIMAL(10,2), id BIGINT', header => 'true'", fmt="csv")
    lakehouse.text("in", "a.csv", "id,amount\n1,2.50\n2,3\n")
    assert lakehouse.run().ok
    from soundlake.lake import delta

    schema = delta.table_schema(lakehouse.project.lake.uri("main", "silver", "raw"))
    assert schema is not None
    assert str(schema.field("amount").type) == "decimal128(10, 2)"
    assert str(schema.field("id").type) == "int64"


def test_schema_is_stored_with_the_checkpoint(lakehouse: Lakehouse) -> None:
    _pipeline(lakehouse, "schemaEvolutionMode => 'rescue'")
    lakehouse.parquet("in", "a.parquet", [{"id": 1}])
    lakehouse.run()
    from soundlake.catalog.state import StateStore, checkpoint_key

    store = StateStore(lakehouse.project.lake, "t")
    cp = store.read(checkpoint_key("main.silver.raw"))
    assert cp is not None
    source = next(iter(cp["sources"].values()))
    assert source["files"] == ["a.parquet"]
    assert source["schema"]["fields"] == [["id", "int64"], ["_rescued_data", "string"]]


def test_metadata_columns(lakehouse: Lakehouse) -> None:
    _pipeline(lakehouse, select="id, _metadata.file_path AS path, _metadata.file_modification_time AS mtime, "
                                "_metadata.ingestion_time AS ingested")
    path = lakehouse.parquet("in", "a.parquet", [{"id": 1}])
    assert lakehouse.run().ok
    row = lakehouse.rows("SELECT * FROM raw")[0]
    assert row["path"] == str(path)
    assert row["mtime"] is not None and row["ingested"] is not None
    assert row["mtime"] <= row["ingested"]


def test_corrupt_file_fails_naming_the_path_and_commits_nothing(lakehouse: Lakehouse) -> None:
    _pipeline(lakehouse)
    lakehouse.parquet("in", "a.parquet", [{"id": 1}])
    lakehouse.run()
    lakehouse.parquet("in", "b.parquet", [{"id": 2}])
    bad = lakehouse.text("in", "c.parquet", "this is not parquet")
    result = lakehouse.run()
    assert statuses(result)["raw"] == "FAILED"
    assert str(bad) in result.errors["main.silver.raw"]
    assert lakehouse.rows("SELECT count(*) AS n FROM raw") == [{"n": 1}]
    bad.unlink()
    assert lakehouse.run().ok
    assert lakehouse.rows("SELECT id FROM raw ORDER BY id") == [{"id": 1}, {"id": 2}]


@pytest.mark.parametrize("fmt,content", [
    ("json", '{"id": 1, "tags": "a"}\n{"id": 2}\n'),
    ("csv", "id,tags\n1,a\n2,\n"),
])
def test_text_formats(lakehouse: Lakehouse, fmt: str, content: str) -> None:
    _pipeline(lakehouse, "header => 'true'" if fmt == "csv" else "", fmt=fmt)
    lakehouse.text("in", f"a.{fmt}", content)
    assert lakehouse.run().ok
    assert [r["id"] for r in lakehouse.rows("SELECT id FROM raw ORDER BY id")] == [1, 2]
