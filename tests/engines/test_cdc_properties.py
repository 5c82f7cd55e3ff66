"""Property tests: any history, any batch split, equals the reference model at once."""

from __future__ import annotations

import tempfile
from itertools import pairwise
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soundlake.engines.base import CdcSpec
from tests.engines.cdc_helpers import Flow, table
from tests.engines.cdc_reference import RefSpec, canonical, reference

SCHEMA = pa.schema([("k1", pa.int64()), ("k2", pa.string()), ("v", pa.string()),
                    ("u", pa.int64()), ("op", pa.string()), ("seq", pa.int64())])

event = st.tuples(
    st.integers(0, 3),                                 # k1
    st.sampled_from(["a", "b"]),                       # k2
    st.one_of(st.none(), st.sampled_from(["x", "y"])),  # v (tracked)
    st.one_of(st.none(), st.integers(0, 2)),           # u (untracked in SCD2)
    st.sampled_from(["U", "U", "U", "D", "T"]),        # op
    st.integers(0, 8),                                 # seq: small range gives ties
)


@st.composite
def histories(draw: st.DrawFn, truncates: bool) -> tuple[list[tuple], list[int]]:
    events = draw(st.lists(event, min_size=1, max_size=24))
    if not truncates:
        events = [e if e[4] != "T" else (*e[:4], "U", e[5]) for e in events]
    n = len(events)
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, n - 1)), max_size=4)))) if n > 1 else []
    return events, cuts


def _check(events: list[tuple], cuts: list[int], scd_type: int, ignore_nulls: bool, truncates: bool) -> None:
    spec = CdcSpec(
        flow="prop", target="t", keys=("k1", "k2"), sequence_by=("seq",), scd_type=scd_type,
        except_columns=("op", "seq"), apply_as_deletes="op = 'D'",
        apply_as_truncates="op = 'T'" if truncates else None,
        ignore_null_updates=ignore_nulls, untracked_columns=("u",) if scd_type == 2 else (),
    )
    ref = RefSpec(
        keys=("k1", "k2"), columns=("k1", "k2", "v", "u"), seq=lambda r: r["seq"],
        scd_type=scd_type, is_delete=lambda r: r["op"] == "D",
        is_truncate=lambda r: truncates and r["op"] == "T",
        ignore_null_updates=ignore_nulls, untracked=("u",) if scd_type == 2 else (),
    )
    names = SCHEMA.names
    expected = reference(ref, [dict(zip(names, e)) for e in events])
    bounds = [0, *cuts, len(events)]
    with tempfile.TemporaryDirectory() as tmp:
        flow = Flow(Path(tmp), spec)
        for a, b in pairwise(bounds):
            metrics = flow.apply(table(events[a:b], SCHEMA))
            # the counts assume the target holds what the state says it holds
            assert metrics.num_output_rows == len(flow.dicts())
        got = flow.dicts()
    assert canonical(got) == canonical(expected)
    if scd_type == 2:
        _check_intervals(got)


def _check_intervals(rows: list[dict]) -> None:
    by_key: dict[tuple, list[dict]] = {}
    for r in rows:
        by_key.setdefault((r["k1"], r["k2"]), []).append(r)
    for versions in by_key.values():
        versions.sort(key=lambda r: r["__START_AT"])
        assert sum(r["__END_AT"] is None for r in versions) <= 1
        for r in versions:
            assert r["__END_AT"] is None or r["__START_AT"] < r["__END_AT"]
        for a, b in pairwise(versions):
            assert a["__END_AT"] is not None and a["__END_AT"] <= b["__START_AT"]


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.property
@SETTINGS
@given(h=histories(truncates=True), ignore_nulls=st.booleans())
def test_scd1_any_split_equals_reference(h: tuple[list[tuple], list[int]], ignore_nulls: bool) -> None:
    _check(*h, scd_type=1, ignore_nulls=ignore_nulls, truncates=True)


@pytest.mark.property
@SETTINGS
@given(h=histories(truncates=False), ignore_nulls=st.booleans())
def test_scd2_any_split_equals_reference(h: tuple[list[tuple], list[int]], ignore_nulls: bool) -> None:
    _check(*h, scd_type=2, ignore_nulls=ignore_nulls, truncates=False)
