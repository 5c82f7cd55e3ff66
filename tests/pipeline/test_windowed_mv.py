"""Materialized views with a refresh window recompute only their recent partitions."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.pipeline.conftest import Lakehouse

DAY = dt.date(2026, 3, 1)

PIPELINE = """
CREATE OR REFRESH STREAMING TABLE plays
AS SELECT * FROM STREAM read_files('${data}/plays', format => 'parquet');

CREATE OR REFRESH STREAMING TABLE users
AS SELECT * FROM STREAM read_files('${data}/users', format => 'parquet');

CREATE OR REFRESH MATERIALIZED VIEW daily
TBLPROPERTIES ('soundlake.refresh.partitionColumn' = 'day', 'soundlake.refresh.lookback' = '%(lookback)s')
AS SELECT p.day, coalesce(u.country, 'Unknown') AS country, count(*) AS plays,
          count(DISTINCT p.user_id) AS listeners
FROM plays AS p LEFT JOIN users AS u ON p.user_id = u.user_id
GROUP BY p.day, coalesce(u.country, 'Unknown');

CREATE OR REFRESH MATERIALIZED VIEW top_user_daily
TBLPROPERTIES ('soundlake.refresh.partitionColumn' = 'day', 'soundlake.refresh.lookback' = '%(lookback)s')
AS WITH per_user AS (
  SELECT day, user_id, count(*) AS plays FROM plays GROUP BY day, user_id
), ranked AS (
  SELECT *, row_number() OVER (PARTITION BY day ORDER BY plays DESC, user_id) AS rank FROM per_user
)
SELECT day, user_id, plays FROM ranked WHERE rank = 1;
"""

DAILY = """
SELECT p.day, coalesce(u.country, 'Unknown') AS country, count(*) AS plays,
       count(DISTINCT p.user_id) AS listeners
