"""Issue #17: table maintenance (OPTIMIZE, Z-order, VACUUM) after updates and with ``soundlake maintain``.

Real Delta tables written by real updates; VACUUM really deletes files. The safety tests
each include the control that shows what a plain VACUUM would have deleted, so they
cannot pass without the protection they test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable

from soundlake.core.errors import UsageError
from soundlake.lake.maintenance import FAULT_EXIT_CODE, Policy, retention_hours
from soundlake.project.maintain_ops import maintain
from tests.cli import soundlake
from tests.pipeline.conftest import Lakehouse

CHAIN = """
CREATE OR REFRESH STREAMING TABLE a
  TBLPROPERTIES ('delta.deletedFileRetentionDuration' = 'interval 0 hours')
  AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');
CREATE OR REFRESH STREAMING TABLE b AS SELECT id, v * 10 AS v FROM STREAM(a);
"""


def chain(lakehouse: Lakehouse, **config: Any) -> Lakehouse:
    lakehouse.config(**config)
    lakehouse.sql(CHAIN)
    return lakehouse


def land(lakehouse: Lakehouse, n: int) -> None:
    lakehouse.parquet("in", f"part-{n:03d}.parquet", [{"id": n, "v": n}])


def files(lakehouse: Lakehouse, table: str) -> int:
    return len(DeltaTable(str(lakehouse.root / "lake" / "main" / "silver" / table)).file_uris())


def ids(lakehouse: Lakehouse, table: str) -> list[int]:
    return sorted(r["id"] for r in lakehouse.rows(f"SELECT id FROM {table}"))


def test_policy_reads_databricks_properties() -> None:
    assert Policy.from_properties({}) == Policy(True, (), 168.0)
    policy = Policy.from_properties({"pipelines.autoOptimize.managed": "false",
                                     "pipelines.autoOptimize.zOrderCols": "a, `b`",
                                     "delta.deletedFileRetentionDuration": "interval 30 days"})
    assert policy == Policy(False, ("a", "b"), 720.0)
    assert retention_hours("interval 1 week") == 168.0
    assert retention_hours("12 hours") == 12.0
    with pytest.raises(UsageError, match="table t: delta.deletedFileRetentionDuration = 'soon'"):
        Policy.from_properties({"delta.deletedFileRetentionDuration": "soon"}, table="t")


def test_maintain_compacts_and_the_next_update_reads_on(lakehouse: Lakehouse) -> None:
    """OPTIMIZE is dataChange=false: the downstream streaming table neither re-reads nor misses rows."""
    chain(lakehouse, maintenance={"auto": False})
    for n in range(4):
        land(lakehouse, n)
        assert lakehouse.run().ok
    assert files(lakehouse, "a") == 4
    done = {d.table: d for d in maintain(lakehouse.project, ["a"])}
    assert done["main.silver.a"].optimized == "compact" and done["main.silver.a"].files_after == 1
    assert files(lakehouse, "a") == 1
    land(lakehouse, 4)
    assert lakehouse.run().ok
    assert ids(lakehouse, "b") == [0, 1, 2, 3, 4]
    assert ids(lakehouse, "a") == [0, 1, 2, 3, 4]


def test_vacuum_keeps_what_a_lagging_streaming_checkpoint_still_reads(lakehouse: Lakehouse) -> None:
    """b read a up to version 1; a then got 3 commits, compacted and VACUUMed with 0 hours' retention."""
    chain(lakehouse, maintenance={"auto": False})
    land(lakehouse, 0)
    assert lakehouse.run().ok
    for n in (1, 2, 3):
        land(lakehouse, n)
        assert lakehouse.run(refresh=["a"]).ok  # b lags behind
    a = str(lakehouse.root / "lake" / "main" / "silver" / "a")
    maintain(lakehouse.project, ["a"], vacuum=False)  # the commits b has not read are now tombstones
    plain = DeltaTable(a).vacuum(retention_hours=0, dry_run=True, enforce_retention_duration=False)
    assert len(plain) == 4, "the control: a plain VACUUM deletes the files b still has to read"
    done = maintain(lakehouse.project, ["a"], optimize=False)[0]
    assert done.kept_versions == 4 and done.vacuumed == []  # versions 1-4 of a: b reads on from 0
    assert lakehouse.run().ok
    assert ids(lakehouse, "b") == [0, 1, 2, 3]
    done = maintain(lakehouse.project, ["a"], optimize=False)[0]
    assert done.kept_versions == 0 and len(done.vacuumed) == 4  # b has read them all now
    assert ids(lakehouse, "a") == [0, 1, 2, 3]


