"""Look-back windows: late rows with older CDC values are delivered exactly once."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from soundlake.core.errors import ConfigError
from soundlake.demo.simulate import simulate
from soundlake.ingest.config import IngestConfig, IngestTable
from soundlake.ingest.runner import run_tables
from soundlake.ingest.window import row_hashes
from soundlake.lake.storage import Lake
from tests.ingest.helpers import TABLES, as_multiset, bronze_rows, config, source_rows
from tests.ingest.test_semantics import execute, insert, make_events

T0 = dt.datetime(2025, 10, 7, 19, 49, 55)
HOUR = dt.timedelta(hours=1)


def ingest(url: str, lake: Lake, lookback: str, *, cdc: str = "ts", **kwargs: Any) -> Any:
    cfg = config(tables=[IngestTable(table="events", cdc_col=cdc)], lookback=lookback)
    result = run_tables(lake, url, cfg, pipeline="p", **kwargs)
    assert result.ok, result.failed
    return result.tables[0]


def delivered(lake: Lake, table: str = "events") -> Counter[tuple[Any, ...]]:
    return Counter(tuple(r.values()) for r in bronze_rows(lake, table))


def state(lake: Lake, table: str = "events") -> dict[str, Any]:
    path = Path(lake.root) / "bronze" / f"{table}_cdc" / "cdc.json"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def sidecars(lake: Lake, table: str = "events") -> list[str]:
    folder = Path(lake.root) / "bronze" / f"{table}_cdc" / "_fingerprints"
    return sorted(p.name for p in folder.glob("*"))


def in_window(rows: list[dict[str, Any]], cdc: str, lower: Any) -> Counter[tuple[Any, ...]]:
    return as_multiset([r for r in rows if r[cdc] is not None and r[cdc] >= lower])


# --- configuration -----------------------------------------------------------------------


def test_bad_lookback_is_a_config_error_naming_the_table() -> None:
    with pytest.raises(ValidationError, match="table FactStream: lookback '3 fortnights'"):
        IngestTable(table="FactStream", cdc_col="ts", lookback="3 fortnights")
    # one duration syntax everywhere: short ('3w') and long ('3 weeks', as in table properties)
    assert IngestTable(table="FactStream", cdc_col="ts", lookback="3 weeks").lookback == "3 weeks"
    assert IngestConfig(lookback="35 days").lookback == "35 days"
    with pytest.raises(ValidationError, match="ingest.lookback 'soon' is not a duration"):
        IngestConfig(lookback="soon")
    with pytest.raises(ValidationError, match="ingest.future_tolerance 'soon' is not a duration") as info:
        IngestConfig(future_tolerance="soon")
    assert "lookback" not in str(info.value).split("future_tolerance", 1)[1]
    assert IngestConfig(lookback=0).lookback == "0"  # type: ignore[arg-type]
    cfg = IngestConfig(tables=[IngestTable(table="a", cdc_col="c", lookback="2h")], lookback="3d")
    assert cfg.lookback_of(cfg.tables[0]) == "2h"


@pytest.mark.parametrize(
    ("ddl", "lookback", "message"),
    [
        ("d DATE", "12h", "table events: lookback '12h' is not a whole number of days"),
        ("d BIGINT", "5d", "table events: lookback '5d' has a time unit"),
        ("d TIMESTAMP", "5", "table events: lookback '5' needs a unit"),
    ],
)
def test_lookback_must_suit_the_cdc_column(
    sqlite_url: str, lake: Lake, ddl: str, lookback: str, message: str
) -> None:
    make_events(sqlite_url, [(1, "a", None)], ddl=f"CREATE TABLE events (id INT, v TEXT, {ddl})")
    cfg = config(tables=[IngestTable(table="events", cdc_col="d")], lookback=lookback)
    with pytest.raises(ConfigError, match=message):
        run_tables(lake, sqlite_url, cfg, pipeline="p")


# --- semantics -----------------------------------------------------------------------------


def test_late_rows_inside_the_window_are_delivered_once(source_url: str, lake: Lake) -> None:
    make_events(source_url, [(1, "a", T0), (2, "b", T0 - HOUR)])
    assert ingest(source_url, lake, "1d").rows == 2
    insert(source_url, [(3, "late", T0 - 5 * HOUR), (4, "tie", T0)])
    second = ingest(source_url, lake, "1d")
    assert second.rows == 2 and second.watermark_after == "2025-10-07T19:49:55"
    # rewritten in place with a new, older value inside the window: new content, once
    execute(source_url, "UPDATE events SET v = 'b2', ts = '2025-10-07 10:00:00' WHERE id = 2")
    insert(source_url, [(5, "too late", T0 - 2 * 24 * HOUR)])  # older than the window
    assert ingest(source_url, lake, "1d").rows == 1
    assert ingest(source_url, lake, "1d").rows == 0
    assert delivered(lake) == Counter(
        {
            (1, "a", T0): 1,
            (2, "b", T0 - HOUR): 1,
            (3, "late", T0 - 5 * HOUR): 1,
            (4, "tie", T0): 1,
            (2, "b2", dt.datetime(2025, 10, 7, 10)): 1,
        }
    )
    assert len(sidecars(lake)) == 1
    assert state(lake)["soundlake"]["window"]["since"] == "2025-10-06T19:49:55"


def test_identical_rows_in_the_window_are_counted(sqlite_url: str, lake: Lake) -> None:
    make_events(sqlite_url, [(1, "x", T0 - HOUR), (1, "x", T0 - HOUR), (2, "y", T0)])
    assert ingest(sqlite_url, lake, "2h").rows == 3
    insert(sqlite_url, [(1, "x", T0 - HOUR)])
    assert ingest(sqlite_url, lake, "2h").rows == 1
    assert ingest(sqlite_url, lake, "2h").rows == 0
    assert delivered(lake)[(1, "x", T0 - HOUR)] == 3


def test_the_window_set_is_pruned_as_the_watermark_moves(sqlite_url: str, lake: Lake) -> None:
    make_events(sqlite_url, [(i, "a", T0 + i * HOUR) for i in range(10)])
    ingest(sqlite_url, lake, "3h")
    window = state(lake)["soundlake"]["window"]
    assert window["rows"] == 4 and window["since"] == "2025-10-08T01:49:55"  # 4 rows in 3h
    insert(sqlite_url, [(10, "b", T0 + 20 * HOUR)])
    ingest(sqlite_url, lake, "3h")
    assert state(lake)["soundlake"]["window"]["rows"] == 1
    assert len(sidecars(lake)) == 1


def test_date_cdc_column_with_whole_days(source_url: str, lake: Lake) -> None:
    ddl = "CREATE TABLE events (id INT, v VARCHAR(20), d DATE)"
    make_events(source_url, [(1, "a", dt.date(2025, 10, 6))], ddl=ddl)
    assert ingest(source_url, lake, "2d", cdc="d").rows == 1
    insert(source_url, [(2, "b", dt.date(2025, 10, 4)), (3, "c", dt.date(2025, 10, 3))])
    second = ingest(source_url, lake, "2d", cdc="d")
    assert second.rows == 1 and second.watermark_after == "2025-10-06"
    assert ingest(source_url, lake, "2d", cdc="d").rows == 0


def test_enabling_the_window_later_duplicates_nothing(sqlite_url: str, lake: Lake) -> None:
    """A cdc.json from plain watermark runs covers only its value: the window grows from it."""
    make_events(sqlite_url, [(1, "a", T0), (2, "b", T0 - HOUR)])
    assert ingest(sqlite_url, lake, "0").rows == 2
    assert "window" not in state(lake)["soundlake"] and sidecars(lake) == []
    insert(sqlite_url, [(3, "tie", T0), (4, "late", T0 - HOUR)])
    assert ingest(sqlite_url, lake, "1d").rows == 1  # the tie; the late row predates coverage
    assert ingest(sqlite_url, lake, "1d").rows == 0
    insert(sqlite_url, [(5, "next", T0 + HOUR), (6, "late2", T0 + dt.timedelta(minutes=1))])
    ingest(sqlite_url, lake, "1d")
    insert(sqlite_url, [(7, "late3", T0 + dt.timedelta(minutes=2))])
    assert ingest(sqlite_url, lake, "1d").rows == 1  # now inside the covered window
    assert sorted(r["id"] for r in bronze_rows(lake, "events")) == [1, 2, 3, 5, 6, 7]
    assert ingest(sqlite_url, lake, "0").rows == 0  # and back to a zero window
    insert(sqlite_url, [(8, "tie", T0 + HOUR)])
    assert ingest(sqlite_url, lake, "0").rows == 1


def test_backfill_with_a_window_then_continues_without_duplicates(
    sqlite_url: str, lake: Lake
) -> None:
    make_events(sqlite_url, [(1, "a", T0), (2, "b", T0 - HOUR)])
    ingest(sqlite_url, lake, "2h")
    backfill = ingest(sqlite_url, lake, "2h", from_date="2025-10-07T00:00:00")
    assert backfill.mode == "backfill" and backfill.rows == 0  # both rows are in bronze
    assert backfill.reread_rows == 2
    assert state(lake)["soundlake"]["window"]["rows"] == 2
    insert(sqlite_url, [(3, "late", T0 - HOUR)])
    assert ingest(sqlite_url, lake, "2h").rows == 1


def test_row_hashes_see_every_column_and_null() -> None:
    import pyarrow as pa

    table = pa.table(
        {
            "i": pa.array([1, 1, 1, None, 1], pa.int32()),
            "s": ["a", "a", "b", "a", None],
            "t": pa.array([T0, T0, T0, T0, T0], pa.timestamp("us")),
        }
    )
    h = row_hashes(table).tolist()
    assert h[0] == h[1] and len(set(h[1:])) == 4
    assert row_hashes(table.slice(2)).tolist() == h[2:]


# --- the tutorial data and the simulator ----------------------------------------------------


def test_tutorial_incremental_delivers_every_change_in_the_window_once(
    source_url: str, lake: Lake, load
) -> None:
    load(source_url, "initial")
    cfg = config(lookback="40d")
    first = run_tables(lake, source_url, cfg, pipeline="spotify")
    assert first.ok and first.rows == 2865
    before = {t: source_rows(source_url, t) for t, _ in TABLES}
    load(source_url, "incremental")
    second = run_tables(lake, source_url, cfg, pipeline="spotify")
    assert second.ok, second.failed
    rows = {t.table: t.rows for t in second.tables}
    assert rows == {"DimUser": 69, "DimTrack": 50, "DimDate": 0, "DimArtist": 50, "FactStream": 300}
    for table, cdc in TABLES:
        wm = next(t.watermark_after for t in first.tables if t.table == table)
        value = before[table][0][cdc].__class__.fromisoformat(wm)
        lower = value - dt.timedelta(days=40)
        after = source_rows(source_url, table)
        expected = in_window(after, cdc, lower) - in_window(before[table], cdc, lower)
        assert as_multiset(bronze_rows(lake, table)) == as_multiset(before[table]) + expected
    users = {r["user_id"] for r in bronze_rows(lake, "DimUser")[500:]}
    assert len(users) == 69  # 70 upserts, user 44 twice: every changed user, once
    assert run_tables(lake, source_url, cfg, pipeline="spotify").rows == 0


def test_late_streams_of_the_simulator_are_delivered_once(
    source_url: str, lake: Lake, load
) -> None:
    load(source_url, "initial")
    cfg = config(
        lookback="35d", tables=[IngestTable(table="FactStream", cdc_col="stream_timestamp")]
    )
    plain = Lake(str(Path(lake.root).parent / "plain"))
    zero = config(tables=cfg.tables)
    now = dt.datetime(2025, 10, 20, 12, 0, 0)
    simulate(source_url, seed=1, now=now)
    for target, c in ((lake, cfg), (plain, zero)):
        assert run_tables(target, source_url, c, pipeline="p").ok
    summary = simulate(source_url, seed=2, now=now + HOUR)
    late = [c.new for c in summary.for_table("FactStream") if c.kind == "late_stream"]
    assert late and all(r["stream_timestamp"] < now for r in late)
    result = run_tables(lake, source_url, cfg, pipeline="p")
    assert result.rows == len(summary.for_table("FactStream"))
    ids = Counter(r["stream_id"] for r in bronze_rows(lake, "FactStream"))
    assert set(ids.values()) == {1}
    assert ids.keys() == {r["stream_id"] for r in source_rows(source_url, "FactStream")}
    assert run_tables(lake, source_url, cfg, pipeline="p").rows == 0
    missed = run_tables(plain, source_url, zero, pipeline="p").rows  # the plain watermark
    assert missed == len(summary.for_table("FactStream")) - len(late)


def test_postgres_timestamptz_window_is_utc(pg_url: str, lake: Lake) -> None:
    ddl = "CREATE TABLE events (id INT, v VARCHAR(20), ts TIMESTAMPTZ)"
    make_events(pg_url, [(1, "a", "2025-10-07 21:49:55+02:00")], ddl=ddl)
    assert ingest(pg_url, lake, "1h").watermark_after == "2025-10-07T19:49:55"
    insert(pg_url, [(2, "late", "2025-10-07 20:00:00+01:00"), (3, "old", "2025-10-07 18:49:54Z")])
    assert ingest(pg_url, lake, "1h").rows == 1  # 19:00 UTC is inside, 18:49:54 is not
    assert ingest(pg_url, lake, "1h").rows == 0
    assert state(lake)["soundlake"]["window"]["since"] == "2025-10-07T18:49:55"
