"""Helpers for ingestion tests: configs, bronze contents, expected deliveries."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from soundlake.ingest.config import IngestConfig, IngestTable
from soundlake.lake.bronze import committed_batch_files
from soundlake.lake.storage import Lake
from soundlake.source.db import read_rows

TABLES = (
    ("DimUser", "updated_at"),
    ("DimTrack", "updated_at"),
    ("DimDate", "date"),
    ("DimArtist", "updated_at"),
    ("FactStream", "stream_timestamp"),
)


def config(**kwargs: Any) -> IngestConfig:
    """The seed's table list (schema dbo) with test-friendly retries."""
    tables = kwargs.pop("tables", None) or [
        IngestTable(schema="dbo", table=t, cdc_col=c) for t, c in TABLES
    ]
    kwargs.setdefault("backoff_seconds", 0.05)
    return IngestConfig(tables=tables, **kwargs)


def bronze_rows(lake: Lake, table: str, *, committed_only: bool = True) -> list[dict[str, Any]]:
    """Every row in the table's bronze batch files, oldest file first."""
    rows: list[dict[str, Any]] = []
    if committed_only:
        files = [Path(lake.root) / f for f in committed_batch_files(lake, table)]
    else:
        files = sorted((Path(lake.root) / "bronze" / table).glob("*.parquet"))
    for path in files:
        rows.extend(pq.read_table(path).to_pylist())
    return rows


def bronze_file_count(lake: Lake, table: str) -> int:
    """Parquet files in ``bronze/<table>/``."""
    return len(list((Path(lake.root) / "bronze" / table).glob("*.parquet")))


def source_rows(url: str, table: str) -> list[dict[str, Any]]:
    """Every row of the source table, read through SQLAlchemy (not soundlake's reader)."""
    return list(read_rows(url, table).values())


def as_multiset(rows: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    """Rows as a multiset of value tuples (column order as given)."""
    return Counter(tuple(r.values()) for r in rows)


def expected_increment(
    before: list[dict[str, Any]], after: list[dict[str, Any]], cdc_col: str, watermark: Any
) -> Counter[tuple[Any, ...]]:
    """Rows an exactly-once watermark run must deliver after ``before`` was delivered.

    Every row now at or past the watermark, except those delivered already at exactly
    the watermark value (same content).
    """
    delivered_at_wm = as_multiset([r for r in before if r[cdc_col] == watermark])
    now = as_multiset([r for r in after if r[cdc_col] is not None and r[cdc_col] >= watermark])
    return now - delivered_at_wm
