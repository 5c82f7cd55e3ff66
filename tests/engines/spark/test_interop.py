"""Spark and the DuckDB engine share plain Delta tables, and agree on AUTO CDC.

Each direction is tested: ``deltalake`` reads what Spark wrote (data and app
transactions), Spark reads what ``deltalake`` wrote, and a CDC flow started by the DuckDB
engine is continued by the Spark engine on the same state table. Spark's CDC result is
compared with the reference model over random event histories split into batches.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from soundlake.engines.base import CdcSpec, CommitInfo
from tests.engines.cdc_reference import RefSpec, canonical, reference

pytestmark = pytest.mark.spark

deltalake = pytest.importorskip("deltalake")

SCHEMA = pa.schema([("id", pa.int64()), ("a", pa.string()), ("b", pa.int64()), ("op", pa.string()), ("seq", pa.int64())])


def spark_apply(spark: Any, spec: CdcSpec, rows: list[dict[str, Any]], root: Path, version: int) -> None:
    from soundlake.engines.spark.cdc import apply_cdc

    frame = spark.createDataFrame(pa.Table.from_pylist(rows, schema=SCHEMA))
    apply_cdc(spark, spec, frame, str(root / "target"), state_path=str(root / "state"),
              commit=CommitInfo("pipe/flow", version))


def delta_rows(path: Path) -> list[tuple[Any, ...]]:
    data = deltalake.DeltaTable(str(path)).to_pyarrow_table().to_pylist()
    return canonical(data)


def spec_for(scd_type: int, **extra: Any) -> CdcSpec:
    return CdcSpec(flow="f", target="t", keys=("id",), sequence_by=("seq",), scd_type=scd_type,
                   except_columns=("op", "seq"), apply_as_deletes="op = 'D'", **extra)


def ref_for(scd_type: int, **extra: Any) -> RefSpec:
    return RefSpec(keys=("id",), columns=("id", "a", "b"), seq=lambda r: r["seq"], scd_type=scd_type,
                   is_delete=lambda r: r["op"] == "D", **extra)


def random_events(seed: int, n: int = 40) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events = []
    for _ in range(n):
        op = rng.choice(["U", "U", "U", "D"])
        events.append({
            "id": rng.randint(1, 6),
            "a": None if op == "D" else rng.choice(["x", "y", None]),
            "b": None if op == "D" else rng.choice([1, 2, None]),
            "op": op,
            "seq": rng.randint(1, 25),
        })
    return events


@pytest.mark.parametrize("scd_type, extra", [(1, {}), (2, {"untracked_columns": ("b",)})], ids=["scd1", "scd2-untracked-b"])
def test_spark_cdc_equals_reference_model_across_batches(spark: Any, tmp_path: Path, scd_type: int, extra: dict[str, Any]) -> None:
    events = random_events(seed=scd_type * 11)
    ref_extra = {"untracked": extra["untracked_columns"]} if extra else {}
    expected = canonical(reference(ref_for(scd_type, **ref_extra), events))
    shuffled = events[:]
    random.Random(5).shuffle(shuffled)
    for version, (lo, hi) in enumerate([(0, 15), (15, 28), (28, 40)], start=1):
        spark_apply(spark, spec_for(scd_type, **extra), shuffled[lo:hi], tmp_path, version)
    assert delta_rows(tmp_path / "target") == expected


def test_deltalake_reads_spark_tables_and_app_transactions(spark: Any, tmp_path: Path) -> None:
    rows = [{"id": 1, "a": "x", "b": 1, "op": "U", "seq": 1}, {"id": 2, "a": "y", "b": 2, "op": "U", "seq": 1}]
    spark_apply(spark, spec_for(2), rows, tmp_path, 7)
    table = deltalake.DeltaTable(str(tmp_path / "target"))
    assert canonical(table.to_pyarrow_table().to_pylist()) == canonical(
        [{"id": 1, "a": "x", "b": 1, "__START_AT": 1, "__END_AT": None},
         {"id": 2, "a": "y", "b": 2, "__START_AT": 1, "__END_AT": None}]
    )
    assert table.transaction_version("pipe/flow") == 7
    assert deltalake.DeltaTable(str(tmp_path / "state")).transaction_version("pipe/flow") == 7


def test_spark_reads_a_deltalake_table(spark: Any, tmp_path: Path) -> None:
    data = pa.table({"id": [1, 2, 3], "name": ["a", None, "c"], "ts": pa.array([0, 1, 2], pa.timestamp("us", tz="UTC"))})
    deltalake.write_deltalake(str(tmp_path / "t"), data)
    deltalake.write_deltalake(str(tmp_path / "t"), data.slice(0, 1), mode="append")
    frame = spark.read.format("delta").load(str(tmp_path / "t"))
    assert sorted((r.id, r.name) for r in frame.collect()) == [(1, "a"), (1, "a"), (2, None), (3, "c")]


def test_spark_continues_a_flow_started_by_duckdb(spark: Any, tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    from tests.engines.cdc_helpers import apply_cdc as duckdb_apply

    events = random_events(seed=3, n=30)
    spec = spec_for(2)
    duckdb_apply(spec, pa.Table.from_pylist(events[:18], schema=SCHEMA), str(tmp_path / "target"),
                 state_uri=str(tmp_path / "state"), commit=CommitInfo("pipe/flow", 1))
    spark_apply(spark, spec, events[18:], tmp_path, 2)
    assert delta_rows(tmp_path / "target") == canonical(reference(ref_for(2), events))


def state_statistics(state: Path) -> tuple[dict[str, str], set[str]]:
    """The state table's properties, and the columns its files have statistics for."""
    table = deltalake.DeltaTable(str(state))
    columns: set[str] = set()
    for entry in sorted(state.glob("_delta_log/*.json")):
        for line in entry.read_text().splitlines():
            if '"add"' in line:
                stats = json.loads(json.loads(line)["add"]["stats"])
                columns |= set(stats.get("minValues", {})) | set(stats.get("nullCount", {}))
    return dict(table.metadata().configuration), columns


