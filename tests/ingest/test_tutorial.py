"""Done-when: the tutorial data, first run, no-change run and incremental run (SQLite, PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq

from soundlake.ingest.runner import run_tables
from soundlake.lake.storage import Lake
from tests.ingest.helpers import (
    TABLES,
    as_multiset,
    bronze_file_count,
    bronze_rows,
    config,
    expected_increment,
    source_rows,
)


def test_first_run_writes_every_row_then_no_change_writes_nothing(
    source_url: str, lake: Lake, load
) -> None:
    load(source_url, "initial")
    first = run_tables(lake, source_url, config(), pipeline="spotify")
    assert first.ok, first.failed
    for table, cdc in TABLES:
        assert as_multiset(bronze_rows(lake, table)) == as_multiset(
            source_rows(source_url, table)
        ), table
        assert bronze_file_count(lake, table) == 1
        state = json.loads((Path(lake.root) / "bronze" / f"{table}_cdc" / "cdc.json").read_text())
        top = max(r[cdc] for r in source_rows(source_url, table))
        assert state["cdc"] == top.isoformat()  # from the rows written
    assert {t.table: t.rows for t in first.tables} == {
        "DimUser": 500,
        "DimTrack": 500,
        "DimDate": 365,
        "DimArtist": 500,
        "FactStream": 1000,
    }

    second = run_tables(lake, source_url, config(), pipeline="spotify")
    assert second.ok
    assert second.rows == 0
    for table, _ in TABLES:
        assert bronze_file_count(lake, table) == 1, f"{table}: a no-change run left a file"
    assert [t.watermark_after for t in second.tables] == [t.watermark_after for t in first.tables]


def test_incremental_delivers_exactly_the_changed_rows(source_url: str, lake: Lake, load) -> None:
    load(source_url, "initial")
    first = run_tables(lake, source_url, config(), pipeline="spotify")
    before = {t: source_rows(source_url, t) for t, _ in TABLES}
    load(source_url, "incremental")
    second = run_tables(lake, source_url, config(), pipeline="spotify")
    assert second.ok, second.failed
    watermarks = {t.table: t.watermark_before for t in second.tables}
    assert watermarks == {t.table: t.watermark_after for t in first.tables}
    for table, cdc in TABLES:
        after = source_rows(source_url, table)
        kind_date = table == "DimDate"
        wm_text = watermarks[table]
        wm = dt.date.fromisoformat(wm_text) if kind_date else dt.datetime.fromisoformat(wm_text)
        expected = expected_increment(before[table], after, cdc, wm)
        files = sorted((Path(lake.root) / "bronze" / table).glob("*.parquet"))
        delivered = (
            as_multiset(pq.read_table(files[-1]).to_pylist())
            if len(files) == 2
            else as_multiset([])
        )
        assert delivered == expected, table
        assert next(t.rows for t in second.tables if t.table == table) == sum(expected.values())
    fact = next(t for t in second.tables if t.table == "FactStream")
    assert fact.rows > 0
    # the seed's strict '>' would lose these: rows that share the watermark's second
    boundary = dt.datetime.fromisoformat(watermarks["FactStream"])
    tied = [r for r in bronze_rows(lake, "FactStream")[1000:] if r["stream_timestamp"] == boundary]
    assert tied, "the incremental data has rows at the watermark's second"
    third = run_tables(lake, source_url, config(), pipeline="spotify")
    assert third.rows == 0


def test_manifests_and_status_describe_each_batch(sqlite_url: str, lake: Lake, load) -> None:
    load(sqlite_url, "initial")
    result = run_tables(lake, sqlite_url, config(), pipeline="spotify")
    folder = Path(lake.root) / "bronze" / "FactStream_cdc" / "_manifests"
    (manifest_file,) = folder.glob("*.json")
    manifest = json.loads(manifest_file.read_text())
    assert manifest["rows"] == 1000
    assert manifest["run_id"] == result.run_id
    assert manifest["min_cdc"] == "2025-09-27T19:49:55"
    assert manifest["max_cdc"] == "2025-10-07T19:49:56"
    assert manifest["file"] == result.tables[-1].files[0].rsplit("/", 1)[-1]
    meta = pq.ParquetFile(Path(lake.root) / result.tables[-1].files[0]).metadata
    assert meta.row_group(0).column(0).compression == "SNAPPY"
    assert result.tables[-1].files[0].startswith("bronze/FactStream/FactStream_")
