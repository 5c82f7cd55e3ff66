"""Exactly once under crashes: kill the process at each step, re-run, count every row once."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from soundlake.ingest.faults import FAULT_ENV, FAULT_EXIT_CODE, STEPS, WINDOW_STEPS
from soundlake.ingest.runner import run_tables
from soundlake.lake.bronze import committed_batch_files
from soundlake.lake.storage import Lake
from tests.conftest import REPO
from tests.ingest.helpers import (
    TABLES,
    as_multiset,
    bronze_rows,
    config,
    expected_increment,
    source_rows,
)

SCRIPT = """
import sys
from pathlib import Path
from soundlake.ingest.runner import run_tables
from soundlake.lake.storage import Lake
from tests.ingest.helpers import config
lake = Lake(sys.argv[2])
cfg = config(batch_rows=int(sys.argv[3]), lookback=sys.argv[4])
result = run_tables(lake, sys.argv[1], cfg, pipeline="spotify")
sys.exit(0 if result.ok else 1)
"""


def run_killed(
    url: str, lake: Lake, fault: str, *, batch_rows: int = 100, lookback: str = "0"
) -> int:
    """Run an ingest in a child process that kills itself at ``fault``."""
    env = dict(os.environ, **{FAULT_ENV: fault})
    proc = subprocess.run(  # noqa: PLW1510 (the return code is checked)
        [sys.executable, "-c", SCRIPT, url, lake.root, str(batch_rows), lookback],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode


@pytest.mark.parametrize("step", STEPS)
def test_kill_during_full_load_then_rerun_delivers_each_row_once(
    step: str, sqlite_url: str, lake: Lake, load
) -> None:
    load(sqlite_url, "initial")
    code = run_killed(sqlite_url, lake, f"{step}:FactStream")
    assert code == FAULT_EXIT_CODE
    if step in ("before_manifest", "before_watermark", "watermark_write"):
        # a published but uncommitted file is not yet listed as committed
        assert committed_batch_files(lake, "FactStream") == []
        assert len(list((Path(lake.root) / "bronze" / "FactStream").glob("*.parquet"))) == 1
    rerun = run_tables(lake, sqlite_url, config(batch_rows=100), pipeline="spotify")
    assert rerun.ok, rerun.failed
    for table, _ in TABLES:
        assert as_multiset(bronze_rows(lake, table)) == as_multiset(
            source_rows(sqlite_url, table)
        ), table
        assert as_multiset(bronze_rows(lake, table, committed_only=False)) == as_multiset(
            source_rows(sqlite_url, table)
        ), table
    assert not list((Path(lake.root) / "bronze" / "FactStream_cdc" / "_tmp").glob("*"))
    fact = next(t for t in rerun.tables if t.table == "FactStream")
    if step in ("before_manifest", "before_watermark", "watermark_write"):
        assert fact.adopted and fact.rows == 0
    else:
        assert not fact.adopted and fact.rows == 1000
    assert run_tables(lake, sqlite_url, config(), pipeline="spotify").rows == 0


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
@pytest.mark.parametrize("step", STEPS)
def test_kill_during_incremental_then_rerun_delivers_each_change_once(
    step: str, backend: str, request: pytest.FixtureRequest, lake: Lake, load
) -> None:
    fixture = "sqlite_url" if backend == "sqlite" else "pg_url"
    source_url = str(request.getfixturevalue(fixture))
    load(source_url, "initial")
    first = run_tables(lake, source_url, config(), pipeline="spotify")
    before = {t: source_rows(source_url, t) for t, _ in TABLES}
    load(source_url, "incremental")
    assert run_killed(source_url, lake, step, batch_rows=7) == FAULT_EXIT_CODE
    rerun = run_tables(lake, source_url, config(batch_rows=7), pipeline="spotify")
    assert rerun.ok, rerun.failed
    wm = {t.table: t.watermark_after for t in first.tables}
    for table, cdc in TABLES:
        after = source_rows(source_url, table)
        value = before[table][0][cdc].__class__.fromisoformat(wm[table])
        expected = as_multiset(before[table]) + expected_increment(before[table], after, cdc, value)
        assert as_multiset(bronze_rows(lake, table)) == expected, table
    assert run_tables(lake, source_url, config(), pipeline="spotify").rows == 0


def _sidecars(lake: Lake, table: str) -> list[Path]:
    return list((Path(lake.root) / "bronze" / f"{table}_cdc" / "_fingerprints").glob("*"))


@pytest.mark.parametrize("step", WINDOW_STEPS)
def test_kill_during_full_load_with_a_window_then_rerun_delivers_each_row_once(
    step: str, sqlite_url: str, lake: Lake, load
) -> None:
    load(sqlite_url, "initial")
    assert run_killed(sqlite_url, lake, f"{step}:FactStream", lookback="40d") == FAULT_EXIT_CODE
    cfg = config(batch_rows=100, lookback="40d")
    rerun = run_tables(lake, sqlite_url, cfg, pipeline="spotify")
    assert rerun.ok, rerun.failed
    for table, _ in TABLES:
        expected = as_multiset(source_rows(sqlite_url, table))
        assert as_multiset(bronze_rows(lake, table, committed_only=False)) == expected, table
        assert len(_sidecars(lake, table)) == 1, table
    assert run_tables(lake, sqlite_url, cfg, pipeline="spotify").rows == 0


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
@pytest.mark.parametrize("step", WINDOW_STEPS)
def test_kill_during_incremental_with_a_window_then_rerun_delivers_each_change_once(
    step: str, backend: str, request: pytest.FixtureRequest, lake: Lake, load
) -> None:
    """With lookback 40d the late changes of the tutorial's script are delivered, once."""
    fixture = "sqlite_url" if backend == "sqlite" else "pg_url"
    source_url = str(request.getfixturevalue(fixture))
    load(source_url, "initial")
    cfg = config(lookback="40d")
    first = run_tables(lake, source_url, cfg, pipeline="spotify")
    before = {t: source_rows(source_url, t) for t, _ in TABLES}
    load(source_url, "incremental")
    assert run_killed(source_url, lake, step, batch_rows=7, lookback="40d") == FAULT_EXIT_CODE
    rerun = run_tables(lake, source_url, config(batch_rows=7, lookback="40d"), pipeline="spotify")
    assert rerun.ok, rerun.failed
    wm = {t.table: t.watermark_after for t in first.tables}
    for table, cdc in TABLES:
        after = source_rows(source_url, table)
        lower = before[table][0][cdc].__class__.fromisoformat(wm[table]) - timedelta(days=40)
        old = as_multiset([r for r in before[table] if r[cdc] >= lower])
        new = as_multiset([r for r in after if r[cdc] >= lower])
        expected = as_multiset(before[table]) + (new - old)
        assert as_multiset(bronze_rows(lake, table)) == expected, table
        assert len(_sidecars(lake, table)) == 1, table
    assert sum(as_multiset(bronze_rows(lake, "DimUser")).values()) == 500 + 69
    assert run_tables(lake, source_url, cfg, pipeline="spotify").rows == 0
