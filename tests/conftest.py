"""Shared fixtures: tutorial data, PostgreSQL databases, project folders.

PostgreSQL tests use ``SOUNDLAKE_TEST_PG_URL`` (default
``postgresql+psycopg://soundlake:soundlake@127.0.0.1:5432/postgres``); each test gets a
fresh database. They skip with a reason when no server answers, except under CI
(``CI=true``), where an unreachable server is a failure: CI must run them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from soundlake.lake.storage import Lake

REPO = Path(__file__).resolve().parents[1]
TUTORIAL = Path(
    os.environ.get("SOUNDLAKE_TUTORIAL_DIR") or REPO.parent / "shared" / "reference-data" / "tutorial"
)
DEFAULT_PG = "postgresql+psycopg://soundlake:soundlake@127.0.0.1:5432/postgres"

# No wall-clock limits in tests (performance lives in bench/): Hypothesis' per-example
# deadline would fail a correct test on a loaded machine, e.g. with two pytest workers.
settings.register_profile("soundlake", deadline=None)
settings.load_profile("soundlake")


@pytest.fixture(scope="session")
def tutorial_dir() -> Path:
    """Folder with the tutorial's SQL scripts (``SOUNDLAKE_TUTORIAL_DIR``); skips without them."""
    if not (TUTORIAL / "spotify_initial_load.sql").is_file():
        pytest.skip(f"tutorial SQL scripts not found at {TUTORIAL} (set SOUNDLAKE_TUTORIAL_DIR, see README)")
    return TUTORIAL


def _pg_admin_url() -> str:
    return os.environ.get("SOUNDLAKE_TEST_PG_URL", DEFAULT_PG)


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The admin URL of a reachable PostgreSQL server (skip, or fail under CI, if none)."""
    import psycopg

    url = _pg_admin_url()
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(conninfo, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 (any connection failure)
        message = f"PostgreSQL not reachable at {url}: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI must run the PostgreSQL tests)")
        pytest.skip(message)
    return url


@pytest.fixture()
def pg_url(pg_server: str) -> Iterator[str]:
    """A SQLAlchemy URL of a fresh, empty PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"sl_test_{uuid.uuid4().hex[:12]}"
    conninfo = pg_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = pg_server.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that use PostgreSQL fixtures carry the ``postgres`` marker automatically, and
    files with slow or Spark tests run first.

    With several workers (pytest-xdist, a file per worker) a long file picked up last
    keeps one worker busy alone at the end; heavy files first let the many short ones
    fill the gaps. The order within and between files is otherwise the collection order.
    """
    for item in items:
        if "pg_url" in getattr(item, "fixturenames", ()) or "pg_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
    heavy = {item.path for item in items if item.get_closest_marker("slow") or item.get_closest_marker("spark")}
    items.sort(key=lambda item: item.path not in heavy)


@pytest.fixture()
def lake(tmp_path: Path) -> Lake:
    """An empty local lake (``<tmp>/lake``)."""
    return Lake.at("lake", base=tmp_path)


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite source URL (``<tmp>/source.db``; the file is created by the test)."""
    return f"sqlite:///{tmp_path / 'source.db'}"
