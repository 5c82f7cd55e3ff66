"""Issue #12, pipeline state integrity: tampered state, pipeline identity, concurrency.

Every case runs a small real pipeline (files -> streaming table -> AUTO CDC SCD2 and a
materialized view) on DuckDB and Delta, tampers with the lake the way a user or a crash
can, and checks that the next update either fails with one clear line naming the table
and the repair (and writes nothing), or repairs itself, and that the repair gives
exactly the rows of a clean run.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from soundlake.core.errors import GraphError, LockedError
from soundlake.observe.events import EventLog
from soundlake.pipeline.integrity import OwnershipError, StateMismatchError
from soundlake.project.pipeline_ops import dry_run, event_log_uri, writer_lock
from tests.cli import soundlake
from tests.pipeline.conftest import Lakehouse

PIPELINE = """
CREATE OR REFRESH STREAMING TABLE raw
AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');

CREATE OR REFRESH STREAMING TABLE users;
CREATE FLOW users_cdc AS AUTO CDC INTO users FROM STREAM(raw) KEYS (id)
  SEQUENCE BY seq COLUMNS * EXCEPT (seq, _rescued_data) STORED AS SCD TYPE 2;

CREATE OR REFRESH MATERIALIZED VIEW total AS SELECT count(*) AS n, sum(v) AS s FROM raw;
"""


def _batch(lh: Lakehouse, n: int) -> None:
    """Batch n: key 1 changes (v = n), and a new key 10 + n appears."""
    lh.parquet("in", f"{n:03d}.parquet", [{"id": 1, "v": n, "seq": n}, {"id": 10 + n, "v": n, "seq": n}])


def _tables(lh: Lakehouse) -> dict[str, Any]:
    return {
        "raw": lh.rows("SELECT id, v FROM raw ORDER BY id, v"),
        "users": lh.rows("SELECT id, v, __END_AT IS NULL AS open FROM users ORDER BY id, v"),
        "total": lh.rows("SELECT n, s FROM total"),
    }


def _expected(batches: int) -> dict[str, Any]:
    """The tables of a clean run over ``batches`` batches."""
    raw = sorted([(1, n) for n in range(1, batches + 1)] + [(10 + n, n) for n in range(1, batches + 1)])
    users = [{"id": 1, "v": n, "open": n == batches} for n in range(1, batches + 1)]
    users += [{"id": 10 + n, "v": n, "open": True} for n in range(1, batches + 1)]
    return {
        "raw": [{"id": i, "v": v} for i, v in raw],
        "users": users,
        "total": [{"n": 2 * batches, "s": 2 * sum(range(1, batches + 1))}],
    }


def _project(tmp_path: Path, batches: int = 2, name: str = "proj") -> Lakehouse:
    lh = Lakehouse(tmp_path / name)
    lh.sql(PIPELINE)
    for n in range(1, batches + 1):
        _batch(lh, n)
        result = lh.run()
        assert result.ok, result.errors
    assert _tables(lh) == _expected(batches)
    return lh


def _state(lh: Lakehouse) -> Path:
    return lh.root / "lake" / "_soundlake" / "pipelines" / "t"


def _table(lh: Lakehouse, name: str) -> Path:
    return lh.root / "lake" / "main" / "silver" / name


def _commit_file(lh: Lakehouse, table: str, version: int) -> Path:
    return _table(lh, table) / "_delta_log" / f"{version:020d}.json"


def _last_version(lh: Lakehouse, table: str) -> int:
    return max(int(p.stem) for p in (_table(lh, table) / "_delta_log").glob("*.json"))


# --- lost, old or corrupt state --------------------------------------------------------


def test_deleted_state_folder_fails_naming_tables_then_full_refresh_all_repairs(tmp_path: Path) -> None:
    """Item 2: deleting _soundlake/ is not a silent success (was: COMPLETED 0 rows)."""
    lh = _project(tmp_path)
    shutil.rmtree(lh.root / "lake" / "_soundlake")
    _batch(lh, 3)
    out = soundlake("run", project=lh.root)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert "main.silver.raw" in out.stderr and "checkpoint" in out.stderr and "is missing" in out.stderr
    assert "--full-refresh main.silver.raw,main.silver.users" in out.stderr
    assert _tables(lh) == _expected(2)  # nothing written
    result = lh.run(full_refresh_all=True)
    assert result.ok, result.errors
    assert _tables(lh) == _expected(3)


def test_deleted_checkpoint_fails_then_full_refresh_repairs(tmp_path: Path) -> None:
    """Item 2: one deleted checkpoint file no longer marks new files processed without rows."""
    lh = _project(tmp_path)
    (_state(lh) / "checkpoints" / "main.silver.raw.json").unlink()
    _batch(lh, 3)
    with pytest.raises(StateMismatchError) as info:
        lh.run()
    message = str(info.value)
    assert "table main.silver.raw holds batch 2 of flow 'main.silver.raw'" in message
    assert "main.silver.raw.json is missing" in message
    assert "--full-refresh main.silver.raw,main.silver.users" in message
    assert info.value.exit_code != 0
    assert _tables(lh) == _expected(2)
    result = lh.run(full_refresh=["raw", "users"])
    assert result.ok, result.errors
    assert lh.run().ok  # the views the selective refresh excluded catch up
    assert _tables(lh) == _expected(3)


def test_checkpoint_restored_from_older_copy_fails(tmp_path: Path) -> None:
    """Item 2: a checkpoint behind the table's app transaction (state restored from a backup)."""
    lh = _project(tmp_path, batches=1)
    saved = (_state(lh) / "checkpoints" / "users_cdc.json").read_text()
    _batch(lh, 2)
    assert lh.run().ok
    (_state(lh) / "checkpoints" / "users_cdc.json").write_text(saved)
    _batch(lh, 3)
    with pytest.raises(StateMismatchError, match=r"table main\.silver\.users holds batch 2 of flow 'users_cdc'.*is at batch 1"):
        lh.run()
    assert _tables(lh)["users"] == _expected(2)["users"]


