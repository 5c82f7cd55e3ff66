"""The newest commit of a local table read from its log folder (what the Spark engine uses
instead of DESCRIBE HISTORY around each write)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from soundlake.lake.delta_log import local_newest_commit


def test_the_newest_commit_and_its_metrics_match_the_table_history(tmp_path: Path) -> None:
    uri = str(tmp_path / "t")
    write_deltalake(uri, pa.table({"id": [1, 2, 3]}))
    write_deltalake(uri, pa.table({"id": [4, 5]}), mode="append")
    found = local_newest_commit(uri)
    assert found is not None
    version, info = found
    newest = DeltaTable(uri).history(1)[0]
    assert version == DeltaTable(uri).version() == 1
    assert info["operation"] == newest["operation"]
    assert int(info["operationMetrics"]["num_added_rows"]) == 2
    assert local_newest_commit("file://" + uri) == found


def test_no_commit_here_is_none_so_the_engine_is_asked(tmp_path: Path) -> None:
    assert local_newest_commit(str(tmp_path / "absent")) is None
    (tmp_path / "empty" / "_delta_log").mkdir(parents=True)
    assert local_newest_commit(str(tmp_path / "empty")) is None
    assert local_newest_commit("abfss://c@a.dfs.core.windows.net/t") is None
    assert local_newest_commit("relative/path") is None
