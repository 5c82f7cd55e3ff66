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
from tests.cli import soundlake
from tests.ingest.helpers import bronze_rows, config
from tests.ingest.test_semantics import execute, insert, make_events

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
    """Run ``soundlake ingest`` in ``root`` as a user would (nothing from the caller's environment)."""
    return soundlake(
        "ingest", *args, project=root, columns=200, timeout=120,
        env={"PATH": "/usr/bin:/bin"}, inherit_env=False,
    )


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


# --- item 4: a backfill duplicates silver ---------------------------------------------------


def test_backfill_after_two_jobs_delivers_no_duplicates(sqlite_url: str, lake: Lake) -> None:
    """#12 item 4: `ingest --from-date` re-reads but delivers only rows not in bronze."""
    make_events(sqlite_url, [(1, "a", T0), (2, "b", T0), (3, "c", T0 + HOUR)])
    ingest(sqlite_url, lake)
    insert(sqlite_url, [(4, "d", T0 + 2 * HOUR), (4, "d", T0 + 2 * HOUR)])  # identical twins
    assert ingest(sqlite_url, lake).rows == 2
    backfill = ingest(sqlite_url, lake, from_date="2025-10-01")
    assert backfill.mode == "backfill"
    assert (backfill.reread_rows, backfill.rows) == (5, 0)
    assert "backfill re-read 5 row(s), delivered 0 not yet in bronze" in backfill.warnings
    assert sum(delivered(lake).values()) == 5
    assert ingest(sqlite_url, lake).rows == 0


def test_backfill_delivers_a_row_that_was_genuinely_missed(sqlite_url: str, lake: Lake) -> None:
    """#12 item 4: a row committed late with an old CDC value (no look-back) is backfilled once."""
    make_events(sqlite_url, [(1, "a", T0), (2, "b", T0 + HOUR)])
    ingest(sqlite_url, lake)
    insert(sqlite_url, [(3, "late", T0 - HOUR), (1, "a", T0)])  # a late row and an exact twin
    assert ingest(sqlite_url, lake).rows == 0  # invisible below the watermark
    backfill = ingest(sqlite_url, lake, from_date="2025-10-07")
    assert (backfill.reread_rows, backfill.rows) == (4, 2)
    assert delivered(lake) == Counter(
        {(1, "a", T0): 2, (2, "b", T0 + HOUR): 1, (3, "late", T0 - HOUR): 1}
    )
    assert ingest(sqlite_url, lake, from_date="2025-10-07").rows == 0  # idempotent
    insert(sqlite_url, [(4, "next", T0 + HOUR)])
    assert ingest(sqlite_url, lake).rows == 1  # the tie boundary still holds


def test_backfill_with_lookback_then_incremental_no_duplicates(sqlite_url: str, lake: Lake) -> None:
    """#12 item 4: a backfill on a windowed table keeps the window set exact (no repeat later)."""
    make_events(sqlite_url, [(1, "a", T0), (1, "a", T0)])
    ingest(sqlite_url, lake, lookback="2h")
    insert(sqlite_url, [(1, "a", T0)])  # a third identical row, committed late
    assert ingest(sqlite_url, lake, lookback="2h", from_date="2025-10-07").rows == 1
    assert ingest(sqlite_url, lake, lookback="2h").rows == 0
    assert delivered(lake) == Counter({(1, "a", T0): 3})


# --- item 5: a future timestamp stops a table -----------------------------------------------


def test_future_row_is_delivered_once_and_does_not_move_the_watermark(
    sqlite_url: str, lake: Lake
) -> None:
    """#12 item 5: a row dated 2099 is delivered once, warned about; later rows still flow."""
    far = dt.datetime(2099, 1, 1)
    make_events(sqlite_url, [(1, "a", T0), (2, "typo", far)])
    first = ingest(sqlite_url, lake)
    assert first.rows == 2 and first.future_rows == 1
    assert first.watermark_after == "2025-10-07T19:49:55"
    assert any("WARNING 1 row(s) dated beyond now + future_tolerance" in w for w in first.warnings)
    manifest = _manifests(lake)[-1]
    assert manifest["future_rows"] == 1 and manifest["future_max_cdc"] == "2099-01-01T00:00:00"
    assert ingest(sqlite_url, lake).rows == 0  # not re-delivered every run
    insert(sqlite_url, [(3, "later", T0 + HOUR)])
    third = ingest(sqlite_url, lake)
    assert third.rows == 1 and third.watermark_after == "2025-10-07T20:49:55"
    assert sum(delivered(lake).values()) == 3


