"""Crash (os._exit) at every commit step, re-run, and compare with a clean run.

Exactly-once: whatever step a process dies at, the next run gives exactly the tables a
run without a crash gives: nothing duplicated, nothing lost. The killed process also
leaves its lock behind; the next run takes it over (the pid is dead).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.pipeline.conftest import Lakehouse

PIPELINE = """
CREATE OR REFRESH STREAMING TABLE raw
AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');

CREATE OR REFRESH STREAMING TABLE clean (
  CONSTRAINT positive EXPECT (v > 0) ON VIOLATION QUARANTINE,
  CONSTRAINT not_big EXPECT (v < 1000) ON VIOLATION DROP ROW
) AS SELECT id, v FROM STREAM(raw);

CREATE OR REFRESH MATERIALIZED VIEW total AS SELECT count(*) AS n, sum(v) AS s FROM clean;

CREATE OR REFRESH MATERIALIZED VIEW by_sign AS
SELECT v > 2 AS big, count(*) AS n, sum(v) AS s FROM raw GROUP BY v > 2;
"""

STEPS = ["after_plan", "after_target_commit", "after_quarantine_commit", "before_checkpoint", "after_checkpoint"]


def _run_subprocess(root: Path, fault: str | None, *args: str) -> int:
    env = dict(os.environ)
    env.pop("SOUNDLAKE_FAULT", None)
    if fault:
        env["SOUNDLAKE_FAULT"] = fault
    code = (
        "import sys; from soundlake.project.context import Project;"
        "from soundlake.project.pipeline_ops import run;"
        "full = sys.argv[1:] or None;"
        f"r = run(Project.open({str(root)!r}), full_refresh=full);"
        "sys.exit(0 if r.ok else 1)"
    )
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=REPO, check=False, capture_output=True, text=True)
    return proc.returncode


def _batch(lh: Lakehouse, n: int) -> None:
    base = n * 10
    lh.parquet("in", f"{n:03d}.parquet", [
        {"id": base + 1, "v": 5}, {"id": base + 2, "v": -1}, {"id": base + 3, "v": 5000}, {"id": base + 4, "v": n},
    ])


def _tables(lh: Lakehouse) -> dict[str, Any]:
    return {
        "raw": lh.rows("SELECT id, v FROM raw ORDER BY id"),
        "clean": lh.rows("SELECT id, v FROM clean ORDER BY id"),
        "quarantine": lh.rows("SELECT id, v, _failed_expectations FROM clean_quarantine ORDER BY id"),
        "total": lh.rows("SELECT n, s FROM total"),
        "by_sign": lh.rows("SELECT big, n, s FROM by_sign ORDER BY big"),
    }


def _make(tmp: Path, name: str) -> Lakehouse:
    lh = Lakehouse(tmp / name)
    lh.sql(PIPELINE)
    _batch(lh, 1)
    return lh


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    lh = _make(tmp_path_factory.mktemp("clean"), "p")
    assert _run_subprocess(lh.root, None) == 0
    _batch(lh, 2)
    assert _run_subprocess(lh.root, None) == 0
    return _tables(lh)


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
def test_crash_in_second_batch_then_rerun_equals_clean_run(tmp_path: Path, step: str, expected: dict[str, Any]) -> None:
    lh = _make(tmp_path, "p")
    assert _run_subprocess(lh.root, None) == 0
    _batch(lh, 2)
    assert _run_subprocess(lh.root, f"{step}:main.silver.clean") == 97
    assert _run_subprocess(lh.root, None) == 0
    assert _tables(lh) == expected
    assert _run_subprocess(lh.root, None) == 0  # and once more: still the same
    assert _tables(lh) == expected


@pytest.mark.slow
@pytest.mark.parametrize("step", ["after_plan", "after_partials_commit", "before_checkpoint"])
def test_crash_in_incremental_materialized_view(tmp_path: Path, step: str, expected: dict[str, Any]) -> None:
    lh = _make(tmp_path, "p")
    assert _run_subprocess(lh.root, None) == 0
    _batch(lh, 2)
    assert _run_subprocess(lh.root, f"{step}:main.silver.by_sign") == 97
    assert _run_subprocess(lh.root, None) == 0
    assert _tables(lh) == expected


@pytest.mark.slow
@pytest.mark.parametrize("step", ["after_plan", "after_target_commit", "before_checkpoint"])
def test_crash_in_first_run_of_the_file_flow(tmp_path: Path, step: str, expected: dict[str, Any]) -> None:
    lh = _make(tmp_path, "p")
    assert _run_subprocess(lh.root, f"{step}:main.silver.raw") == 97
    _batch(lh, 2)
    assert _run_subprocess(lh.root, None) == 0
    assert _tables(lh) == expected


@pytest.mark.slow
@pytest.mark.parametrize("step", ["after_reset_marker", "after_truncate"])
def test_crash_during_full_refresh(tmp_path: Path, step: str, expected: dict[str, Any]) -> None:
    lh = _make(tmp_path, "p")
    _batch(lh, 2)
    assert _run_subprocess(lh.root, None) == 0
    assert _run_subprocess(lh.root, step, "raw", "clean", "total") == 97
    assert _run_subprocess(lh.root, None) == 0  # a normal run completes the pending reset
    got = _tables(lh)
    assert got["raw"] == expected["raw"] and got["clean"] == expected["clean"]
    assert got["total"] == expected["total"]
