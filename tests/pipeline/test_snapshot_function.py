"""AUTO CDC FROM SNAPSHOT with a snapshot function (``snapshot_and_version``), on DuckDB.

The function reads versioned parquet folders ``data/snaps/snapshot_<v>``: update 1 sees
versions 1 and 2, update 2 sees version 3. SCD1 and SCD2 targets, inserts, updates and
deletes, SCD2's version columns, the version rules, and crashes at each commit step.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from soundlake.core.errors import DefinitionError
from tests.conftest import REPO
from tests.pipeline.conftest import Lakehouse

SNAPSHOT_FUNCTION = '''
import os
import dlt

base = spark.conf.get("data") + "/snaps"


def next_snapshot(latest):
    v = 1 if latest is None else latest + 1
    path = f"{base}/snapshot_{v}"
    if not os.path.exists(path):
        return None
    return (spark.read.format("parquet").load(path), v)

'''
"""A snapshot function over ``<data>/snaps/snapshot_<v>`` folders (also used by the Spark parity test)."""

PY = SNAPSHOT_FUNCTION + '''
dlt.create_streaming_table("dim")
dlt.create_auto_cdc_from_snapshot_flow(target="dim", source=next_snapshot, keys=["id"], stored_as_scd_type=SCD)
'''

SNAPSHOTS = {
    1: [{"id": 1, "plan": "free"}, {"id": 2, "plan": "free"}],
    2: [{"id": 1, "plan": "premium"}, {"id": 2, "plan": "free"}, {"id": 3, "plan": "free"}],
    3: [{"id": 1, "plan": "premium"}, {"id": 3, "plan": "family"}],
}
"""v2 updates 1 and inserts 3; v3 deletes 2 and updates 3."""


def _project(lh: Lakehouse, scd: int, body: str = PY) -> None:
    lh.config(libraries=["pipelines/*.py"], configuration={"data": str(lh.root / "data")})
    (lh.root / "pipelines" / "dim.py").write_text(body.replace("SCD", str(scd)), encoding="utf-8")


def _snapshot(lh: Lakehouse, version: int) -> None:
    lh.parquet(f"snaps/snapshot_{version}", "part-0.parquet", SNAPSHOTS[version])


SCD1_AFTER = {1: [(1, "premium"), (2, "free"), (3, "free")], 2: [(1, "premium"), (3, "family")]}
SCD2_AFTER = {
    1: [(1, "free", 1, 2), (1, "premium", 2, None), (2, "free", 1, None), (3, "free", 2, None)],
    2: [(1, "free", 1, 2), (1, "premium", 2, None), (2, "free", 1, 3), (3, "family", 3, None), (3, "free", 2, 3)],
}


def _table(lh: Lakehouse, scd: int) -> list[tuple[Any, ...]]:
    if scd == 1:
        return [(r["id"], r["plan"]) for r in lh.rows("SELECT id, plan FROM dim ORDER BY id")]
    rows = lh.rows("SELECT id, plan, __START_AT AS s, __END_AT AS e FROM dim ORDER BY id, plan")
    return [(r["id"], r["plan"], r["s"], r["e"]) for r in rows]


@pytest.mark.parametrize("scd", [1, 2])
def test_function_snapshots_over_two_updates(lakehouse: Lakehouse, scd: int) -> None:
    _project(lakehouse, scd)
    _snapshot(lakehouse, 1)
    _snapshot(lakehouse, 2)
    first = lakehouse.run()
    assert first.ok, first.errors
    flow = first.flows["main.silver.dim"]
    assert flow.status == "COMPLETED" and flow.extra["snapshot_versions"] == [1, 2]
    after = SCD1_AFTER if scd == 1 else SCD2_AFTER
    assert _table(lakehouse, scd) == after[1]
    idle = lakehouse.run()
    assert idle.ok and idle.flows["main.silver.dim"].status == "IDLE"
    _snapshot(lakehouse, 3)
    second = lakehouse.run()
    assert second.ok, second.errors
    assert second.flows["main.silver.dim"].extra["snapshot_versions"] == [3]
    assert _table(lakehouse, scd) == after[2]
    # a full refresh starts again from None: every version again, the same table
    refreshed = lakehouse.run(full_refresh=["main.silver.dim"])
    assert refreshed.ok and refreshed.flows["main.silver.dim"].extra["snapshot_versions"] == [1, 2, 3]
    assert _table(lakehouse, scd) == after[2]


def test_none_on_first_call_is_idle(lakehouse: Lakehouse) -> None:
    _project(lakehouse, 2)
    result = lakehouse.run()
    assert result.ok, result.errors
    assert result.flows["main.silver.dim"].status == "IDLE"


def test_version_not_increasing_fails_loudly(lakehouse: Lakehouse) -> None:
    body = PY.replace("v = 1 if latest is None else latest + 1", "v = 1 if latest is None else latest")
    body = body.replace("if not os.path.exists(path):", "if latest == 5 or not os.path.exists(path):")
    _project(lakehouse, 1, body)
    _snapshot(lakehouse, 1)
    result = lakehouse.run()
    assert not result.ok
    message = result.errors["main.silver.dim"]
    assert "flow 'main.silver.dim'" in message and "version 1" in message and "latest processed version 1" in message
    assert "Traceback" not in message
    # the first snapshot was applied and recorded before the function went wrong
    assert _table(lakehouse, 1) == [(1, "free"), (2, "free")]


def test_error_inside_the_function_names_flow_file_and_line(lakehouse: Lakehouse) -> None:
    body = PY.replace("    path = f\"{base}/snapshot_{v}\"\n", "    path = f\"{base}/snapshot_{v}\"\n    raise ValueError('no listing')\n")
    _project(lakehouse, 1, body)
    result = lakehouse.run()
    assert not result.ok
    message = result.errors["main.silver.dim"]
    line = body.splitlines().index("    raise ValueError('no listing')") + 1
    assert f"pipelines/dim.py:{line}" in message and "flow 'main.silver.dim'" in message
    assert "ValueError: no listing" in message and "\n" not in message.strip()


def test_function_without_one_argument_is_a_dry_run_error(lakehouse: Lakehouse) -> None:
    from soundlake.project.pipeline_ops import dry_run

    body = PY.replace("def next_snapshot(latest):", "def next_snapshot():")
    _project(lakehouse, 1, body)
    line = body.splitlines().index(next(x for x in body.splitlines() if "create_auto_cdc_from_snapshot_flow" in x)) + 1
    with pytest.raises(DefinitionError, match=rf"dim.py:{line}: snapshot function 'next_snapshot' must take one argument"):
        dry_run(lakehouse.project)


def _run_subprocess(root: Path, fault: str | None) -> int:
    env = dict(os.environ)
    env.pop("SOUNDLAKE_FAULT", None)
    if fault:
        env["SOUNDLAKE_FAULT"] = fault
    code = (
        "import sys; from soundlake.project.context import Project;"
        "from soundlake.project.pipeline_ops import run;"
        f"r = run(Project.open({str(root)!r}));"
        "sys.exit(0 if r.ok else 1)"
    )
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, check=False, capture_output=True).returncode


@pytest.mark.parametrize("step", ["after_plan", "before_checkpoint", "after_checkpoint"])
def test_crash_then_rerun_gives_the_same_table(tmp_path: Path, step: str) -> None:
    lh = Lakehouse(tmp_path / "proj")
    _project(lh, 2)
    _snapshot(lh, 1)
    _snapshot(lh, 2)
    assert _run_subprocess(lh.root, f"{step}:main.silver.dim") == 97  # dies in the first snapshot
    assert _run_subprocess(lh.root, None) == 0
    assert _table(lh, 2) == SCD2_AFTER[1]
    _snapshot(lh, 3)
    assert _run_subprocess(lh.root, f"{step}:main.silver.dim") == 97
    assert _run_subprocess(lh.root, None) == 0
    assert _table(lh, 2) == SCD2_AFTER[2]
    history = lh.rows("SELECT count(*) AS n FROM dim")
    assert history == [{"n": len(SCD2_AFTER[2])}]


def test_dry_run_does_not_call_the_function(lakehouse: Lakehouse) -> None:
    from soundlake.project.pipeline_ops import dry_run

    marker = lakehouse.root / "called"
    body = PY.replace("    v = 1 if latest", f"    open({str(marker)!r}, 'w').close()\n    v = 1 if latest")
    _project(lakehouse, 2, body)
    dry_run(lakehouse.project)
    assert not marker.exists()
    assert lakehouse.run().ok and marker.exists()


@pytest.mark.parametrize("returned, wanted", [
    ("(spark.read.format('parquet').load(path), 'v1')", "returned version 'v1' (str); soundlake supports integer"),
    ("(path, v)", "returned str for version 1; it must return a DataFrame"),
    ("spark.read.format('parquet').load(path)", "returned DataFrame; it must return (DataFrame, version) or None"),
])
def test_wrong_return_value_fails_naming_the_flow(lakehouse: Lakehouse, returned: str, wanted: str) -> None:
    _project(lakehouse, 1, PY.replace("(spark.read.format(\"parquet\").load(path), v)", returned))
    _snapshot(lakehouse, 1)
    result = lakehouse.run()
    assert not result.ok
    message = result.errors["main.silver.dim"]
    assert message.startswith("flow 'main.silver.dim': snapshot function 'next_snapshot' (pipelines/dim.py:")
    assert wanted in message
