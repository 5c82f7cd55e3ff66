"""The reference project with its source on PostgreSQL (``source.url`` switched)."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundlake.lake import delta
from soundlake.project.context import Project
from soundlake.project.job import run_job
from soundlake.project.scaffold import init_project
from soundlake.project.source_ops import create_source, generate, simulate, source_counts

pytestmark = pytest.mark.slow


def test_reference_project_on_a_postgresql_source(tmp_path: Path, pg_url: str) -> None:
    init_project(tmp_path)
    config = tmp_path / "soundlake.yml"
    config.write_text(config.read_text().replace("url: sqlite:///source.db", f"url: {pg_url}"))
    project = Project.open(tmp_path)
    assert project.config.source.url == pg_url
    create_source(project)
    generate(project, scale=0.002, seed=21)
    assert run_job(project).ok
    summary = simulate(project, seed=22, rate=0.05)
    second = run_job(project)
    assert second.ok and second.ingest.rows == len({(c.table, c.key) for c in summary.changes})
    source = source_counts(project)
    gold = project.lake.uri("spotify_catalog", "gold", "dim_user")
    current = [r for r in delta.snapshot_dataset(gold).to_table().to_pylist() if r["__END_AT"] is None]
    assert len(current) == source["DimUser"]
    for change in summary.changes:
        if change.table == "DimUser" and change.kind in ("upgrade", "downgrade"):
            row = next(r for r in current if r["user_id"] == change.key)
            assert row["subscription_type"] == change.new["subscription_type"]
    facts = delta.open_table(project.lake.uri("spotify_catalog", "gold", "fact_stream")).count()
    assert facts == source["FactStream"]
