"""Fixtures for ingestion tests: tutorial data in SQLite or PostgreSQL, and a lake."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from soundlake.demo.loadsql import load_sql_files


@pytest.fixture(params=["sqlite", "postgresql"])
def source_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty source database: SQLite, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'source.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture()
def load(tutorial_dir: Path) -> Callable[[str, str], None]:
    """``load(url, "initial" | "incremental")`` applies a tutorial script (upsert by key)."""

    def apply(url: str, which: str) -> None:
        load_sql_files(url, [tutorial_dir / f"spotify_{which}_load.sql"])

    return apply
