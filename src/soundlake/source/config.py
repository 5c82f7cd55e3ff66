"""Configuration of the source database."""

from __future__ import annotations

from pydantic import Field

from soundlake.core.config import StrictModel

DEFAULT_SOURCE_URL = "sqlite:///source.db"
DEFAULT_BATCH_ROWS = 25_000
"""Rows per Arrow batch read from a source (``ingest.batch_rows``): four tables read at once
stay near 250 MiB in all; larger batches buy little speed and cost memory in proportion."""


class SourceConfig(StrictModel):
    """Where the operational database lives.

    Attributes:
        url: A SQLAlchemy URL. ``sqlite:///source.db`` (relative to the project folder),
            ``postgresql+psycopg://user:pw@host/db`` or ``mssql+pyodbc://...``.
        connect_timeout: Seconds to connect (on SQLite: to wait for a lock) before the
            attempt fails as transient (retried, then the table fails and alerts).
        read_timeout: Seconds one read statement may run (PostgreSQL statement_timeout).
    """

    url: str = DEFAULT_SOURCE_URL
    connect_timeout: float = Field(default=10.0, gt=0, le=3600)
    read_timeout: float = Field(default=3600.0, gt=0, le=7 * 86_400)
