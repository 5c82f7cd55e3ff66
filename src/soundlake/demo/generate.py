"""Deterministic synthetic data that looks like a music-streaming service.

Sizes scale linearly with ``scale`` (S): about 10,000*S users, 2,000*S artists,
20,000*S tracks and 1,000,000*S streams over a fixed period (365 days from 2025-01-01 by
default; DimDate covers the period plus one day for sessions that cross the last midnight).

What makes it realistic:

- popularity: artists and tracks follow a Zipf-like law (a track's rank depends on its
  artist's popularity and its own appeal; weight ~ 1/rank^1.05), so the top 1% of tracks
  take a large share of plays;
- rhythm: plays per day follow weekday weights (Friday/Saturday high) and a mild growth
  trend; sessions start by hour-of-day weights (commute and evening peaks);
- sessions: each user listens in sessions of consecutive plays (geometric length, mean 8)
  on one device (mostly the user's preferred one); heavy and light listeners (log-normal
  activity); users stream only between their start_date and end_date;
- domains of the tutorial's data (README.md, "Source database"): plans, genres, devices, countries with plausible shares,
  duration_sec 90..360, listen_duration 10..min(345, duration_sec) with skips,
  date_key = YYYYMMDD of stream_timestamp.

Memory stays bounded: FactStream is generated and written in chunks of whole days
(about ``chunk_rows`` rows each). The same seed (and chunk size) gives identical data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa

from soundlake.core.errors import SourceError
from soundlake.demo import vocab
from soundlake.demo.throughput import Throughput
from soundlake.source.bulk import BulkWriter
from soundlake.source.db import TABLE_NAMES, connect, create_missing, safe_url, table_counts

DEFAULT_START = date(2025, 1, 1)
DAY = 86_400
ProgressFn = Callable[[str, int, int], None]
"""``progress(table, rows_done, rows_total)``."""


@dataclass(frozen=True)
class GenerateSpec:
    """Sizes and period of one generated data set."""

    scale: float
    seed: int
    start: date = DEFAULT_START
    days: int = 365
    chunk_rows: int = 100_000

    @property
    def users(self) -> int:
        """Number of DimUser rows."""
        return max(10, round(10_000 * self.scale))

    @property
    def artists(self) -> int:
        """Number of DimArtist rows."""
        return max(5, round(2_000 * self.scale))

    @property
    def tracks(self) -> int:
        """Number of DimTrack rows."""
        return max(20, round(20_000 * self.scale))

    @property
    def streams(self) -> int:
        """Number of FactStream rows."""
        return max(100, round(1_000_000 * self.scale))

    @property
    def epoch_start(self) -> int:
        """Seconds since 1970 of the period's first midnight (UTC)."""
        return int((self.start - date(1970, 1, 1)).days) * DAY


@dataclass
class GenerateResult(Throughput):
    """What :func:`generate` wrote and how fast."""

    url: str
    scale: float
    seed: int
    rows: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    seconds: float = 0.0


    @property
    def streams_per_second(self) -> float:
        """FactStream rows per second of wall time (whole run)."""
        return self.rows.get("FactStream", 0) / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class Population:
    """The dimension data the stream generator draws from (numpy arrays, index = id - 1)."""

    user_start: np.ndarray  # day offset from the period start
    user_end: np.ndarray  # day offset, or a large number when not cancelled
    user_activity_cdf: np.ndarray
    user_device: np.ndarray  # index into DEVICES
    always_active: np.ndarray  # user indexes active over the whole period
    track_cdf: np.ndarray
    track_duration: np.ndarray


