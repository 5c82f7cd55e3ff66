"""``soundlake job`` output: ingestion first, then the update, with durations."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli import soundlake


@pytest.mark.slow
def test_job_prints_ingest_before_the_pipeline_and_durations(tmp_path: Path) -> None:
    root = tmp_path / "spotify"
    assert soundlake("init", str(root)).returncode == 0
    assert soundlake("source", "generate", "--scale", "0.002", "--seed", "1", project=root).returncode == 0
    job = soundlake("job", project=root)
    assert job.returncode == 0, job.stdout + job.stderr
    out = job.stdout
    summary = out.index("ingest run")
    first_flow = re.search(r"COMPLETED\s+spotify_catalog\.", out)
    assert first_flow is not None
    assert summary < first_flow.start(), out  # was: the ingest table after the pipeline's lines
    total = re.search(r"update \w+: COMPLETED in (\d+\.\d) s", out)
    assert total is not None and float(total.group(1)) > 0, out
    assert "seconds" in out.split("update ", 1)[-1]


@pytest.mark.slow
def test_every_table_printing_command_has_json(tmp_path: Path) -> None:
    """run, job, ingest, status, history and events print JSON with --format json, and only JSON."""
    root = tmp_path / "spotify"
    assert soundlake("init", str(root)).returncode == 0
    assert soundlake("source", "generate", "--scale", "0.002", "--seed", "2", project=root).returncode == 0
    job = soundlake("job", "--format", "json", project=root)
    assert job.returncode == 0, job.stderr
    doc = json.loads(job.stdout)
    assert doc["ok"] is True and doc["ingest"]["rows"] > 0
    flows = doc["update"]["flows"]
    assert flows["spotify_catalog.silver.factstream"]["status"] == "COMPLETED"
    assert flows["spotify_catalog.silver.factstream"]["num_output_rows"] > 0
    ingest = json.loads(soundlake("ingest", "--format", "json", project=root).stdout)
    assert ingest["ok"] is True and ingest["rows"] == 0 and len(ingest["tables"]) == 5
    run = json.loads(soundlake("run", "--format", "json", project=root).stdout)
    assert run["status"] == "COMPLETED" and run["seconds"] > 0
    assert {f["status"] for f in run["flows"].values()} <= {"IDLE", "COMPLETED"}
    for args in (["status"], ["history", "gold.dim_user"], ["events", "--last", "5"]):
        out = soundlake(*args, "--format", "json", project=root)
        assert out.returncode == 0, out.stderr
        lines = [json.loads(line) for line in out.stdout.splitlines()]
        assert lines, args
    bad = soundlake("history", "gold.dim_user", "--format", "yaml", project=root)
    assert bad.returncode == 2 and "unknown format 'yaml'" in bad.stderr