FROM plays AS p LEFT JOIN users AS u ON p.user_id = u.user_id
GROUP BY p.day, coalesce(u.country, 'Unknown') ORDER BY ALL
"""


def _plays(lh: Lakehouse, name: str, rows: list[tuple[int, int]]) -> None:
    """rows: (day offset from DAY, user_id); None offsets give a NULL day."""
    lh.parquet("plays", name, [
        {"day": None if d is None else DAY + dt.timedelta(days=d), "user_id": u} for d, u in rows
    ])


def _setup(lh: Lakehouse, lookback: str = "3 days") -> None:
    lh.sql(PIPELINE % {"lookback": lookback})
    lh.parquet("users", "u1.parquet", [{"user_id": u, "country": c} for u, c in [(1, "SE"), (2, "US"), (3, "BR")]])
    _plays(lh, "p1.parquet", [(d, u) for d in range(10) for u in (1, 2, 3) if (d + u) % 4])


def _mode(lh: Lakehouse, run_id: str, view: str) -> str:
    return lh.progress(run_id, f"main.silver.{view}").get("refresh", "")


def test_window_refresh_equals_full_recompute_for_changes_inside_the_window(lakehouse: Lakehouse) -> None:
    _setup(lakehouse)
    first = lakehouse.run()
    assert first.ok, first.errors
    assert _mode(lakehouse, first.run_id, "daily") == "full"
    assert lakehouse.rows("SELECT * FROM daily ORDER BY ALL") == lakehouse.rows(DAILY)

    # new days, late plays inside the window (day 7 >= 9 - 3), a new user, a NULL day
    _plays(lakehouse, "p2.parquet", [(10, 1), (11, 4), (7, 2), (7, 2), (None, 3)])
    lakehouse.parquet("users", "u2.parquet", [{"user_id": 4, "country": "DE"}])
    second = lakehouse.run()
    assert second.ok, second.errors
    progress = lakehouse.progress(second.run_id, "main.silver.daily")
    assert progress["refresh"] == "window"
    assert progress["refresh_window"] == {"partition_column": "day", "lower_bound": "DATE '2026-03-07'"}
    assert lakehouse.rows("SELECT * FROM daily ORDER BY ALL") == lakehouse.rows(DAILY)
    assert lakehouse.rows("SELECT count(*) AS n FROM daily WHERE day IS NULL") == [{"n": 1}]
    top = lakehouse.rows("SELECT * FROM top_user_daily ORDER BY day NULLS FIRST")
    assert top == lakehouse.rows("""
        WITH per_user AS (SELECT day, user_id, count(*) AS plays FROM plays GROUP BY day, user_id),
        ranked AS (SELECT *, row_number() OVER (PARTITION BY day ORDER BY plays DESC, user_id) AS rank FROM per_user)
        SELECT day, user_id, plays FROM ranked WHERE rank = 1 ORDER BY day NULLS FIRST""")
    assert [r["user_id"] for r in top if r["day"] == DAY + dt.timedelta(days=7)] == [2]
    assert lakehouse.run().flows["main.silver.daily"].status == "IDLE"


def test_changes_older_than_the_window_wait_for_a_full_refresh(lakehouse: Lakehouse) -> None:
    _setup(lakehouse)
    assert lakehouse.run().ok
    before = lakehouse.rows("SELECT * FROM daily WHERE day < DATE '2026-03-07' ORDER BY ALL")
    _plays(lakehouse, "p2.parquet", [(0, 1), (0, 1), (9, 3)])  # day 0 is outside the window
    result = lakehouse.run()
    assert _mode(lakehouse, result.run_id, "daily") == "window"
    assert lakehouse.rows("SELECT * FROM daily WHERE day < DATE '2026-03-07' ORDER BY ALL") == before
    assert lakehouse.rows("SELECT * FROM daily ORDER BY ALL") != lakehouse.rows(DAILY)
    full = lakehouse.run(full_refresh=["daily"])
    assert _mode(lakehouse, full.run_id, "daily") == "full"
    assert lakehouse.rows("SELECT * FROM daily ORDER BY ALL") == lakehouse.rows(DAILY)


def test_a_changed_definition_recomputes_fully(lakehouse: Lakehouse) -> None:
    _setup(lakehouse)
    assert lakehouse.run().ok
    _setup(lakehouse, lookback="5 days")  # same data, other window: the definition changed
    _plays(lakehouse, "p2.parquet", [(0, 2)])
    result = lakehouse.run()
    assert _mode(lakehouse, result.run_id, "daily") == "full"
    assert lakehouse.rows("SELECT * FROM daily ORDER BY ALL") == lakehouse.rows(DAILY)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ("'soundlake.refresh.partitionColumn' = 'day'", "set both"),
        ("'soundlake.refresh.partitionColumn' = 'day', 'soundlake.refresh.lookback' = 'soon'", "'soon'"),
    ],
)
def test_a_bad_window_names_the_view(lakehouse: Lakehouse, props: str, message: str) -> None:
    lakehouse.sql(f"""
        CREATE OR REFRESH MATERIALIZED VIEW v TBLPROPERTIES ({props})
        AS SELECT 1 AS day;
    """)
    result = lakehouse.run()
    assert not result.ok
    text = result.errors["main.silver.v"]
    assert "materialized view main.silver.v" in text and message in text


def test_a_window_on_a_text_column_is_a_clear_error(lakehouse: Lakehouse) -> None:
    _setup(lakehouse)
    lakehouse.sql("""
        CREATE OR REFRESH MATERIALIZED VIEW v
        TBLPROPERTIES ('soundlake.refresh.partitionColumn' = 'k', 'soundlake.refresh.lookback' = '2 days')
        AS SELECT CAST(day AS STRING) AS k, count(*) AS n FROM plays GROUP BY 1;
    """, name="v.sql")
    assert lakehouse.run().ok
    _plays(lakehouse, "p2.parquet", [(3, 1)])
    result = lakehouse.run()
    assert not result.ok
    assert "main.silver.v: refresh window column k holds str values" in result.errors["main.silver.v"]
