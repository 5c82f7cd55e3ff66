"""Watermark semantics: ties, in-place rewrites, duplicates, NULLs, time zones, backfill, ADF state."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from soundlake.core.errors import ConfigError
from soundlake.ingest.config import IngestTable
from soundlake.ingest.runner import run_tables
from soundlake.ingest.watermark import format_cdc, parse_cdc
from soundlake.lake.bronze import committed_batch_files
from soundlake.lake.storage import Lake
from tests.ingest.helpers import bronze_rows, config

T0 = dt.datetime(2025, 10, 7, 19, 49, 55)


def make_events(url: str, rows: list[tuple[Any, ...]], *, ddl: str | None = None) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(ddl or "CREATE TABLE events (id INT, v VARCHAR(20), ts TIMESTAMP)")
    insert(url, rows)
    engine.dispose()


def insert(url: str, rows: list[tuple[Any, ...]], table: str = "events") -> None:
    engine = sa.create_engine(url)
    marks = ", ".join(f":c{i}" for i in range(len(rows[0])))
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"INSERT INTO {table} VALUES ({marks})"),
            [{f"c{i}": v for i, v in enumerate(row)} for row in rows],
        )
    engine.dispose()


def execute(url: str, sql: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(sql)
    engine.dispose()


def ingest(
    url: str,
    lake: Lake,
    *,
    cdc: str = "ts",
    from_date: str | None = None,
    table_from: str | None = None,
) -> Any:
    cfg = config(tables=[IngestTable(table="events", cdc_col=cdc, from_date=table_from)])
    result = run_tables(lake, url, cfg, pipeline="p", from_date=from_date)
    assert result.ok, result.failed
    return result.tables[0]


def delivered(lake: Lake) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(r.values()) for r in bronze_rows(lake, "events"))


def test_rows_sharing_the_watermark_second_arrive_later_and_are_delivered_once(
    source_url: str, lake: Lake
) -> None:
    make_events(source_url, [(1, "a", T0), (2, "b", T0), (3, "c", T0 - dt.timedelta(seconds=1))])
    assert ingest(source_url, lake).rows == 3
    insert(source_url, [(4, "d", T0)])  # committed after the read, same second as the watermark
    second = ingest(source_url, lake)
    assert second.rows == 1 and second.watermark_after == "2025-10-07T19:49:55"
    execute(source_url, "UPDATE events SET v = 'a2' WHERE id = 1")  # rewritten in place, same ts
    assert ingest(source_url, lake).rows == 1
    assert ingest(source_url, lake).rows == 0
    assert delivered(lake) == Counter(
        {
            (1, "a", T0): 1,
            (2, "b", T0): 1,
            (3, "c", T0 - dt.timedelta(seconds=1)): 1,
            (4, "d", T0): 1,
            (1, "a2", T0): 1,
        }
    )


def test_identical_rows_at_the_boundary_are_counted(sqlite_url: str, lake: Lake) -> None:
    make_events(sqlite_url, [(1, "x", T0), (1, "x", T0)])  # no primary key: true duplicates
    assert ingest(sqlite_url, lake).rows == 2
    insert(sqlite_url, [(1, "x", T0)])
    assert ingest(sqlite_url, lake).rows == 1
    assert ingest(sqlite_url, lake).rows == 0
    assert delivered(lake) == Counter({(1, "x", T0): 3})


def test_a_row_committed_late_with_an_older_value_is_not_seen(sqlite_url: str, lake: Lake) -> None:
    """The documented limit of any watermark: use a backfill (--from-date) to pick it up."""
    make_events(sqlite_url, [(1, "a", T0)])
    ingest(sqlite_url, lake)
    insert(sqlite_url, [(2, "late", T0 - dt.timedelta(hours=1))])
    assert ingest(sqlite_url, lake).rows == 0
    backfill = ingest(sqlite_url, lake, from_date="2025-10-07T18:00:00")
    assert backfill.mode == "backfill" and backfill.rows == 1  # row 1 is in bronze already
    assert backfill.watermark_after == "2025-10-07T19:49:55"
    assert ingest(sqlite_url, lake).rows == 0  # the watermark continues from what was written


def test_table_from_date_backfills_once(sqlite_url: str, lake: Lake) -> None:
    make_events(sqlite_url, [(1, "old", T0 - dt.timedelta(days=30)), (2, "new", T0)])
    first = ingest(sqlite_url, lake, table_from="2025-10-01")
    assert first.mode == "backfill" and first.rows == 1
    assert ingest(sqlite_url, lake, table_from="2025-10-01").rows == 0  # not again
    insert(sqlite_url, [(3, "next", T0 + dt.timedelta(seconds=1))])
    again = ingest(sqlite_url, lake, table_from="2025-10-01")
    assert again.mode == "incremental" and again.rows == 1


def test_null_cdc_rows_are_delivered_once(sqlite_url: str, lake: Lake) -> None:
    """Every run reads the NULL-CDC rows and delivers those not delivered yet (was: never)."""
    make_events(sqlite_url, [(1, "a", None), (2, "b", T0)])
    first = ingest(sqlite_url, lake)
    assert first.rows == 2 and first.null_cdc_rows == 1
    insert(sqlite_url, [(3, "c", None)])
    again = ingest(sqlite_url, lake)
    assert again.rows == 1 and again.null_cdc_rows == 1
    assert ingest(sqlite_url, lake).rows == 0
    ids = Counter(r["id"] for r in bronze_rows(lake, "events"))
    assert ids == Counter({1: 1, 2: 1, 3: 1})


def test_a_table_with_only_null_cdc_values_is_not_loaded_twice(sqlite_url: str, lake: Lake) -> None:
    make_events(sqlite_url, [(1, "a", None)])
    first = ingest(sqlite_url, lake)
    assert first.rows == 1 and first.watermark_after == "1900-01-01"
    assert ingest(sqlite_url, lake).rows == 0
    insert(sqlite_url, [(2, "b", T0)])
    assert ingest(sqlite_url, lake).rows == 1


def test_sqlite_text_spellings_of_datetimes_compare_as_instants(
    sqlite_url: str, lake: Lake
) -> None:
    ddl = "CREATE TABLE events (id INT, v VARCHAR(20), ts DATETIME)"
    make_events(sqlite_url, [(1, "a", "2025-10-07 19:49:55.5")], ddl=ddl)
    assert ingest(sqlite_url, lake).watermark_after == "2025-10-07T19:49:55.500000"
    insert(
        sqlite_url,
        [
            (2, "same instant, other spelling", "2025-10-07 19:49:55.500000"),
            (3, "earlier, T separator", "2025-10-07T19:49:55.4"),
            (4, "later, offset", "2025-10-07 21:49:56+02:00"),
            (5, "earlier, offset", "2025-10-07 21:49:55+02:00"),
        ],
    )
    second = ingest(sqlite_url, lake)
    ids = sorted(r["id"] for r in bronze_rows(lake, "events"))
    assert ids == [1, 2, 4]
    assert second.watermark_after == "2025-10-07T19:49:56"
    assert bronze_rows(lake, "events")[-1]["ts"] == dt.datetime(2025, 10, 7, 19, 49, 56)


def test_postgres_timestamptz_is_utc(pg_url: str, lake: Lake) -> None:
    ddl = "CREATE TABLE events (id INT, v VARCHAR(20), ts TIMESTAMPTZ)"
    make_events(pg_url, [(1, "a", "2025-10-07 21:49:55+02:00")], ddl=ddl)
    first = ingest(pg_url, lake)
    assert first.watermark_after == "2025-10-07T19:49:55"
    table = pq.read_table(Path(lake.root) / first.files[0])
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    insert(pg_url, [(2, "b", "2025-10-07 19:49:55+00:00"), (3, "c", "2025-10-07 20:49:54+01:00")])
    assert ingest(pg_url, lake).rows == 1  # id 2 ties the watermark; id 3 is one second earlier


def test_date_cdc_column(source_url: str, lake: Lake) -> None:
    ddl = "CREATE TABLE events (id INT, v VARCHAR(20), d DATE)"
    make_events(
        source_url, [(1, "a", dt.date(2025, 10, 6)), (2, "b", dt.date(2025, 10, 5))], ddl=ddl
    )
    assert ingest(source_url, lake, cdc="d").watermark_after == "2025-10-06"
    insert(source_url, [(3, "c", dt.date(2025, 10, 6)), (4, "d", dt.date(2025, 10, 7))])
    second = ingest(source_url, lake, cdc="d")
    assert second.rows == 2 and second.watermark_after == "2025-10-07"


def test_taking_over_from_data_factory_loses_nothing(sqlite_url: str, lake: Lake) -> None:
    make_events(
        sqlite_url,
        [
            (1, "a", T0 - dt.timedelta(seconds=1)),
            (2, "b", T0),
            (3, "c", T0 + dt.timedelta(seconds=1)),
        ],
    )
    state = Path(lake.root) / "bronze" / "events_cdc" / "cdc.json"
    state.parent.mkdir(parents=True)
    state.write_text(
        json.dumps({"cdc": "2025-10-07T19:49:55Z"})
    )  # as the seed's pipeline writes it
    adf_file = Path(lake.root) / "bronze" / "events" / "events_2025-10-07T19:49:57.1234567Z"
    adf_file.parent.mkdir(parents=True)
    pq.write_table(pa.table({"id": [1], "v": ["a"], "ts": [T0]}), adf_file.with_suffix(".parquet"))
    result = ingest(sqlite_url, lake)
    assert (
        result.mode == "incremental" and result.rows == 2
    )  # the tie at 19:49:55 is re-read, not lost
    assert len(committed_batch_files(lake, "events")) == 2
    doc = json.loads(state.read_text())
    assert doc["cdc"] == "2025-10-07T19:49:56" and set(doc) == {"cdc", "soundlake"}


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("1900-01-01", "timestamp", dt.datetime(1900, 1, 1)),
        ("2025-10-07T19:49:55Z", "timestamp", T0),
        ("2025-10-07 21:49:55+02:00", "timestamp", T0),
        ("2025-10-07T19:49:55.1234567Z", "timestamp", T0.replace(microsecond=123456)),
        ("2025-10-06", "date", dt.date(2025, 10, 6)),
        ("2025-10-06T00:00:00Z", "date", dt.date(2025, 10, 6)),
        ("42", "integer", 42),
    ],
)
def test_watermark_text_parses(text: str, kind: Any, value: Any) -> None:
    assert parse_cdc(text, kind) == value


def test_watermark_text_formats_and_rejects_garbage() -> None:
    assert format_cdc(T0) == "2025-10-07T19:49:55"
    assert format_cdc(T0.replace(microsecond=5)) == "2025-10-07T19:49:55.000005"
    assert format_cdc(dt.date(2025, 1, 2)) == "2025-01-02"
    with pytest.raises(ConfigError, match="not a valid timestamp"):
        parse_cdc("soon", "timestamp")