def generate(
    url: str,
    *,
    scale: float = 1.0,
    seed: int = 0,
    replace: bool = False,
    start: date = DEFAULT_START,
    days: int = 365,
    chunk_rows: int = 100_000,
    progress: ProgressFn | None = None,
) -> GenerateResult:
    """Fill the five tables at ``url`` with synthetic data.

    Args:
        url: SQLAlchemy URL of the source database (tables are created when missing).
        scale: Size factor S; S=1 gives about 1,000,000 streams.
        seed: Random seed; the same seed gives identical rows.
        replace: Delete existing rows first. Without it, non-empty tables are an error.
        start: First day of the stream period.
        days: Length of the stream period in days.
        chunk_rows: Approximate FactStream rows generated and written per chunk.
        progress: Called as ``progress(table, rows_done, rows_total)`` after each write.

    Raises:
        SourceError: invalid arguments, non-empty tables without ``replace``, or a
            database error.
    """
    if not scale > 0 or days < 1 or chunk_rows < 1:
        raise SourceError("generate needs scale > 0, days >= 1 and chunk_rows >= 1")
    spec = GenerateSpec(scale=scale, seed=seed, start=start, days=days, chunk_rows=chunk_rows)
    started = time.perf_counter()
    result = GenerateResult(url=safe_url(url), scale=scale, seed=seed, rows={n: 0 for n in TABLE_NAMES})
    with connect(url) as engine:
        create_missing(engine)
        if not replace:
            filled = {t: n for t, n in table_counts(url).items() if n}
            if filled:
                held = ", ".join(f"{table} {count:,}" for table, count in filled.items())
                raise SourceError(
                    f"source {safe_url(url)} already holds rows ({held})",
                    hint="add --replace to delete them first",
                )
        seeds = np.random.SeedSequence(seed).spawn(5)
        with BulkWriter(engine) as writer:
            if replace:
                writer.clear()
            dims, population = _dimensions(spec, seeds[:4])
            for name, data in dims.items():
                writer.write(name, data)
                result.rows[name] = data.num_rows
                if progress:
                    progress(name, data.num_rows, data.num_rows)
            for chunk in _stream_chunks(spec, population, seeds[4]):
                writer.write("FactStream", chunk)
                result.rows["FactStream"] += chunk.num_rows
                result.chunks += 1
                if progress:
                    progress("FactStream", result.rows["FactStream"], spec.streams)
    result.seconds = time.perf_counter() - started
    return result


# ---------------------------------------------------------------- dimensions


def _timestamps(spec: GenerateSpec, day_offsets: np.ndarray, rng: np.random.Generator) -> pa.Array:
    seconds = spec.epoch_start + day_offsets.astype(np.int64) * DAY + rng.integers(0, DAY, len(day_offsets))
    return pa.array(seconds, pa.timestamp("s"))


def _dates(spec: GenerateSpec, day_offsets: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    base = (spec.start - date(1970, 1, 1)).days
    values = (base + day_offsets).astype(np.int32)
    return pa.array(values, pa.date32(), mask=mask)


def _dimensions(spec: GenerateSpec, seeds: list[np.random.SeedSequence]) -> tuple[dict[str, pa.Table], Population]:
    users, user_state = _users(spec, np.random.default_rng(seeds[0]))
    artists, artist_weight = _artists(spec, np.random.default_rng(seeds[1]))
    tracks, track_state = _tracks(spec, artist_weight, np.random.default_rng(seeds[2]))
    population = Population(**user_state, **track_state)
    tables = {"DimUser": users, "DimArtist": artists, "DimTrack": tracks, "DimDate": _dim_date(spec)}
    return tables, population


def _users(spec: GenerateSpec, rng: np.random.Generator) -> tuple[pa.Table, dict[str, np.ndarray]]:
    n, days = spec.users, spec.days
    joined_before = rng.random(n) < 0.8
    start = np.where(joined_before, rng.integers(-1095, 0, n), rng.integers(0, days, n))
    lo = np.maximum(start, 0) + 14
    cancelled = (rng.random(n) < 0.06) & (lo < days)
    end = np.where(cancelled, lo + (rng.random(n) * np.maximum(days - lo, 1)).astype(np.int64), 10**9)
    update_lo = np.maximum(start, -60)
    updated_day = update_lo + (rng.random(n) * (days - update_lo)).astype(np.int64)
    updated_day = np.where(cancelled, end, updated_day)
    activity = rng.lognormal(0.0, 1.0, n)
    device = rng.choice(len(vocab.DEVICES), size=n, p=_norm(vocab.DEVICE_WEIGHTS))
    table = pa.table(
        {
            "user_id": pa.array(np.arange(1, n + 1), pa.int32()),
            "user_name": pa.array(vocab.person_names(rng, n)),
            "country": pa.array(vocab.pick(rng, vocab.COUNTRIES, vocab.USER_COUNTRY_WEIGHTS, n)),
            "subscription_type": pa.array(vocab.pick(rng, vocab.PLANS, vocab.PLAN_WEIGHTS, n)),
            "start_date": _dates(spec, start),
            "end_date": _dates(spec, np.where(cancelled, end, 0), mask=~cancelled),
            "updated_at": _timestamps(spec, updated_day, rng),
        }
    )
    state = {
        "user_start": start,
        "user_end": end,
        "user_activity_cdf": _cdf(activity),
        "user_device": device,
        "always_active": np.flatnonzero((start <= 0) & ~cancelled),
    }
    return table, state


def _artists(spec: GenerateSpec, rng: np.random.Generator) -> tuple[pa.Table, np.ndarray]:
    n = spec.artists
    rank = rng.permutation(n)
    weight = 1.0 / (rank + 1.0) ** 1.0
    table = pa.table(
        {
            "artist_id": pa.array(np.arange(1, n + 1), pa.int32()),
            "artist_name": pa.array(vocab.artist_names(rng, n)),
            "genre": pa.array(vocab.pick(rng, vocab.GENRES, vocab.GENRE_WEIGHTS, n)),
            "country": pa.array(vocab.pick(rng, vocab.COUNTRIES, vocab.ARTIST_COUNTRY_WEIGHTS, n)),
            "updated_at": _timestamps(spec, rng.integers(-365, spec.days, n), rng),
        }
    )
    return table, weight


def _tracks(
    spec: GenerateSpec, artist_weight: np.ndarray, rng: np.random.Generator
) -> tuple[pa.Table, dict[str, np.ndarray]]:
    n = spec.tracks
    artist_idx = rng.choice(len(artist_weight), size=n, p=_norm(artist_weight**0.6))
    appeal = artist_weight[artist_idx] * rng.lognormal(0.0, 1.0, n)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(-appeal, kind="stable")] = np.arange(n)
    weight = 1.0 / (rank + 1.0) ** 1.05
    duration = np.clip(np.rint(rng.normal(215, 50, n)), 90, 360).astype(np.int32)
    release = spec.days - 1 - np.minimum(rng.exponential(900, n), 365 * 40).astype(np.int64)
    updated_lo = np.maximum(release, -365)
    updated_day = updated_lo + (rng.random(n) * (spec.days - updated_lo)).astype(np.int64)
    album_no = rng.integers(0, 4, n)
    albums = np.char.add(
        np.char.add(np.asarray(vocab.NOUNS)[(artist_idx * 7 + album_no * 3) % len(vocab.NOUNS)], " "),
        np.asarray(vocab.ALBUM_WORDS)[(artist_idx + album_no) % len(vocab.ALBUM_WORDS)],
    )
    table = pa.table(
        {
            "track_id": pa.array(np.arange(1, n + 1), pa.int32()),
            "track_name": pa.array(vocab.track_names(rng, n)),
            "artist_id": pa.array(artist_idx + 1, pa.int32()),
            "album_name": pa.array(albums),
            "duration_sec": pa.array(duration, pa.int32()),
            "release_date": _dates(spec, release),
            "updated_at": _timestamps(spec, updated_day, rng),
        }
    )
    return table, {"track_cdf": _cdf(weight), "track_duration": duration}


