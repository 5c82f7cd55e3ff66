"""``soundlake job`` output: ingestion first, then the update, with durations."""

from __future__ import annotations

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
