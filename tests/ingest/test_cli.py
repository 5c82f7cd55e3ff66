"""``soundlake ingest``: plain progress lines off a terminal, a summary, exit codes, status."""

from __future__ import annotations

import io
import sqlite3
import subprocess
from pathlib import Path

import pytest

from soundlake.core.errors import LockedError
from soundlake.demo.loadsql import load_sql_files
from soundlake.project.context import Project
from soundlake.project.ingest_ops import ingest_lock, ingest_status, run_ingest
from tests.cli import soundlake

YML = """name: spotify
storage: lake
source:
  url: sqlite:///source.db
ingest:
  workers: 2
  tables:
    - {schema: dbo, table: DimUser, cdc_col: updated_at}
    - {schema: dbo, table: DimTrack, cdc_col: updated_at}
    - {schema: dbo, table: DimDate, cdc_col: date}
    - {schema: dbo, table: DimArtist, cdc_col: updated_at}
    - {schema: dbo, table: FactStream, cdc_col: stream_timestamp}
"""


def make_project(root: Path, tutorial_dir: Path) -> Path:
    (root / "soundlake.yml").write_text(YML)
    load_sql_files(f"sqlite:///{root / 'source.db'}", [tutorial_dir / "spotify_initial_load.sql"])
    return root


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return soundlake(
        "ingest", *args, project=root, columns=200, timeout=120,
        env={"PATH": "/usr/bin:/bin"}, inherit_env=False,
    )


def test_cli_ingest_prints_lines_and_a_summary(tmp_path: Path, tutorial_dir: Path) -> None:
    root = make_project(tmp_path, tutorial_dir)
    first = cli(root)
    assert first.returncode == 0, first.stderr
    assert "FactStream: full load from watermark -" in first.stdout
    assert "FactStream: 1,000 rows, watermark 2025-10-07T19:49:56" in first.stdout
    for header in ("table", "rows", "files", "watermark before", "watermark after", "seconds"):
        assert header in first.stdout
    assert "2,865 rows" in first.stdout
    second = cli(root, "--table", "FactStream", "--table", "DimDate")
    assert second.returncode == 0
    assert "DimUser" not in second.stdout and "0 rows" in second.stdout


def test_cli_ingest_failure_exits_non_zero(tmp_path: Path, tutorial_dir: Path) -> None:
    root = make_project(tmp_path, tutorial_dir)
    with sqlite3.connect(root / "source.db") as conn:
        conn.execute("UPDATE DimTrack SET duration_sec = 'long' WHERE track_id = 3")
    result = cli(root)
    assert result.returncode == 1
    assert "failed: DimTrack" in result.stdout and "duration_sec" in result.stdout


def test_cli_unknown_table_is_a_config_error(tmp_path: Path, tutorial_dir: Path) -> None:
    root = make_project(tmp_path, tutorial_dir)
    result = cli(root, "--table", "DimAlbum")
    assert result.returncode == 2
    assert "table 'DimAlbum' is not in ingest.tables" in result.stderr


def test_a_from_date_that_is_no_date_is_a_usage_error(tmp_path: Path, tutorial_dir: Path) -> None:
    """``--from-date yesterday`` is refused before any table runs (exit 2, no failed table)."""
    root = make_project(tmp_path, tutorial_dir)
    result = cli(root, "--from-date", "yesterday")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "'yesterday' is not a date, timestamp or integer" in result.stderr
    assert result.stdout == "" and not (root / "lake").exists()


def test_run_ingest_and_status_facade(tmp_path: Path, tutorial_dir: Path) -> None:
    root = make_project(tmp_path, tutorial_dir)
    project = Project.open(root)
    result = run_ingest(project, tables=["DimDate"], from_date="2025-10-01")
    assert result.ok and result.tables[0].mode == "backfill" and result.rows == 6
    statuses = {s.table: s for s in ingest_status(project)}
    assert statuses["DimDate"].watermark == "2025-10-06"
    assert statuses["DimDate"].rows == 6 and len(statuses["DimDate"].committed_files) == 1
    assert statuses["DimDate"].manifests[0]["mode"] == "backfill"
    assert statuses["FactStream"].watermark is None and statuses["FactStream"].committed_files == ()


def test_a_second_ingest_of_the_same_project_is_refused(tmp_path: Path, tutorial_dir: Path) -> None:
    root = make_project(tmp_path, tutorial_dir)
    project = Project.open(root)
    with ingest_lock(project), pytest.raises(LockedError, match="ingestion of project 'spotify'"):
        run_ingest(project)


def test_rich_progress_on_a_terminal(tmp_path: Path, tutorial_dir: Path) -> None:
    from rich.console import Console

    from soundlake.cli.ingest_cmd import RichReporter, render_summary

    root = make_project(tmp_path, tutorial_dir)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160)
    with RichReporter(console) as reporter:
        result = run_ingest(Project.open(root), reporter=reporter)
    render_summary(console, result)
    text = out.getvalue()
    assert result.ok and "FactStream" in text and "watermark after" in text