def _dim_date(spec: GenerateSpec) -> pa.Table:
    offsets = np.arange(spec.days + 1)
    days = np.datetime64(spec.start.isoformat(), "D") + offsets
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    return pa.table(
        {
            "date_key": pa.array(year * 10_000 + month * 100 + day, pa.int32()),
            "date": _dates(spec, offsets),
            "day": pa.array(day, pa.int32()),
            "month": pa.array(month, pa.int32()),
            "year": pa.array(year, pa.int32()),
            "weekday": pa.array(np.asarray(vocab.WEEKDAY_NAMES)[weekday]),
        }
    )


def _norm(weights: object) -> np.ndarray:
    arr = np.asarray(weights, dtype=float)
    normed: np.ndarray = arr / arr.sum()
    return normed


def _cdf(weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights, dtype=float)
    normed: np.ndarray = cdf / cdf[-1]
    return normed


def draw(cdf: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """Draw ``n`` indexes from the distribution with cumulative weights ``cdf``."""
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)


# ---------------------------------------------------------------- streams


def day_weights(spec: GenerateSpec) -> np.ndarray:
    """Relative plays per day of the period: weekday rhythm times a mild growth trend."""
    offsets = np.arange(spec.days)
    weekday = (np.datetime64(spec.start.isoformat(), "D") + offsets).astype(np.int64)
    weekday = (weekday + 3) % 7
    return np.asarray(vocab.WEEKDAY_WEIGHTS)[weekday] * (1.0 + 0.25 * offsets / spec.days)


def _chunk_days(counts: np.ndarray, chunk_rows: int) -> list[tuple[int, int]]:
    chunks: list[tuple[int, int]] = []
    first, acc = 0, 0
    for day, count in enumerate(counts):
        acc += int(count)
        if acc >= chunk_rows:
            chunks.append((first, day + 1))
            first, acc = day + 1, 0
    if first < len(counts):
        chunks.append((first, len(counts)))
    return chunks


