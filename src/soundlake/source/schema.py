"""The five operational tables of the Spotify reference system (README.md, "Source database").

Names, columns, SQL types and primary keys are exactly those of the seed system. No
foreign keys are declared (the seed declares none); referential checks live in the
pipeline's expectations.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Date, DateTime, Integer, MetaData, String, Table

metadata = MetaData()

DimUser = Table(
    "DimUser",
    metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=False),
    Column("user_name", String(255)),
    Column("country", String(255)),
    Column("subscription_type", String(50)),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("updated_at", DateTime),
)

DimArtist = Table(
    "DimArtist",
    metadata,
    Column("artist_id", Integer, primary_key=True, autoincrement=False),
    Column("artist_name", String(255)),
    Column("genre", String(100)),
    Column("country", String(100)),
    Column("updated_at", DateTime),
)

DimTrack = Table(
    "DimTrack",
    metadata,
    Column("track_id", Integer, primary_key=True, autoincrement=False),
    Column("track_name", String(255)),
    Column("artist_id", Integer),
    Column("album_name", String(255)),
    Column("duration_sec", Integer),
    Column("release_date", Date),
    Column("updated_at", DateTime),
)

DimDate = Table(
    "DimDate",
    metadata,
    Column("date_key", Integer, primary_key=True, autoincrement=False),
    Column("date", Date),
    Column("day", Integer),
    Column("month", Integer),
    Column("year", Integer),
    Column("weekday", String(20)),
)

FactStream = Table(
    "FactStream",
    metadata,
    Column("stream_id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", Integer),
    Column("track_id", Integer),
    Column("date_key", Integer),
    Column("listen_duration", Integer),
    Column("device_type", String(50)),
    Column("stream_timestamp", DateTime),
)


@dataclass(frozen=True)
class TableSpec:
    """Key and CDC column of one reference table (the seed's ingestion list)."""

    table: str
    key: str
    cdc_col: str


REFERENCE_TABLES: tuple[TableSpec, ...] = (
    TableSpec("DimUser", "user_id", "updated_at"),
    TableSpec("DimTrack", "track_id", "updated_at"),
    TableSpec("DimDate", "date_key", "date"),
    TableSpec("DimArtist", "artist_id", "updated_at"),
    TableSpec("FactStream", "stream_id", "stream_timestamp"),
)
