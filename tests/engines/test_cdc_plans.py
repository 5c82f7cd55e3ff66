"""The physical plan is chosen by cost and every plan gives the same rows."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from soundlake.engines.base import CdcSpec
from tests.engines.cdc_helpers import Flow, table
from tests.engines.cdc_reference import RefSpec, canonical, reference

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string()), ("seq", pa.int64())])


def _flow(tmp_path: Path, scd_type: int, key_type: str = "int") -> tuple[Flow, list[dict]]:
    spec = CdcSpec(flow="plans", target="t", keys=("id",), sequence_by=("seq",),
                   scd_type=scd_type, except_columns=("seq",))
    flow = Flow(tmp_path, spec)
    history: list[dict] = []
    for f in range(8):  # eight files of 100 keys each, disjoint key ranges
        rows = [{"id": i, "name": f"n{i}", "seq": 1} for i in range(f * 100, f * 100 + 100)]
        history += rows
        assert flow.apply(table(rows, SCHEMA)).plan in ("create", "append")
    return flow, history


def _apply(flow: Flow, history: list[dict], rows: list[dict], scd_type: int) -> str:
    history += rows
    plan = flow.apply(table(rows, SCHEMA)).plan
    ref = RefSpec(keys=("id",), columns=("id", "name"), seq=lambda r: r["seq"], scd_type=scd_type)
    assert canonical(flow.dicts()) == canonical(reference(ref, history))
    return plan


@pytest.mark.parametrize("scd_type", [1, 2])
def test_plans_by_touched_files(tmp_path: Path, scd_type: int) -> None:
    flow, history = _flow(tmp_path, scd_type)
    assert _apply(flow, history, [{"id": 5, "name": "x", "seq": 2}], scd_type).startswith("merge")
    touched = [{"id": i, "name": "y", "seq": 3} for i in (105, 106, 305, 506)]
    assert _apply(flow, history, touched, scd_type).startswith("rewrite")
    everywhere = [{"id": i, "name": "z", "seq": 4} for i in range(0, 800, 50)]
    assert _apply(flow, history, everywhere, scd_type).startswith("full-rewrite")
    new = [{"id": i, "name": "new", "seq": 5} for i in range(5000, 5010)]
    assert _apply(flow, history, new, scd_type) == "append"
    plan = _apply(flow, history, [{"id": 7, "name": "stale", "seq": 0}], scd_type)
    assert plan == "noop" if scd_type == 1 else plan != "noop"  # SCD2: history before seq 1


def test_rewrite_commits_once_with_the_app_transaction(tmp_path: Path) -> None:
    flow, history = _flow(tmp_path, 2)
    before = DeltaTable(flow.target).version()
    touched = [{"id": i, "name": "y", "seq": 3} for i in (105, 305, 506)]
    _apply(flow, history, touched, 2)
    dt = DeltaTable(flow.target)
    assert dt.version() == before + 1
    assert dt.transaction_version(flow.app_id) == flow.version - 1


def test_string_keys_prune_too(tmp_path: Path) -> None:
    schema = pa.schema([("id", pa.string()), ("name", pa.string()), ("seq", pa.int64())])
    spec = CdcSpec(flow="s", target="t", keys=("id",), sequence_by=("seq",), scd_type=1,
                   except_columns=("seq",))
    flow = Flow(tmp_path, spec)
    for f in "abcdefgh":
        flow.apply(table([{"id": f + str(i).zfill(3), "name": "n", "seq": 1} for i in range(50)], schema))
    plan = flow.apply(table([{"id": "c007", "name": "it's", "seq": 2}], schema)).plan
    assert plan.startswith("merge")
    plan = flow.apply(table([{"id": k, "name": "q", "seq": 3} for k in ("b001", "e001", "g001")], schema)).plan
    assert plan.startswith("rewrite")
    rows = {r["id"]: r["name"] for r in flow.dicts()}
    assert len(rows) == 400 and rows["c007"] == "it's" and rows["e001"] == "q"


def test_duckdb_written_files_carry_usable_stats(tmp_path: Path) -> None:
    flow, history = _flow(tmp_path, 2)
    everywhere = [{"id": i, "name": "z", "seq": 4} for i in range(0, 800, 50)]
    assert _apply(flow, history, everywhere, 2).startswith("full-rewrite")
    dt = DeltaTable(flow.target)
    stats = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
    assert sum(s["num_records"] for s in stats) == dt.count() == 816
    assert all(s["min.id"] is not None and s["max.id"] is not None for s in stats)
    got = dt.to_pyarrow_table(filters=[("id", "=", 50)]).to_pylist()
    assert sorted((r["name"], r["__START_AT"]) for r in got) == [("n50", 1), ("z", 4)]


def test_timestamp_sequence_falls_back_to_the_deltalake_writer(tmp_path: Path) -> None:
    import datetime as dt_

    schema = pa.schema([("id", pa.string()), ("v", pa.int64()), ("ts", pa.timestamp("us"))])
    spec = CdcSpec(flow="ts", target="t", keys=("id",), sequence_by=("ts",), scd_type=2,
                   except_columns=("ts",))
    flow = Flow(tmp_path, spec)
    t0 = dt_.datetime(2024, 1, 1)
    flow.apply(table([("a", 1, t0), ("b", 1, t0)], schema))
    m = flow.apply(table([("a", 2, t0 + dt_.timedelta(days=1)), ("b", 1, t0 - dt_.timedelta(days=1))], schema))
    assert m.plan.startswith("full-rewrite")
    rows = sorted((r["id"], r["v"], r["__START_AT"], r["__END_AT"]) for r in flow.dicts())
    day = dt_.timedelta(days=1)
    assert rows == [("a", 1, t0, t0 + day), ("a", 2, t0 + day, None), ("b", 1, t0 - day, None)]
