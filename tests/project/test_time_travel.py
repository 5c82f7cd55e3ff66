"""Time travel in ``soundlake query``: ``VERSION AS OF``, ``TIMESTAMP AS OF`` and ``t@v``.

A materialized view is refreshed twice over changed input, so its Delta log holds two
versions with different rows; every form must read the snapshot Delta would read, and
every out-of-range request must fail naming the table and what is available.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from soundlake.core.errors import SoundlakeError
from soundlake.lake import delta
from tests.cli import soundlake
from tests.pipeline.conftest import Lakehouse


@pytest.fixture()
def lake(tmp_path: Path) -> Lakehouse:
    lake = Lakehouse(tmp_path / "p")
    lake.sql("CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n FROM read_files('${data}/in', format => 'parquet');")
    lake.parquet("in", "a.parquet", [{"id": 1}, {"id": 2}])
    assert lake.run().ok
    lake.parquet("in", "b.parquet", [{"id": 3}])
    assert lake.run().ok
    return lake


def _commits(lake: Lakehouse) -> dict[int, datetime]:
    uri = str(lake.root / "lake" / "main" / "silver" / "totals")
    return {int(c["version"]): datetime.fromtimestamp(c["timestamp"] / 1000, timezone.utc) for c in delta.history(uri)}


def test_every_time_travel_form_reads_that_snapshot(lake: Lakehouse) -> None:
    commits = _commits(lake)
    first, last = min(commits), max(commits)
    assert lake.rows("SELECT n FROM totals") == [{"n": 3}]
    assert lake.rows(f"SELECT n FROM totals VERSION AS OF {first}") == [{"n": 2}]
    assert lake.rows(f"SELECT n FROM main.silver.totals@v{first}") == [{"n": 2}]
    at_first = commits[first].strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    assert lake.rows(f"SELECT n FROM totals TIMESTAMP AS OF '{at_first}'") == [{"n": 2}]
    compact = commits[last].strftime("%Y%m%d%H%M%S%f")[:-3]
    assert lake.rows(f"SELECT n FROM totals@{compact}") == [{"n": 3}]
    # two snapshots of one table in one query
    assert lake.rows(f"SELECT new.n - old.n AS added FROM totals AS new, totals@v{first} AS old") == [{"added": 1}]


def test_out_of_range_requests_name_the_table_and_what_exists(lake: Lakehouse) -> None:
    commits = _commits(lake)
    first, last = min(commits), max(commits)
    with pytest.raises(SoundlakeError, match=rf"cannot time travel table main\.silver\.totals to version 9: "
                       rf"available versions are {first} to {last}"):
        lake.rows("SELECT * FROM totals VERSION AS OF 9")
    later = (commits[last] + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    with pytest.raises(SoundlakeError, match=r"it is after the latest version"):
        lake.rows(f"SELECT * FROM totals TIMESTAMP AS OF '{later}'")
    with pytest.raises(SoundlakeError, match=r"it is before the earliest version"):
        lake.rows("SELECT * FROM totals TIMESTAMP AS OF '2000-01-01'")


def test_the_cli_reads_the_short_form(lake: Lakehouse) -> None:
    out = soundlake("query", "SELECT n FROM totals@v0", "--format", "json", project=lake.root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '{"n": 2}'
    out = soundlake("query", "SELECT n FROM totals@v7", project=lake.root)
    assert out.returncode != 0 and "cannot time travel table main.silver.totals to version 7" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_pipeline_flow_cannot_time_travel(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.sql("CREATE MATERIALIZED VIEW old AS SELECT * FROM ext VERSION AS OF 1;")
    with pytest.raises(SoundlakeError, match=r"pipelines/p\.sql:1 \(statement 1\): flow 'main\.silver\.old' reads "
                       r"main\.silver\.ext VERSION AS OF 1: time travel is not supported in pipeline flows"):
        lake.run()
