"""Configuration of the source database."""

from __future__ import annotations

from soundlake.core.config import StrictModel

DEFAULT_SOURCE_URL = "sqlite:///source.db"


class SourceConfig(StrictModel):
    """Where the operational database lives.

    Attributes:
        url: A SQLAlchemy URL. ``sqlite:///source.db`` (relative to the project folder),
            ``postgresql+psycopg://user:pw@host/db`` or ``mssql+pyodbc://...``.
    """

    url: str = DEFAULT_SOURCE_URL
