"""AUTO CDC edge cases, one rule per test (SEMANTICS.md section 3, docs/cdc.md)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from soundlake.core.errors import FlowError
from soundlake.engines.base import CdcSpec
from tests.engines.cdc_helpers import Flow, table

SCHEMA = pa.schema([("k", pa.int64()), ("v", pa.string()), ("u", pa.string()),
                    ("op", pa.string()), ("seq", pa.int64())])


def spec(scd_type: int = 1, **kw: object) -> CdcSpec:
    base: dict[str, object] = {
        "flow": "dim_flow", "target": "dim", "keys": ("k",), "sequence_by": ("seq",),
        "scd_type": scd_type, "except_columns": ("op", "seq"), "apply_as_deletes": "op = 'D'",
    }
    base.update(kw)
    return CdcSpec(**base)  # type: ignore[arg-type]


def ev(k: int | None, v: str | None, seq: int | None, op: str = "U", u: str | None = None) -> tuple:
    return (k, v, u, op, seq)


def run(tmp_path: Path, s: CdcSpec, *batches: list[tuple]) -> Flow:
    flow = Flow(tmp_path, s)
    for b in batches:
        flow.apply(table(b, SCHEMA))
    return flow


def test_null_sequence_is_an_error_naming_the_flow(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match="dim_flow.*NULL sequence"):
        run(tmp_path, spec(), [ev(1, "a", 1), ev(2, "b", None)])


def test_null_key_is_an_error_naming_the_flow(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match="dim_flow.*NULL key"):
        run(tmp_path, spec(), [ev(None, "a", 1)])


def test_null_in_one_part_of_a_compound_key_is_an_error(tmp_path: Path) -> None:
    s = spec(keys=("k", "u"))
    with pytest.raises(FlowError, match="NULL key"):
        run(tmp_path, s, [ev(1, "a", 1, u=None)])


@pytest.mark.parametrize("scd_type", [1, 2])
def test_tie_delete_wins_over_upsert_in_any_batch(tmp_path: Path, scd_type: int) -> None:
    a = run(tmp_path / "a", spec(scd_type), [ev(1, "a", 1)], [ev(1, "b", 2), ev(1, None, 2, "D")])
    b = run(tmp_path / "b", spec(scd_type), [ev(1, None, 2, "D")], [ev(1, "a", 1)], [ev(1, "b", 2)])
    expected = [] if scd_type == 1 else [(1, "a", None, 1, 2)]
    assert a.rows() == b.rows() == expected


@pytest.mark.parametrize("scd_type", [1, 2])
def test_tie_between_upserts_greatest_values_win(tmp_path: Path, scd_type: int) -> None:
    a = run(tmp_path / "a", spec(scd_type), [ev(1, "b", 1), ev(1, "c", 1)])
    b = run(tmp_path / "b", spec(scd_type), [ev(1, "c", 1)], [ev(1, "b", 1)])
    c = run(tmp_path / "c", spec(scd_type), [ev(1, None, 1)], [ev(1, "c", 1)])
    expected = [(1, "c", None)] if scd_type == 1 else [(1, "c", None, 1, None)]
    assert a.rows() == b.rows() == c.rows() == expected


def test_scd1_late_older_event_is_discarded(tmp_path: Path) -> None:
    flow = run(tmp_path, spec(), [ev(1, "new", 5)], [ev(1, "old", 3)])
    assert flow.rows() == [(1, "new", None)]


@pytest.mark.parametrize("scd_type", [1, 2])
def test_tombstone_stops_a_late_older_upsert_resurrecting(tmp_path: Path, scd_type: int) -> None:
    flow = run(tmp_path, spec(scd_type), [ev(1, "a", 1)], [ev(1, None, 5, "D")], [ev(1, "late", 3)])
    if scd_type == 1:
        assert flow.rows() == []
    else:
        assert flow.rows() == [(1, "a", None, 1, 3), (1, "late", None, 3, 5)]


def test_delete_of_unknown_key_then_older_insert_stays_deleted(tmp_path: Path) -> None:
    flow = run(tmp_path, spec(), [ev(1, None, 5, "D")], [ev(1, "a", 4)])
    assert flow.rows() == []


def test_scd1_truncate_removes_rows_older_than_its_sequence(tmp_path: Path) -> None:
    s = spec(apply_as_truncates="op = 'T'")
    flow = run(
        tmp_path, s,
        [ev(1, "a", 1), ev(2, "b", 7)],
        [ev(None, None, 5, "T"), ev(3, "c", 6)],
        [ev(4, "late", 4), ev(5, "tie", 5)],
    )
    assert flow.rows() == [(2, "b", None), (3, "c", None)]


def test_truncate_is_rejected_for_scd2(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match="SCD type 1"):
        run(tmp_path, spec(2, apply_as_truncates="op = 'T'"), [ev(1, "a", 1)])


@pytest.mark.parametrize("scd_type", [1, 2])
def test_ignore_null_updates_keep_old_values(tmp_path: Path, scd_type: int) -> None:
    s = spec(scd_type, ignore_null_updates=True, untracked_columns=("u",))
    flow = run(tmp_path, s, [ev(1, "a", 1, u="x")], [ev(1, None, 2, u="y")], [ev(1, "b", 3, u=None)])
    if scd_type == 1:
        assert flow.rows() == [(1, "b", "y")]
    else:
        assert flow.rows() == [(1, "a", "y", 1, 3), (1, "b", "y", 3, None)]


def test_ignore_null_updates_do_not_reach_across_a_delete(tmp_path: Path) -> None:
    s = spec(ignore_null_updates=True)
    flow = run(tmp_path, s, [ev(1, "a", 1, u="x"), ev(1, None, 2, "D")], [ev(1, None, 3, u="y")])
    assert flow.rows() == [(1, None, "y")]


def test_scd1_null_values_without_ignore_null_updates_overwrite(tmp_path: Path) -> None:
    flow = run(tmp_path, spec(), [ev(1, "a", 1, u="x")], [ev(1, None, 2)])
    assert flow.rows() == [(1, None, None)]


def test_scd2_untracked_change_updates_in_place(tmp_path: Path) -> None:
    s = spec(2, untracked_columns=("u",))
    flow = run(tmp_path, s, [ev(1, "a", 1, u="x")], [ev(1, "a", 2, u="y")], [ev(1, "b", 3, u="y")])
    assert flow.rows() == [(1, "a", "y", 1, 3), (1, "b", "y", 3, None)]


def test_scd2_tracked_columns_list(tmp_path: Path) -> None:
    s = spec(2, tracked_columns=("v",))
    flow = run(tmp_path, s, [ev(1, "a", 1, u="x"), ev(1, "a", 2, u="y")])
    assert flow.rows() == [(1, "a", "y", 1, None)]


def test_scd2_late_untracked_change_lands_in_the_closed_version(tmp_path: Path) -> None:
    s = spec(2, untracked_columns=("u",))
    flow = run(tmp_path, s, [ev(1, "a", 1, u="x"), ev(1, "b", 5, u="x")], [ev(1, "a", 3, u="late")])
    assert flow.rows() == [(1, "a", "late", 1, 5), (1, "b", "x", 5, None)]


def test_scd2_identical_upsert_opens_nothing(tmp_path: Path) -> None:
    flow = run(tmp_path, spec(2), [ev(1, "a", 1)], [ev(1, "a", 2)], [ev(1, "a", 3)])
    assert flow.rows() == [(1, "a", None, 1, None)]


def test_scd2_late_event_splits_an_interval(tmp_path: Path) -> None:
    flow = run(tmp_path, spec(2), [ev(1, "a", 1), ev(1, "c", 9)], [ev(1, "b", 4)])
    assert flow.rows() == [(1, "a", None, 1, 4), (1, "b", None, 4, 9), (1, "c", None, 9, None)]


def test_scd2_late_event_between_identical_upserts_is_exact(tmp_path: Path) -> None:
    flow = run(tmp_path, spec(2), [ev(1, "a", 1), ev(1, "a", 3)], [ev(1, "b", 2)])
    assert flow.rows() == [(1, "a", None, 1, 2), (1, "a", None, 3, None), (1, "b", None, 2, 3)]


def test_scd2_delete_closes_and_reinsert_opens(tmp_path: Path) -> None:
    flow = run(tmp_path, spec(2), [ev(1, "a", 1)], [ev(1, None, 2, "D")], [ev(1, "a", 3)])
    assert flow.rows() == [(1, "a", None, 1, 2), (1, "a", None, 3, None)]


def test_compound_keys_compare_column_by_column(tmp_path: Path) -> None:
    schema = pa.schema([("a", pa.string()), ("b", pa.string()), ("v", pa.int64()), ("seq", pa.int64())])
    s = CdcSpec(flow="f", target="t", keys=("a", "b"), sequence_by=("seq",), scd_type=1,
                except_columns=("seq",))
    flow = Flow(tmp_path, s)
    flow.apply(table([("x", "yz", 1, 1), ("xy", "z", 2, 1)], schema))
    flow.apply(table([("x", "yz", 3, 2)], schema))
    assert flow.rows() == [("x", "yz", 3), ("xy", "z", 2)]


def test_struct_sequence_orders_field_by_field(tmp_path: Path) -> None:
    schema = pa.schema([("k", pa.int64()), ("v", pa.string()), ("day", pa.int64()), ("n", pa.int64())])
    s = CdcSpec(flow="f", target="t", keys=("k",), sequence_by=("day", "n"), scd_type=2,
                except_columns=("day", "n"))
    flow = Flow(tmp_path, s)
    flow.apply(table([(1, "a", 1, 9), (1, "c", 2, 1)], schema))
    flow.apply(table([(1, "b", 1, 10)], schema))
    rows = sorted(flow.dicts(), key=lambda r: (r["__START_AT"]["day"], r["__START_AT"]["n"]))
    assert [(r["v"], r["__START_AT"], r["__END_AT"]) for r in rows] == [
        ("a", {"day": 1, "n": 9}, {"day": 1, "n": 10}),
        ("b", {"day": 1, "n": 10}, {"day": 2, "n": 1}),
        ("c", {"day": 2, "n": 1}, None),
    ]


def test_sequence_by_expression_is_spark_sql(tmp_path: Path) -> None:
    schema = pa.schema([("k", pa.int64()), ("v", pa.string()), ("ts", pa.string())])
    s = CdcSpec(flow="f", target="t", keys=("k",), sequence_by=("CAST(ts AS TIMESTAMP)",),
                scd_type=1, columns=("k", "v"))
    flow = Flow(tmp_path, s)
    flow.apply(table([(1, "a", "2024-01-02 00:00:00"), (1, "b", "2024-01-01 00:00:00")], schema))
    assert flow.rows() == [(1, "a")]


def test_column_list_and_unknown_column(tmp_path: Path) -> None:
    flow = run(tmp_path, spec(columns=("k", "v"), except_columns=()), [ev(1, "a", 1, u="x")])
    assert flow.rows() == [(1, "a")]
    with pytest.raises(FlowError, match="nope"):
        run(tmp_path / "x", spec(columns=("k", "nope")), [ev(1, "a", 1)])


def test_rerun_of_committed_batch_is_a_noop(tmp_path: Path) -> None:
    flow = Flow(tmp_path, spec(2))
    flow.apply(table([ev(1, "a", 1)], SCHEMA), version=0)
    flow.apply(table([ev(1, "b", 2)], SCHEMA), version=1)
    before = DeltaTable(flow.target).version()
    m = flow.apply(table([ev(1, "zzz", 3)], SCHEMA), version=1)
    assert m.plan.startswith("skip")
    assert DeltaTable(flow.target).version() == before
    assert flow.rows() == [(1, "a", None, 1, 2), (1, "b", None, 2, None)]


def test_metrics_count_upserts_and_deletes(tmp_path: Path) -> None:
    flow = Flow(tmp_path, spec(1))
    m = flow.apply(table([ev(1, "a", 1), ev(2, "b", 1), ev(3, "c", 1)], SCHEMA))
    assert (m.num_upserted_rows, m.num_deleted_rows, m.num_output_rows, m.target_rows) == (3, 0, 3, 3)
    m = flow.apply(table([ev(1, "x", 2), ev(2, None, 2, "D"), ev(3, "old", 0)], SCHEMA))
    # one row written (key 1), one key deleted; the target holds 2 rows
    assert (m.num_upserted_rows, m.num_deleted_rows, m.num_output_rows, m.target_rows) == (1, 1, 1, 2)
    m = flow.apply(table([ev(3, "old", 0)], SCHEMA))
    assert m.plan == "noop" and m.num_upserted_rows == 0


def test_record_batch_reader_input(tmp_path: Path) -> None:
    t = table([ev(1, "a", 1), ev(2, "b", 1)], SCHEMA)
    flow = Flow(tmp_path, spec())
    flow.apply(pa.RecordBatchReader.from_batches(t.schema, t.to_batches(max_chunksize=1)))
    assert flow.rows() == [(1, "a", None), (2, "b", None)]


def test_spec_names_bind_to_the_events_spelling_and_refuse_ambiguity() -> None:
    from soundlake.engines.cdc_columns import bind_names

    spec = CdcSpec(flow="f", target="t", keys=("ID",), sequence_by=("Seq",), scd_type=2,
                   except_columns=("OP",), tracked_columns=("Name",), untracked_columns=("nAmE",))
    bound = bind_names(spec, ["id", "name", "op", "seq"])
    assert (bound.keys, bound.except_columns, bound.tracked_columns, bound.untracked_columns) == (
        ("id",), ("op",), ("name",), ("name",))
    assert bind_names(spec, ["id", "other"]).except_columns == ("OP",)  # unknown: reported by cdc_columns
    with pytest.raises(FlowError, match=r"'ID', which is ambiguous.*\['id', 'Id'\]"):
        bind_names(spec, ["id", "Id", "name"])