def test_future_tolerance_is_configurable_and_validated(sqlite_url: str, lake: Lake) -> None:
    """#12 item 5: ingest.future_tolerance moves the limit; a bad value is a config error."""
    soon = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=3)
    make_events(sqlite_url, [(1, "a", soon.replace(microsecond=0))])
    result = ingest(sqlite_url, lake, future_tolerance="7d")
    assert result.future_rows == 0 and result.watermark_after is not None
    assert result.watermark_after.startswith(soon.date().isoformat())
    with pytest.raises(ValidationError, match="not a duration"):
        IngestConfig(future_tolerance="tomorrow")


def _manifests(lake: Lake, table: str = "events") -> list[dict[str, Any]]:
    import json

    folder = Path(lake.root) / "bronze" / f"{table}_cdc" / "_manifests"
    docs = [json.loads(p.read_text()) for p in folder.glob("*.json")]
    return sorted(docs, key=lambda d: d["seq"])


# --- item 6: NULL CDC values, type changes --------------------------------------------------


def test_null_cdc_rows_are_delivered_by_incremental_runs_once(sqlite_url: str, lake: Lake) -> None:
    """#12 item 6: rows with a NULL CDC value inserted later are delivered once, counted."""
    make_events(sqlite_url, [(1, "a", T0)])
    ingest(sqlite_url, lake)
    insert(sqlite_url, [(2, "n", None), (2, "n", None)])
    second = ingest(sqlite_url, lake)
    assert second.rows == 2 and second.null_cdc_rows == 2
    assert _manifests(lake)[-1]["null_cdc_rows"] == 2
    assert ingest(sqlite_url, lake).rows == 0
    execute(
        sqlite_url,
        "UPDATE events SET v = 'changed' WHERE id = 2 AND rowid IN "
        "(SELECT rowid FROM events WHERE id = 2 LIMIT 1)",
    )
    assert ingest(sqlite_url, lake).rows == 1  # a changed NULL row is a new version
    assert sum(delivered(lake).values()) == 4


def test_null_cdc_rows_from_a_state_before_the_set_are_not_repeated(
    sqlite_url: str, lake: Lake
) -> None:
    """#12 item 6: a cdc.json written before NULL rows were tracked is seeded from bronze."""
    import json

    make_events(sqlite_url, [(1, "a", T0), (2, "n", None)])
    ingest(sqlite_url, lake)
    path = Path(lake.root) / "bronze" / "events_cdc" / "cdc.json"
    doc = json.loads(path.read_text())
    del doc["soundlake"]["nulls"]
    path.write_text(json.dumps(doc))
    insert(sqlite_url, [(3, "n2", None)])
    assert ingest(sqlite_url, lake).rows == 1
    assert sorted(r["id"] for r in bronze_rows(lake, "events")) == [1, 2, 3]


def test_type_change_widening_is_delivered_and_recorded(sqlite_url: str, lake: Lake) -> None:
    """#12 item 6: INT -> BIGINT widens; the manifest records the schema-evolution event."""
    make_events(
        sqlite_url, [(1, "a", T0)], ddl="CREATE TABLE events (id INT, v TEXT, ts TIMESTAMP)"
    )
    ingest(sqlite_url, lake)
    _recreate(sqlite_url, "id BIGINT, v TEXT, ts TIMESTAMP")
    insert(sqlite_url, [(2**40, "big", T0 + HOUR)])
    result = ingest(sqlite_url, lake)
    assert result.rows == 1
    event = {"column": "id", "change": "widened", "from": "int32", "to": "int64"}
    assert _manifests(lake)[-1]["schema_evolution"] == [event]
    assert "schema evolution: column 'id' widened (int32 -> int64)" in result.warnings
    assert sorted(r["id"] for r in bronze_rows(lake, "events")) == [1, 2**40]


