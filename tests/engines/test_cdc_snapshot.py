"""AUTO CDC FROM SNAPSHOT: periodic snapshots and a historical source function."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from soundlake.core.errors import FlowError
from soundlake.engines.base import CdcSpec, CommitInfo
from soundlake.engines.duckdb.snapshot import (
    latest_snapshot_version,
)
from tests.engines.cdc_helpers import apply_snapshot, sorted_rows

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string()), ("note", pa.string())])
SNAPSHOTS = {
    1: [(1, "a", "x"), (2, "b", "x"), (3, "c", "x")],
    2: [(1, "a", "x"), (2, "B", "x"), (4, "d", None)],
    3: [(1, "a", "x"), (2, "B", "x"), (3, "c", "again"), (4, "d", None)],
}


def snap(rows: list[tuple]) -> pa.Table:
    return pa.table({f.name: [r[i] for r in rows] for i, f in enumerate(SCHEMA)}, schema=SCHEMA)


def spec(scd_type: int) -> CdcSpec:
    return CdcSpec(flow="snap_flow", target="t", keys=("id",), sequence_by=(), scd_type=scd_type)


def rows(path: Path) -> list[tuple]:
    return sorted_rows([tuple(r.values()) for r in DeltaTable(str(path)).to_pyarrow_table().to_pylist()])


def _apply(tmp_path: Path, scd_type: int, version: int, batch: int) -> Any:
    return apply_snapshot(spec(scd_type), snap(SNAPSHOTS[version]), version, str(tmp_path / "t"),
                          state_uri=str(tmp_path / "s"), commit=CommitInfo("p/f", batch))


def test_periodic_snapshots_scd1(tmp_path: Path) -> None:
    _apply(tmp_path, 1, 1, 0)
    m = _apply(tmp_path, 1, 2, 1)
    assert rows(tmp_path / "t") == [(1, "a", "x"), (2, "B", "x"), (4, "d", None)]
    assert (m.num_upserted_rows, m.num_deleted_rows) == (2, 1)


def test_periodic_snapshots_scd2(tmp_path: Path) -> None:
    for batch, version in enumerate((1, 2, 3)):
        _apply(tmp_path, 2, version, batch)
    assert rows(tmp_path / "t") == sorted_rows([
        (1, "a", "x", 1, None),
        (2, "b", "x", 1, 2), (2, "B", "x", 2, None),
        (3, "c", "x", 1, 2), (3, "c", "again", 3, None),
        (4, "d", None, 2, None),
    ])
    assert latest_snapshot_version(str(tmp_path / "t")) == 3


def test_identical_snapshot_changes_nothing_but_is_recorded(tmp_path: Path) -> None:
    _apply(tmp_path, 2, 1, 0)
    m = apply_snapshot(spec(2), snap(SNAPSHOTS[1]), 5, str(tmp_path / "t"),
                       state_uri=str(tmp_path / "s"), commit=CommitInfo("p/f", 1))
    assert m.num_upserted_rows == 0
    assert len(rows(tmp_path / "t")) == 3
    assert latest_snapshot_version(str(tmp_path / "t")) == 5


def test_older_snapshot_is_rejected(tmp_path: Path) -> None:
    _apply(tmp_path, 1, 2, 0)
    with pytest.raises(FlowError, match="snap_flow.*ascending"):
        _apply(tmp_path, 1, 1, 1)


def test_string_versions(tmp_path: Path) -> None:
    for batch, (version, data) in enumerate([("2024-01-01", 1), ("2024-02-01", 2)]):
        apply_snapshot(spec(2), snap(SNAPSHOTS[data]), version, str(tmp_path / "t"),
                       state_uri=str(tmp_path / "s"), commit=CommitInfo("p/f", batch))
    got = {(r[0], r[1]): (r[3], r[4]) for r in rows(tmp_path / "t")}
    assert got[(2, "b")] == ("2024-01-01", "2024-02-01")