def test_corrupt_checkpoint_fails_naming_the_file_then_full_refresh_repairs(tmp_path: Path) -> None:
    """Clear errors: a corrupt checkpoint JSON names the file and the repair."""
    lh = _project(tmp_path)
    path = _state(lh) / "checkpoints" / "users_cdc.json"
    path.write_text('{"batch": 2, "sour')
    out = soundlake("run", project=lh.root)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "checkpoint" in out.stderr and "users_cdc.json is corrupt" in out.stderr.replace("\n", "")
    assert "--full-refresh main.silver.users" in out.stderr
    result = lh.run(full_refresh=["users"])
    assert result.ok, result.errors
    assert lh.run().ok  # the views the selective refresh excluded catch up
    assert json.loads(path.read_text())["batch"] == 3  # batch numbers never go back
    assert _tables(lh) == _expected(2)


# --- lost Delta commits and tables ------------------------------------------------------


def test_deleted_last_commit_of_silver_table_fails_then_full_refresh_repairs(tmp_path: Path) -> None:
    """Item 2: deleting the newest commit JSON of a silver table no longer loses its rows for good."""
    lh = _project(tmp_path)
    last = _last_version(lh, "raw")
    _commit_file(lh, "raw", last).unlink()
    _batch(lh, 3)
    with pytest.raises(StateMismatchError) as info:
        lh.run()
    message = str(info.value)
    assert f"table main.silver.raw is at version {last - 1} but flow 'main.silver.raw' committed version {last}" in message
    assert "--full-refresh main.silver.raw,main.silver.users" in message
    result = lh.run(full_refresh=["raw", "users"])
    assert result.ok, result.errors
    assert lh.run().ok  # the views the selective refresh excluded catch up
    assert _tables(lh) == _expected(3)