def test_type_change_incompatible_fails_with_one_line(tmp_path: Path) -> None:
    """#12 item 6: INT -> TEXT fails the table naming table, column, both types and the fix."""
    url = f"sqlite:///{tmp_path / 'src.db'}"
    make_events(url, [(1, "a", T0)], ddl="CREATE TABLE events (id INT, v TEXT, ts TIMESTAMP)")
    root = project(tmp_path, url, "    - {table: events, cdc_col: ts}")
    assert cli(root).returncode == 0
    _recreate(url, "id TEXT, v TEXT, ts TIMESTAMP")
    insert(url, [("x-2", "b", T0 + HOUR)])
    run = cli(root)
    assert run.returncode == 1
    out = run.stdout + run.stderr
    assert "table events, column 'id' changed type from int32 to string" in out
    assert "move bronze/events and bronze/events_cdc away" in out
    assert "Traceback" not in out
    assert sum(delivered(Lake.at("lake", base=tmp_path)).values()) == 1


def _recreate(url: str, columns: str) -> None:
    """Recreate ``events`` with new column types, keeping its rows."""
    execute(url, "ALTER TABLE events RENAME TO events_old")
    execute(url, f"CREATE TABLE events ({columns})")
    execute(url, "INSERT INTO events SELECT * FROM events_old")
    execute(url, "DROP TABLE events_old")


# --- item 9: ALTER TABLE ADD COLUMN -------------------------------------------------------


def test_add_column_with_lookback_does_not_redeliver_the_window(
    sqlite_url: str, lake: Lake
) -> None:
    """#12 item 9: after ADD COLUMN the look-back window does not re-deliver old rows."""
    make_events(sqlite_url, [(1, "a", T0), (2, "b", T0 + HOUR), (2, "b", T0 + HOUR)])
    ingest(sqlite_url, lake, lookback="1d")
    execute(sqlite_url, "ALTER TABLE events ADD COLUMN extra TEXT")
    insert(sqlite_url, [(3, "c", T0 + HOUR, "x")])
    result = ingest(sqlite_url, lake, lookback="1d")
    assert result.rows == 1
    assert result.schema_evolution == ({"column": "extra", "change": "added", "to": "string"},)
    assert ingest(sqlite_url, lake, lookback="1d").rows == 0  # and not on the next run either
    execute(sqlite_url, "UPDATE events SET extra = 'set' WHERE id = 1")
    assert ingest(sqlite_url, lake, lookback="1d").rows == 1  # a real change is delivered
    assert sum(delivered(lake).values()) == 5


def test_add_column_without_lookback_keeps_the_tie_boundary(sqlite_url: str, lake: Lake) -> None:
    """#12 item 9: rows at the watermark are not re-delivered after ADD COLUMN (no window)."""
    make_events(sqlite_url, [(1, "a", T0), (2, "b", T0)])
    ingest(sqlite_url, lake)
    execute(sqlite_url, "ALTER TABLE events ADD COLUMN extra INT")
    assert ingest(sqlite_url, lake).rows == 0
    assert sum(delivered(lake).values()) == 2


# --- clear errors: look-back fingerprints ---------------------------------------------------


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_fingerprint_file_corrupt_or_missing_is_rebuilt_from_bronze(
    sqlite_url: str, lake: Lake, damage: str
) -> None:
    """#12 clear errors: a damaged look-back sidecar is rebuilt from bronze, no duplicates."""
    make_events(sqlite_url, [(1, "a", T0), (2, "b", T0 + HOUR)])
    ingest(sqlite_url, lake, lookback="1d")
    folder = Path(lake.root) / "bronze" / "events_cdc" / "_fingerprints"
    (sidecar,) = folder.glob("*.parquet")
    if damage == "corrupt":
        sidecar.write_bytes(b"not parquet")
    else:
        sidecar.unlink()
    insert(sqlite_url, [(3, "c", T0 + HOUR)])
    result = ingest(sqlite_url, lake, lookback="1d")
    assert result.rows == 1
    assert sum(delivered(lake).values()) == 3
    assert ingest(sqlite_url, lake, lookback="1d").rows == 0


# --- item 6: hard deletes -----------------------------------------------------------------


def _users(url: str) -> None:
    make_events(
        url,
        [(1, "a", T0), (2, "b", T0), (3, "c", T0)],
        ddl="CREATE TABLE events (id INT PRIMARY KEY, v VARCHAR(20), ts TIMESTAMP)",
    )


