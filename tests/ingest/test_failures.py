"""Failures: a failing table does not stop the others, alerts, retries, bad configuration."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from soundlake.core.errors import ConfigError
from soundlake.core.memory import ARROW_POOL_ENV
from soundlake.ingest.config import IngestTable
from soundlake.ingest.results import NullReporter
from soundlake.ingest.runner import run_tables
from soundlake.lake.storage import Lake
from soundlake.source.dialects import Timeouts, is_transient
from tests.ingest.helpers import as_multiset, bronze_rows, config, source_rows


class Webhook:
    """A local HTTP server on 127.0.0.1 that records POSTed bodies."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                owner.bodies.append(self.rfile.read(length))
                owner.headers.append(dict(self.headers))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alert"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def webhook() -> Any:
    hook = Webhook()
    yield hook
    hook.close()


def _break_dimtrack(url: str) -> None:
    path = url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path)) as conn, conn:  # a value that does not fit INT (SQLite allows it)
        conn.execute("UPDATE DimTrack SET duration_sec = 'three minutes' WHERE track_id = 7")


def test_failing_table_does_not_stop_others_and_alert_is_valid_json(
    sqlite_url: str, lake: Lake, load, webhook: Webhook
) -> None:
    load(sqlite_url, "initial")
    _break_dimtrack(sqlite_url)
    result = run_tables(lake, sqlite_url, config(alert_url=webhook.url), pipeline="spotify")
    assert not result.ok
    assert [t.table for t in result.failed] == ["DimTrack"]
    assert "DimTrack" in (result.failed[0].error or "")
    assert result.failed[0].attempts == 1  # not transient: no retry
    for table in ("DimUser", "DimDate", "DimArtist", "FactStream"):
        assert as_multiset(bronze_rows(lake, table)) == as_multiset(source_rows(sqlite_url, table))
    assert not (Path(lake.root) / "bronze" / "DimTrack").exists() or not list(
        (Path(lake.root) / "bronze" / "DimTrack").glob("*.parquet")
    )
    assert not (Path(lake.root) / "bronze" / "DimTrack_cdc" / "cdc.json").exists()
    assert result.alert_sent and len(webhook.bodies) == 1
    body = json.loads(webhook.bodies[0])
    assert body["pipeline"] == "spotify"
    assert body["run_id"] == result.run_id
    assert body["failed_tables"] == ["DimTrack"]
    assert "duration_sec" in body["errors"]["DimTrack"] or "DimTrack" in body["errors"]["DimTrack"]
    assert webhook.headers[0]["Content-Type"].startswith("application/json")


def test_no_alert_when_everything_succeeds(
    sqlite_url: str, lake: Lake, load, webhook: Webhook
) -> None:
    load(sqlite_url, "initial")
    result = run_tables(lake, sqlite_url, config(alert_url=webhook.url), pipeline="spotify")
    assert result.ok and not result.alert_sent and webhook.bodies == []
    if not os.environ.get(ARROW_POOL_ENV):  # ingestion chose the system heap
        assert pa.default_memory_pool().backend_name == "system"


def test_unreachable_alert_url_is_reported_not_raised(sqlite_url: str, lake: Lake, load) -> None:
    load(sqlite_url, "initial")
    _break_dimtrack(sqlite_url)
    result = run_tables(lake, sqlite_url, config(alert_url="http://127.0.0.1:9/none"), pipeline="p")
    assert not result.ok and not result.alert_sent
    assert result.alert_error and "not reachable" in result.alert_error


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA locking_mode=EXCLUSIVE")  # blocks readers in WAL mode too
conn.execute("BEGIN EXCLUSIVE")
conn.execute("CREATE TABLE IF NOT EXISTS _lock_probe (x INT)")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def test_locked_database_is_retried_with_backoff(sqlite_url: str, lake: Lake, load) -> None:
    load(sqlite_url, "initial")
    path = sqlite_url.removeprefix("sqlite:///")
    lockers: list[subprocess.Popen[str]] = []

    class LockOnStart(NullReporter):
        """Another process takes an exclusive lock right before the first read (for 1 s)."""

        def table_started(self, table: str, mode: Any, watermark: str | None) -> None:
            if not lockers:
                proc = subprocess.Popen(
                    [sys.executable, "-c", LOCKER, path, "1.0"], stdout=subprocess.PIPE, text=True
                )
                lockers.append(proc)
                assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"

    reporter = LockOnStart()
    cfg = config(
        tables=[IngestTable(table="FactStream", cdc_col="stream_timestamp")],
        retries=8,
        backoff_seconds=0.1,
    )
    try:
        # a lock wait (SQLite busy timeout = the connect timeout) shorter than the 1 s lock
        result = run_tables(
            lake, sqlite_url, cfg, pipeline="p", reporter=reporter, timeouts=Timeouts(connect=0.2)
        )
    finally:
        for proc in lockers:
            proc.wait(timeout=30)
    assert result.ok, result.failed
    fact = result.tables[0]
    assert fact.attempts > 1 and fact.rows == 1000
    assert any("locked" in note for note in reporter.notes)
    assert as_multiset(bronze_rows(lake, "FactStream")) == as_multiset(
        source_rows(sqlite_url, "FactStream")
    )


