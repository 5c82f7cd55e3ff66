"""PostgreSQL reads: the lower bound is evaluated once per query, and reads exactly."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from soundlake.source.introspect import describe_table
from soundlake.source.reader import ReadRequest, postgres_query, read_batches

T0 = dt.datetime(2025, 10, 7, 19, 49, 55)


def make_table(url: str, ddl: str, rows: list[dict[str, object]]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(ddl)
        conn.execute(sa.text("INSERT INTO events VALUES (:id, :c)"), rows)
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("sql_type", "values", "lower", "expected"),
    [
        ("TIMESTAMP", [T0 - dt.timedelta(seconds=1), T0, T0 + dt.timedelta(hours=1)], T0, 2),
        ("TIMESTAMPTZ", ["2025-10-07 21:49:54+02", "2025-10-07 19:49:55Z"], T0, 1),
        ("DATE", [dt.date(2025, 10, 6), dt.date(2025, 10, 7)], dt.date(2025, 10, 7), 1),
        ("BIGINT", [2**40 - 1, 2**40, 2**41], 2**40, 2),
    ],
)
def test_the_bound_is_an_init_plan_and_reads_exactly(
    pg_url: str, sql_type: str, values: list[object], lower: object, expected: int
) -> None:
    make_table(
        pg_url,
        f"CREATE TABLE events (id INT, c {sql_type})",
        [{"id": i, "c": v} for i, v in enumerate(values)],
    )
    request = ReadRequest(describe_table(pg_url, None, "events"), "c", lower, batch_rows=10)  # type: ignore[arg-type]
    assert sum(b.num_rows for b in read_batches(request)) == expected
    sql, bound = postgres_query(request)
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT set_config('soundlake.cdc_lower', :v, false)"), {"v": bound})
        plan = "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}"))
    engine.dispose()
    filters = [line for line in plan.splitlines() if "Filter:" in line]
    assert "InitPlan" in plan and filters
    assert not any("current_setting" in line for line in filters)  # not parsed per row
