"""Shared helpers for the AUTO CDC tests: apply batches, read the target."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

from soundlake.engines.base import ArrowRelation, CdcMetrics, CdcSpec, CommitInfo
from soundlake.engines.duckdb.engine import DuckDBEngine

_ENGINE: DuckDBEngine | None = None


def engine() -> DuckDBEngine:
    """One DuckDB engine for the CDC tests of this process (AUTO CDC runs on its database)."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = DuckDBEngine()
    return _ENGINE


def apply_cdc(
    spec: CdcSpec, events: pa.Table | pa.RecordBatchReader, target: str, *, state_uri: str, commit: CommitInfo
) -> CdcMetrics:
    """Apply one batch of events with the DuckDB engine's AUTO CDC."""
    return engine().apply_cdc(spec, ArrowRelation(events), target, state_uri=state_uri, storage_options={},
                              commit=commit)


def apply_snapshot(
    spec: CdcSpec, snapshot: pa.Table, version: int | str, target: str, *, state_uri: str, commit: CommitInfo
) -> CdcMetrics:
    """Apply one full snapshot with the DuckDB engine's AUTO CDC FROM SNAPSHOT."""
    return engine().apply_cdc_snapshot(spec, ArrowRelation(snapshot), version, target, state_uri=state_uri,
                                       storage_options={}, commit=commit)

EXAMPLE_COLUMNS = ["userId", "name", "city", "operation", "sequenceNum"]
EXAMPLE = [
    (124, "Raul", "Oaxaca", "INSERT", 1),
    (123, "Isabel", "Monterrey", "INSERT", 1),
    (125, "Mercedes", "Tijuana", "INSERT", 2),
    (126, "Lily", "Cancun", "INSERT", 2),
    (123, None, None, "DELETE", 6),
    (125, "Mercedes", "Guadalajara", "UPDATE", 6),
    (125, "Mercedes", "Mexicali", "UPDATE", 5),
    (123, "Isabel", "Chihuahua", "UPDATE", 5),
]
EXAMPLE_SCD1 = [(124, "Raul", "Oaxaca"), (125, "Mercedes", "Guadalajara"), (126, "Lily", "Cancun")]
EXAMPLE_SCD2 = [
    (123, "Isabel", "Monterrey", 1, 5),
    (123, "Isabel", "Chihuahua", 5, 6),
    (124, "Raul", "Oaxaca", 1, None),
    (125, "Mercedes", "Tijuana", 2, 5),
    (125, "Mercedes", "Mexicali", 5, 6),
    (125, "Mercedes", "Guadalajara", 6, None),
    (126, "Lily", "Cancun", 2, None),
]
EXAMPLE_SCHEMA = pa.schema(
    [("userId", pa.int64()), ("name", pa.string()), ("city", pa.string()),
     ("operation", pa.string()), ("sequenceNum", pa.int64())]
)


def example_spec(scd_type: int) -> CdcSpec:
    """The worked example's flow (SEMANTICS.md section 3)."""
    return CdcSpec(
        flow="users_cdc", target="users", keys=("userId",), sequence_by=("sequenceNum",),
        scd_type=scd_type, except_columns=("operation", "sequenceNum"),
        apply_as_deletes="operation = 'DELETE'",
    )


def table(rows: Sequence[tuple | dict], schema: pa.Schema) -> pa.Table:
    """An Arrow table from tuples or dicts."""
    if rows and isinstance(rows[0], dict):
        return pa.Table.from_pylist(list(rows), schema=schema)
    cols = {f.name: [r[i] for r in rows] for i, f in enumerate(schema)}
    return pa.table(cols, schema=schema)


class Flow:
    """A target + state pair under a temp folder, applying numbered batches."""

    def __init__(self, root: Path, spec: CdcSpec, app_id: str = "pipe/flow") -> None:
        self.spec, self.app_id = spec, app_id
        self.target, self.state = str(root / "target"), str(root / "state")
        self.version = 0

    def apply(self, batch: pa.Table | pa.RecordBatchReader, version: int | None = None) -> CdcMetrics:
        v = self.version if version is None else version
        self.version = max(self.version, v + 1)
        return apply_cdc(self.spec, batch, self.target, state_uri=self.state,
                         commit=CommitInfo(self.app_id, v))

    def rows(self) -> list[tuple[Any, ...]]:
        data = DeltaTable(self.target).to_pyarrow_table()
        return sorted((tuple(r.values()) for r in data.to_pylist()), key=_null_key)

    def dicts(self) -> list[dict[str, Any]]:
        return DeltaTable(self.target).to_pyarrow_table().to_pylist()


def _null_key(t: tuple) -> tuple:
    return tuple((v is not None, v if v is not None else 0) for v in t)


def sorted_rows(rows: Sequence[tuple]) -> list[tuple]:
    """Rows sorted NULL-safely (NULL first)."""
    return sorted(rows, key=_null_key)
