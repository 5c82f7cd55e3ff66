"""AUTO CDC on Spark: the documented worked example across batch splits, and edge cases."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from soundlake.core.errors import FlowError
from soundlake.engines.base import CdcSpec, CommitInfo

pytestmark = pytest.mark.spark

def ordered(rows: Any) -> list[tuple[Any, ...]]:
    """Rows sorted by their values, NULL last, so results compare independent of order."""
    return sorted((tuple(r) for r in rows), key=lambda r: tuple((v is None, v) for v in r))


COLUMNS = ("userId", "name", "city", "operation", "sequenceNum")
DOCS_EVENTS = [
    (124, "Raul", "Oaxaca", "INSERT", 1),
    (123, "Isabel", "Monterrey", "INSERT", 1),
    (125, "Mercedes", "Tijuana", "INSERT", 2),
    (126, "Lily", "Cancun", "INSERT", 2),
    (123, None, None, "DELETE", 6),
    (125, "Mercedes", "Guadalajara", "UPDATE", 6),
    (125, "Mercedes", "Mexicali", "UPDATE", 5),
    (123, "Isabel", "Chihuahua", "UPDATE", 5),
]
SCD1_EXPECTED = ordered([(124, "Raul", "Oaxaca"), (125, "Mercedes", "Guadalajara"), (126, "Lily", "Cancun")])
SCD2_EXPECTED = ordered([
    (123, "Isabel", "Monterrey", 1, 5),
    (123, "Isabel", "Chihuahua", 5, 6),
    (124, "Raul", "Oaxaca", 1, None),
    (125, "Mercedes", "Tijuana", 2, 5),
    (125, "Mercedes", "Mexicali", 5, 6),
    (125, "Mercedes", "Guadalajara", 6, None),
    (126, "Lily", "Cancun", 2, None),
])
SCHEMA = "userId BIGINT, name STRING, city STRING, operation STRING, sequenceNum BIGINT"


def docs_spec(scd_type: int, **overrides: Any) -> CdcSpec:
    values: dict[str, Any] = {
        "flow": "users_cdc",
        "target": "users",
        "keys": ("userId",),
        "sequence_by": ("sequenceNum",),
        "scd_type": scd_type,
        "except_columns": ("operation", "sequenceNum"),
        "apply_as_deletes": "operation = 'DELETE'",
    }
    values.update(overrides)
    return CdcSpec(**values)


def apply(spark: Any, spec: CdcSpec, rows: list[tuple[Any, ...]], root: Path, version: int, schema: str = SCHEMA) -> Any:
    from soundlake.engines.spark.cdc import apply_cdc

    events = spark.createDataFrame(rows, schema)
    return apply_cdc(
        spark,
        spec,
        events,
        str(root / "target"),
        state_path=str(root / "state"),
        commit=CommitInfo(app_id="pipeline/users_cdc", version=version, metadata={"run": "r1"}),
    )


def table_rows(spark: Any, path: Path) -> list[tuple[Any, ...]]:
    return ordered(spark.read.format("delta").load(str(path)).collect())


def split(events: list[tuple[Any, ...]], seed: int) -> list[list[tuple[Any, ...]]]:
    rng = random.Random(seed)
    shuffled = events[:]
    rng.shuffle(shuffled)
    cuts = sorted(rng.sample(range(1, len(shuffled)), rng.randint(1, 3)))
    return [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)])]


@pytest.mark.parametrize("scd_type, expected", [(1, SCD1_EXPECTED), (2, SCD2_EXPECTED)], ids=["scd1", "scd2"])
def test_docs_example_in_one_batch(spark: Any, tmp_path: Path, scd_type: int, expected: list[Any]) -> None:
    metrics = apply(spark, docs_spec(scd_type), DOCS_EVENTS, tmp_path, 1)
    assert table_rows(spark, tmp_path / "target") == expected
    assert metrics.num_output_rows == metrics.target_rows == len(expected)


@pytest.mark.parametrize("seed", [7])
@pytest.mark.parametrize("scd_type, expected", [(1, SCD1_EXPECTED), (2, SCD2_EXPECTED)], ids=["scd1", "scd2"])
def test_docs_example_across_batch_splits(
    spark: Any, tmp_path: Path, scd_type: int, expected: list[Any], seed: int
) -> None:
    for version, batch in enumerate(split(DOCS_EVENTS, seed), start=1):
        apply(spark, docs_spec(scd_type), batch, tmp_path, version)
    assert table_rows(spark, tmp_path / "target") == expected


def test_rerun_of_a_committed_batch_changes_nothing(spark: Any, tmp_path: Path) -> None:
    import json

    from delta.tables import DeltaTable

    apply(spark, docs_spec(2), DOCS_EVENTS[:4], tmp_path, 1)
    apply(spark, docs_spec(2), DOCS_EVENTS[4:], tmp_path, 2)
    state_version = DeltaTable.forPath(spark, str(tmp_path / "state")).history(1).collect()[0].version
    apply(spark, docs_spec(2), DOCS_EVENTS[4:], tmp_path, 2)
    assert table_rows(spark, tmp_path / "target") == SCD2_EXPECTED
    assert DeltaTable.forPath(spark, str(tmp_path / "state")).history(1).collect()[0].version == state_version
    assert spark.read.format("delta").load(str(tmp_path / "state")).count() == len(DOCS_EVENTS)
    last = spark.sql(f"DESCRIBE HISTORY delta.`{tmp_path / 'target'}` LIMIT 1").collect()[0]
    assert last.operation == "MERGE"
    assert json.loads(last.userMetadata) == {"run": "r1", "soundlake.cdc": "target"}


def test_crash_between_state_and_target_is_repaired_by_a_rerun(spark: Any, tmp_path: Path) -> None:
    import shutil

    apply(spark, docs_spec(2), DOCS_EVENTS[:4], tmp_path, 1)
    saved = tmp_path / "saved_target"
    shutil.copytree(tmp_path / "target", saved)
    apply(spark, docs_spec(2), DOCS_EVENTS[4:], tmp_path, 2)
    shutil.rmtree(tmp_path / "target")  # the target as it was before batch 2 committed
    shutil.copytree(saved, tmp_path / "target")
    apply(spark, docs_spec(2), DOCS_EVENTS[4:], tmp_path, 2)
    assert table_rows(spark, tmp_path / "target") == SCD2_EXPECTED


@pytest.mark.parametrize("scd_type", [1, 2])
def test_late_upsert_does_not_resurrect_a_deleted_key(spark: Any, tmp_path: Path, scd_type: int) -> None:
    apply(spark, docs_spec(scd_type), [(1, "A", "X", "INSERT", 1), (1, None, None, "DELETE", 5)], tmp_path, 1)
    apply(spark, docs_spec(scd_type), [(1, "B", "Y", "UPDATE", 3)], tmp_path, 2)
    expected = [] if scd_type == 1 else ordered([(1, "A", "X", 1, 3), (1, "B", "Y", 3, 5)])
    assert table_rows(spark, tmp_path / "target") == expected


def test_scd2_untracked_change_updates_in_place_and_identical_opens_nothing(spark: Any, tmp_path: Path) -> None:
    spec = docs_spec(2, tracked_columns=("city",))
    apply(spark, spec, [(1, "A", "X", "INSERT", 1), (1, "A", "X", "UPDATE", 2)], tmp_path, 1)
    apply(spark, spec, [(1, "A2", "X", "UPDATE", 3), (1, "A2", "Z", "UPDATE", 4)], tmp_path, 2)
    assert table_rows(spark, tmp_path / "target") == [(1, "A2", "X", 1, 4), (1, "A2", "Z", 4, None)]


def test_scd1_truncate_removes_older_rows(spark: Any, tmp_path: Path) -> None:
    spec = docs_spec(1, apply_as_truncates="operation = 'TRUNCATE'")
    apply(spark, spec, [(1, "A", "X", "INSERT", 1), (2, "B", "Y", "INSERT", 5)], tmp_path, 1)
    apply(spark, spec, [(None, None, None, "TRUNCATE", 3), (3, "C", "Z", "INSERT", 2)], tmp_path, 2)
    assert table_rows(spark, tmp_path / "target") == [(2, "B", "Y")]


def test_ignore_null_updates_keeps_previous_values(spark: Any, tmp_path: Path) -> None:
    spec = docs_spec(1, ignore_null_updates=True)
    apply(spark, spec, [(1, None, "Y", "UPDATE", 2)], tmp_path, 1)
    apply(spark, spec, [(1, "A", "X", "INSERT", 1)], tmp_path, 2)
    assert table_rows(spark, tmp_path / "target") == [(1, "A", "Y")]


def test_struct_sequence_orders_by_first_then_next_field(spark: Any, tmp_path: Path) -> None:
    spec = docs_spec(2, sequence_by=("sequenceNum", "name"), except_columns=("operation",))
    apply(spark, spec, [(1, "b", "X", "U", 1), (1, "a", "Y", "U", 1), (1, "a", "Z", "U", 0)], tmp_path, 1)
    rows = sorted(table_rows(spark, tmp_path / "target"), key=lambda r: (r[4]["sequenceNum"], r[4]["name"]))
    assert [(r[2], r[4]["sequenceNum"], r[4]["name"]) for r in rows] == [("Z", 0, "a"), ("Y", 1, "a"), ("X", 1, "b")]
    assert [r[5] for r in rows][-1] is None


def test_null_sequence_is_an_error_naming_the_flow(spark: Any, tmp_path: Path) -> None:
    with pytest.raises(FlowError, match="users_cdc.*NULL sequence"):
        apply(spark, docs_spec(2), [(1, "A", "X", "INSERT", None)], tmp_path, 1)
    with pytest.raises(FlowError, match="users_cdc.*NULL key"):
        apply(spark, docs_spec(1), [(None, "A", "X", "INSERT", 1)], tmp_path, 1)
