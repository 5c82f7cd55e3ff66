"""Property: with ties and in-place rewrites, every row state seen by a run is delivered once."""

from __future__ import annotations

import datetime as dt
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soundlake.ingest.config import IngestTable
from soundlake.ingest.runner import run_tables
from soundlake.lake.storage import Lake
from tests.ingest.helpers import bronze_rows, config

T0 = dt.datetime(2025, 10, 7, 19, 49, 55)

# an operation: ("insert", step) adds a row at max + step seconds (0 = a tie with the max),
# ("update", (index, step)) rewrites an existing row, ("ingest", batch_rows) runs ingest
OPERATION = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 1)),
    st.tuples(st.just("update"), st.tuples(st.integers(0, 50), st.integers(0, 1))),
    st.tuples(st.just("ingest"), st.integers(1, 4)),
)


@pytest.mark.property
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPERATION, min_size=1, max_size=14))
def test_every_row_state_seen_by_a_run_is_delivered_exactly_once(operations: list) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'source.db'}"
        lake = Lake.at("lake", base=Path(tmp))
        conn = sqlite3.connect(Path(tmp) / "source.db", isolation_level=None)
        conn.execute("CREATE TABLE events (id INT, v INT, ts DATETIME)")
        top, next_id = T0, 1
        seen: set[tuple[int, int, dt.datetime]] = set()

        def run(batch_rows: int) -> None:
            cfg = config(tables=[IngestTable(table="events", cdc_col="ts")], batch_rows=batch_rows)
            assert run_tables(lake, url, cfg, pipeline="p").ok
            rows = conn.execute("SELECT id, v, ts FROM events").fetchall()
            seen.update((i, v, dt.datetime.fromisoformat(ts)) for i, v, ts in rows)

        for version, (kind, arg) in enumerate(operations, start=1):
            if kind == "insert":
                top += dt.timedelta(seconds=arg)
                conn.execute("INSERT INTO events VALUES (?, ?, ?)", (next_id, version, str(top)))
                next_id += 1
            elif kind == "update" and next_id > 1:
                index, step = arg
                top += dt.timedelta(seconds=step)
                target = 1 + index % (next_id - 1)
                conn.execute(
                    "UPDATE events SET v = ?, ts = ? WHERE id = ?", (version, str(top), target)
                )
            elif kind == "ingest":
                run(arg)
        run(2)
        conn.close()
        delivered = [(r["id"], r["v"], r["ts"]) for r in bronze_rows(lake, "events")]
        assert sorted(delivered) == sorted(seen)  # each state once: none lost, none twice


# with a look-back window, inserts and rewrites may also go back in time (late rows), as
# long as they stay inside the window: step -3..1 seconds from the newest value, window 10s
LATE_OPERATION = st.one_of(
    st.tuples(st.just("insert"), st.integers(-3, 1)),
    st.tuples(st.just("update"), st.tuples(st.integers(0, 50), st.integers(-3, 1))),
    st.tuples(st.just("ingest"), st.integers(1, 4)),
)


@pytest.mark.property
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LATE_OPERATION, min_size=1, max_size=14))
def test_with_a_window_every_late_row_state_is_delivered_exactly_once(operations: list) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'source.db'}"
        lake = Lake.at("lake", base=Path(tmp))
        conn = sqlite3.connect(Path(tmp) / "source.db", isolation_level=None)
        conn.execute("CREATE TABLE events (id INT, v INT, ts DATETIME)")
        top, next_id = T0, 1
        seen: set[tuple[int, int, dt.datetime]] = set()

        def run(batch_rows: int) -> None:
            table = IngestTable(table="events", cdc_col="ts", lookback="10s")
            cfg = config(tables=[table], batch_rows=batch_rows)
            assert run_tables(lake, url, cfg, pipeline="p").ok
            rows = conn.execute("SELECT id, v, ts FROM events").fetchall()
            seen.update((i, v, dt.datetime.fromisoformat(ts)) for i, v, ts in rows)

        for version, (kind, arg) in enumerate(operations, start=1):
            if kind == "insert":
                top = max(top, top + dt.timedelta(seconds=arg))
                ts = top + dt.timedelta(seconds=min(arg, 0))
                conn.execute("INSERT INTO events VALUES (?, ?, ?)", (next_id, version, str(ts)))
                next_id += 1
            elif kind == "update" and next_id > 1:
                index, step = arg
                top = max(top, top + dt.timedelta(seconds=step))
                ts = top + dt.timedelta(seconds=min(step, 0))
                target = 1 + index % (next_id - 1)
                conn.execute(
                    "UPDATE events SET v = ?, ts = ? WHERE id = ?", (version, str(ts), target)
                )
            elif kind == "ingest":
                run(arg)
        run(2)
        conn.close()
        delivered = [(r["id"], r["v"], r["ts"]) for r in bronze_rows(lake, "events")]
        assert sorted(delivered) == sorted(seen)  # each state once: none lost, none twice