def test_dry_run_changes_nothing_and_the_cli_prints_a_table(lakehouse: Lakehouse) -> None:
    chain(lakehouse, maintenance={"auto": False})
    for n in range(3):
        land(lakehouse, n)
        assert lakehouse.run().ok
    a = DeltaTable(str(lakehouse.root / "lake" / "main" / "silver" / "a"))
    before = a.version()
    out = soundlake("maintain", "--dry-run", project=lakehouse.root)
    assert out.returncode == 0, out.stderr
    assert "dry run" in out.stdout and "compact" in out.stdout
    assert DeltaTable(a.table_uri).version() == before
    out = soundlake("maintain", "a", "--format", "json", project=lakehouse.root)
    assert out.returncode == 0, out.stderr
    assert '"optimized": "compact"' in out.stdout and '"files_after": 1' in out.stdout
    out = soundlake("maintain", "bronze_nothing", project=lakehouse.root)
    assert out.returncode != 0 and "no table named 'bronze_nothing'" in out.stderr + out.stdout
    assert "Traceback" not in out.stderr


def test_updates_compact_once_enough_small_files_pile_up(lakehouse: Lakehouse) -> None:
    chain(lakehouse, maintenance={"min_files": 3})
    counts, runs = [], []
    for n in range(6):
        land(lakehouse, n)
        result = lakehouse.run()
        assert result.ok
        counts.append(files(lakehouse, "a"))
        runs.append(result.run_id)
    # looked at once 3 commits landed since the last look (update 3), compacted: 4 files -> 1
    assert counts == [1, 2, 3, 1, 2, 3], counts
    messages = [e["message"] for e in lakehouse.events(runs[3])]
    assert any(m.startswith("maintenance: main.silver.a: compact rewrote 4 files") for m in messages), messages
    assert not any(m.startswith("maintenance:") for m in [e["message"] for e in lakehouse.events(runs[4])])
    assert ids(lakehouse, "b") == [0, 1, 2, 3, 4, 5]
    off = Lakehouse(lakehouse.root.parent / "off")
    chain(off, maintenance={"auto": False})
    for n in range(4):
        land(off, n)
        assert off.run().ok
    assert files(off, "a") == 4


def test_zorder_columns_from_table_properties(lakehouse: Lakehouse) -> None:
    lakehouse.config(maintenance={"auto": False})
    lakehouse.sql("""
        CREATE OR REFRESH STREAMING TABLE z
          TBLPROPERTIES ('pipelines.autoOptimize.zOrderCols' = 'k')
          AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');
    """)
    for n in range(3):
        lakehouse.parquet("in", f"p{n}.parquet", [{"k": n, "v": "x"}])
        assert lakehouse.run().ok
    done = maintain(lakehouse.project, ["z"])[0]
    assert done.optimized == "zorder (k)" and done.files_after == 1
    assert sorted(r["k"] for r in lakehouse.rows("SELECT k FROM z")) == [0, 1, 2]


READER = textwrap.dedent("""
    import os
    import sys
    from deltalake import DeltaTable
    from soundlake.lake.leases import reader_lease
    from soundlake.lake.storage import Lake
    lake, uri, version = Lake(root=sys.argv[1]), sys.argv[2], int(sys.argv[3])
    with reader_lease(lake, {uri: version}):
        print("holding", flush=True)
        sys.stdin.readline()
        print("rows", DeltaTable(uri, version=version).to_pyarrow_table().num_rows, flush=True)
    os._exit(0)  # pyarrow's reader threads can abort a normal interpreter exit ("terminate called")
""")


