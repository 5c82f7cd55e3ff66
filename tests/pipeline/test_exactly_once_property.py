"""Property: however files land across updates, the tables equal one run over all files."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pipeline.conftest import Lakehouse

PIPELINE = """
CREATE OR REFRESH STREAMING TABLE raw
AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');

CREATE OR REFRESH STREAMING TABLE clean (CONSTRAINT pos EXPECT (v > 0) ON VIOLATION DROP ROW)
AS SELECT k, v FROM STREAM(raw);

CREATE OR REFRESH MATERIALIZED VIEW agg AS SELECT k, count(*) AS n, sum(v) AS s, max(v) AS m FROM clean GROUP BY k;
"""

files_strategy = st.lists(
    st.lists(st.tuples(st.sampled_from("abc"), st.integers(-3, 9)), min_size=1, max_size=5),
    min_size=1, max_size=5,
)


@pytest.mark.property
@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=files_strategy, runs=st.lists(st.integers(0, 2), min_size=5, max_size=5))
def test_any_arrival_schedule_gives_the_same_tables(files: list[list[tuple[str, int]]], runs: list[int]) -> None:
    root = Path(tempfile.mkdtemp(prefix="sl-prop-"))
    try:
        lh = Lakehouse(root / "p")
        lh.sql(PIPELINE)
        for run_no in range(3):
            for i, rows in enumerate(files):
                if runs[i] == run_no:
                    lh.parquet("in", f"{i:03d}.parquet", [{"k": k, "v": v} for k, v in rows])
            assert lh.run().ok
        everything = [r for rows in files for r in rows]
        kept = sorted((k, v) for k, v in everything if v > 0)
        got = lh.rows("SELECT k, v FROM clean ORDER BY k, v")
        assert [(r["k"], r["v"]) for r in got] == kept
        expected = {}
        for k, v in kept:
            n, s, m = expected.get(k, (0, 0, v))
            expected[k] = (n + 1, s + v, max(m, v))
        agg = {r["k"]: (r["n"], int(r["s"]), r["m"]) for r in lh.rows("SELECT * FROM agg")}
        assert agg == expected
    finally:
        shutil.rmtree(root, ignore_errors=True)