def test_deleted_middle_commit_of_gold_table_fails_then_full_refresh_repairs(tmp_path: Path) -> None:
    """Item 2: a gap in an AUTO CDC target's log names the missing commit; a full refresh rebuilds it."""
    lh = _project(tmp_path, batches=3)
    _commit_file(lh, "users", 1).unlink()
    out = soundlake("run", project=lh.root)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "main.silver.users" in out.stderr and "missing commit file(s) 1" in out.stderr
    assert "--full-refresh main.silver.users" in out.stderr
    result = lh.run(full_refresh=["users"])
    assert result.ok, result.errors
    assert lh.run().ok  # the views the selective refresh excluded catch up
    assert _tables(lh) == _expected(3)


def test_deleted_last_commit_of_materialized_view_is_recomputed(tmp_path: Path) -> None:
    """Item 2: a view that lost its newest commit is rebuilt from its inputs (with a warning)."""
    lh = _project(tmp_path)
    _commit_file(lh, "total", _last_version(lh, "total")).unlink()
    assert lh.rows("SELECT n FROM total") == [{"n": 2}]  # the stale first refresh
    result = lh.run()
    assert result.ok, result.errors
    assert result.flows["main.silver.total"].status == "COMPLETED"
    assert _tables(lh) == _expected(2)
    warnings = [e["message"] for e in lh.events(result.run_id) if e["level"] == "WARN"]
    assert any("materialized view main.silver.total" in w and "recomputed" in w for w in warnings)


def _restore(lh: Lakehouse, table: str, version: int) -> None:
    """A Delta RESTORE committed outside the pipeline (deltalake's, as Databricks' RESTORE TABLE)."""
    from soundlake.lake import delta

    delta.open_table(str(_table(lh, table))).restore(version)


def test_restored_streaming_and_cdc_tables_fail_then_full_refresh_repairs(tmp_path: Path) -> None:
    """Issue 17: a RESTORE after a flow's last batch took its rows; the next update must not skip them."""
    lh = _project(tmp_path, batches=2)
    _restore(lh, "raw", 0)
    _restore(lh, "users", 0)
    assert lh.rows("SELECT count(*) AS n FROM raw") == [{"n": 2}]
    _batch(lh, 3)
    with pytest.raises(StateMismatchError) as info:
        lh.run()
    message = str(info.value)
    assert "table main.silver.raw was restored (RESTORE at version 2 to version 0) after flow 'main.silver.raw' " \
           "committed version 1" in message
    assert "table main.silver.users was restored" in message
    assert "--full-refresh main.silver.raw,main.silver.users" in message
    result = lh.run(full_refresh=["raw", "users"])
    assert result.ok, result.errors
    assert lh.run().ok
    assert _tables(lh) == _expected(3)


def test_restored_materialized_view_is_recomputed(tmp_path: Path) -> None:
    lh = _project(tmp_path)
    _restore(lh, "total", 0)
    assert lh.rows("SELECT n FROM total") == [{"n": 2}]
    result = lh.run()
    assert result.ok, result.errors
    assert _tables(lh) == _expected(2)
    warnings = [e["message"] for e in lh.events(result.run_id) if e["level"] == "WARN"]
    assert any("materialized view main.silver.total was restored (RESTORE at version" in w for w in warnings)


def test_deleted_table_folder_with_state_fails_then_full_refresh_repairs(tmp_path: Path) -> None:
    """Item 2: a deleted table folder whose checkpoint remains is not silently left empty."""
    lh = _project(tmp_path)
    shutil.rmtree(_table(lh, "users"))
    with pytest.raises(StateMismatchError, match=r"table main\.silver\.users does not exist but flow 'users_cdc'"):
        lh.run()
    assert not _table(lh, "users").exists()
    result = lh.run(full_refresh=["users"])
    assert result.ok, result.errors
    assert lh.run().ok  # the views the selective refresh excluded catch up
    assert _tables(lh) == _expected(2)


