"""Synthetic data: determinism, scaling, distributions and consistency."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from soundlake.core.errors import SourceError
from soundlake.demo.generate import GenerateSpec, generate
from soundlake.source.db import content_hash, read_rows, table_counts

DEVICES = {"Mobile", "Desktop", "Smart Speaker"}
PLANS = {"Free", "Premium", "Family"}
GENRES = {"Pop", "Hip-Hop", "Jazz", "Electronic", "Rock", "Classical"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, dict[int, dict[str, Any]]]]:
    """S=0.01 (10,000 streams) in SQLite, with every table read back."""
    url = f"sqlite:///{tmp_path_factory.mktemp('gen') / 'source.db'}"
    generate(url, scale=0.01, seed=7, chunk_rows=3_000)
    tables = {name: read_rows(url, name) for name in ("DimUser", "DimArtist", "DimTrack", "DimDate", "FactStream")}
    return url, tables


def test_same_seed_same_data_other_seed_other_data(tmp_path) -> None:  # type: ignore[no-untyped-def]
    urls = [f"sqlite:///{tmp_path / f'{i}.db'}" for i in range(3)]
    generate(urls[0], scale=0.002, seed=1)
    generate(urls[1], scale=0.002, seed=1)
    generate(urls[2], scale=0.002, seed=2)
    assert content_hash(urls[0]) == content_hash(urls[1])
    assert content_hash(urls[0]) != content_hash(urls[2])


def test_postgres_gets_the_same_rows_as_sqlite(sqlite_url: str, pg_url: str) -> None:
    first = generate(sqlite_url, scale=0.002, seed=5, chunk_rows=500)
    second = generate(pg_url, scale=0.002, seed=5, chunk_rows=500)
    assert first.rows == second.rows and second.chunks > 1
    assert content_hash(sqlite_url) == content_hash(pg_url)


def test_sizes_scale_linearly(sqlite_url: str) -> None:
    result = generate(sqlite_url, scale=0.005, seed=0)
    spec = GenerateSpec(scale=0.005, seed=0)
    assert result.rows == table_counts(sqlite_url)
    assert result.rows == {"DimUser": 50, "DimArtist": 10, "DimTrack": 100, "DimDate": 366, "FactStream": 5000}
    assert (spec.users, spec.streams) == (50, 5000)
    big = GenerateSpec(scale=5, seed=0)
    assert (big.users, big.artists, big.tracks, big.streams) == (50_000, 10_000, 100_000, 5_000_000)
    assert result.rows_per_second > 0 and result.total_rows == sum(result.rows.values())


def test_non_empty_source_needs_replace(sqlite_url: str) -> None:
    generate(sqlite_url, scale=0.001, seed=0)
    with pytest.raises(SourceError, match="already holds rows"):
        generate(sqlite_url, scale=0.001, seed=0)
    before = content_hash(sqlite_url)
    generate(sqlite_url, scale=0.001, seed=0, replace=True)
    assert content_hash(sqlite_url) == before


def test_progress_reports_every_table(sqlite_url: str) -> None:
    seen: list[tuple[str, int, int]] = []
    generate(sqlite_url, scale=0.002, seed=0, chunk_rows=400, progress=lambda *a: seen.append(a))
    assert {name for name, _, _ in seen} == {"DimUser", "DimArtist", "DimTrack", "DimDate", "FactStream"}
    assert seen[-1] == ("FactStream", 2000, 2000)


def test_popularity_is_zipf_like(generated) -> None:  # type: ignore[no-untyped-def]
    _, t = generated
    plays = Counter(s["track_id"] for s in t["FactStream"].values())
    top = sorted(plays.values(), reverse=True)
    top_share = sum(top[: max(1, len(t["DimTrack"]) // 100)]) / len(t["FactStream"])
    assert top_share > 0.15  # top 1% of tracks; uniform would give 1%
    by_artist = Counter(t["DimTrack"][s["track_id"]]["artist_id"] for s in t["FactStream"].values())
    artist_top = sorted(by_artist.values(), reverse=True)[: max(1, len(t["DimArtist"]) // 10)]
    assert sum(artist_top) / len(t["FactStream"]) > 0.3  # top 10% of artists


def test_daily_and_weekly_rhythm(generated) -> None:  # type: ignore[no-untyped-def]
    _, t = generated
    hours = Counter(s["stream_timestamp"].hour for s in t["FactStream"].values())
    evening = sum(hours[h] for h in (18, 19, 20, 21))
    night = sum(hours[h] for h in (2, 3, 4, 5))
    assert evening > 4 * night
    weekdays = Counter(s["stream_timestamp"].weekday() for s in t["FactStream"].values())
    assert weekdays[4] + weekdays[5] > weekdays[0] + weekdays[1]  # Fri+Sat beat Mon+Tue


def test_sessions_are_consecutive_plays_on_one_device(generated) -> None:  # type: ignore[no-untyped-def]
    _, t = generated
    by_user: dict[int, list[dict[str, Any]]] = {}
    for s in t["FactStream"].values():
        by_user.setdefault(s["user_id"], []).append(s)
    back_to_back = same_device = pairs = 0
    for plays in by_user.values():
        plays.sort(key=lambda s: s["stream_timestamp"])
        for a, b in pairwise(plays):
            gap = (b["stream_timestamp"] - a["stream_timestamp"]).total_seconds()
            pairs += 1
            if a["listen_duration"] <= gap <= a["listen_duration"] + 3:
                back_to_back += 1
                same_device += a["device_type"] == b["device_type"]
    assert back_to_back > 0.6 * pairs
    assert same_device == back_to_back


def test_values_are_consistent_and_in_domain(generated) -> None:  # type: ignore[no-untyped-def]
    _, t = generated
    tracks, users, dates = t["DimTrack"], t["DimUser"], t["DimDate"]
    for s in t["FactStream"].values():
        ts = s["stream_timestamp"]
        assert s["date_key"] == ts.year * 10_000 + ts.month * 100 + ts.day
        assert s["date_key"] in dates
        duration = tracks[s["track_id"]]["duration_sec"]
        assert 10 <= s["listen_duration"] <= min(345, duration)
        assert s["device_type"] in DEVICES
        user = users[s["user_id"]]
        assert user["start_date"] <= ts.date()
        assert user["end_date"] is None or ts.date() <= user["end_date"] + timedelta(days=1)
    assert all(90 <= tr["duration_sec"] <= 360 and tr["artist_id"] in t["DimArtist"] for tr in tracks.values())
    assert all(tr["release_date"] <= tr["updated_at"].date() for tr in tracks.values())
    assert {u["subscription_type"] for u in users.values()} == PLANS
    assert all(u["updated_at"].date() >= u["start_date"] for u in users.values())
    assert {a["genre"] for a in t["DimArtist"].values()} <= GENRES
    devices = Counter(s["device_type"] for s in t["FactStream"].values())
    assert devices["Mobile"] > devices["Desktop"] > devices["Smart Speaker"] > 0


def test_dim_date_covers_the_period(generated) -> None:  # type: ignore[no-untyped-def]
    _, t = generated
    dates = t["DimDate"]
    assert len(dates) == 366 and min(dates) == 20250101 and max(dates) == 20260101
    first = dates[20250101]
    assert (first["date"], first["day"], first["month"], first["year"], first["weekday"]) == (
        date(2025, 1, 1), 1, 1, 2025, "Wednesday")


def test_stream_ids_follow_time(generated) -> None:  # type: ignore[no-untyped-def]
    _, t = generated
    streams = t["FactStream"]
    assert sorted(streams) == list(range(1, len(streams) + 1))
    stamps = [streams[k]["stream_timestamp"] for k in sorted(streams)]
    inversions = sum(1 for a, b in pairwise(stamps) if b < a)
    assert inversions < 0.01 * len(stamps)


def test_generate_into_a_filled_source_says_what_to_type(tmp_path: Path) -> None:
    """The refusal reads as CLI, not Python: no dict, no ``replace=True``."""
    from tests.cli import soundlake

    root = tmp_path / "p"
    assert soundlake("init", str(root)).returncode == 0
    assert soundlake("source", "generate", "--scale", "0.001", project=root).returncode == 0
    again = soundlake("source", "generate", "--scale", "0.001", project=root)
    assert again.returncode != 0
    assert "already holds rows (DimUser " in again.stderr and "(hint: add --replace" in again.stderr
    assert "{" not in again.stderr and "replace=True" not in again.stderr