def test_deletes_become_delete_events_once(sqlite_url: str, lake: Lake) -> None:
    """#12 item 6: a hard delete is delivered once as a `_deleted` row (key set, CDC = now)."""
    _users(sqlite_url)
    first = ingest(sqlite_url, lake, deletes=True)
    assert first.rows == 3 and first.deleted_rows == 0
    execute(sqlite_url, "DELETE FROM events WHERE id = 2")
    second = ingest(sqlite_url, lake, deletes=True)
    assert second.deleted_rows == 1 and second.watermark_after == "2025-10-07T19:49:55"
    rows = bronze_rows(lake, "events")
    events = [r for r in rows if r["_deleted"]]
    assert len(events) == 1 and events[0]["id"] == 2 and events[0]["v"] is None
    assert events[0]["ts"] > T0  # the ingest time
    assert all(r["_deleted"] is None for r in rows if r not in events)
    assert ingest(sqlite_url, lake, deletes=True).deleted_rows == 0  # not again
    insert(sqlite_url, [(2, "back", T0 + HOUR)])
    assert ingest(sqlite_url, lake, deletes=True).rows == 1  # re-inserted key flows again
    execute(sqlite_url, "DELETE FROM events WHERE id = 2")
    assert ingest(sqlite_url, lake, deletes=True).deleted_rows == 1


def test_deletes_key_set_rebuilt_from_bronze_when_sidecar_is_lost(
    sqlite_url: str, lake: Lake
) -> None:
    """#12 item 6: the delivered-key set is rebuilt from bronze (deleted keys stay deleted)."""
    _users(sqlite_url)
    ingest(sqlite_url, lake, deletes=True)
    execute(sqlite_url, "DELETE FROM events WHERE id = 3")
    assert ingest(sqlite_url, lake, deletes=True).deleted_rows == 1
    for sidecar in (Path(lake.root) / "bronze" / "events_cdc" / "_keys").glob("*"):
        sidecar.unlink()
    execute(sqlite_url, "DELETE FROM events WHERE id = 1")
    assert ingest(sqlite_url, lake, deletes=True).deleted_rows == 1  # id 1 only, not 3 again
    deleted = [r["id"] for r in bronze_rows(lake, "events") if r["_deleted"]]
    assert sorted(deleted) == [1, 3]


def test_deletes_need_a_key(sqlite_url: str, lake: Lake) -> None:
    """#12 item 6: `deletes: true` without a primary key or `key:` is a config error."""
    make_events(sqlite_url, [(1, "a", T0)])
    with pytest.raises(ConfigError, match="table events: deletes: true needs the table's key"):
        ingest(sqlite_url, lake, deletes=True, ok=False)
    result = ingest(sqlite_url, lake, deletes=True, key=["id"])
    assert result.rows == 1


def test_postgres_null_future_and_deletes_are_delivered_once(pg_url: str, lake: Lake) -> None:
    """#12 items 5 and 6 on PostgreSQL (its own reader SQL): NULL, future rows and deletes."""
    make_events(
        pg_url,
        [(1, "a", T0), (2, "n", None), (3, "far", dt.datetime(2099, 1, 1))],
        ddl="CREATE TABLE events (id INT PRIMARY KEY, v VARCHAR(20), ts TIMESTAMP)",
    )
    first = ingest(pg_url, lake, deletes=True)
    assert (first.rows, first.null_cdc_rows, first.future_rows) == (3, 1, 1)
    assert first.watermark_after == "2025-10-07T19:49:55"
    insert(pg_url, [(4, "n2", None), (5, "b", T0 + HOUR)])
    execute(pg_url, "DELETE FROM events WHERE id = 1")
    second = ingest(pg_url, lake, deletes=True)
    assert (second.rows, second.null_cdc_rows, second.deleted_rows) == (2, 1, 1)
    third = ingest(pg_url, lake, deletes=True)
    assert (third.rows, third.deleted_rows) == (0, 0)
    ids = Counter(r["id"] for r in bronze_rows(lake, "events") if not r["_deleted"])
    assert ids == Counter({1: 1, 2: 1, 3: 1, 4: 1, 5: 1})


