"""SparkEngine: the Engine protocol on Spark (relations, idempotent writes, empty batches)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from soundlake.engines.base import (
    ArrowRelation,
    CommitInfo,
    DeltaRelation,
    DeltaTarget,
    Engine,
    ViewRelation,
)

pytestmark = pytest.mark.spark


def test_protocol_relations_writes_and_reruns(spark: Any, tmp_path: Path) -> None:
    from soundlake.engines.spark.engine import SparkEngine

    engine = SparkEngine(session=spark)
    assert isinstance(engine, Engine) and engine.capabilities.sql_dialect == "spark"
    uri = str(tmp_path / "t")
    ts = pa.timestamp("us", tz="UTC")
    empty = pa.schema([("id", pa.int64()), ("at", ts)]).empty_table()
    first = engine.write_query("SELECT * FROM e", {"e": ArrowRelation(empty)}, DeltaTarget(uri),
                               commit=CommitInfo("a", 0), storage_options={}).target
    assert first is not None and first.committed and first.num_rows == 0
    batch = {"b": ArrowRelation(pa.table({"id": [1, 2], "at": pa.array([0, 1], ts)}))}
    done = engine.write_query("SELECT * FROM b", batch, DeltaTarget(uri), commit=CommitInfo("a", 1, {"run": "r"}),
                              storage_options={}).target
    again = engine.write_query("SELECT * FROM b", batch, DeltaTarget(uri), commit=CommitInfo("a", 1),
                               storage_options={}).target
    assert done is not None and again is not None
    assert done.committed and done.num_rows == 2 and not again.committed
    view = ViewRelation("SELECT id * 10 AS id FROM src", {"src": DeltaRelation(uri)})
    out = engine.execute(
        "SELECT v.id, a.label FROM v JOIN arrow a ON v.id = a.id * 10 ORDER BY v.id",
        {"v": view, "arrow": ArrowRelation(pa.table({"id": [1, 2], "label": ["x", "y"]}))},
    ).read_all()
    assert out.to_pylist() == [{"id": 10, "label": "x"}, {"id": 20, "label": "y"}]
    engine.close()  # a shared session is not stopped
    assert spark.range(1).count() == 1


def test_expectation_split_equals_duckdb(spark: Any, tmp_path: Path) -> None:
    """The split (counts, kept rows, quarantine rows and columns, fail) is the same on both engines."""
    from soundlake.engines.duckdb.engine import DuckDBEngine
    from soundlake.engines.spark.engine import SparkEngine
    from tests.engines.split_cases import check

    duck = DuckDBEngine()
    try:
        expected = check(duck, tmp_path / "duckdb")
    finally:
        duck.close()
    assert check(SparkEngine(session=spark), tmp_path / "spark") == expected


def test_flows_on_parallel_threads_do_not_see_each_others_views_or_settings(spark: Any) -> None:
    """With parallel_flows > 1 each thread works in its own session of the SparkContext:
    the same view name holds each flow's own rows, and a flow's SQL settings stay its own."""
    import threading
    from types import SimpleNamespace

    from soundlake.engines.spark.engine import SparkEngine

    engine = SparkEngine(SimpleNamespace(master="local[2]", conf={}, parallel_flows=2), session=spark)
    assert engine.capabilities.parallel_flows == 2
    barrier = threading.Barrier(2)
    got: dict[int, list[Any]] = {}

    def flow(n: int) -> None:
        zone = "Asia/Tokyo" if n == 1 else "America/Lima"
        with engine.flow_conf({"spark.sql.session.timeZone": zone}):
            relation = engine.frame(ArrowRelation(pa.table({"n": [n] * (n + 1)})))
            relation.createOrReplaceTempView("__sl_in_0")
            barrier.wait()  # both views exist under one name before either is read
            rows = engine.execute(
                "SELECT count(*) AS c, max(n) AS n, current_timezone() AS tz FROM __sl_in_0", {}
            ).read_all().to_pylist()
            barrier.wait()
            got[n] = rows

    threads = [threading.Thread(target=flow, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == {
        1: [{"c": 2, "n": 1, "tz": "Asia/Tokyo"}],
        2: [{"c": 3, "n": 2, "tz": "America/Lima"}],
    }
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"  # the shared session is untouched


def test_latest_history_is_none_only_where_there_is_no_delta_table(spark: Any, tmp_path: Path) -> None:
    """No path and a folder without a Delta log are absent; a table has its newest entry."""
    from soundlake.engines.spark.writes import latest_history

    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "a.txt").write_text("x")
    assert latest_history(spark, str(tmp_path / "missing")) is None
    assert latest_history(spark, str(tmp_path / "plain")) is None
    spark.range(3).write.format("delta").save(str(tmp_path / "t"))
    entry = latest_history(spark, str(tmp_path / "t"))
    assert entry is not None and entry["version"] == 0
