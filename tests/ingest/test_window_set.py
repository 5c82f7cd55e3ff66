"""The window set as a vectorised multiset: same answers as a Counter, across batches."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from soundlake.ingest.config import IngestTable
from soundlake.ingest.runner import run_tables
from soundlake.ingest.window import HashMultiset, combine_sets, set_schema
from soundlake.lake.storage import Lake
from tests.ingest.helpers import bronze_rows, config
from tests.ingest.test_semantics import execute, insert, make_events

T0 = dt.datetime(2025, 10, 7, 19, 49, 55)
HOUR = dt.timedelta(hours=1)


def counter_consume(known: Counter[int], hashes: list[int], eligible: list[bool]) -> list[bool]:
    """The reference: walk the rows in order, take a count of each known hash."""
    marked = []
    for h, ok in zip(hashes, eligible):
        take = ok and known[h] > 0
        if take:
            known[h] -= 1
        marked.append(take)
    return marked


@pytest.mark.parametrize("seed", range(6))
def test_hash_multiset_consumes_like_a_counter(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 2**64, 40, dtype=np.uint64)  # few values: many duplicates
    known_hashes = rng.choice(pool, 300)
    multiset = HashMultiset(known_hashes)
    reference = Counter(known_hashes.tolist())
    assert len(multiset) == 300
    for size in (0, 1, 50, 200, 400):  # batches, the set shrinking as rows consume it
        hashes = rng.choice(pool, size)
        eligible = rng.random(size) < 0.8
        got = multiset.consume(hashes, eligible)
        assert got.tolist() == counter_consume(reference, hashes.tolist(), eligible.tolist())
        assert len(multiset) == sum(reference.values())


def test_hash_multiset_edges() -> None:
    empty = HashMultiset(np.zeros(0, dtype=np.uint64))
    assert len(empty) == 0 and not empty.consume(np.array([1, 2], np.uint64)).any()
    top = np.array([0, 2**64 - 1, 2**64 - 1], dtype=np.uint64)
    ms = HashMultiset(top)
    got = ms.consume(np.array([2**64 - 1, 5, 2**64 - 1, 2**64 - 1, 0, 0], dtype=np.uint64))
    assert got.tolist() == [True, False, True, False, True, False]
    assert len(ms) == 0


def test_backfill_combination_keeps_the_larger_count_per_hash() -> None:
    schema = set_schema(pa.int64())

    def entries(fps: list[int]) -> pa.Table:
        return pa.table({"cdc": [7] * len(fps), "fp": pa.array(fps, pa.uint64())}, schema=schema)

    old, new = entries([1, 1, 2, 3, 3, 3]), entries([1, 1, 1, 2, 3, 4])
    both = combine_sets(old, new, mode="backfill")
    assert Counter(both.column("fp").to_pylist()) == Counter({1: 3, 2: 1, 3: 3, 4: 1})
    summed = combine_sets(old, new, mode="incremental")
    assert Counter(summed.column("fp").to_pylist()) == Counter({1: 5, 2: 2, 3: 4, 4: 1})


def test_identical_rows_across_batches_and_the_tie_are_delivered_once(
    source_url: str, lake: Lake
) -> None:
    """Duplicates spread over many 2-row batches consume the window set row by row."""
    cfg = config(tables=[IngestTable(table="events", cdc_col="ts")], lookback="3h", batch_rows=2)
    dup, tie = (1, "x", T0 - HOUR), (2, "y", T0)
    make_events(source_url, [dup] * 5 + [tie] * 3 + [(3, "z", T0 - 2 * HOUR)])
    assert run_tables(lake, source_url, cfg, pipeline="p").rows == 9
    insert(source_url, [dup, dup, tie, (4, "late", T0 - 2 * HOUR)])
    second = run_tables(lake, source_url, cfg, pipeline="p")
    assert second.rows == 4 and second.tables[0].watermark_after == "2025-10-07T19:49:55"
    execute(source_url, "DELETE FROM events WHERE id = 3")  # one fewer row: no effect
    insert(source_url, [(3, "z", T0 - 2 * HOUR)])
    assert run_tables(lake, source_url, cfg, pipeline="p").rows == 0
    delivered = Counter(tuple(r.values()) for r in bronze_rows(lake, "events"))
    assert delivered == Counter(
        {dup: 7, tie: 4, (3, "z", T0 - 2 * HOUR): 1, (4, "late", T0 - 2 * HOUR): 1}
    )