# --- pipeline identity ----------------------------------------------------------------


def test_rename_project_is_refused_then_rename_pipeline_continues_exactly(tmp_path: Path) -> None:
    """Item 1: a renamed project no longer duplicates every table; the rename is explicit."""
    lh = _project(tmp_path)
    lh.config(name="t2")
    out = soundlake("run", project=lh.root)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "belongs to pipeline 't'" in out.stderr and "soundlake rename-pipeline t t2" in out.stderr
    dry = soundlake("dry-run", project=lh.root)
    assert dry.returncode == 1 and "belongs to pipeline 't'" in dry.stderr
    assert _tables(lh) == _expected(2)
    assert not (lh.root / "lake" / "_soundlake" / "pipelines" / "t2").exists()  # the refusal wrote nothing

    renamed = soundlake("rename-pipeline", "t", "t2", project=lh.root)
    assert renamed.returncode == 0, renamed.stdout + renamed.stderr
    assert "renamed to 't2'" in renamed.stdout
    again = lh.run()
    assert again.ok, again.errors
    # a correct no-op: nothing new is read (the view recomputes once: its input's version moved)
    assert {n: f.status for n, f in again.flows.items() if n != "main.silver.total"} == {
        "main.silver.raw": "IDLE", "users_cdc": "IDLE"}
    assert _tables(lh) == _expected(2)
    _batch(lh, 3)
    assert lh.run().ok
    assert _tables(lh) == _expected(3)


def test_rename_pipeline_needs_the_new_name_in_the_config(tmp_path: Path) -> None:
    """Item 1: rename-pipeline refuses a new name that soundlake.yml does not give."""
    lh = _project(tmp_path, batches=1)
    out = soundlake("rename-pipeline", "t", "t2", project=lh.root)
    assert out.returncode == 2 and "set name: t2 in soundlake.yml first" in out.stderr
    assert _state(lh).exists()


def test_foreign_pipeline_writing_a_table_is_refused(tmp_path: Path) -> None:
    """Item 1: another pipeline writing a table of this one is refused, at dry-run and run."""
    lh = _project(tmp_path, batches=1)
    other = Lakehouse(tmp_path / "other")
    other.config(name="other", storage=str(lh.root / "lake"))
    other.sql("CREATE OR REFRESH MATERIALIZED VIEW total AS SELECT 42 AS n, 0 AS s;")
    with pytest.raises(OwnershipError, match=r"table main\.silver\.total belongs to pipeline 't'"):
        dry_run(other.project)
    with pytest.raises(OwnershipError, match="not to this pipeline 'other'"):
        other.run()
    assert _tables(lh) == _expected(1)


# --- inputs that do not exist -----------------------------------------------------------

TYPOS = {
    "streaming": "CREATE OR REFRESH STREAMING TABLE x AS SELECT * FROM STREAM(silvr.dimuser);",
    "materialized_view": "CREATE OR REFRESH MATERIALIZED VIEW x AS SELECT * FROM silvr.dimuser;",
    "auto_cdc_source": (
        "CREATE OR REFRESH STREAMING TABLE x;\n"
        "CREATE FLOW x_cdc AS AUTO CDC INTO x FROM STREAM(silvr.dimuser) KEYS (id) SEQUENCE BY seq;"
    ),
    "append_flow": (
        "CREATE OR REFRESH STREAMING TABLE x;\n"
        "CREATE FLOW x_append AS INSERT INTO x BY NAME SELECT * FROM STREAM(silvr.dimuser);"
    ),
}


