"""The report's charts sum every row of a mart (in the engine), checked against SQL."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

from soundlake.catalog.names import TableName
from soundlake.demo.report_marts import mart_charts
from soundlake.lake import delta
from soundlake.project.context import Project
from soundlake.project.pipeline_ops import query
from soundlake.project.report_ops import mart_rows

DAYS = 40
ROWS_PER_DAY = 300  # 12,000 rows: more than any sample of the first rows would see


def _project(tmp_path: Path) -> Project:
    (tmp_path / "soundlake.yml").write_text("name: p\nstorage: lake\ncatalog: c\nschema: gold\n")
    return Project.open(tmp_path)


def _daily(n_days: int) -> pa.Table:
    start = date(2025, 1, 1)
    rows = [
        {"listen_date": start + timedelta(days=d), "country": f"C{i % 7}", "device_type": f"D{i % 3}",
         "plays": 1 + (d * 31 + i) % 17, "minutes": ((d + i) % 11) / 4}
        for d in range(n_days) for i in range(ROWS_PER_DAY)
    ]
    return pa.Table.from_pylist(rows)


def test_daily_listening_chart_sums_every_row(tmp_path: Path) -> None:
    project = _project(tmp_path)
    name = TableName("c", "gold", "mart_daily_listening")
    table = _daily(DAYS)
    shuffled = table.take(random.Random(3).sample(range(table.num_rows), table.num_rows))  # unordered rows
    delta.write_table(project.lake.uri(*name.parts), shuffled, mode="append")
    charts = mart_charts(mart_rows(project, [name]))
    assert charts.daily_listening is not None and len(charts.daily_listening) == DAYS
    expected = query(
        project, "SELECT listen_date, sum(plays) AS plays, sum(minutes) AS minutes FROM c.gold.mart_daily_listening "
        "GROUP BY listen_date ORDER BY listen_date",
    ).to_pylist()
    got = [(p.day, p.plays, p.minutes) for p in charts.daily_listening]
    assert got == [(r["listen_date"], r["plays"], round(r["minutes"], 2)) for r in expected]
    assert sum(p.plays for p in charts.daily_listening) == query(
        project, "SELECT sum(plays) AS n FROM c.gold.mart_daily_listening").column("n")[0].as_py()


def test_top_tracks_rank_by_all_weeks(tmp_path: Path) -> None:
    project = _project(tmp_path)
    name = TableName("c", "gold", "mart_top_tracks_weekly")
    rows = [
        {"week_start": date(2025, 1, 6) + timedelta(weeks=w), "rank": r, "track_id": (w * 7 + r) % 40,
         "track_name": f"T{(w * 7 + r) % 40}", "artist_name": "A", "plays": 1000 - r * 10 + w}
        for w in range(300) for r in range(1, 21)
    ]
    delta.write_table(project.lake.uri(*name.parts), pa.Table.from_pylist(rows), mode="append")
    charts = mart_charts(mart_rows(project, [name]))
    expected = query(
        project, "SELECT track_name, sum(plays) AS plays FROM c.gold.mart_top_tracks_weekly "
        "GROUP BY track_name ORDER BY plays DESC, track_name LIMIT 10",
    ).to_pylist()
    assert charts.top_tracks is not None
    assert [(t.label, t.plays) for t in charts.top_tracks] == [(r["track_name"], r["plays"]) for r in expected]