def test_vacuum_keeps_the_version_a_running_reader_holds(lakehouse: Lakehouse) -> None:
    chain(lakehouse, maintenance={"auto": False})
    for n in range(3):
        land(lakehouse, n)
        assert lakehouse.run().ok
    uri = str(lakehouse.root / "lake" / "main" / "silver" / "a")
    reader = subprocess.Popen([sys.executable, "-c", READER, str(lakehouse.root / "lake"), uri, "1"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None and reader.stdin is not None
        assert reader.stdout.readline().strip() == "holding"
        maintain(lakehouse.project, ["a"], vacuum=False)
        plain = DeltaTable(uri).vacuum(retention_hours=0, dry_run=True, enforce_retention_duration=False)
        assert len(plain) == 3, "the control: a plain VACUUM deletes the reader's files"
        done = maintain(lakehouse.project, ["a"], optimize=False)[0]
        assert len(done.vacuumed) == 1  # version 1 = files of updates 1 and 2 are kept
        out, err = reader.communicate("go\n", timeout=60)
    finally:
        reader.kill()
    assert "rows 2" in out, out
    assert reader.returncode == 0, err


def test_time_travel_within_the_retention_window_survives_vacuum(lakehouse: Lakehouse) -> None:
    lakehouse.config(maintenance={"auto": False})
    lakehouse.sql("""
        CREATE OR REFRESH STREAMING TABLE t
          AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');
    """)
    for n in range(3):
        land(lakehouse, n)
        assert lakehouse.run().ok
    done = maintain(lakehouse.project, ["t"])[0]  # 7 days' retention: nothing is old enough
    assert done.optimized == "compact" and done.vacuumed == []
    for version, expected in ((0, [0]), (1, [0, 1]), (2, [0, 1, 2])):
        rows = lakehouse.rows(f"SELECT id FROM t VERSION AS OF {version}")
        assert sorted(r["id"] for r in rows) == expected


def readable_versions(uri: str) -> list[int]:
    """Row counts of every version of the table whose files all still exist."""
    counts = []
    for version in range(DeltaTable(uri).version() + 1):
        table = DeltaTable(uri, version=version)
        if all(Path(f.removeprefix("file://")).exists() for f in table.file_uris()):
            counts.append(table.to_pyarrow_table().num_rows)
    return counts


def test_kill_during_maintenance_then_rerun_leaves_every_version_readable(lakehouse: Lakehouse) -> None:
    """A crash after OPTIMIZE, one before VACUUM, and SIGKILLs at several moments; a re-run
    finishes; every table and every retained version stays readable throughout."""
    chain(lakehouse, maintenance={"auto": False})
    for n in range(6):
        land(lakehouse, n)
        assert lakehouse.run().ok
    a, b = (str(lakehouse.root / "lake" / "main" / "silver" / t) for t in ("a", "b"))
    before_b = readable_versions(b)
    command = [sys.executable, "-m", "soundlake.cli.main", "--project", str(lakehouse.root), "maintain", "a", "b"]
    for fault in ("after_optimize:main.silver.a", "before_vacuum:main.silver.a"):
        crashed = subprocess.run(command, env={**os.environ, "SOUNDLAKE_FAULT": fault}, capture_output=True,
                                 timeout=120, check=False)
        assert crashed.returncode == FAULT_EXIT_CODE, (fault, crashed.stdout, crashed.stderr)
        assert DeltaTable(a).to_pyarrow_table().num_rows == 6
        assert readable_versions(b) == before_b  # 7 days' retention: every version of b stays
    assert files(lakehouse, "a") == 1  # the crash after OPTIMIZE left a compacted table
    for delay in (1.5, 2.0, 2.5):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert DeltaTable(a).to_pyarrow_table().num_rows == DeltaTable(b).to_pyarrow_table().num_rows == 6
        assert readable_versions(b)[: len(before_b)] == before_b
    out = soundlake("maintain", project=lakehouse.root)
    assert out.returncode == 0, out.stdout + out.stderr
    assert files(lakehouse, "a") == files(lakehouse, "b") == 1
    assert readable_versions(a)[-1] == 6  # 0 hours' retention on a: only its current files remain
    land(lakehouse, 6)
    assert lakehouse.run().ok
    assert ids(lakehouse, "b") == list(range(7))
