"""Issue #12 "Done when": the soak test.

50 incremental ``soundlake job`` runs over the simulator (bad rows on), a third of them
killed with SIGKILL after a random delay and then re-run, one backfill
(``soundlake ingest --from-date``) and one ``soundlake run --full-refresh-all``; at the end
gold must equal a clean single job over a copy of the same final source.

What is compared: the clean project only ever sees the final source, so it cannot know
the intermediate versions the soaked project recorded. For the SCD2 dimensions we compare
the current versions (``__END_AT`` NULL) with all their columns, ``updated_at`` included
(every simulated change moves it, so it identifies the version); for ``fact_stream`` (SCD1,
one row per play) every row. Any lost, duplicated or stale row fails the test. The random
delays, seeds and step positions come from a seeded RNG; a different kill point must not
change the outcome, so the assertion holds for every draw.

``SOUNDLAKE_SOAK_JOBS`` overrides the number of jobs (default 50).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from soundlake.project.context import Project
from soundlake.project.scaffold import init_project
from soundlake.project.source_ops import simulate
from tests.cli import soundlake
from tests.reliability.refproj import batch_time, diff, gold_state, new_project

pytestmark = pytest.mark.slow

JOBS = int(os.environ.get("SOUNDLAKE_SOAK_JOBS", "50"))


def ok(root: Path, *args: str) -> None:
    """Run a CLI command to completion; it must exit 0."""
    proc = soundlake(*args, project=root, columns=200, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"soundlake {' '.join(args)} exited {proc.returncode}:\n{out}"


def killed(root: Path, delay: float) -> None:
    """Start ``soundlake job`` and SIGKILL it after ``delay`` seconds (if still running)."""
    proc = subprocess.Popen(  # Popen, not tests.cli: the child is killed while it runs
        [sys.executable, "-m", "soundlake.cli.main", "--project", str(root), "job"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)


def test_soak_jobs_kills_backfill_full_refresh_equal_a_clean_run(tmp_path: Path) -> None:
    """Done when: 50 jobs, kill -9 in a third, one backfill, one full refresh == one clean job."""
    rng = random.Random(12)
    soaked = new_project(tmp_path / "soaked", scale=0.01, seed=7)
    backfill_at, refresh_at = JOBS // 3, 2 * JOBS // 3
    kills = 0
    for step in range(1, JOBS + 1):
        simulate(soaked, seed=step, rate=0.02, bad_rows=True, now=batch_time(step))
        if rng.random() < 1 / 3:
            kills += 1
            killed(soaked.root, rng.uniform(0.3, 4.0))
        ok(soaked.root, "job")
        if step == backfill_at:
            ok(soaked.root, "ingest", "--from-date", "2025-01-01")
            ok(soaked.root, "run")
        if step == refresh_at:
            ok(soaked.root, "run", "--full-refresh-all")
    assert kills >= JOBS // 5

    clean_root = tmp_path / "clean"
    init_project(clean_root)
    shutil.copy2(soaked.root / "source.db", clean_root / "source.db")
    ok(clean_root, "job")
    clean = Project.open(clean_root)

    got, want = gold_state(soaked, current_only=True), gold_state(clean, current_only=True)
    assert all(want[t] for t in want), "the clean run must produce every gold table"
    assert got == want, diff(got, want)
