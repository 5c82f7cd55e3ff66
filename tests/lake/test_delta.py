"""Delta operations: idempotent app transactions, aborted writes, commit actions, snapshots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from soundlake.lake import delta


def _reader(*batches: list[int], fail: bool = False) -> pa.RecordBatchReader:
    schema = pa.schema([("x", pa.int64())])

    def gen() -> Iterator[pa.RecordBatch]:
        for values in batches:
            yield pa.record_batch({"x": values}, schema=schema)
        if fail:
            raise KeyError("boom inside the reader")

    return pa.RecordBatchReader.from_batches(schema, gen())


def test_app_transaction_makes_a_rerun_a_no_op(tmp_path: Path) -> None:
    uri = str(tmp_path / "t")
    first = delta.write_table(uri, _reader([1, 2]), mode="append", app_id="p:f", app_version=1,
                              metadata={"pipeline": "p", "run": "r1", "flow": "f"})
    assert first.committed and first.num_rows == 2
    again = delta.write_table(uri, _reader([1, 2]), mode="append", app_id="p:f", app_version=1)
    assert not again.committed
    assert delta.transaction_version(uri, "p:f") == 1
    assert delta.snapshot_dataset(uri).to_table().num_rows == 2
    commit = delta.history(uri)[0]
    assert (commit["pipeline"], commit["run"], commit["flow"]) == ("p", "r1", "f")


def test_an_error_in_the_data_aborts_the_commit_and_is_reraised(tmp_path: Path) -> None:
    uri = str(tmp_path / "t")
    delta.write_table(uri, _reader([1]), mode="append")
    with pytest.raises(KeyError, match="boom"):
        delta.write_table(uri, _reader([2], [3], fail=True), mode="append", app_id="a", app_version=1)
    assert delta.table_version(uri) == 0
    assert delta.transaction_version(uri, "a") is None


def test_schema_merge_and_overwrite(tmp_path: Path) -> None:
    uri = str(tmp_path / "t")
    delta.write_table(uri, pa.table({"x": [1]}), mode="append")
    delta.write_table(uri, pa.table({"x": [2], "y": ["b"]}), mode="append")
    assert sorted(delta.snapshot_dataset(uri).to_table().to_pylist(), key=lambda r: r["x"]) == [
        {"x": 1, "y": None}, {"x": 2, "y": "b"},
    ]
    delta.write_table(uri, pa.table({"z": [9]}), mode="overwrite")
    assert delta.snapshot_dataset(uri).to_table().to_pylist() == [{"z": 9}]


def test_commits_between_lists_added_files_and_changes(tmp_path: Path) -> None:
    uri = str(tmp_path / "t")
    delta.write_table(uri, pa.table({"x": [1, 2]}), mode="append")
    delta.write_table(uri, pa.table({"x": [3]}), mode="append")
    commits = delta.commits_between(uri, 0, 1)
    assert len(commits) == 1 and len(commits[0].added_files) == 1 and not commits[0].changes_existing_rows
    only_new = delta.snapshot_dataset(uri, version=1, files=commits[0].added_files).to_table()
    assert only_new.to_pylist() == [{"x": 3}]
    delta.open_table(uri).delete("x = 1")
    change = delta.commits_between(uri, 1, 2)[0]
    assert change.changes_existing_rows and change.operation == "DELETE"
    assert delta.delete_all(uri)
    assert delta.snapshot_dataset(uri).to_table().num_rows == 0


def test_partitioned_snapshot_keeps_partition_values(tmp_path: Path) -> None:
    uri = str(tmp_path / "t")
    delta.write_table(uri, pa.table({"x": [1, 2], "d": ["a", "b"]}), mode="append", partition_by=["d"])
    rows = sorted(delta.snapshot_dataset(uri).to_table().to_pylist(), key=lambda r: r["x"])
    assert rows == [{"x": 1, "d": "a"}, {"x": 2, "d": "b"}]


def test_new_tables_checkpoint_every_ten_commits(tmp_path: Path) -> None:
    uri = str(tmp_path / "t")
    rows = pa.table({"a": [1]})
    for i in range(12):
        result = delta.write_table(uri, rows, mode="append", app_id="app", app_version=i)
        assert result.committed and result.version == i
    assert not delta.write_table(uri, rows, mode="append", app_id="app", app_version=11).committed
    table = delta.open_table(uri)
    assert table.metadata().configuration["delta.checkpointInterval"] == "10"
    log = sorted(p.name for p in (tmp_path / "t" / "_delta_log").iterdir())
    assert "00000000000000000009.checkpoint.parquet" in log  # the 10th commit
    assert table.to_pyarrow_table().num_rows == 12


def test_a_table_s_own_configuration_overrides_the_default(tmp_path: Path) -> None:
    uri = str(tmp_path / "t")
    delta.write_table(uri, pa.table({"a": [1]}), mode="append", configuration={"delta.checkpointInterval": "50"})
    assert delta.open_table(uri).metadata().configuration["delta.checkpointInterval"] == "50"