def _stream_chunks(spec: GenerateSpec, pop: Population, seed: np.random.SeedSequence):  # type: ignore[no-untyped-def]
    plan_rng = np.random.default_rng(seed.spawn(1)[0])
    counts = plan_rng.multinomial(spec.streams, _norm(day_weights(spec)))
    chunks = _chunk_days(counts, spec.chunk_rows)
    chunk_seeds = seed.spawn(len(chunks))
    next_id = 1
    for (first, last), chunk_seed in zip(chunks, chunk_seeds):
        rng = np.random.default_rng(chunk_seed)
        table = _stream_chunk(spec, pop, np.arange(first, last), counts[first:last], rng, next_id)
        next_id += table.num_rows
        yield table


def _session_lengths(n: int, rng: np.random.Generator) -> np.ndarray:
    lengths = np.clip(rng.geometric(1 / 8, size=n // 4 + 16), 1, 60)
    while lengths.sum() < n:
        lengths = np.concatenate([lengths, np.clip(rng.geometric(1 / 8, size=n // 4 + 16), 1, 60)])
    ends = np.cumsum(lengths)
    count = int(np.searchsorted(ends, n)) + 1
    lengths = lengths[:count].copy()
    lengths[-1] -= int(ends[count - 1] - n)
    result: np.ndarray = lengths
    return result


def _session_users(pop: Population, day: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    users = draw(pop.user_activity_cdf, rng, len(day))
    for _ in range(20):
        bad = np.flatnonzero((pop.user_start[users] > day) | (pop.user_end[users] < day))
        if len(bad) == 0:
            return users
        users[bad] = draw(pop.user_activity_cdf, rng, len(bad))
    bad = np.flatnonzero((pop.user_start[users] > day) | (pop.user_end[users] < day))
    if len(bad) and len(pop.always_active):
        users[bad] = pop.always_active[rng.integers(0, len(pop.always_active), len(bad))]
    return users


def _stream_chunk(
    spec: GenerateSpec,
    pop: Population,
    day_ids: np.ndarray,
    counts: np.ndarray,
    rng: np.random.Generator,
    first_id: int,
) -> pa.Table:
    n = int(counts.sum())
    slot_day = np.repeat(day_ids, counts)
    lengths = _session_lengths(n, rng)
    sessions = len(lengths)
    session_of = np.repeat(np.arange(sessions), lengths)
    first_slot = np.cumsum(lengths) - lengths
    s_day = slot_day[first_slot]
    s_user = _session_users(pop, s_day, rng)
    s_hour = rng.choice(24, size=sessions, p=_norm(vocab.HOUR_WEIGHTS))
    s_start = spec.epoch_start + s_day * DAY + s_hour * 3600 + rng.integers(0, 3600, sessions)
    own = rng.random(sessions) < 0.75
    s_device = np.where(own, pop.user_device[s_user], rng.choice(3, size=sessions, p=_norm(vocab.DEVICE_WEIGHTS)))

    track = draw(pop.track_cdf, rng, n)
    duration = pop.track_duration[track].astype(np.int64)
    cap = np.minimum(duration, 345)
    skipped = rng.random(n) < 0.22
    skip_len = 10 + (rng.random(n) * (np.minimum(cap, 60) - 9)).astype(np.int64)
    full_len = np.rint(duration * rng.uniform(0.8, 1.0, n)).astype(np.int64)
    listen = np.clip(np.where(skipped, skip_len, full_len), 10, cap)

    gap = listen + rng.integers(0, 4, n)
    run = np.cumsum(gap) - gap  # seconds since the first play of the chunk
    offset = run - run[first_slot][session_of]
    ts = s_start[session_of] + offset
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    days64 = ts.astype("datetime64[s]").astype("datetime64[D]")
    year = days64.astype("datetime64[Y]").astype(np.int64) + 1970
    month = days64.astype("datetime64[M]").astype(np.int64) % 12 + 1
    mday = (days64 - days64.astype("datetime64[M]")).astype(np.int64) + 1
    return pa.table(
        {
            "stream_id": pa.array(np.arange(first_id, first_id + n), pa.int64()),
            "user_id": pa.array(s_user[session_of][order] + 1, pa.int32()),
            "track_id": pa.array(track[order] + 1, pa.int32()),
            "date_key": pa.array(year * 10_000 + month * 100 + mday, pa.int32()),
            "listen_duration": pa.array(listen[order], pa.int32()),
            "device_type": pa.array(np.asarray(vocab.DEVICES)[s_device[session_of][order]]),
            "stream_timestamp": pa.array(ts, pa.timestamp("s")),
        }
    )

