"""Issue #12 item 3: a full refresh must not delete SCD2 history.

The reference project de-duplicates silver by (key, CDC column), so every version of a key
reaches AUTO CDC in any batch, including the single batch of a full refresh; its SCD2
dimensions carry ``pipelines.reset.allowed = false``; and the runtime lets a protected
AUTO CDC target re-read a source that a full refresh rebuilt (re-applying the events
changes nothing already applied).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from soundlake.catalog.names import TableName
from soundlake.project.context import Project
from soundlake.project.job import run_job
from soundlake.project.pipeline_ops import events, load_graph, run
from soundlake.project.source_ops import simulate
from tests.cli import soundlake
from tests.pipeline.conftest import Lakehouse, statuses
from tests.reliability.refproj import (
    GOLD_TABLES,
    SCD2_TABLES,
    batch_time,
    copy_project,
    diff,
    gold_state,
    new_project,
    versions_per_key,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The reference project after three jobs: the first load and two simulated batches."""
    root = tmp_path_factory.mktemp("history") / "spotify"
    project = new_project(root)
    assert run_job(project).ok
    for step in (1, 2):
        simulate(project, seed=step, rate=0.05, bad_rows=True, now=batch_time(step))
        assert run_job(project).ok
    yield root


def _copy(built: Path, tmp_path: Path) -> Project:
    return copy_project(built, tmp_path / "copy")


def test_full_refresh_all_keeps_scd2_history(built: Path, tmp_path: Path) -> None:
    """Item 3: `run --full-refresh-all` on a healthy lake keeps every earlier version in gold."""
    project = _copy(built, tmp_path)
    before = gold_state(project)
    users = versions_per_key(before["dim_user"], "user_id")
    assert max(users.values()) > 1, "the scenario must hold users with several versions"
    result = run(project, full_refresh_all=True)
    assert result.ok, result.errors
    after = gold_state(project)
    assert after == before, diff(before, after)
    warned = [e["message"] for e in events(project, run_id=result.run_id).to_pylist() if e["level"] == "WARN"]
    for table in SCD2_TABLES:
        assert any(f"gold.{table}: pipelines.reset.allowed = false" in m for m in warned), warned


def test_full_refresh_all_then_new_changes_extend_history(built: Path, tmp_path: Path) -> None:
    """Item 3: after a full refresh the protected dimensions still take new versions, exactly once."""
    project = _copy(built, tmp_path)
    assert run(project, full_refresh_all=True).ok
    simulate(project, seed=3, rate=0.05, now=batch_time(3))
    assert run_job(project).ok
    incremental = copy_project(built, tmp_path / "incremental")
    simulate(incremental, seed=3, rate=0.05, now=batch_time(3))
    assert run_job(incremental).ok
    got, want = gold_state(project), gold_state(incremental)
    assert got == want, diff(want, got)


def test_full_refresh_from_bronze_rebuilds_identical_gold(built: Path, tmp_path: Path) -> None:
    """Item 3: resetting silver AND gold (property removed on a copy) rebuilds gold row for row."""
    project = _copy(built, tmp_path)
    for path in (project.root / "pipelines" / "gold").iterdir():
        text = path.read_text(encoding="utf-8")
        kept = [line for line in text.splitlines() if "pipelines.reset.allowed" not in line]
        path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    assert all(d.reset_allowed for d in load_graph(project).datasets.values())
    before = gold_state(project)
    result = run(project, full_refresh_all=True)
    assert result.ok, result.errors
    resets = [e for e in events(project, run_id=result.run_id).to_pylist()
              if e["message"].startswith("Table spotify_catalog.gold.") and "was reset" in e["message"]]
    assert len(resets) >= len(GOLD_TABLES)
    after = gold_state(project)  # __START_AT / __END_AT included
    assert after == before, diff(before, after)


def test_reference_project_protects_history_tables(built: Path) -> None:
    """Item 3: the SCD2 dimensions carry pipelines.reset.allowed = false, the rest may be reset."""
    datasets = load_graph(Project.open(built)).datasets
    protected = {name.parts[-1] for name, d in datasets.items() if not d.reset_allowed}
    assert protected == set(SCD2_TABLES)
    assert datasets[TableName("spotify_catalog", "gold", "fact_stream")].reset_allowed


def test_full_refresh_naming_a_history_table_is_a_clear_error(built: Path, tmp_path: Path) -> None:
    """Item 3: `run --full-refresh <SCD2 dim>` fails before anything runs, one line, no traceback."""
    project = _copy(built, tmp_path)
    before = gold_state(project)
    result = soundlake("run", "--full-refresh", "spotify_catalog.gold.dim_user",
                       project=project.root, columns=200)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "spotify_catalog.gold.dim_user" in output and "pipelines.reset.allowed = false" in output
    assert "Traceback" not in output
    assert gold_state(project) == before


# --- the runtime rule on a minimal pipeline --------------------------------------------

PROTECTED = """
CREATE OR REFRESH STREAMING TABLE raw
AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');

CREATE OR REFRESH STREAMING TABLE hist TBLPROPERTIES ('pipelines.reset.allowed' = 'false');
CREATE FLOW hist_cdc AS AUTO CDC INTO hist FROM STREAM(raw)
KEYS (id) SEQUENCE BY seq STORED AS SCD TYPE 2;
"""


@pytest.fixture()
def hist(tmp_path: Path) -> Lakehouse:
    lh = Lakehouse(tmp_path / "proj")
    lh.sql(PROTECTED)
    lh.parquet("in", "1.parquet", [{"id": 1, "v": "a", "seq": 1}, {"id": 2, "v": "x", "seq": 1}])
    assert lh.run().ok
    lh.parquet("in", "2.parquet", [{"id": 1, "v": "b", "seq": 2}])
    assert lh.run().ok
    return lh


HISTORY = "SELECT id, v, __START_AT AS s, __END_AT AS e FROM hist ORDER BY id, s"


def test_protected_auto_cdc_target_survives_full_refresh_all(hist: Lakehouse) -> None:
    """Item 3: a protected AUTO CDC target re-reads its rebuilt source; history unchanged."""
    before = hist.rows(HISTORY)
    assert len(before) == 3
    result = hist.run(full_refresh_all=True)
    assert result.ok, result.errors
    assert statuses(result)["hist_cdc"] == "COMPLETED"
    assert hist.rows(HISTORY) == before
    hist.parquet("in", "3.parquet", [{"id": 2, "v": "y", "seq": 5}])
    assert hist.run().ok
    assert hist.rows(HISTORY) == [*before[:2], {"id": 2, "v": "x", "s": 1, "e": 5},
                                  {"id": 2, "v": "y", "s": 5, "e": None}]


def test_protected_reader_of_a_source_reset_alone_rereads_it(hist: Lakehouse) -> None:
    """Item 3: `--full-refresh raw` then a normal update: the protected reader does not fail."""
    before = hist.rows(HISTORY)
    result = hist.run(full_refresh=["raw"])
    assert result.ok, result.errors
    assert statuses(result)["hist_cdc"] == "EXCLUDED"
    later = hist.run()
    assert later.ok, later.errors
    assert hist.rows(HISTORY) == before
    assert hist.rows("SELECT count(*) AS n FROM raw") == [{"n": 3}]
