"""Memory and thread settings of a DuckDB engine's database.

DuckDB's default memory limit is 80% of the machine's RAM; a pipeline that sorts or joins
tens of millions of rows would use it all. soundlake sets a limit (default 768 MB) and a
spill folder so that large operators spill to disk and peak memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_MEMORY_LIMIT = "768MB"


@dataclass(frozen=True)
class DuckDBSettings:
    """Settings applied to each connection.

    Attributes:
        memory_limit: DuckDB ``memory_limit`` (for example ``"1GB"``); None keeps DuckDB's.
        threads: DuckDB worker threads; None keeps DuckDB's default (the core count).
        temp_directory: Spill folder; None keeps DuckDB's default (``.tmp`` in the cwd
            for file databases, a temp folder for in-memory ones).
        time_zone: The session time zone (Spark's ``spark.sql.session.timeZone``): TIMESTAMP
            literals, casts from text and date parts are read in it. Default UTC, as on
            Databricks, whatever the machine's zone.
    """

    memory_limit: str | None = DEFAULT_MEMORY_LIMIT
    threads: int | None = None
    temp_directory: str | None = None
    time_zone: str = "UTC"


def apply(con: Any, settings: DuckDBSettings) -> None:
    """Apply the settings to a DuckDB connection (the engine's; its cursors share them)."""
    if settings.memory_limit:
        con.execute("SET memory_limit = ?", [settings.memory_limit])
    if settings.threads:
        con.execute(f"SET threads = {int(settings.threads)}")
    if settings.temp_directory:
        con.execute("SET temp_directory = ?", [settings.temp_directory])
    con.execute("SET GLOBAL TimeZone = ?", [settings.time_zone])
