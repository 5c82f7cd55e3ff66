"""The DuckDB engine executes engine SQL over Delta, Arrow and view relations."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from soundlake.core.errors import EngineError
from soundlake.engines.base import (
    ArrowRelation,
    CommitInfo,
    DeltaRelation,
    DeltaTarget,
    Engine,
    ViewRelation,
)
from soundlake.lake import delta


def test_execute_over_relations_and_write(tmp_path: Path) -> None:
    from soundlake.engines.duckdb.engine import DuckDBEngine

    engine = DuckDBEngine()
    assert isinstance(engine, Engine)
    uri = str(tmp_path / "t")
    delta.write_table(uri, pa.table({"k": [1, 2], "v": ["a", "b"]}), mode="append")
    arrow = pa.table({"k": [2, 3]}).to_reader()
    relations = {
        "d": DeltaRelation(uri),
        "a": ArrowRelation(arrow),
        "view": ViewRelation("SELECT k FROM inner_rel WHERE k > 2", {"inner_rel": ArrowRelation(pa.table({"k": [1, 3]}))}),
    }
    out = engine.execute(
        "SELECT d.k, d.v FROM d JOIN a USING (k) UNION ALL SELECT k, 'view' FROM view", relations
    ).read_all()
    assert sorted(out.to_pylist(), key=lambda r: r["k"]) == [{"k": 2, "v": "b"}, {"k": 3, "v": "view"}]
    target = str(tmp_path / "out")
    written = engine.write_query("SELECT k AS x FROM view", {"view": relations["view"]}, DeltaTarget(target),
                                 commit=CommitInfo("p:f", 1, {"flow": "f"}), storage_options={})
    assert written.target is not None and written.target.committed and written.target.num_rows == 1
    again = engine.write_query("SELECT 1 AS x", {}, DeltaTarget(target), commit=CommitInfo("p:f", 1),
                               storage_options={})
    assert again.target is not None and not again.target.committed
    assert delta.open_table(target).to_pyarrow_table().to_pylist() == [{"x": 3}]
    with pytest.raises(EngineError, match="DuckDB failed"):
        engine.execute("SELECT nope FROM d", {"d": DeltaRelation(uri)})
    engine.close()


def test_a_one_pass_arrow_relation_read_twice_in_one_query() -> None:
    from soundlake.engines.duckdb.engine import DuckDBEngine

    engine = DuckDBEngine()
    reader = pa.table({"k": [1, 2]}).to_reader()
    out = engine.execute(
        "SELECT a.k FROM files_0 AS a JOIN files_0 AS b ON a.k = b.k ORDER BY 1", {"files_0": ArrowRelation(reader)}
    ).read_all()
    assert out.column("k").to_pylist() == [1, 2]
    engine.close()


def test_write_query_splits_expectations_inside_the_engine(tmp_path: Path) -> None:
    from soundlake.engines.duckdb.engine import DuckDBEngine
    from tests.engines.split_cases import check

    engine = DuckDBEngine()
    try:
        check(engine, tmp_path)
    finally:
        engine.close()
