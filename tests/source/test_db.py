"""DDL of the five reference tables on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from soundlake.core.errors import SourceError
from soundlake.demo.loadsql import load_sql_files
from soundlake.source.db import TABLE_NAMES, create_tables, table_counts
from soundlake.source.schema import metadata

EXPECTED_COLUMNS = {
    "DimUser": ["user_id", "user_name", "country", "subscription_type", "start_date", "end_date", "updated_at"],
    "DimArtist": ["artist_id", "artist_name", "genre", "country", "updated_at"],
    "DimTrack": ["track_id", "track_name", "artist_id", "album_name", "duration_sec", "release_date", "updated_at"],
    "DimDate": ["date_key", "date", "day", "month", "year", "weekday"],
    "FactStream": ["stream_id", "user_id", "track_id", "date_key", "listen_duration", "device_type",
                   "stream_timestamp"],
}
KEYS = {"DimUser": "user_id", "DimArtist": "artist_id", "DimTrack": "track_id", "DimDate": "date_key",
        "FactStream": "stream_id"}


def test_create_tables_makes_the_five_tables_with_exact_names_columns_and_keys(db_url: str) -> None:
    assert create_tables(db_url) == list(TABLE_NAMES)
    engine = sa.create_engine(db_url)
    try:
        inspector = sa.inspect(engine)
        assert sorted(inspector.get_table_names()) == sorted(TABLE_NAMES)
        for table, columns in EXPECTED_COLUMNS.items():
            assert [c["name"] for c in inspector.get_columns(table)] == columns
            assert inspector.get_pk_constraint(table)["constrained_columns"] == [KEYS[table]]
            assert inspector.get_foreign_keys(table) == []
        types = {c["name"]: c["type"] for c in inspector.get_columns("FactStream")}
        assert isinstance(types["stream_id"], sa.BigInteger)
        assert isinstance(types["stream_timestamp"], sa.DateTime)
    finally:
        engine.dispose()


def test_create_tables_is_idempotent_and_keeps_rows(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    create_tables(db_url)
    script = tmp_path / "one.sql"
    script.write_text("INSERT INTO DimUser (user_id, user_name) VALUES (1, 'Ana');\n")
    load_sql_files(db_url, [script])
    assert create_tables(db_url) == []
    assert table_counts(db_url)["DimUser"] == 1


def test_create_tables_adds_only_missing_tables(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    metadata.tables["DimDate"].create(engine)
    engine.dispose()
    assert create_tables(sqlite_url) == ["DimUser", "DimArtist", "DimTrack", "FactStream"]


def test_bad_url_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="invalid source URL"):
        create_tables("not a url")
    with pytest.raises(SourceError):
        create_tables("nosuchdialect://x/y")