@pytest.mark.parametrize("kind", sorted(TYPOS))
def test_missing_source_typo_fails_at_dry_run_and_run(tmp_path: Path, kind: str) -> None:
    """Item 8: an input that is neither a dataset nor a lake table fails every flow kind."""
    lh = Lakehouse(tmp_path / "proj")
    lh.sql("-- a typo in the schema name\n" + TYPOS[kind])
    line = 3 if kind in ("auto_cdc_source", "append_flow") else 2
    with pytest.raises(GraphError) as info:
        dry_run(lh.project)
    message = str(info.value)
    assert "silvr.dimuser'" in message and f"p.sql:{line}" in message and "neither a dataset" in message
    with pytest.raises(GraphError):
        lh.run()
    assert not (lh.root / "lake" / "main").exists()  # nothing written


def test_missing_source_typo_exits_non_zero_on_the_cli(tmp_path: Path) -> None:
    """Item 8: the CLI reports the typo in one line with a non-zero exit (was IDLE, exit 0)."""
    lh = Lakehouse(tmp_path / "proj")
    lh.sql(TYPOS["streaming"])
    for command in ("dry-run", "run"):
        out = soundlake(command, project=lh.root)
        assert out.returncode == GraphError.exit_code, out.stdout + out.stderr
        assert "Traceback" not in out.stderr and "silvr.dimuser" in out.stderr


def test_existing_lake_table_is_a_valid_external_input(tmp_path: Path) -> None:
    """Item 8: an external table that exists in the lake is fine (no false alarm)."""
    lh = _project(tmp_path, batches=1)
    reader = Lakehouse(tmp_path / "reader")
    reader.config(name="reader", storage=str(lh.root / "lake"))
    reader.sql("CREATE OR REFRESH MATERIALIZED VIEW copy AS SELECT count(*) AS n FROM main.silver.raw;")
    result = reader.run()
    assert result.ok, result.errors
    assert reader.rows("SELECT n FROM copy") == [{"n": 2}]


# --- concurrency and interrupted updates --------------------------------------------------


def test_concurrent_update_is_refused_cleanly(tmp_path: Path) -> None:
    """Concurrency: a second update while one holds the project lock is refused in one line."""
    lh = _project(tmp_path, batches=1)
    _batch(lh, 2)
    with writer_lock(lh.project):
        out = soundlake("run", project=lh.root)
    assert out.returncode == LockedError.exit_code and "Traceback" not in out.stderr
    assert "another soundlake process holds the project 't' lock" in out.stderr.replace("\n", "")
    assert _tables(lh) == _expected(1)
    assert lh.run().ok
    assert _tables(lh) == _expected(2)


def test_killed_update_is_marked_canceled_at_the_next_start(tmp_path: Path) -> None:
    """Clear errors: an update whose process was killed does not stay RUNNING forever."""
    lh = _project(tmp_path, batches=1)
    _batch(lh, 2)
    env = dict(os.environ, SOUNDLAKE_FAULT="after_plan:main.silver.raw")
    code = "from soundlake.project.context import Project; from soundlake.project.pipeline_ops import run; " \
        f"run(Project.open({str(lh.root)!r}))"
    killed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert killed.returncode == 97, killed.stderr
    updates = {e["origin"]["update_id"] for e in lh.events() if e["event_type"] == "create_update"}
    result = lh.run()
    assert result.ok, result.errors
    assert _tables(lh) == _expected(2)
    (victim,) = updates - {u for u in updates if any(
        e["event_type"] == "update_progress" and json.loads(e["details"])["update_progress"]["state"] == "COMPLETED"
        for e in lh.events(u))}
    states = [json.loads(e["details"])["update_progress"]["state"]
              for e in lh.events(victim) if e["event_type"] == "update_progress"]
    assert states == ["RUNNING", "CANCELED"]
    assert any("was interrupted (process killed)" in (e["message"] or "") for e in lh.events(victim))


