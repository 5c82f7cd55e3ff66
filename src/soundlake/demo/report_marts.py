"""Turn mart rows into chart data. Column names are matched leniently.

The rows come from :func:`aggregate_sql`, run by the engine over every row of the mart;
the chart functions below then only re-sum a few hundred grouped rows.

Known marts of the reference project (``spotify_catalog.gold``):
``mart_daily_listening`` (listen_date, country, device_type, plays, minutes, listeners),
``mart_plan_mix_monthly`` (month_end, subscription_type, users),
``mart_listening_by_plan`` (listen_date, subscription_type, plays, ...; the plan-mix
fallback, counted in plays), ``mart_top_tracks_weekly`` (week_start, rank, track_id,
track_name, artist_name, plays, ...) and ``mart_top_artists_weekly`` (..., artist_name,
genre, plays, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from soundlake.core.sql_text import quote_identifier
from soundlake.observe.report_model import DailyListening, MartCharts, PlanMixPoint, RankedItem

Rows = Sequence[Mapping[str, Any]]

DAY_COLUMNS = ("listen_date", "date", "day", "play_date", "stream_date", "event_date", "date_key")
MONTH_COLUMNS = ("month_end", "month", "month_start", "listen_month", *DAY_COLUMNS)
PLAN_COLUMNS = ("subscription_type", "plan", "subscription")
PLAY_COLUMNS = ("plays", "num_plays", "play_count", "streams")
MINUTE_COLUMNS = ("minutes", "minutes_listened", "listen_minutes", "total_minutes")
TOP_N = 10


def _find(rows: Mapping[str, Rows], *fragments: str) -> Rows | None:
    """Rows of the first mart whose short name contains a fragment (fragments in order)."""
    for fragment in fragments:
        for name in sorted(rows):
            if fragment in name.lower().rsplit(".", 1)[-1] and rows[name]:
                return rows[name]
    return None


def _get(row: Mapping[str, Any], columns: Sequence[str]) -> Any:
    lowered = {str(k).lower(): v for k, v in row.items()}
    for column in columns:
        if lowered.get(column) is not None:
            return lowered[column]
    return None


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int) and 19000101 <= value <= 99991231:
        try:
            return date(value // 10000, value // 100 % 100, value % 100)
        except ValueError:
            return None
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.isdigit() and len(text) == 8:
            return _as_date(int(text))
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        except ValueError:
            try:
                return date.fromisoformat(text[:7] + "-01")
            except ValueError:
                return None
    return None


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        return 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def daily_listening(rows: Rows) -> tuple[DailyListening, ...] | None:
    """Plays and minutes per day, summed over countries and devices."""
    days: dict[date, list[float]] = {}
    for row in rows:
        day = _as_date(_get(row, DAY_COLUMNS))
        if day is None:
            continue
        total = days.setdefault(day, [0.0, 0.0])
        total[0] += _number(_get(row, PLAY_COLUMNS))
        minutes = _get(row, MINUTE_COLUMNS)
        if minutes is None and _get(row, SECOND_COLUMNS) is not None:
            minutes = _number(_get(row, SECOND_COLUMNS)) / 60
        total[1] += _number(minutes)
    if not days:
        return None
    return tuple(
        DailyListening(day, round(v[0]), round(v[1], 2)) for day, v in sorted(days.items())
    )


def plan_mix(rows: Rows, measure: str) -> tuple[PlanMixPoint, ...] | None:
    """Plan sizes per month (``YYYY-MM``); the measure column is ``users`` or plays."""
    columns = USER_COLUMNS if measure == "users" else PLAY_COLUMNS
    cells: dict[tuple[str, str], tuple[date, float]] = {}
    for row in rows:
        day = _as_date(_get(row, MONTH_COLUMNS))
        plan = _get(row, PLAN_COLUMNS)
        if day is None or plan is None:
            continue
        key = (f"{day.year:04d}-{day.month:02d}", str(plan))
        value = _number(_get(row, columns))
        seen_day, seen = cells.get(key, (day, 0.0))
        # users are a stock (the month's latest snapshot counts), plays a flow (summed)
        if measure == "users" and day > seen_day:
            cells[key] = (day, value)
        elif measure == "users" and day < seen_day:
            continue
        else:
            cells[key] = (day, seen + value)
    if not cells:
        return None
    return tuple(PlanMixPoint(m, p, v) for (m, p), (_, v) in sorted(cells.items()))


def ranked(
    rows: Rows,
    label_columns: Sequence[str],
    detail_columns: Sequence[str],
    id_columns: Sequence[str],
) -> tuple[RankedItem, ...] | None:
    """Top items by plays summed over all rows (all weeks of a weekly top list)."""
    totals: dict[tuple[str, str, str], float] = {}
    for row in rows:
        label = _get(row, label_columns)
        ident = _get(row, id_columns)
        if label is None and ident is None:
            continue
        label_text = str(label) if label is not None else f"#{ident}"
        detail = _get(row, detail_columns)
        key = (
            str(ident if ident is not None else label_text),
            label_text,
            "" if detail is None else str(detail),
        )
        totals[key] = totals.get(key, 0.0) + _number(_get(row, PLAY_COLUMNS))
    if not totals:
        return None
    best = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0]))[:TOP_N]
    return tuple(
        RankedItem(label, detail or None, round(plays)) for (_, label, detail), plays in best
    )


USER_COLUMNS = ("users", "num_users", "user_count", "subscribers")
SECOND_COLUMNS = ("seconds", "listen_seconds")
TRACK_COLUMNS = (("track_name", "track", "title", "name"), ("artist_name", "artist"), ("track_id",))
ARTIST_COLUMNS = (("artist_name", "artist", "name"), ("genre",), ("artist_id",))
_DIMENSIONS = (*MONTH_COLUMNS, *PLAN_COLUMNS, *TRACK_COLUMNS[0], *TRACK_COLUMNS[1], *TRACK_COLUMNS[2],
               *ARTIST_COLUMNS[1], *ARTIST_COLUMNS[2])
_MEASURES = (*PLAY_COLUMNS, *MINUTE_COLUMNS, *SECOND_COLUMNS, *USER_COLUMNS)


def aggregate_sql(table: str, columns: Sequence[str]) -> str | None:
    """Spark SQL that sums a mart over every row to the grain its charts read, or None.

    Every chart sums its measure over the columns it does not show (countries, devices,
    weeks, ranks), so grouping by the columns a chart may read and summing the measures
    gives the charts the same totals as every row would, in a result of a few hundred
    rows computed by the engine. Column names match case-insensitively, as in the charts.
    """
    lowered = {c.lower(): c for c in columns}
    dims = [lowered[c] for c in dict.fromkeys(_DIMENSIONS) if c in lowered]
    measures = [lowered[c] for c in dict.fromkeys(_MEASURES) if c in lowered]
    if not measures:
        return None
    select = [quote_identifier(d, "spark") for d in dims]
    select += [f"sum({quote_identifier(m, 'spark')}) AS {quote_identifier(m, 'spark')}" for m in measures]
    group = f" GROUP BY {', '.join(quote_identifier(d, 'spark') for d in dims)}" if dims else ""
    return f"SELECT {', '.join(select)} FROM {table}{group}"


def mart_charts(marts: Mapping[str, Rows]) -> MartCharts:
    """Chart data from mart rows by table name; absent or empty marts give ``None``."""
    daily_rows = _find(marts, "daily_listening", "daily")
    mix_rows, measure = _find(marts, "plan_mix"), "users"
    if mix_rows is None:
        mix_rows, measure = _find(marts, "listening_by_plan", "by_plan", "by_subscription"), "plays"
    tracks = _find(marts, "top_tracks", "top_track")
    artists = _find(marts, "top_artists", "top_artist")
    return MartCharts(
        daily_listening=daily_listening(daily_rows) if daily_rows else None,
        plan_mix=plan_mix(mix_rows, measure) if mix_rows else None,
        plan_mix_measure=measure,
        top_tracks=ranked(tracks, *TRACK_COLUMNS) if tracks else None,
        top_artists=ranked(artists, *ARTIST_COLUMNS) if artists else None,
    )
