"""The pipeline CLI: run, dry-run, query formats, events, history, status, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.cli import soundlake
from tests.pipeline.conftest import Lakehouse


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return soundlake(*args, project=root, columns=200)


@pytest.mark.slow
def test_run_query_events_history_status(lakehouse: Lakehouse) -> None:
    lakehouse.sql("""
    CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');
    CREATE OR REFRESH MATERIALIZED VIEW total AS SELECT count(*) AS n FROM raw;
    """)
    lakehouse.parquet("in", "a.parquet", [{"id": 1, "name": "x"}, {"id": 2, "name": "y"}])
    dry = _cli(lakehouse.root, "dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "main.silver.raw" in dry.stdout and "run order" in dry.stdout
    run = _cli(lakehouse.root, "run")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "COMPLETED" in run.stdout
    out = _cli(lakehouse.root, "query", "SELECT id, name FROM raw ORDER BY id", "--format", "csv")
    assert out.stdout.splitlines() == ["id,name", "1,x", "2,y"]
    out = _cli(lakehouse.root, "query", "SELECT n FROM main.silver.total", "--format", "json")
    assert json.loads(out.stdout) == {"n": 2}
    assert "2 rows" in _cli(lakehouse.root, "query", "SELECT * FROM raw").stdout
    events = _cli(lakehouse.root, "events", "--format", "json", "--last", "200")
    types = {json.loads(line)["event_type"] for line in events.stdout.splitlines()}
    assert {"create_update", "flow_definition", "flow_progress", "update_progress"} <= types
    history = _cli(lakehouse.root, "history", "raw")
    assert history.returncode == 0 and "WRITE" in history.stdout
    write = next(line for line in history.stdout.splitlines() if "WRITE" in line)
    assert "rows added" in history.stdout and re.search(r"│\s+2\s+│\s+-\s+│", write), history.stdout
    status = _cli(lakehouse.root, "status")
    assert "main.silver.total" in status.stdout and "COMPLETED" in status.stdout
    missing = _cli(lakehouse.root, "query", "SELECT * FROM nope")
    assert missing.returncode != 0 and "does not exist" in missing.stderr


def test_status_after_an_idle_update_and_short_run_ids(lakehouse: Lakehouse) -> None:
    """An idle update keeps the last data (rows written, table size); 12-char ids select runs."""
    empty = _cli(lakehouse.root, "status")
    assert empty.returncode == 0 and "no runs yet" in empty.stdout
    assert "no runs yet" in _cli(lakehouse.root, "events").stdout
    lakehouse.sql(
        "CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');"
    )
    lakehouse.parquet("in", "a.parquet", [{"id": 1}, {"id": 2}, {"id": 3}])
    assert _cli(lakehouse.root, "run").returncode == 0
    first = [json.loads(line) for line in _cli(lakehouse.root, "status", "--format", "json").stdout.splitlines()]
    assert _cli(lakehouse.root, "run").returncode == 0  # nothing new: IDLE
    rows = [json.loads(line) for line in _cli(lakehouse.root, "status", "--format", "json").stdout.splitlines()]
    (raw,) = [r for r in rows if r["dataset"] == "main.silver.raw"]
    assert raw["status"] == "IDLE" and raw["run_id"] != first[0]["run_id"]
    assert raw["data_run_id"] == first[0]["run_id"] and raw["data_output_rows"] == 3 and raw["table_rows"] == 3
    assert raw["data_counts"]["num_input_rows"] == 3 and raw["data_counts"]["num_output_rows"] == 3
    assert raw["data_summary"] == "3 rows in, 3 written"
    table = _cli(lakehouse.root, "status").stdout
    line = next(x for x in table.splitlines() if "main.silver.raw" in x)
    assert "IDLE" in line and "3 rows in, 3 written" in line and line.rstrip(" │").endswith(" 3"), table
    short = raw["data_run_id"][:12]
    events = _cli(lakehouse.root, "events", "--run", short, "--format", "json")
    assert events.returncode == 0, events.stderr
    ids = {json.loads(line)["origin"]["update_id"] for line in events.stdout.splitlines()}
    assert ids == {raw["data_run_id"]}
    unknown = _cli(lakehouse.root, "events", "--run", "nosuchrun")
    assert unknown.returncode == 2 and "no update 'nosuchrun'" in unknown.stderr


def test_failed_run_exits_non_zero(lakehouse: Lakehouse) -> None:
    lakehouse.sql("""
    CREATE OR REFRESH STREAMING TABLE raw (CONSTRAINT c EXPECT (id > 5) ON VIOLATION FAIL UPDATE)
    AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');
    """)
    lakehouse.parquet("in", "a.parquet", [{"id": 1}])
    run = _cli(lakehouse.root, "run")
    assert run.returncode == 1
    assert "FAILED" in run.stdout and "expectation 'c'" in run.stdout
    assert "update" in run.stderr and "failed" in run.stderr


def test_output_to_a_file_never_cuts_names(lakehouse: Lakehouse) -> None:
    """Redirected output (a CI log) is not squeezed into 80 columns: names stay whole."""
    name = "a_table_name_long_enough_to_be_cut_in_an_eighty_column_terminal_table"
    lakehouse.sql(
        f"CREATE OR REFRESH STREAMING TABLE {name} AS "
        "SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');"
    )
    lakehouse.parquet("in", "a.parquet", [{"id": 1}])
    for args in (["run"], ["status"]):
        out = soundlake(*args, project=lakehouse.root, columns=None)  # no COLUMNS, as in a CI log
        assert out.returncode == 0, out.stderr
        assert f"main.silver.{name}" in out.stdout and "\u2026" not in out.stdout, out.stdout


def test_counts_say_what_they_are(lakehouse: Lakehouse) -> None:
    """Rows in, written, dropped: in the run summary, the progress lines and the event messages."""
    lakehouse.sql("""
    CREATE OR REFRESH STREAMING TABLE raw (
      CONSTRAINT positive EXPECT (id > 0) ON VIOLATION DROP ROW,
      CONSTRAINT has_id EXPECT (id IS NOT NULL)
    ) AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');
    """)
    lakehouse.parquet("in", "a.parquet", [{"id": 1}, {"id": 2}, {"id": -3}])
    run = _cli(lakehouse.root, "run")
    assert run.returncode == 0, run.stderr
    header = next(line for line in run.stdout.splitlines() if "flow" in line and "status" in line)
    assert all(word in header for word in ("rows in", "written", "upserted", "deleted", "dropped", "quarantined"))
    said = "3 rows in, 2 written, 1 dropped, failed expectations: positive (1), 1 other expectation passed"
    assert said in run.stdout
    events = _cli(lakehouse.root, "events", "--format", "json")
    messages = [json.loads(line)["message"] for line in events.stdout.splitlines()]
    assert f"Flow 'main.silver.raw' has COMPLETED: {said}" in messages
    table = _cli(lakehouse.root, "events")
    assert said in table.stdout
    # the report's timeline says the same counts, and the graph the table's size now
    report = _cli(lakehouse.root, "report", "-o", str(lakehouse.root / "r.html"))
    assert report.returncode == 0, report.stderr
    html = (lakehouse.root / "r.html").read_text(encoding="utf-8")
    assert "rows in: 3\nwritten: 2\ndropped: 1" in html
    assert "rows in the table now: 2" in html and "written in latest run: 2" in html
    # after an idle update the graph still says what the last update with data wrote
    assert _cli(lakehouse.root, "run").returncode == 0
    assert _cli(lakehouse.root, "report", "-o", str(lakehouse.root / "r.html")).returncode == 0
    html = (lakehouse.root / "r.html").read_text(encoding="utf-8")
    assert "written in latest run: 0\nwritten in run 1, its last with data: 2" in html
