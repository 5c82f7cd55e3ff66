"""Issue #12 (trust: no silent data loss or duplication), ingestion items.

Each test names the issue item it covers. Sources are real SQLite/PostgreSQL databases,
the lake a real folder; rows are hand-made and few.
"""

from __future__ import annotations

import datetime as dt
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from soundlake.core.errors import ConfigError
from soundlake.ingest.config import IngestConfig, IngestTable
from soundlake.ingest.runner import run_tables
from soundlake.ingest.table import check_known_tables
from soundlake.lake.storage import Lake
from soundlake.source.dialects import Timeouts
from tests.ingest.helpers import bronze_rows, config
from tests.ingest.test_semantics import insert, make_events

T0 = dt.datetime(2025, 10, 7, 19, 49, 55)
HOUR = dt.timedelta(hours=1)


def ingest(url: str, lake: Lake, *, cdc: str = "ts", ok: bool = True, **kwargs: Any) -> Any:
    """Ingest table ``events`` once; return its TableResult."""
    table_kwargs = {k: kwargs.pop(k) for k in ("deletes", "key") if k in kwargs}
    cfg_kwargs = {k: kwargs.pop(k) for k in ("lookback", "future_tolerance") if k in kwargs}
    spec = IngestTable(table="events", cdc_col=cdc, **table_kwargs)
    result = run_tables(lake, url, config(tables=[spec], **cfg_kwargs), pipeline="p", **kwargs)
    if ok:
        assert result.ok, result.failed
    return result.tables[0]


@pytest.fixture()
def lake(tmp_path: Path) -> Lake:
    """An empty local lake."""
    return Lake.at("lake", base=tmp_path)


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite source URL (the file is created by the test)."""
    return f"sqlite:///{tmp_path / 'source.db'}"


def delivered(lake: Lake, table: str = "events") -> Counter[tuple[Any, ...]]:
    """Bronze rows of ``table`` as a multiset of value tuples."""
    return Counter(tuple(r.values()) for r in bronze_rows(lake, table))


YML = """name: trust
storage: lake
source:
  url: {url}