def test_interrupted_update_is_marked_canceled_at_the_next_start(tmp_path: Path) -> None:
    """Clear errors: an update left RUNNING by a killed process gets a terminal event."""
    lh = _project(tmp_path, batches=1)
    project = lh.project
    killed = EventLog(event_log_uri(project), "t", "killed-update", storage_options=project.lake.storage_options)
    killed.emit("create_update", "Update killed-update started")
    killed.emit("update_progress", "Update is RUNNING", details={"update_progress": {"state": "RUNNING"}})
    killed.flush()
    result = lh.run()
    assert result.ok
    marks = [
        e for e in lh.events("killed-update")
        if e["event_type"] == "update_progress"
        and json.loads(e["details"])["update_progress"]["state"] == "CANCELED"
    ]
    assert len(marks) == 1
    assert "was interrupted (process killed)" in marks[0]["message"]
    assert lh.run().ok  # marked once only
    out = soundlake("events", "--run", "killed-update", project=lh.root)
    assert out.returncode == 0 and "interrupted" in out.stdout
    assert len([e for e in lh.events("killed-update") if "interrupted" in (e["message"] or "")]) == 1


# --- the reproduction on the reference project ----------------------------------


def _facts(root: Path) -> dict[str, int]:
    from soundlake.project.context import Project
    from soundlake.project.pipeline_ops import query

    project = Project.open(root)
    facts = query(project, "SELECT count(*) AS n, count(DISTINCT stream_id) AS k FROM gold.fact_stream").to_pylist()[0]
    opened = query(project, "SELECT count(*) AS n FROM (SELECT user_id FROM gold.dim_user "
                   "WHERE __END_AT IS NULL GROUP BY user_id HAVING count(*) > 1) AS d").to_pylist()[0]
    with sqlite3.connect(root / "source.db") as con:
        source = con.execute('SELECT count(*) FROM "FactStream"').fetchone()[0]
    return {"rows": facts["n"], "keys": facts["k"], "users_two_open": opened["n"], "source": source}


@pytest.mark.slow
def test_reference_project_rename_and_deleted_state_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    """Items 1 and 2 as reported: rename after two jobs, then a deleted _soundlake/, on the reference project."""
    root = tmp_path / "spotify"
    assert soundlake("init", str(root), project=tmp_path).returncode == 0
    assert soundlake("source", "generate", "--scale", "0.005", "--seed", "1", project=root).returncode == 0
    for _ in range(2):
        job = soundlake("job", project=root)
        assert job.returncode == 0, job.stdout + job.stderr
    clean = _facts(root)
    assert clean == {"rows": clean["source"], "keys": clean["source"], "users_two_open": 0, "source": clean["source"]}

    config = root / "soundlake.yml"
    config.write_text(config.read_text().replace("name: spotify\n", "name: spotify_v2\n", 1))
    job = soundlake("job", project=root)
    assert job.returncode != 0 and "belongs to pipeline 'spotify'" in job.stderr
    assert "soundlake rename-pipeline spotify spotify_v2" in job.stderr
    assert _facts(root) == clean  # was: 2x the facts, two open SCD2 versions per user
    assert soundlake("rename-pipeline", "spotify", "spotify_v2", project=root).returncode == 0
    job = soundlake("job", project=root)
    assert job.returncode == 0, job.stdout + job.stderr
    assert _facts(root) == clean

    shutil.rmtree(root / "lake" / "_soundlake")
    assert soundlake("source", "simulate", "--seed", "3", project=root).returncode == 0
    job = soundlake("job", project=root)
    assert job.returncode != 0 and "checkpoint" in job.stderr and "is missing" in job.stderr
    # the SCD2 dimensions are protected (pipelines.reset.allowed = false): the hint says how
    assert "--reset-protected" in job.stderr
    refused = soundlake("run", "--full-refresh-all", project=root)  # without the override: still refused
    assert refused.returncode != 0 and "is missing" in refused.stderr
    repair = soundlake("run", "--full-refresh-all", "--reset-protected", project=root)
    assert repair.returncode == 0, repair.stdout + repair.stderr
    after = _facts(root)
    assert after["rows"] == after["keys"] == after["source"] > clean["source"]
    assert after["users_two_open"] == 0
