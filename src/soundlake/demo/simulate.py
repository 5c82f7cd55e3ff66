"""One realistic batch of changes to the source database, with an exact summary.

:func:`simulate` plays what an operational database sees between two ingestion runs:

- DimUser: plan upgrades (Free -> Premium/Family, Premium -> Family), downgrades,
  cancellations (``end_date`` set to today), corrected names, new users;
- DimArtist: corrected names, new artists; DimTrack: corrected names, new tracks;
- FactStream: new streams in the last hour (users and tracks resampled from recent
  listening, plus new users and tracks), late-arriving streams (timestamps 1..30 days in
  the past, but ids after the new ones); DimDate rows for dates that streams need;
- with ``bad_rows=True``: streams with a NULL ``user_id``, a negative
  ``listen_duration``, an unknown ``user_id`` or ``track_id``, a timestamp two days in the
  future, a ``date_key`` that disagrees with its timestamp; a track with a negative
  ``duration_sec``; and duplicate keys in one batch (a user updated twice, a stream
  inserted then corrected: the database keeps the last version, the summary has both).

Every changed dimension row gets ``updated_at = now``, where ``now`` is the given (or
current UTC) time to the second, moved past the newest existing ``updated_at`` if needed so
that it is strictly later. The returned :class:`SimulationSummary` lists every row written,
in order, with its old and new values, and every bad row with its reasons.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal

import numpy as np
import sqlalchemy as sa
from pydantic import BaseModel, Field

from soundlake.core.errors import SourceError
from soundlake.demo import vocab
from soundlake.source.db import (
    KEYS,
    TABLE_NAMES,
    connect,
    create_missing,
    fetch_rows,
    safe_url,
    upsert_rows,
)
from soundlake.source.schema import metadata

DAY = 86_400
UNKNOWN_ID = 1_999_999_999
"""The user_id / track_id of bad streams that reference a row that does not exist."""

BadReason = Literal[
    "null_user_id",
    "negative_listen_duration",
    "unknown_user_id",
    "unknown_track_id",
    "future_timestamp",
    "date_key_mismatch",
    "negative_duration_sec",
    "duplicate_key_in_batch",
]


class Change(BaseModel):
    """One row written: its table, key, operation, why, and full old/new values."""

    table: str
    key: int
    op: Literal["insert", "update"]
    kind: str
    old: dict[str, Any] | None = None
    new: dict[str, Any]


class BadRow(BaseModel):
    """A row written on purpose with bad content, and why it is bad."""

    table: str
    key: int
    reasons: list[BadReason]


class SimulationSummary(BaseModel):
    """Exactly what :func:`simulate` changed, in the order it was written."""

    url: str
    seed: int
    rate: float
    bad_rows: bool
    now: datetime
    changes: list[Change] = Field(default_factory=list)
    bad: list[BadRow] = Field(default_factory=list)

    def for_table(self, table: str) -> list[Change]:
        """The changes of ``table`` in write order."""
        return [c for c in self.changes if c.table == table]

    def final_rows(self, table: str) -> dict[int, dict[str, Any]]:
        """The value each changed key of ``table`` holds after the batch (last write wins)."""
        return {c.key: c.new for c in self.for_table(table)}

    def inserted_keys(self, table: str) -> list[int]:
        """Keys of ``table`` that did not exist before the batch."""
        return sorted({c.key for c in self.for_table(table) if c.op == "insert"})

    def updated_keys(self, table: str) -> list[int]:
        """Keys of ``table`` that existed before the batch and were changed."""
        return sorted({c.key for c in self.for_table(table) if c.op == "update" and c.old is not None}
                      - set(self.inserted_keys(table)))

    def counts(self) -> dict[str, dict[str, int]]:
        """Per table: number of changes by kind."""
        out: dict[str, dict[str, int]] = {}
        for c in self.changes:
            out.setdefault(c.table, {}).setdefault(c.kind, 0)
            out[c.table][c.kind] += 1
        return out


class _Batch:
    """Working state of one simulated batch."""

    def __init__(self, conn: sa.Connection, rng: np.random.Generator, now: datetime, rate: float) -> None:
        self.conn = conn
        self.rng = rng
        self.now = now
        self.rate = rate
        self.changes: list[Change] = []
        self.bad: list[BadRow] = []
        self.max_id = {t: self._scalar(sa.func.max(metadata.tables[t].c[KEYS[t]]), t) or 0 for t in TABLE_NAMES}
        self.count = {t: self._scalar(sa.func.count(), t) for t in TABLE_NAMES}
        self.new_ids: dict[str, list[int]] = {t: [] for t in TABLE_NAMES}
        self.durations: dict[int, int] = {}
        self.used_users: set[int] = set()

    def _scalar(self, expr: Any, table: str) -> Any:
        return self.conn.execute(sa.select(expr).select_from(metadata.tables[table])).scalar()

    def n(self, table: str, share: float, minimum: int = 1) -> int:
        """How many rows of a kind to touch: ``rate * share * rows``, at least ``minimum``."""
        return max(minimum, round(self.rate * share * int(self.count[table])))

    def next_id(self, table: str) -> int:
        self.max_id[table] = int(self.max_id[table]) + 1
        return int(self.max_id[table])

    def read(self, table: str, keys: list[int]) -> dict[int, dict[str, Any]]:
        tbl = metadata.tables[table]
        return fetch_rows(self.conn, tbl, tbl.c[KEYS[table]], keys)

    def add(self, table: str, kind: str, new: dict[str, Any], old: dict[str, Any] | None = None,
            op: Literal["insert", "update"] | None = None) -> None:
        key = int(new[KEYS[table]])
        self.changes.append(Change(table=table, key=key, op=op or ("insert" if old is None else "update"),
                                   kind=kind, old=old, new=new))

    def mark_bad(self, table: str, key: int, *reasons: BadReason) -> None:
        self.bad.append(BadRow(table=table, key=key, reasons=list(reasons)))


def simulate(
    url: str,
    *,
    seed: int = 0,
    rate: float = 0.01,
    bad_rows: bool = False,
    now: datetime | None = None,
) -> SimulationSummary:
    """Apply one batch of realistic changes to the source at ``url`` and describe it.

    Args:
        url: SQLAlchemy URL of a source holding data (``generate`` or ``load-sql``).
        seed: Random seed; the same seed on the same data gives the same batch.
        rate: Share of each table's rows touched (0.01 = 1% of users change plan, ...);
            new streams are ``rate`` times the existing streams (at least 10).
        bad_rows: Also write the bad rows listed in the module docstring.
        now: The batch's time (naive = UTC); default the current time.

    Raises:
        SourceError: the source is empty or the database rejected the batch.
    """
    if not rate > 0:
        raise SourceError("simulate needs rate > 0")
    with connect(url) as engine:
        create_missing(engine)
        with engine.begin() as conn:
            if not (conn.execute(sa.select(sa.func.count()).select_from(metadata.tables["DimUser"])).scalar()
                    and conn.execute(sa.select(sa.func.count()).select_from(metadata.tables["DimTrack"])).scalar()):
                raise SourceError(f"source {safe_url(url)} has no users or tracks to change",
                                  hint="run `soundlake source generate` or `load-sql` first")
            batch = _Batch(conn, np.random.default_rng(seed), _effective_now(conn, now), rate)
            _user_changes(batch)
            _artist_changes(batch)
            _track_changes(batch)
            _stream_changes(batch)
            if bad_rows:
                _bad_rows(batch)
            _date_rows(batch)
            _write(batch)
    return SimulationSummary(url=safe_url(url), seed=seed, rate=rate, bad_rows=bad_rows, now=batch.now,
                             changes=batch.changes, bad=batch.bad)


def _effective_now(conn: sa.Connection, now: datetime | None) -> datetime:
    moment = now or datetime.now(timezone.utc)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    moment = moment.replace(microsecond=0)
    newest = [conn.execute(sa.select(sa.func.max(metadata.tables[t].c.updated_at))).scalar()
              for t in ("DimUser", "DimArtist", "DimTrack")]
    latest = max((v for v in newest if v is not None), default=None)
    if latest is not None and moment <= latest:
        moment = latest + timedelta(seconds=1)
    return moment


def _write(batch: _Batch) -> None:
    for table in TABLE_NAMES:
        changes = [c for c in batch.changes if c.table == table]
        if changes:
            columns = [c.name for c in metadata.tables[table].columns]
            upsert_rows(batch.conn, table, columns, [tuple(c.new[col] for col in columns) for c in changes])


# ---------------------------------------------------------------- dimensions


def _pool(batch: _Batch, table: str, where: Any = None) -> list[int]:
    tbl = metadata.tables[table]
    query = sa.select(tbl.c[KEYS[table]])
    if where is not None:
        query = query.where(where)
    return list(map(int, batch.conn.execute(query).scalars()))


def _take(batch: _Batch, pool: list[int], n: int, used: set[int]) -> list[int]:
    free = [k for k in pool if k not in used]
    chosen = [int(k) for k in batch.rng.permutation(np.asarray(free, dtype=np.int64))[:n]] if free else []
    used.update(chosen)
    return sorted(chosen)


def _user_changes(batch: _Batch) -> None:
    users = metadata.tables["DimUser"]
    active = users.c.end_date.is_(None)
    used: set[int] = set()
    up = _take(batch, _pool(batch, "DimUser", active & users.c.subscription_type.in_(["Free", "Premium"])),
               batch.n("DimUser", 0.4), used)
    down = _take(batch, _pool(batch, "DimUser", active & users.c.subscription_type.in_(["Premium", "Family"])),
                 batch.n("DimUser", 0.2), used)
    cancel = _take(batch, _pool(batch, "DimUser", active), batch.n("DimUser", 0.1), used)
    rename = _take(batch, _pool(batch, "DimUser"), batch.n("DimUser", 0.1), used)
    batch.used_users = used
    rows = batch.read("DimUser", up + down + cancel + rename)
    for key in up:
        old = rows[key]
        plan = "Family" if old["subscription_type"] == "Premium" or batch.rng.random() < 0.3 else "Premium"
        batch.add("DimUser", "upgrade", {**old, "subscription_type": plan, "updated_at": batch.now}, old)
    for key in down:
        old = rows[key]
        plan = "Premium" if old["subscription_type"] == "Family" and batch.rng.random() < 0.5 else "Free"
        batch.add("DimUser", "downgrade", {**old, "subscription_type": plan, "updated_at": batch.now}, old)
    for key in cancel:
        old = rows[key]
        batch.add("DimUser", "cancel", {**old, "end_date": batch.now.date(), "updated_at": batch.now}, old)
    for key in rename:
        old = rows[key]
        batch.add("DimUser", "rename", {**old, "user_name": _corrected_person(batch, old["user_name"]),
                                        "updated_at": batch.now}, old)
    for _ in range(batch.n("DimUser", 0.3)):
        key = batch.next_id("DimUser")
        batch.new_ids["DimUser"].append(key)
        batch.add("DimUser", "new_user", {
            "user_id": key, "user_name": str(vocab.person_names(batch.rng, 1)[0]),
            "country": str(vocab.pick(batch.rng, vocab.COUNTRIES, vocab.USER_COUNTRY_WEIGHTS, 1)[0]),
            "subscription_type": str(vocab.pick(batch.rng, vocab.PLANS, (0.7, 0.2, 0.1), 1)[0]),
            "start_date": batch.now.date(), "end_date": None, "updated_at": batch.now})


def _corrected_person(batch: _Batch, name: str | None) -> str:
    name = (name or "").strip()
    if name and name != " ".join(part.capitalize() for part in name.split()):
        fixed = " ".join(part.capitalize() for part in name.split())
        if fixed != name:
            return fixed
    first = name.split()[0] if name else str(vocab.pick(batch.rng, vocab.FIRST_NAMES, None, 1)[0])
    last = str(vocab.pick(batch.rng, vocab.LAST_NAMES, None, 1)[0])
    candidate = f"{first} {last}"
    return candidate if candidate != name else f"{first} {last}-{vocab.LAST_NAMES[0]}"


def _artist_changes(batch: _Batch) -> None:
    rename = _take(batch, _pool(batch, "DimArtist"), batch.n("DimArtist", 0.1), set())
    rows = batch.read("DimArtist", rename)
    for key in rename:
        old = rows[key]
        name = old["artist_name"] or ""
        fixed = name[4:] if name.startswith("The ") else f"The {name}"
        batch.add("DimArtist", "rename", {**old, "artist_name": fixed, "updated_at": batch.now}, old)
    for _ in range(batch.n("DimArtist", 0.2)):
        key = batch.next_id("DimArtist")
        batch.new_ids["DimArtist"].append(key)
        batch.add("DimArtist", "new_artist", {
            "artist_id": key, "artist_name": str(vocab.artist_names(batch.rng, 1)[0]),
            "genre": str(vocab.pick(batch.rng, vocab.GENRES, vocab.GENRE_WEIGHTS, 1)[0]),
            "country": str(vocab.pick(batch.rng, vocab.COUNTRIES, vocab.ARTIST_COUNTRY_WEIGHTS, 1)[0]),
            "updated_at": batch.now})


def _track_changes(batch: _Batch) -> None:
    rename = _take(batch, _pool(batch, "DimTrack"), batch.n("DimTrack", 0.05), set())
    rows = batch.read("DimTrack", rename)
    for key in rename:
        old = rows[key]
        name = old["track_name"] or ""
        fixed = name[: -len(" - Remastered")] if name.endswith(" - Remastered") else f"{name} - Remastered"
        batch.add("DimTrack", "rename", {**old, "track_name": fixed, "updated_at": batch.now}, old)
    artists = batch.new_ids["DimArtist"] or [1]
    for _ in range(batch.n("DimTrack", 0.2)):
        key = batch.next_id("DimTrack")
        batch.new_ids["DimTrack"].append(key)
        if batch.rng.random() < 0.5:
            artist = int(artists[batch.rng.integers(0, len(artists))])
        else:
            artist = int(batch.rng.integers(1, max(2, batch.max_id["DimArtist"] + 1)))
        duration = int(np.clip(np.rint(batch.rng.normal(215, 50)), 90, 360))
        batch.durations[key] = duration
        batch.add("DimTrack", "new_track", {
            "track_id": key, "track_name": str(vocab.track_names(batch.rng, 1)[0]), "artist_id": artist,
            "album_name": "Single", "duration_sec": duration, "release_date": batch.now.date(),
            "updated_at": batch.now})


# ---------------------------------------------------------------- streams


def _date_key(moment: datetime | date) -> int:
    return moment.year * 10_000 + moment.month * 100 + moment.day


def _stream_row(batch: _Batch, user: int | None, track: int, ts: datetime) -> dict[str, Any]:
    duration = batch.durations.get(track, 200)
    cap = min(duration, 345)
    if batch.rng.random() < 0.22:
        listen = int(batch.rng.integers(10, min(cap, 60) + 1))
    else:
        listen = int(min(max(round(duration * batch.rng.uniform(0.8, 1.0)), 10), cap))
    return {
        "stream_id": batch.next_id("FactStream"), "user_id": user, "track_id": track,
        "date_key": _date_key(ts), "listen_duration": listen,
        "device_type": str(vocab.pick(batch.rng, vocab.DEVICES, vocab.DEVICE_WEIGHTS, 1)[0]),
        "stream_timestamp": ts,
    }


def _listeners(batch: _Batch, n: int) -> Iterator[tuple[int, int]]:
    """``n`` (user, track) pairs: mostly resampled from recent plays, some new users/tracks."""
    stream = metadata.tables["FactStream"]
    recent = batch.conn.execute(
        sa.select(stream.c.user_id, stream.c.track_id)
        .where(stream.c.user_id.is_not(None), stream.c.track_id.is_not(None))
        .order_by(stream.c.stream_id.desc()).limit(5000)
    ).all()
    users = [int(r[0]) for r in recent] or _pool(batch, "DimUser")
    tracks = [int(r[1]) for r in recent] or _pool(batch, "DimTrack")
    known = set(_pool(batch, "DimUser")) if recent else set(users)
    users = [u for u in users if u in known] or sorted(known)
    new_users, new_tracks = batch.new_ids["DimUser"], batch.new_ids["DimTrack"]
    picks: list[tuple[int, int]] = []
    for _ in range(n):
        pool_u = new_users if new_users and batch.rng.random() < 0.2 else users
        pool_t = new_tracks if new_tracks and batch.rng.random() < 0.15 else tracks
        picks.append((int(pool_u[batch.rng.integers(0, len(pool_u))]),
                      int(pool_t[batch.rng.integers(0, len(pool_t))])))
    wanted = sorted({t for _, t in picks} - set(batch.durations))
    for key, row in batch.read("DimTrack", wanted).items():
        batch.durations[key] = int(row["duration_sec"] or 200)
    yield from picks


def _stream_changes(batch: _Batch) -> None:
    fresh = batch.n("FactStream", 1.0, minimum=10)
    late = max(1, round(0.1 * fresh))
    pairs = list(_listeners(batch, fresh + late))
    recent = sorted(int(x) for x in batch.rng.integers(0, 3600, fresh))
    for (user, track), back in zip(pairs[:fresh], reversed(recent)):
        ts = batch.now - timedelta(seconds=back)
        batch.add("FactStream", "new_stream", _stream_row(batch, user, track, ts))
    past = sorted((int(x) for x in batch.rng.integers(DAY, 30 * DAY, late)), reverse=True)
    for (user, track), back in zip(pairs[fresh:], past):
        ts = batch.now - timedelta(seconds=back)
        batch.add("FactStream", "late_stream", _stream_row(batch, user, track, ts))


def _bad_rows(batch: _Batch) -> None:
    user = int(batch.new_ids["DimUser"][0]) if batch.new_ids["DimUser"] else 1
    track = int(batch.new_ids["DimTrack"][0]) if batch.new_ids["DimTrack"] else 1
    at = batch.now - timedelta(seconds=30)
    specs: list[tuple[BadReason, dict[str, Any]]] = [
        ("null_user_id", {"user_id": None}),
        ("negative_listen_duration", {"listen_duration": -int(batch.rng.integers(1, 300))}),
        ("unknown_user_id", {"user_id": UNKNOWN_ID}),
        ("unknown_track_id", {"track_id": UNKNOWN_ID}),
        ("future_timestamp", {"stream_timestamp": batch.now + timedelta(days=2),
                              "date_key": _date_key(batch.now + timedelta(days=2))}),
        ("date_key_mismatch", {"date_key": _date_key(at - timedelta(days=1))}),
    ]
    for reason, override in specs:
        row = {**_stream_row(batch, user, track, at), **override}
        batch.add("FactStream", "bad_stream", row)
        batch.mark_bad("FactStream", row["stream_id"], reason)
    key = batch.next_id("DimTrack")
    batch.add("DimTrack", "bad_track", {
        "track_id": key, "track_name": str(vocab.track_names(batch.rng, 1)[0]), "artist_id": 1,
        "album_name": "Single", "duration_sec": -int(batch.rng.integers(90, 360)),
        "release_date": batch.now.date(), "updated_at": batch.now})
    batch.mark_bad("DimTrack", key, "negative_duration_sec")
    _duplicates(batch)


def _duplicates(batch: _Batch) -> None:
    chosen = _take(batch, _pool(batch, "DimUser"), 1, batch.used_users)
    if chosen:
        old = batch.read("DimUser", chosen)[chosen[0]]
        plans = [p for p in vocab.PLANS if p != old["subscription_type"]]
        first = {**old, "subscription_type": plans[0], "updated_at": batch.now}
        second = {**first, "subscription_type": plans[1]}
        batch.add("DimUser", "duplicate_update", first, old)
        batch.add("DimUser", "duplicate_update", second, first)
        batch.mark_bad("DimUser", chosen[0], "duplicate_key_in_batch")
    streams = [c for c in batch.changes if c.table == "FactStream" and c.kind == "new_stream"]
    if streams:
        first = streams[-1].new
        corrected = {**first, "listen_duration": max(10, int(first["listen_duration"]) // 2)}
        if corrected["listen_duration"] == first["listen_duration"]:
            corrected["listen_duration"] += 1
        batch.add("FactStream", "duplicate_update", corrected, first, op="update")
        batch.mark_bad("FactStream", int(first["stream_id"]), "duplicate_key_in_batch")


def _date_rows(batch: _Batch) -> None:
    keys = sorted({int(c.new["date_key"]) for c in batch.changes
                   if c.table == "FactStream" and c.new.get("date_key") is not None})
    dates = metadata.tables["DimDate"]
    existing: set[int] = set(map(int, batch.conn.execute(
        sa.select(dates.c.date_key).where(dates.c.date_key.in_(keys))).scalars())) if keys else set()
    for key in keys:
        if key in existing:
            continue
        day = date(key // 10_000, key // 100 % 100, key % 100)
        batch.add("DimDate", "new_date", {
            "date_key": key, "date": day, "day": day.day, "month": day.month, "year": day.year,
            "weekday": vocab.WEEKDAY_NAMES[day.weekday()]})
