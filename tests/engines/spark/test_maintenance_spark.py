"""Issue #17 on Spark: maintenance (delta-rs OPTIMIZE + VACUUM) of tables Spark wrote.

An OPTIMIZE commit is ``dataChange = false``: Spark's Delta streaming source must skip it,
so the downstream streaming table neither re-reads the compacted rows nor misses new ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from soundlake.project.maintain_ops import maintain
from tests.pipeline.conftest import Lakehouse
from tests.pipeline.test_maintenance import CHAIN, files, ids, land

pytestmark = pytest.mark.spark


def test_spark_streams_read_on_after_maintenance(spark: Any, tmp_path: Path) -> None:
    lakehouse = Lakehouse(tmp_path / "proj")
    lakehouse.config(maintenance={"auto": False})
    lakehouse.sql(CHAIN)
    for n in range(2):
        land(lakehouse, n)
        assert lakehouse.run(engine="spark").ok
    done = {d.table: d for d in maintain(lakehouse.project, ["a", "b"])}
    assert not any(d.skipped for d in done.values()), done
    assert done["main.silver.a"].optimized == "compact" and files(lakehouse, "a") == 1
    land(lakehouse, 2)
    assert lakehouse.run(engine="spark").ok
    assert ids(lakehouse, "b") == [0, 1, 2]
    assert ids(lakehouse, "a") == [0, 1, 2]
