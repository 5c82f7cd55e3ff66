"""The change simulator: its summary matches the database exactly."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soundlake.core.errors import SourceError
from soundlake.demo.generate import generate
from soundlake.demo.loadsql import load_sql_files
from soundlake.demo.simulate import UNKNOWN_ID, SimulationSummary, simulate
from soundlake.source.db import TABLE_NAMES, read_rows

NOW = datetime(2026, 3, 1, 12, 0, 0)


def _snapshot(url: str) -> dict[str, dict[int, dict[str, Any]]]:
    return {name: read_rows(url, name) for name in TABLE_NAMES}


def _check_summary_matches(before: dict[str, Any], after: dict[str, Any], summary: SimulationSummary) -> None:
    for table in TABLE_NAMES:
        final = summary.final_rows(table)
        changed = {k for k in after[table] if after[table][k] != before[table].get(k)}
        assert changed == set(final), table  # nothing changed that the summary does not list
        for key, row in final.items():
            assert after[table][key] == row, (table, key)
        inserted = set(summary.inserted_keys(table))
        assert inserted == set(after[table]) - set(before[table])
        for change in summary.for_table(table):
            if change.op == "update" and change.key in before[table] and change.old is not None:
                first = next(c for c in summary.for_table(table) if c.key == change.key)
                assert first.old == before[table][change.key]


def test_summary_matches_the_database(db_url: str) -> None:
    generate(db_url, scale=0.003, seed=4)
    before = _snapshot(db_url)
    summary = simulate(db_url, seed=11, rate=0.05, bad_rows=True, now=NOW)
    after = _snapshot(db_url)
    _check_summary_matches(before, after, summary)
    kinds = summary.counts()
    assert {"upgrade", "downgrade", "cancel", "rename", "new_user"} <= set(kinds["DimUser"])
    assert {"new_stream", "late_stream", "bad_stream"} <= set(kinds["FactStream"])
    assert {"rename", "new_artist"} <= set(kinds["DimArtist"])
    assert {"rename", "new_track"} <= set(kinds["DimTrack"])


def test_plan_changes_and_cancellations_are_what_they_say(sqlite_url: str) -> None:
    generate(sqlite_url, scale=0.005, seed=1)
    summary = simulate(sqlite_url, seed=2, rate=0.05, now=NOW)
    rank = {"Free": 0, "Premium": 1, "Family": 2}
    for change in summary.for_table("DimUser"):
        assert change.new["updated_at"] == NOW
        if change.kind == "upgrade":
            assert rank[change.new["subscription_type"]] > rank[change.old["subscription_type"]]  # type: ignore[index]
        elif change.kind == "downgrade":
            assert rank[change.new["subscription_type"]] < rank[change.old["subscription_type"]]  # type: ignore[index]
        elif change.kind == "cancel":
            assert change.old["end_date"] is None and change.new["end_date"] == NOW.date()  # type: ignore[index]
        elif change.kind == "rename":
            assert change.new["user_name"] != change.old["user_name"]  # type: ignore[index]
    for change in summary.for_table("DimArtist") + summary.for_table("DimTrack"):
        assert change.new["updated_at"] == NOW
        if change.old is not None:
            assert change.old["updated_at"] < NOW


def test_streams_new_and_late(sqlite_url: str) -> None:
    generate(sqlite_url, scale=0.005, seed=1)
    summary = simulate(sqlite_url, seed=3, rate=0.01, now=NOW)
    streams = summary.for_table("FactStream")
    new = [c.new for c in streams if c.kind == "new_stream"]
    late = [c.new for c in streams if c.kind == "late_stream"]
    assert len(new) == 50 and len(late) == 5
    assert all(NOW - timedelta(hours=1) <= s["stream_timestamp"] <= NOW for s in new)
    assert all(s["stream_timestamp"] <= NOW - timedelta(days=1) for s in late)
    assert min(s["stream_id"] for s in late) > max(s["stream_id"] for s in new)  # arrive after the new ones
    tracks = read_rows(sqlite_url, "DimTrack")
    dates = read_rows(sqlite_url, "DimDate")
    for s in new + late:
        ts = s["stream_timestamp"]
        assert s["date_key"] == ts.year * 10_000 + ts.month * 100 + ts.day and s["date_key"] in dates
        assert 10 <= s["listen_duration"] <= min(345, tracks[s["track_id"]]["duration_sec"])
    assert not summary.bad


def test_bad_rows_are_listed_with_reasons(sqlite_url: str) -> None:
    generate(sqlite_url, scale=0.002, seed=1)
    before = _snapshot(sqlite_url)
    summary = simulate(sqlite_url, seed=5, bad_rows=True, now=NOW)
    after = _snapshot(sqlite_url)
    reasons = {reason: (b.table, b.key) for b in summary.bad for reason in b.reasons if reason != "duplicate_key_in_batch"}
    streams = after["FactStream"]
    assert streams[reasons["null_user_id"][1]]["user_id"] is None
    assert streams[reasons["negative_listen_duration"][1]]["listen_duration"] < 0
    assert streams[reasons["unknown_user_id"][1]]["user_id"] == UNKNOWN_ID not in after["DimUser"]
    assert streams[reasons["unknown_track_id"][1]]["track_id"] == UNKNOWN_ID not in after["DimTrack"]
    assert streams[reasons["future_timestamp"][1]]["stream_timestamp"] > NOW
    mismatch = streams[reasons["date_key_mismatch"][1]]
    ts = mismatch["stream_timestamp"]
    assert mismatch["date_key"] != ts.year * 10_000 + ts.month * 100 + ts.day
    assert after["DimTrack"][reasons["negative_duration_sec"][1]]["duration_sec"] < 0
    duplicates = [b for b in summary.bad if b.reasons == ["duplicate_key_in_batch"]]
    assert {b.table for b in duplicates} == {"DimUser", "FactStream"}
    for bad in duplicates:
        versions = [c for c in summary.for_table(bad.table) if c.key == bad.key]
        assert len(versions) == 2 and versions[0].new != versions[1].new
        assert versions[1].old == versions[0].new
        assert after[bad.table][bad.key] == versions[1].new  # last wins in the database
    _check_summary_matches(before, after, summary)


def test_now_moves_past_existing_updated_at(tutorial_dir: Path, sqlite_url: str) -> None:
    load_sql_files(sqlite_url, [tutorial_dir / "spotify_initial_load.sql", tutorial_dir / "spotify_incremental_load.sql"])
    summary = simulate(sqlite_url, seed=1, now=datetime(2020, 1, 1))  # earlier than the data
    assert summary.now == datetime(2025, 10, 7, 19, 49, 57)
    again = simulate(sqlite_url, seed=2, now=datetime(2020, 1, 1))
    assert again.now == summary.now + timedelta(seconds=1)


def test_same_seed_same_batch(tmp_path: Path) -> None:
    summaries = []
    for i in range(2):
        url = f"sqlite:///{tmp_path / f'{i}.db'}"
        generate(url, scale=0.002, seed=3)
        summaries.append(simulate(url, seed=9, bad_rows=True, now=NOW).model_dump(exclude={"url"}))
    assert summaries[0] == summaries[1]


def test_summary_json_round_trip(sqlite_url: str) -> None:
    generate(sqlite_url, scale=0.001, seed=0)
    summary = simulate(sqlite_url, seed=1, bad_rows=True, now=NOW)
    loaded = SimulationSummary.model_validate_json(summary.model_dump_json())
    assert loaded.counts() == summary.counts() and loaded.bad == summary.bad
    assert loaded.now == NOW


def test_empty_source_is_an_error(sqlite_url: str) -> None:
    with pytest.raises(SourceError, match="no users or tracks"):
        simulate(sqlite_url, seed=1)
