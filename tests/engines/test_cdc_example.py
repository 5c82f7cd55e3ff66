"""The worked example of SEMANTICS.md section 3, under every batch split and order."""

from __future__ import annotations

import random
from itertools import pairwise
from pathlib import Path

import pytest

from tests.engines.cdc_helpers import (
    EXAMPLE,
    EXAMPLE_SCD1,
    EXAMPLE_SCD2,
    EXAMPLE_SCHEMA,
    Flow,
    example_spec,
    sorted_rows,
    table,
)


def _splits(seed: int) -> list[list[tuple]]:
    rng = random.Random(seed)
    rows = list(EXAMPLE)
    if seed:
        rng.shuffle(rows)
    n_batches = 1 + seed % len(rows)
    cuts = sorted(rng.sample(range(1, len(rows)), n_batches - 1)) if n_batches > 1 else []
    bounds = [0, *cuts, len(rows)]
    return [rows[a:b] for a, b in pairwise(bounds)]


@pytest.mark.parametrize("scd_type", [1, 2], ids=["scd1", "scd2"])
def test_example_in_documented_order(tmp_path: Path, scd_type: int) -> None:
    flow = Flow(tmp_path, example_spec(scd_type))
    flow.apply(table(EXAMPLE, EXAMPLE_SCHEMA))
    expected = EXAMPLE_SCD1 if scd_type == 1 else EXAMPLE_SCD2
    assert flow.rows() == sorted_rows(expected)


@pytest.mark.parametrize("seed", range(1, 9), ids=lambda s: f"split{s}")
@pytest.mark.parametrize("scd_type", [1, 2], ids=["scd1", "scd2"])
def test_example_any_split_and_order(tmp_path: Path, scd_type: int, seed: int) -> None:
    flow = Flow(tmp_path, example_spec(scd_type))
    for batch in _splits(seed):
        flow.apply(table(batch, EXAMPLE_SCHEMA))
    expected = EXAMPLE_SCD1 if scd_type == 1 else EXAMPLE_SCD2
    assert flow.rows() == sorted_rows(expected)


def test_example_one_event_per_batch_reversed(tmp_path: Path) -> None:
    flow = Flow(tmp_path, example_spec(2))
    for row in reversed(EXAMPLE):
        flow.apply(table([row], EXAMPLE_SCHEMA))
    assert flow.rows() == sorted_rows(EXAMPLE_SCD2)


def test_target_schema_has_selected_columns_and_sequence_typed_interval(tmp_path: Path) -> None:
    flow = Flow(tmp_path, example_spec(2))
    flow.apply(table(EXAMPLE, EXAMPLE_SCHEMA))
    from deltalake import DeltaTable

    schema = DeltaTable(flow.target).to_pyarrow_table().schema
    assert schema.names == ["userId", "name", "city", "__START_AT", "__END_AT"]
    assert str(schema.field("__START_AT").type) == "int64"
    assert str(schema.field("__END_AT").type) == "int64"