@pytest.mark.parametrize("scd_type", [1, 2])
def test_first_batch_over_several_partitions_equals_reference_model(spark: Any, tmp_path: Path, scd_type: int) -> None:
    """A first batch is de-duplicated once, partitioned by the keys, and folded from that
    cache: with several partitions (not coalesced away) the state holds one event per
    (key, sequence), the target equals the model's, and a later batch continues it."""
    rng = random.Random(scd_type)
    events = [
        {"id": rng.randint(1, 300), "a": rng.choice(["x", "y", None]), "b": rng.choice([1, 2, None]),
         "op": rng.choice(["U", "U", "U", "D"]), "seq": rng.randint(1, 12)}
        for _ in range(3000)
    ]
    for e in events:
        if e["op"] == "D":
            e["a"] = e["b"] = None
    settings = {"spark.sql.shuffle.partitions": "7", "spark.sql.adaptive.coalescePartitions.enabled": "false"}
    before = {k: spark.conf.get(k) for k in settings}
    try:
        for k, v in settings.items():
            spark.conf.set(k, v)
        spark_apply(spark, spec_for(scd_type), events[:2500], tmp_path, 1)
        state = spark.read.format("delta").load(str(tmp_path / "state"))
        assert state.count() == len({(e["id"], e["seq"]) for e in events[:2500]})
        assert delta_rows(tmp_path / "target") == canonical(reference(ref_for(scd_type), events[:2500]))
        spark_apply(spark, spec_for(scd_type), events[2500:], tmp_path, 2)
        assert delta_rows(tmp_path / "target") == canonical(reference(ref_for(scd_type), events))
    finally:
        for k, v in before.items():
            spark.conf.set(k, v)


def test_both_engines_create_the_state_with_statistics_on_its_keys_only(spark: Any, tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    from tests.engines.cdc_helpers import apply_cdc as duckdb_apply

    events = random_events(seed=9, n=30)
    spark_apply(spark, spec_for(1), events, tmp_path / "spark", 1)
    duckdb_apply(spec_for(1), pa.Table.from_pylist(events, schema=SCHEMA), str(tmp_path / "duckdb" / "target"),
                 state_uri=str(tmp_path / "duckdb" / "state"), commit=CommitInfo("pipe/flow", 1))
    for engine in ("spark", "duckdb"):
        properties, columns = state_statistics(tmp_path / engine / "state")
        assert properties.get("delta.dataSkippingNumIndexedCols") == "1", engine
        assert columns == {"id"}, engine
