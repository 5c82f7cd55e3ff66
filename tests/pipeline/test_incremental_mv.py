"""Aggregate materialized views refreshed from partial aggregates equal a full recompute."""

from __future__ import annotations

import pytest

from soundlake.pipeline.flows.incremental_mv import analyze_aggregate
from tests.pipeline.conftest import Lakehouse

PIPELINE = """
CREATE OR REFRESH STREAMING TABLE plays
AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');

CREATE OR REFRESH MATERIALIZED VIEW by_country AS
SELECT upper(country) AS country, count(*) AS plays, sum(ms) / 1000.0 AS seconds,
       min(ms) AS shortest, max(ms) + 0 AS longest, count(user_id) AS with_user
FROM plays WHERE ms > 0 GROUP BY upper(country);

CREATE OR REFRESH MATERIALIZED VIEW listeners AS
SELECT country, count(DISTINCT user_id) AS n FROM plays GROUP BY country;
"""

CHECK = """
SELECT upper(country) AS country, count(*) AS plays, sum(ms) / 1000.0 AS seconds,
       min(ms) AS shortest, max(ms) + 0 AS longest, count(user_id) AS with_user
FROM plays WHERE ms > 0 GROUP BY upper(country) ORDER BY 1
"""


def _file(lh: Lakehouse, n: int) -> None:
    lh.parquet("in", f"{n:03d}.parquet", [
        {"country": "se", "ms": 1000 * n, "user_id": n},
        {"country": "us", "ms": 5 + n, "user_id": None},
        {"country": "xx" if n % 2 else "se", "ms": -1, "user_id": 1},
        {"country": "br" if n > 2 else "us", "ms": 7 * n, "user_id": n + 1},
    ])


def test_rewrite_of_eligible_and_ineligible_queries() -> None:
    assert analyze_aggregate("SELECT a, sum(b) AS s FROM t GROUP BY a") is not None
    assert analyze_aggregate("SELECT a, count(DISTINCT b) AS s FROM t GROUP BY a") is None
    assert analyze_aggregate("SELECT a, avg(b) AS s FROM t GROUP BY a") is None
    assert analyze_aggregate("SELECT a, sum(b) AS s FROM t JOIN u USING (a) GROUP BY a") is None
    assert analyze_aggregate("SELECT a, sum(b) AS s FROM t GROUP BY a HAVING sum(b) > 1") is None
    assert analyze_aggregate("SELECT sum(b) AS s FROM t") is None


def test_incremental_refresh_equals_full_recompute(lakehouse: Lakehouse) -> None:
    lakehouse.sql(PIPELINE)
    for n in range(1, 5):
        _file(lakehouse, n)
        result = lakehouse.run()
        assert result.ok, result.errors
        expected = lakehouse.rows(CHECK)
        assert lakehouse.rows("SELECT * FROM by_country ORDER BY country") == expected
        mode = lakehouse.progress(result.run_id, "main.silver.by_country")["refresh"]
        assert mode == ("full" if n == 1 else "incremental")
        assert lakehouse.rows("SELECT sum(n) AS n FROM listeners") == lakehouse.rows(
            "SELECT count(*) AS n FROM (SELECT DISTINCT country, user_id FROM plays WHERE user_id IS NOT NULL)")
    assert lakehouse.run().flows["main.silver.by_country"].status == "IDLE"


def test_a_changed_source_falls_back_to_full_recompute(lakehouse: Lakehouse) -> None:
    lakehouse.sql(PIPELINE)
    _file(lakehouse, 1)
    lakehouse.run()
    from deltalake import DeltaTable

    DeltaTable(lakehouse.project.lake.uri("main", "silver", "plays")).delete("country = 'se'")
    result = lakehouse.run(refresh=["by_country"])
    assert result.ok, result.errors
    assert lakehouse.progress(result.run_id, "main.silver.by_country")["refresh"] == "full"
    assert lakehouse.rows("SELECT * FROM by_country ORDER BY country") == lakehouse.rows(CHECK)


@pytest.mark.parametrize("full", [True, False])
def test_full_refresh_rebuilds_partials(lakehouse: Lakehouse, full: bool) -> None:
    lakehouse.sql(PIPELINE)
    _file(lakehouse, 1)
    lakehouse.run()
    _file(lakehouse, 2)
    result = lakehouse.run(full_refresh_all=full)
    assert result.ok, result.errors
    assert lakehouse.rows("SELECT * FROM by_country ORDER BY country") == lakehouse.rows(CHECK)
