"""Materialized views skip a refresh only when their result cannot have changed."""

from __future__ import annotations

import pytest

from soundlake.pipeline.sql.determinism import is_nondeterministic
from tests.pipeline.conftest import Lakehouse, statuses


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT brand, grand_total, random_id, nowhere FROM t", False),
        ("SELECT `current_date` FROM t", False),
        ("SELECT unix_timestamp(ts) FROM t", False),
        ("SELECT rand() AS r FROM t", True),
        ("SELECT * FROM t WHERE d < current_date", True),
        ("SELECT current_timestamp() AS now FROM t", True),
        ("SELECT unix_timestamp() FROM t", True),
        ("SELECT uuid() FROM t", True),
        ("SELECT localtimestamp FROM t", True),
        ("SELECT now() FROM t", True),
        ("SELEC nonsense (", True),  # unparsable: recomputing is always correct
    ],
)
def test_nondeterminism_is_found_in_calls_not_substrings(sql: str, expected: bool) -> None:
    assert is_nondeterministic(sql) is expected


def test_a_column_named_brand_keeps_the_view_idle(lakehouse: Lakehouse) -> None:
    lakehouse.sql("""
    CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');
    CREATE OR REFRESH MATERIALIZED VIEW by_brand AS SELECT brand, sum(grand_total) AS grand_total FROM raw GROUP BY brand;
    CREATE OR REFRESH MATERIALIZED VIEW sampled AS SELECT brand, rand() AS r FROM raw;
    """)
    lakehouse.parquet("in", "a.parquet", [{"brand": "x", "grand_total": 3}])
    assert lakehouse.run().ok
    again = lakehouse.run()
    assert statuses(again)["by_brand"] == "IDLE"  # was: recomputed (the substring 'rand')
    assert statuses(again)["sampled"] == "COMPLETED"
