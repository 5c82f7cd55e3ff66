"""``soundlake demo``: the README's first command, end to end through the CLI."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path

import pytest

from tests.cli import soundlake

pytestmark = pytest.mark.slow


def test_demo_runs_end_to_end_and_writes_the_report(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = soundlake("demo", str(target), "--scale", "0.005", columns=160)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for heading in ("rows per layer", "expectations (second run)", "quarantined rows", "SCD2 history of user"):
        assert heading in out, heading
    # layers in flow order, marts called marts (as in the report's graph)
    layer_rows = [line.split("│")[1].strip() for line in out.splitlines()
                  if line.count("│") >= 3 and line.split("│")[1].strip() in ("source", "bronze", "silver", "gold", "mart")]
    assert layer_rows == sorted(layer_rows, key=["source", "bronze", "silver", "gold", "mart"].index), layer_rows
    assert "mart" in layer_rows
    report = target / "lake" / "_soundlake" / "report.html"
    assert report.is_file() and "<svg" in report.read_text(encoding="utf-8")
    assert (target / "simulation.json").is_file()
    # one continuous timeline: a year of history up to yesterday, then today's simulated batch
    from soundlake.project.context import Project
    from soundlake.project.pipeline_ops import query

    days = [r["listen_date"] for r in query(
        Project.open(target),
        "SELECT DISTINCT listen_date FROM spotify_catalog.gold.mart_daily_listening ORDER BY listen_date",
    ).to_pylist()]
    today = datetime.now(timezone.utc).date()
    assert days[-1] >= today - timedelta(days=1) and days[0] >= today - timedelta(days=366), (days[0], days[-1])
    # at this tiny scale some days have no stream; never a month without any (as a history
    # that ended a year before the simulated batch had)
    assert max((b - a).days for a, b in pairwise(days)) < 30
    # a second demo into a non-empty folder is refused without --force
    again = soundlake("demo", str(target), "--scale", "0.005", columns=None)
    assert again.returncode == 2 and "not empty" in again.stderr
