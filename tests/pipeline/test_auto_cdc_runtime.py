"""AUTO CDC flows wired through the runtime: the SEMANTICS.md worked example from SQL."""

from __future__ import annotations

import pytest

from tests.pipeline.conftest import Lakehouse

EVENTS = [
    (124, "Raul", "Oaxaca", "INSERT", 1),
    (123, "Isabel", "Monterrey", "INSERT", 1),
    (125, "Mercedes", "Tijuana", "INSERT", 2),
    (126, "Lily", "Cancun", "INSERT", 2),
    (123, None, None, "DELETE", 6),
    (125, "Mercedes", "Guadalajara", "UPDATE", 6),
    (125, "Mercedes", "Mexicali", "UPDATE", 5),
    (123, "Isabel", "Chihuahua", "UPDATE", 5),
]
COLUMNS = ("userId", "name", "city", "operation", "sequenceNum")

PIPELINE = """
CREATE OR REFRESH STREAMING TABLE users_cdc
AS SELECT * FROM STREAM read_files('${data}/cdc', format => 'parquet');

CREATE OR REFRESH STREAMING TABLE users_scd1;
CREATE FLOW scd1 AS AUTO CDC INTO users_scd1 FROM STREAM(users_cdc) KEYS (userId)
  APPLY AS DELETE WHEN operation = 'DELETE' SEQUENCE BY sequenceNum
  COLUMNS * EXCEPT (operation, sequenceNum, _rescued_data) STORED AS SCD TYPE 1;

CREATE OR REFRESH STREAMING TABLE users_scd2;
CREATE FLOW scd2 AS AUTO CDC INTO users_scd2 FROM STREAM(users_cdc) KEYS (userId)
  APPLY AS DELETE WHEN operation = 'DELETE' SEQUENCE BY sequenceNum
  COLUMNS * EXCEPT (operation, sequenceNum, _rescued_data) STORED AS SCD TYPE 2;
"""


@pytest.mark.parametrize("split", [8, 3], ids=["one-batch", "two-batches"])
def test_worked_example_scd1_and_scd2(lakehouse: Lakehouse, split: int) -> None:
    lakehouse.sql(PIPELINE)
    rows = [dict(zip(COLUMNS, e)) for e in EVENTS]
    lakehouse.parquet("cdc", "1.parquet", rows[:split])
    assert lakehouse.run().ok
    if split < len(rows):
        lakehouse.parquet("cdc", "2.parquet", rows[split:])
        result = lakehouse.run()
        assert result.ok, result.errors
    assert lakehouse.rows("SELECT userId, name, city FROM users_scd1 ORDER BY userId") == [
        {"userId": 124, "name": "Raul", "city": "Oaxaca"},
        {"userId": 125, "name": "Mercedes", "city": "Guadalajara"},
        {"userId": 126, "name": "Lily", "city": "Cancun"},
    ]
    got = lakehouse.rows(
        "SELECT userId, city, __START_AT AS s, __END_AT AS e FROM users_scd2 ORDER BY userId, s"
    )
    assert [(r["userId"], r["city"], r["s"], r["e"]) for r in got] == [
        (123, "Monterrey", 1, 5), (123, "Chihuahua", 5, 6), (124, "Oaxaca", 1, None),
        (125, "Tijuana", 2, 5), (125, "Mexicali", 5, 6), (125, "Guadalajara", 6, None),
        (126, "Cancun", 2, None),
    ]
    # a re-run with no new events is a no-op
    assert {f.status for f in lakehouse.run().flows.values()} == {"IDLE"}


def test_expectations_on_the_cdc_target_filter_events_and_quarantine(lakehouse: Lakehouse) -> None:
    lakehouse.sql(PIPELINE.replace(
        "CREATE OR REFRESH STREAMING TABLE users_scd1;",
        "CREATE OR REFRESH STREAMING TABLE users_scd1 ("
        "CONSTRAINT known_city EXPECT (city IS NULL OR city <> 'Tijuana') ON VIOLATION QUARANTINE);",
    ))
    rows = [dict(zip(COLUMNS, e)) for e in EVENTS]
    lakehouse.parquet("cdc", "1.parquet", rows)
    result = lakehouse.run()
    assert result.ok, result.errors
    assert lakehouse.rows("SELECT userId, city FROM users_scd1_quarantine") == [{"userId": 125, "city": "Tijuana"}]
    assert lakehouse.rows("SELECT city FROM users_scd1 WHERE userId = 125") == [{"city": "Guadalajara"}]


def test_column_names_in_the_spec_resolve_case_insensitively(lakehouse: Lakehouse) -> None:
    """``KEYS (USERID)`` names the events' ``userId`` (Spark resolves names case-insensitively):
    the targets equal those of the events' own spelling, columns spelled as in the events."""
    mixed = PIPELINE.replace("users_scd", "mixed_scd").replace("FLOW scd", "FLOW mixed_scd").replace(
        "KEYS (userId)", "KEYS (USERID)").replace("SEQUENCE BY sequenceNum", "SEQUENCE BY SequenceNum").replace(
        "EXCEPT (operation, sequenceNum, _rescued_data)", "EXCEPT (Operation, SEQUENCENUM, _Rescued_Data)")
    mixed = mixed.split("CREATE OR REFRESH STREAMING TABLE mixed_scd1;")[1]
    lakehouse.sql(PIPELINE + "\nCREATE OR REFRESH STREAMING TABLE mixed_scd1;" + mixed)
    rows = [dict(zip(COLUMNS, e)) for e in EVENTS]
    lakehouse.parquet("cdc", "1.parquet", rows[:3])
    assert lakehouse.run().ok
    lakehouse.parquet("cdc", "2.parquet", rows[3:])
    result = lakehouse.run()
    assert result.ok, result.errors
    for scd in ("scd1", "scd2"):
        ours = lakehouse.rows(f"SELECT * FROM mixed_{scd} ORDER BY ALL")
        theirs = lakehouse.rows(f"SELECT * FROM users_{scd} ORDER BY ALL")
        assert ours == theirs and len(ours) >= 3, scd
        assert list(ours[0]) == list(theirs[0]), scd  # userId, name, city (+ __START_AT, __END_AT)
