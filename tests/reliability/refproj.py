"""Helpers shared by the reference-project reliability tests (history, schedule, soak).

A scenario is the Spotify reference project scaffolded by ``soundlake init`` on a tiny
generated source; simulated batches use a fixed, increasing clock in the past, so the
silver ``not_in_future`` check gives the same answer whenever the test runs.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from soundlake.catalog.names import TableName
from soundlake.lake import delta
from soundlake.project.context import Project
from soundlake.project.scaffold import init_project
from soundlake.project.source_ops import create_source, generate

GOLD_TABLES = ("dim_user", "dim_artist", "dim_track", "dim_date", "fact_stream")
SCD2_TABLES = ("dim_user", "dim_artist", "dim_track", "dim_date")
KEYS = {"dim_user": "user_id", "dim_artist": "artist_id", "dim_track": "track_id",
        "dim_date": "date_key", "fact_stream": "stream_id"}
CLOCK = datetime(2026, 1, 5, 12, 0, 0)
Row = tuple[tuple[str, Any], ...]


def batch_time(step: int) -> datetime:
    """The simulator clock of batch ``step``: one day apart, far in the past of any test run."""
    return CLOCK + timedelta(days=step)


def new_project(root: Path, *, scale: float = 0.01, seed: int = 1) -> Project:
    """``soundlake init`` + ``source create`` + ``source generate`` at ``root``."""
    init_project(root)
    project = Project.open(root)
    create_source(project)
    generate(project, scale=scale, seed=seed)
    return project


def copy_project(src: Path, dst: Path) -> Project:
    """A full copy of a project folder (source, lake, state), opened."""
    shutil.copytree(src, dst)
    return Project.open(dst)


def _norm(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return value
    return value


def gold_rows(project: Project, table: str, *, current_only: bool = False) -> list[Row]:
    """Every row of a gold table as sorted ``(column, value)`` tuples.

    ``current_only`` keeps the open versions of an SCD2 table (``__END_AT`` NULL) and
    drops the interval columns.
    """
    uri = project.lake.uri(*TableName("spotify_catalog", "gold", table).parts)
    if not delta.is_delta_table(uri):
        return []
    out: list[Row] = []
    for row in delta.snapshot_dataset(uri).to_table().to_pylist():
        if current_only and "__END_AT" in row:
            if row["__END_AT"] is not None:
                continue
            row = {k: v for k, v in row.items() if k not in ("__START_AT", "__END_AT")}
        out.append(tuple(sorted((k, _norm(v)) for k, v in row.items())))
    return sorted(out, key=repr)


def gold_state(project: Project, *, current_only: bool = False) -> dict[str, list[Row]]:
    """All five gold tables (see :func:`gold_rows`)."""
    return {t: gold_rows(project, t, current_only=current_only) for t in GOLD_TABLES}


def diff(a: dict[str, list[Row]], b: dict[str, list[Row]], *, limit: int = 3) -> str:
    """A short description of how two gold states differ ('' when equal)."""
    lines = []
    for table in sorted(set(a) | set(b)):
        left, right = set(a.get(table, [])), set(b.get(table, []))
        if left != right or len(a.get(table, [])) != len(b.get(table, [])):
            only_a = sorted(left - right, key=repr)[:limit]
            only_b = sorted(right - left, key=repr)[:limit]
            lines.append(f"{table}: {len(a.get(table, []))} vs {len(b.get(table, []))} rows; "
                         f"only left {only_a}; only right {only_b}")
    return "\n".join(lines)


def versions_per_key(rows: list[Row], key: str) -> dict[Any, int]:
    """How many rows each key has."""
    counts: dict[Any, int] = {}
    for row in rows:
        value = dict(row)[key]
        counts[value] = counts.get(value, 0) + 1
    return counts
