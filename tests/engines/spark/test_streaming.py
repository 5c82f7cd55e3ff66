"""Streaming tables over files on Spark: Structured Streaming (availableNow, foreachBatch).

The same project runs on both engines over the same file batches: plain batches (read by
Spark itself), a batch with a new column (schema evolution), a batch with a value of the
wrong type (rescued) and a JSON source (soundlake's reader). Tables, metrics and the
Spark stream checkpoint under the project's storage are checked; then a process killed
inside ``foreachBatch`` is re-run and must not duplicate rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.engines.cdc_reference import canonical
from tests.pipeline.conftest import Lakehouse

pytestmark = pytest.mark.spark

PIPELINE = """
CREATE OR REFRESH STREAMING TABLE plays (
  CONSTRAINT positive EXPECT (seconds > 0) ON VIOLATION QUARANTINE,
  CONSTRAINT has_id EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW
) AS SELECT *, _metadata.file_name AS source_file FROM STREAM read_files('${data}/plays', format => 'parquet');

CREATE OR REFRESH STREAMING TABLE events
AS SELECT * FROM STREAM read_files('${data}/events', format => 'json');
"""
STREAM_FLOWS = ("main.silver.plays", "main.silver.events")


def land(lake: Lakehouse, batch: int) -> None:
    if batch == 1:
        lake.parquet("plays", "1.parquet", [{"id": i, "seconds": i - 2} for i in range(6)] + [{"id": None, "seconds": 3}])
        lake.text("events", "1.json", '{"e": 1, "kind": "a"}\n{"e": 2, "kind": "b"}\n')
    elif batch == 2:
        lake.parquet("plays", "2.parquet", [{"id": 10, "seconds": 5}])
        lake.parquet("plays", "sub/3.parquet", [{"id": 11, "seconds": 6, "device": "web"}])  # new column
    else:
        lake.parquet("plays", "4.parquet", [{"id": 12, "seconds": "7"}, {"id": 13, "seconds": "x"}])  # rescue
        lake.text("events", "2.json", '{"e": "three", "kind": "c"}\n')


def rows(lake: Lakehouse, name: str) -> list[tuple[Any, ...]]:
    """Rows without run ids and times; ``_metadata`` keeps the path below ``data``."""
    out = []
    for r in lake.rows(f"SELECT * FROM {name}"):
        r = {k: v for k, v in r.items() if k not in ("_run_id", "_quarantined_at")}
        if r.get("_rescued_data"):
            r["_rescued_data"] = r["_rescued_data"].replace(str(lake.root), "<root>")
        if isinstance(r.get("_metadata"), dict):
            meta = r["_metadata"]
            r["_metadata"] = (meta["file_path"].split("/data/")[1], meta["file_name"], meta["file_size"])
        out.append(r)
    return canonical(out)


def metrics(lake: Lakehouse, run_id: str) -> dict[str, Any]:
    out = {}
    for flow in STREAM_FLOWS:
        details = lake.progress(run_id, flow)
        out[flow] = (details.get("status"), details.get("metrics"), details.get("data_quality"))
    return out


def test_file_streams_run_on_structured_streaming_like_duckdb(spark: Any, tmp_path: Path) -> None:
    lakes = {"duckdb": Lakehouse(tmp_path / "duck"), "spark": Lakehouse(tmp_path / "spark")}
    for lake in lakes.values():
        lake.sql(PIPELINE)
    streams: list[dict[str, Any]] = []
    for batch in (1, 2, 3, 4):
        seen = {}
        for engine, lake in lakes.items():
            if batch < 4:  # batch 4: nothing new
                land(lake, batch)
            result = lake.run(engine=engine)
            assert result.ok, (engine, batch, result.errors)
            seen[engine] = metrics(lake, result.run_id)
        assert seen["spark"] == seen["duckdb"], batch
        streams.append(lakes["spark"].progress(result.run_id, "main.silver.plays").get("stream", {}))
    for name in ("plays", "plays_quarantine", "events"):
        assert rows(lakes["spark"], name) == rows(lakes["duckdb"], name), name
    # batch 1 is read by Spark itself; 2 (new column) and 3 (rescue) by soundlake's reader
    assert [s.get("engine_reads") for s in streams[:3]] == [1, 0, 0]
    assert streams[3] == {}  # IDLE: no micro-batch
    plays = lakes["spark"].rows("SELECT id, seconds, device, _rescued_data FROM plays WHERE id >= 10 ORDER BY id")
    assert [(r["id"], r["seconds"]) for r in plays] == [(10, 5), (11, 6), (12, 7), (13, None)]
    assert plays[1]["device"] == "web" and json.loads(plays[3]["_rescued_data"])["seconds"] == "x"
    checkpoint = tmp_path / "spark" / "lake" / "_soundlake" / "pipelines" / "t" / "streams"
    assert (checkpoint / "main.silver.plays").is_dir()
    assert list((checkpoint / "main.silver.plays").glob("*/commits/*"))  # Spark's own checkpoint


def test_switching_engines_between_updates_reads_each_file_once(spark: Any, tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.sql(PIPELINE)
    land(lake, 1)
    assert lake.run(engine="duckdb").ok
    land(lake, 2)
    assert lake.run(engine="spark").ok  # the stream starts fresh but skips files already read
    assert lake.run(engine="duckdb").ok
    ids = [r["id"] for r in lake.rows("SELECT id FROM plays ORDER BY id")]
    assert ids == [3, 4, 5, 10, 11]


def _run_spark_subprocess(root: Path, fault: str | None) -> int:
    env = dict(os.environ)
    env.pop("SOUNDLAKE_FAULT", None)
    if fault:
        env["SOUNDLAKE_FAULT"] = fault
    code = (
        "import sys; from soundlake.project.context import Project;"
        "from soundlake.project.pipeline_ops import run;"
        f"r = run(Project.open({str(root)!r}, overrides={{'engine': 'spark'}}));"
        "sys.exit(0 if r.ok else 1)"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, check=False, capture_output=True, text=True)
    return proc.returncode


@pytest.mark.slow
@pytest.mark.parametrize("step", ["after_target_commit", "before_checkpoint"])
def test_killed_inside_foreach_batch_then_rerun_writes_nothing_twice(spark: Any, tmp_path: Path, step: str) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.sql(PIPELINE)
    land(lake, 1)
    assert lake.run(engine="spark").ok
    land(lake, 2)
    assert _run_spark_subprocess(lake.root, f"{step}:main.silver.plays") == 97
    assert lake.run(engine="spark").ok
    assert lake.run(engine="spark").ok
    ids = [r["id"] for r in lake.rows("SELECT id FROM plays ORDER BY id")]
    assert ids == [3, 4, 5, 10, 11]
    quarantined = [r["id"] for r in lake.rows("SELECT id FROM plays_quarantine ORDER BY id")]
    assert quarantined == [0, 1, 2]