def test_future_row_is_not_redelivered_when_time_catches_up(sqlite_url: str, lake: Lake) -> None:
    """#12 item 5: a future row later inside the tolerance is not delivered a second time."""
    soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)).replace(tzinfo=None)
    make_events(sqlite_url, [(1, "a", T0), (2, "soon", soon.replace(microsecond=0))])
    assert ingest(sqlite_url, lake, future_tolerance="1d").future_rows == 1
    later = ingest(sqlite_url, lake, future_tolerance="7d")  # as if four days had passed
    assert later.rows == 0
    insert(sqlite_url, [(3, "b", T0 + HOUR)])
    assert ingest(sqlite_url, lake, future_tolerance="7d").rows == 1
    assert sum(delivered(lake).values()) == 3


# --- the reference project end to end -----------------------------------------------------


def test_backfill_and_deletes_on_the_reference_project_end_to_end(tmp_path: Path) -> None:
    """#12 items 4 and 6: after a backfill silver holds no exact duplicate; deletes reach gold."""
    from soundlake.catalog.names import TableName
    from soundlake.lake import delta
    from soundlake.project.context import Project
    from soundlake.project.ingest_ops import run_ingest
    from soundlake.project.job import run_job
    from soundlake.project.scaffold import init_project
    from soundlake.project.source_ops import create_source, generate, simulate

    def table(schema: str, name: str) -> list[dict[str, Any]]:
        uri = project.lake.uri(*TableName("spotify_catalog", schema, name).parts)
        return list(delta.snapshot_dataset(uri).to_table().to_pylist())

    def exact_duplicates(rows: list[dict[str, Any]]) -> int:
        keep = [
            tuple(v for k, v in r.items() if k not in ("_run_id", "_quarantined_at")) for r in rows
        ]
        return sum(n - 1 for n in Counter(keep).values())

    init_project(tmp_path)
    project = Project.open(tmp_path)
    create_source(project)
    generate(project, scale=0.003, seed=11)
    assert run_job(project).ok
    simulate(project, seed=12, rate=0.05)
    assert run_job(project).ok
    before = len(table("silver", "factstream"))
    backfill = run_ingest(project, from_date="1900-01-01")
    assert backfill.ok and backfill.rows == 0
    assert all(t.mode == "backfill" and t.reread_rows > 0 for t in backfill.tables)
    execute(project.source_url, 'DELETE FROM "DimUser" WHERE user_id = 1')
    assert run_job(project).ok
    silver = table("silver", "factstream")
    assert len(silver) == before and exact_duplicates(silver) == 0
    users = [r for r in table("gold", "dim_user") if r["user_id"] == 1]
    assert users and all(r["__END_AT"] is not None for r in users)  # the delete closed it
    assert "_deleted" not in users[0]


DELETES_SCRIPT = """
import sys
from soundlake.ingest.config import IngestTable
from soundlake.ingest.runner import run_tables
from soundlake.lake.storage import Lake
from tests.ingest.helpers import config
spec = IngestTable(table="events", cdc_col="ts", deletes=True)
result = run_tables(Lake(sys.argv[2]), sys.argv[1], config(tables=[spec]), pipeline="p")
sys.exit(0 if result.ok else 1)
"""


@pytest.mark.parametrize(
    "step", ["query", "before_rename", "before_manifest", "before_watermark", "watermark_write"]
)
def test_deletes_crash_at_each_step_then_rerun_delivers_once(
    sqlite_url: str, lake: Lake, step: str
) -> None:
    """#12 item 6: a crash at any commit step, then a re-run: each delete event exactly once."""
    import os

    from soundlake.ingest.faults import FAULT_ENV, FAULT_EXIT_CODE
    from tests.conftest import REPO

    _users(sqlite_url)
    ingest(sqlite_url, lake, deletes=True)
    execute(sqlite_url, "DELETE FROM events WHERE id = 2")
    insert(sqlite_url, [(4, "d", T0 + HOUR)])
    proc = subprocess.run(  # noqa: PLW1510 (the return code is checked)
        [sys.executable, "-c", DELETES_SCRIPT, sqlite_url, lake.root],
        cwd=REPO,
        env=dict(os.environ, **{FAULT_ENV: step}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == FAULT_EXIT_CODE, proc.stderr
    ingest(sqlite_url, lake, deletes=True)
    assert ingest(sqlite_url, lake, deletes=True).rows == 0
    rows = bronze_rows(lake, "events")
    assert [r["id"] for r in rows if r["_deleted"]] == [2]
    assert Counter(r["id"] for r in rows if not r["_deleted"]) == Counter({1: 1, 2: 1, 3: 1, 4: 1})