@pytest.mark.parametrize(
    "message",
    [
        "database is locked",
        "server closed the connection unexpectedly",
        "terminating connection due to administrator command",
    ],
)
def test_driver_errors_that_a_retry_may_cure_are_transient(message: str) -> None:
    assert is_transient(RuntimeError(message))


def test_other_driver_errors_are_terminal() -> None:
    assert not is_transient(RuntimeError('relation "x" does not exist'))


@pytest.mark.parametrize(
    ("table", "cdc_col", "message"),
    [
        ("DimUsers", "updated_at", "source table 'DimUsers' not found"),
        ("DimUser", "modified", "unknown column 'modified'"),
        ("DimUser", "user_name", "a watermark needs a DATE, DATETIME/TIMESTAMP or integer column"),
    ],
    ids=["unknown-table", "unknown-column", "cdc-column-not-orderable"],
)
def test_bad_config_names_the_culprit_and_writes_nothing(
    table: str, cdc_col: str, message: str, source_url: str, lake: Lake, load
) -> None:
    load(source_url, "initial")
    tables = [
        IngestTable(table="DimDate", cdc_col="date"),
        IngestTable(table=table, cdc_col=cdc_col),
    ]
    with pytest.raises(ConfigError, match=message):
        run_tables(lake, source_url, config(tables=tables), pipeline="p")
    assert not (Path(lake.root) / "bronze").exists()


def test_bad_from_date_names_the_table(sqlite_url: str, lake: Lake, load) -> None:
    load(sqlite_url, "initial")
    cfg = config(tables=[IngestTable(table="DimUser", cdc_col="updated_at")])
    result = run_tables(lake, sqlite_url, cfg, pipeline="p", from_date="yesterday")
    assert not result.ok and "DimUser" in (result.failed[0].error or "")


def test_tables_run_in_parallel_with_a_bounded_pool(sqlite_url: str, lake: Lake, load) -> None:
    load(sqlite_url, "initial")
    seen: set[str] = set()
    lock = threading.Lock()

    class Threads(NullReporter):
        def table_progress(self, table: str, rows: int) -> None:
            with lock:
                seen.add(threading.current_thread().name)
            time.sleep(0.05)

    result = run_tables(lake, sqlite_url, config(workers=2), pipeline="p", reporter=Threads())
    assert result.ok
    assert len(seen) == 2 and all(name.startswith("ingest") for name in seen)


def test_tables_are_described_before_any_worker_reads(
    sqlite_url: str, lake: Lake, load, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's sqlite3 (the description) and ADBC's SQLite (the rows) never overlap.

    Two copies of SQLite with one database open at once in one process ignore each
    other's locks and WAL index (a SIGBUS or a corrupt read): every description happens
    in the calling thread before the workers start, and the workers reuse it.
    """
    import soundlake.ingest.table as table_module

    threads: list[str] = []
    describe = table_module.describe_table

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return describe(*args, **kwargs)

    monkeypatch.setattr(table_module, "describe_table", recording)
    load(sqlite_url, "initial")
    result = run_tables(lake, sqlite_url, config(), pipeline="spotify")
    assert result.ok, [(t.table, t.error) for t in result.failed]
    assert len(threads) == len(result.tables) and set(threads) == {threading.current_thread().name}
