"""A deterministic sample event log and marts for the report (docs, tests, previews).

The sample is the Spotify reference pipeline over three runs: a first load, an
incremental run with expectation failures, and a run where ``dim_track`` fails and its
downstream flows are skipped.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from typing import Any

from soundlake.demo.report_marts import mart_charts
from soundlake.observe.report_events import report_data_from_events
from soundlake.observe.report_model import ReportData

Row = dict[str, Any]
PIPELINE = "spotify"
CAT = "spotify_catalog"
TABLES = {
    "dimuser": "DimUser",
    "dimartist": "DimArtist",
    "dimtrack": "DimTrack",
    "dimdate": "DimDate",
    "factstream": "FactStream",
}
GOLD = {
    "dim_user": "dimuser",
    "dim_artist": "dimartist",
    "dim_track": "dimtrack",
    "dim_date": "dimdate",
    "fact_stream": "factstream",
}
MARTS = {
    "mart_daily_listening": ["fact_stream", "dim_user"],
    "mart_listening_by_plan": ["fact_stream", "dim_user"],
    "mart_top_tracks_weekly": ["fact_stream", "dim_track", "dim_artist"],
    "mart_top_artists_weekly": ["fact_stream", "dim_track", "dim_artist"],
    "mart_plan_changes_monthly": ["dim_user"],
    "mart_plan_mix_monthly": ["dim_user"],
}
EXPECTATIONS = {
    "dimuser": ["user_id_not_null", "updated_at_not_null", "known_plan"],
    "dimtrack": ["track_id_not_null", "duration_in_range", "known_artist"],
    "factstream": [
        "stream_id_not_null",
        "listen_duration_positive",
        "known_user",
        "known_track",
        "date_key_matches_timestamp",
    ],
}


def _flows() -> list[tuple[str, str, list[str], str]]:
    """(flow, output, inputs, flow_type) in topological order."""
    flows = [
        (t, f"{CAT}.silver.{t}", [f"lake/bronze/{src}"], "APPEND") for t, src in TABLES.items()
    ]
    flows.append(
        (
            "factstream_quarantine",
            f"{CAT}.silver.factstream_quarantine",
            ["lake/bronze/FactStream"],
            "APPEND",
        )
    )
    flows += [
        (f"{g}_cdc", f"{CAT}.gold.{g}", [f"{CAT}.silver.{s}"], "AUTO_CDC") for g, s in GOLD.items()
    ]
    flows += [
        (m, f"{CAT}.gold.{m}", [f"{CAT}.gold.{i}" for i in ins], "MATERIALIZED_VIEW")
        for m, ins in MARTS.items()
    ]
    return flows


class _Log:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        when: datetime,
        update: str,
        kind: str,
        details: dict[str, Any],
        *,
        flow: str | None = None,
        dataset: str | None = None,
        level: str = "INFO",
        message: str = "",
        error: dict[str, Any] | None = None,
    ) -> None:
        self.rows.append(
            {
                "id": f"evt-{len(self.rows):05d}",
                "sequence": len(self.rows),
                "origin": {
                    "pipeline_name": PIPELINE,
                    "update_id": update,
                    "flow_name": flow,
                    "dataset_name": dataset,
                },
                "timestamp": when.isoformat() + "Z",
                "message": message or kind,
                "level": level,
                "error": json.dumps(error) if error else None,
                "details": json.dumps(details),
                "event_type": kind,
            }
        )


def _quality(flow: str, rows: int, rng: random.Random, run: int) -> dict[str, Any] | None:
    names = EXPECTATIONS.get(flow)
    if not names:
        return None
    expectations = []
    dropped = 0
    for name in names:
        failed = 0 if run == 0 or rng.random() < 0.5 else rng.randint(1, max(rows // 40, 2))
        if name.endswith("not_null") or name == "listen_duration_positive":
            dropped += failed
        expectations.append(
            {
                "name": name,
                "dataset": f"{CAT}.silver.{flow}",
                "passed_records": rows - failed,
                "failed_records": failed,
            }
        )
    return {"dropped_records": dropped, "expectations": expectations}


def _progress(
    log: _Log, when: datetime, update: str, flow: str, output: str, body: dict[str, Any], **kw: Any
) -> None:
    log.add(when, update, "flow_progress", {"flow_progress": body}, flow=flow, dataset=output, **kw)


FAILURE = {
    "exceptions": [
        {"class_name": "SoundlakeError", "message": "sequence_by column updated_at is NULL"}
    ]
}


def _run(log: _Log, rng: random.Random, run: int, start: datetime) -> None:
    update = f"upd-{run + 1:03d}-{rng.randrange(16**6):06x}"
    log.add(start, update, "create_update", {"create_update": {"cause": "API_CALL"}})
    flows = _flows()
    for flow, output, inputs, ftype in flows:
        body = {"output_dataset": output, "input_datasets": inputs, "flow_type": ftype}
        log.add(
            start, update, "flow_definition", {"flow_definition": body}, flow=flow, dataset=output
        )
    clock = start + timedelta(seconds=0.4)
    failed: set[str] = set()
    for flow, output, inputs, _ in flows:
        _progress(log, clock, update, flow, output, {"status": "QUEUED"})
        if any(i in failed for i in inputs):
            failed.add(output)
            _progress(log, clock, update, flow, output, {"status": "SKIPPED"}, level="WARN")
            continue
        if run == 2 and flow == "dimdate":
            _progress(log, clock, update, flow, output, {"status": "IDLE"})
            continue
        _progress(log, clock, update, flow, output, {"status": "RUNNING"})
        clock += timedelta(seconds=rng.uniform(0.2, 2.5) * (3 if "fact" in flow else 1))
        if run == 2 and flow == "dim_track_cdc":
            failed.add(output)
            _progress(
                log,
                clock,
                update,
                flow,
                output,
                {"status": "FAILED"},
                level="ERROR",
                message=f"{flow} failed",
                error=FAILURE,
            )
            continue
        rows = rng.randint(400, 1200) if run == 0 else rng.randint(5, 60)
        progress: dict[str, Any] = {"status": "COMPLETED", "metrics": {"num_output_rows": rows}}
        quality = _quality(flow, rows, rng, run)
        if quality:
            progress["data_quality"] = quality
        _progress(log, clock, update, flow, output, progress, level="METRICS")
    state = "FAILED" if failed else "COMPLETED"
    end = clock + timedelta(seconds=0.2)
    log.add(end, update, "update_progress", {"update_progress": {"state": state}})


def sample_events() -> list[dict[str, Any]]:
    """Event-log rows of three runs of the reference pipeline (deterministic)."""
    log, rng = _Log(), random.Random(7)
    for run in range(3):
        _run(log, rng, run, datetime(2026, 3, 1 + run * 7, 6, 0, 0))
    return log.rows


WORDS = (
    "Midnight",
    "Echo",
    "Golden",
    "Neon",
    "River",
    "Paper",
    "Static",
    "Velvet",
    "Summer",
    "Ghost",
)
GENRES = ("Pop", "Hip-Hop", "Jazz", "Electronic", "Rock", "Classical")


def _daily_rows(rng: random.Random, first: date) -> tuple[list[Row], list[Row]]:
    daily: list[Row] = []
    by_plan: list[Row] = []
    for offset in range(180):
        day = first + timedelta(days=offset)
        for country in ("US", "IN", "BR"):
            for device in ("Mobile", "Desktop", "Smart Speaker"):
                plays = rng.randint(2, 12) + offset // 30
                minutes = round(plays * rng.uniform(2.2, 3.6), 2)
                daily.append(
                    {"listen_date": day, "country": country, "device_type": device,
                     "plays": plays, "minutes": minutes, "listeners": max(plays - 2, 1)}
                )  # fmt: skip
        for plan in ("Free", "Premium", "Family"):
            plays = rng.randint(5, 40)
            by_plan.append({"listen_date": day, "subscription_type": plan, "plays": plays})
    return daily, by_plan


def _mix_rows(rng: random.Random) -> list[Row]:
    mix: list[Row] = []
    users = {"Free": 260, "Premium": 170, "Family": 70}
    for month in range(9, 15):
        month_end = date(2025 + (month - 1) // 12, (month - 1) % 12 + 1, 28)
        for plan, count in list(users.items()):
            users[plan] = count + rng.randint(-12, 18)
            mix.append({"month_end": month_end, "subscription_type": plan, "users": users[plan]})
    return mix


def _top_rows(rng: random.Random, first: date) -> tuple[list[Row], list[Row]]:
    tracks: list[Row] = []
    artists: list[Row] = []
    for week in range(4):
        week_start = first + timedelta(days=7 * week)
        for rank in range(1, 11):
            track = rng.randint(1, 40)
            name = f"{WORDS[track % 10]} {WORDS[track * 7 % 10]} {track}"
            if track % 9 == 0:
                name += " <Remix & Edit>"
            artist = f"Artist {track % 13:02d}"
            tracks.append(
                {"week_start": week_start, "rank": rank, "track_id": track, "track_name": name,
                 "artist_name": artist, "plays": 40 - rank * 3 + track % 9, "minutes": 10.0}
            )  # fmt: skip
            artists.append(
                {"week_start": week_start, "rank": rank, "artist_id": track % 13,
                 "artist_name": artist, "genre": GENRES[track % 6], "plays": 90 - rank * 7,
                 "minutes": 30.0}
            )  # fmt: skip
    return tracks, artists


def sample_marts() -> dict[str, list[dict[str, Any]]]:
    """Rows of the reference marts, in their column layout (deterministic)."""
    rng = random.Random(11)
    first = date(2025, 9, 1)
    daily, by_plan = _daily_rows(rng, first)
    tracks, artists = _top_rows(rng, first)
    return {
        f"{CAT}.gold.mart_daily_listening": daily,
        f"{CAT}.gold.mart_listening_by_plan": by_plan,
        f"{CAT}.gold.mart_plan_mix_monthly": _mix_rows(rng),
        f"{CAT}.gold.mart_top_tracks_weekly": tracks,
        f"{CAT}.gold.mart_top_artists_weekly": artists,
    }


def sample_row_counts() -> dict[str, int]:
    """Current rows per dataset for the sample."""
    rng = random.Random(3)
    counts = {f"lake/bronze/{src}": rng.randint(900, 1500) for src in TABLES.values()}
    counts.update({output: rng.randint(300, 1400) for _, output, _, _ in _flows()})
    counts[f"{CAT}.silver.factstream_quarantine"] = 17
    return counts


def sample_report_data() -> ReportData:
    """The sample as :class:`ReportData`."""
    return report_data_from_events(
        sample_events(),
        mart_charts(sample_marts()),
        row_counts=sample_row_counts(),
        title="Spotify lakehouse \u2014 pipeline report",
        generated_at="2026-03-15 06:05 UTC",
    )