ingest:
  tables:
{tables}
"""


def project(root: Path, url: str, tables: str) -> Path:
    """A project folder with ``soundlake.yml``."""
    (root / "soundlake.yml").write_text(YML.format(url=url, tables=tables))
    return root


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``soundlake ingest`` in ``root`` as a user would."""
    return subprocess.run(  # noqa: PLW1510 (the return code is checked)
        [sys.executable, "-m", "soundlake.cli.main", "--project", str(root), "ingest", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", **_pythonpath()},
    )


def _pythonpath() -> dict[str, str]:
    import os

    return {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}


# --- item 10: the same table twice --------------------------------------------------------


def test_same_table_twice_in_config_is_a_config_error_naming_the_entry() -> None:
    """#12 item 10: a duplicated ingest.tables entry is a config error naming it."""
    with pytest.raises(
        ValidationError, match=r"ingest.tables\[1\]: table 'DimUser' is listed twice"
    ):
        IngestConfig(
            tables=[
                IngestTable(table="DimUser", cdc_col="updated_at"),
                IngestTable(table="DimUser", cdc_col="updated_at"),
            ]
        )


def test_same_table_twice_on_the_command_line_is_ingested_once(sqlite_url: str, lake: Lake) -> None:
    """#12 item 10: repeated --table values are ingested once (no duplicates in bronze)."""
    make_events(sqlite_url, [(1, "a", T0), (2, "b", T0 + HOUR)])
    spec = IngestTable(table="events", cdc_col="ts")
    chosen = check_known_tables([spec], ["events", "events"])
    assert chosen == [spec]
    cfg = config(tables=[spec])
    result = run_tables(lake, sqlite_url, cfg, pipeline="p", tables=[spec, spec])
    assert [t.rows for t in result.tables] == [2]
    assert sum(delivered(lake).values()) == 2


def test_same_table_twice_cli_exit_code_and_single_delivery(tmp_path: Path) -> None:
    """#12 item 10: `--table X --table X` delivers once; a duplicated entry exits 2."""
    url = f"sqlite:///{tmp_path / 'src.db'}"
    make_events(url, [(1, "a", T0)])
    root = project(tmp_path, url, "    - {table: events, cdc_col: ts}")
    run = cli(root, "--table", "events", "--table", "events")
    assert run.returncode == 0, run.stderr
    assert sum(delivered(Lake.at("lake", base=tmp_path)).values()) == 1
    twice = "    - {table: events, cdc_col: ts}\n    - {table: events, cdc_col: ts}"
    bad = cli(project(tmp_path, url, twice))
    assert bad.returncode == 2
    assert "table 'events' is listed twice" in bad.stderr + bad.stdout
    assert "Traceback" not in bad.stderr


def test_same_table_twice_leftovers_recover_on_next_run(sqlite_url: str, lake: Lake) -> None:
    """#12 item 10: a table left with a stray _tmp file and a half-written state recovers."""
    make_events(sqlite_url, [(1, "a", T0)])
    ingest(sqlite_url, lake)
    state_dir = Path(lake.root) / "bronze" / "events_cdc"
    (state_dir / "_tmp").mkdir(exist_ok=True)
    (state_dir / "_tmp" / "events_x.parquet.tmp").write_bytes(b"PAR1 half")
    (state_dir / ".cdc.json.123.tmp").write_text('{"cdc": "20')
    insert(sqlite_url, [(2, "b", T0 + HOUR)])
    assert ingest(sqlite_url, lake).rows == 1
    assert sum(delivered(lake).values()) == 2
    assert not list((state_dir / "_tmp").glob("*.tmp"))


# --- item 12: path traversal --------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../../x", "/abs/path", "a/b", "..", "C:evil"])
def test_path_traversal_table_names_are_rejected_at_config_load(name: str) -> None:
    """#12 item 12: an ingest table or schema name that would leave bronze/ is rejected."""
    with pytest.raises(ValidationError, match="cannot be used as a bronze folder name"):
        IngestTable(table=name, cdc_col="ts")
    with pytest.raises(ValidationError, match="ingest schema"):
        IngestTable(schema=name, table="t", cdc_col="ts")


def test_path_traversal_in_table_option_is_rejected(tmp_path: Path) -> None:
    """#12 item 12: `--table ../../x` is a one-line config error, nothing written."""
    url = f"sqlite:///{tmp_path / 'src.db'}"
    make_events(url, [(1, "a", T0)])
    root = project(tmp_path, url, "    - {table: events, cdc_col: ts}")
    run = cli(root, "--table", "../../../x")
    assert run.returncode == 2
    assert "--table '../../../x' cannot be used as a bronze folder name" in run.stderr + run.stdout
    assert not (tmp_path / "x").exists() and not (tmp_path.parent / "x").exists()
    with pytest.raises(ConfigError, match="cannot be used"):
        check_known_tables([IngestTable(table="events", cdc_col="ts")], ["/abs/path"])


# --- clear errors: source URL -------------------------------------------------------------


def test_missing_sqlite_file_is_an_error_not_an_empty_database(tmp_path: Path, lake: Lake) -> None:
    """#12 clear errors: a missing SQLite source file is reported as such and not created."""
    path = tmp_path / "missing.db"
    spec = IngestTable(table="events", cdc_col="ts")
    with pytest.raises(ConfigError, match=rf"source database file {path} not found \(source.url="):
        run_tables(lake, f"sqlite:///{path}", config(tables=[spec]), pipeline="p")
    assert not path.exists()


def test_unknown_url_scheme_is_a_one_line_error(tmp_path: Path) -> None:
    """#12 clear errors: an unknown URL scheme exits 2 with one line naming it."""
    root = project(tmp_path, "nosuchdb://host/db", "    - {table: events, cdc_col: ts}")
    run = cli(root)
    assert run.returncode == 2
    assert "unknown database type 'nosuchdb'" in run.stderr + run.stdout
    assert "Traceback" not in run.stderr


def test_missing_database_driver_is_a_one_line_error(tmp_path: Path) -> None:
    """#12 clear errors: a URL whose driver is not installed names the package to install."""
    pytest.importorskip("sqlalchemy")
    try:
        import pyodbc  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pyodbc is installed here")
    root = project(tmp_path, "mssql+pyodbc://u:p@host/db", "    - {table: events, cdc_col: ts}")
    run = cli(root)
    assert run.returncode == 2
    out = run.stderr + run.stdout
    assert "the database driver 'pyodbc'" in out and "pip install pyodbc" in out
    assert "Traceback" not in run.stderr


# --- item 11: timeouts --------------------------------------------------------------------


@pytest.fixture()
def silent_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()


def test_timeout_postgres_server_that_never_answers_fails_bounded(
    silent_server: int, lake: Lake
) -> None:
    """#12 item 11: a PostgreSQL server that accepts but never answers fails the table."""
    url = f"postgresql+psycopg://u:p@127.0.0.1:{silent_server}/db"
    spec = IngestTable(table="events", cdc_col="ts")
    cfg = config(tables=[spec], retries=2, backoff_seconds=0.01)
    started = time.monotonic()
    result = run_tables(lake, url, cfg, pipeline="p", timeouts=Timeouts(connect=1, read=5))
    assert time.monotonic() - started < 60  # bounded, not a hang (generous for loaded CI)
    table = result.tables[0]
    assert table.status == "failed" and table.attempts == 2
    assert "events" in result.failed[0].table
    assert "timeout" in (table.error or "").lower()


def test_timeout_sqlite_locked_database_fails_bounded(tmp_path: Path, lake: Lake) -> None:
    """#12 item 11: a SQLite source locked by another connection fails after the busy timeout."""
    path = tmp_path / "src.db"
    url = f"sqlite:///{path}"
    make_events(url, [(1, "a", T0)])
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        spec = IngestTable(table="events", cdc_col="ts")
        cfg = config(tables=[spec], retries=2, backoff_seconds=0.01)
        result = run_tables(lake, url, cfg, pipeline="p", timeouts=Timeouts(connect=0.5))
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    table = result.tables[0]
    assert table.status == "failed" and table.attempts == 2
    assert "locked" in (table.error or "")
    assert ingest(url, lake).rows == 1  # the lock released, the next run delivers
