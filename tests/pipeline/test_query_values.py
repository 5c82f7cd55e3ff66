"""``soundlake query`` prints every value as Spark does and never fails with a traceback."""

from __future__ import annotations

import json

import pytest

from soundlake.cli.main import main
from tests.pipeline.conftest import Lakehouse


@pytest.fixture()
def project(lakehouse: Lakehouse) -> Lakehouse:
    lakehouse.sql("CREATE OR REFRESH MATERIALIZED VIEW one AS SELECT 1 AS id;")
    lakehouse.run()
    return lakehouse


def query(lake: Lakehouse, capsys: pytest.CaptureFixture[str], sql: str, fmt: str = "csv") -> tuple[int, str, str]:
    """Run ``soundlake query`` in-process: exit code, stdout, stderr."""
    code = 0
    try:
        main(["--project", str(lake.root), "query", sql, "--format", fmt])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_dates_and_timestamps_outside_python_range(project: Lakehouse, capsys: pytest.CaptureFixture[str]) -> None:
    sql = ("SELECT make_date(-44, 3, 15) AS bc, date_sub(DATE '0001-01-01', 1) AS year0, "
           "make_date(10000, 1, 1) AS far, TIMESTAMP '9999-12-31 23:59:59.5' + INTERVAL 1 DAY AS ts")
    code, out, err = query(project, capsys, sql)
    assert code == 0, err
    assert out.splitlines() == ["bc,year0,far,ts", "-0044-03-15,0000-12-31,+10000-01-01,+10000-01-01 23:59:59.5"]
    code, out, err = query(project, capsys, sql, "json")
    assert code == 0 and json.loads(out) == {
        "bc": "-0044-03-15", "year0": "0000-12-31", "far": "+10000-01-01", "ts": "+10000-01-01 23:59:59.5",
    }
    code, out, err = query(project, capsys, sql, "table")
    assert code == 0 and "-0044-03-15" in out and "1 row" in out and "Traceback" not in out + err


def test_special_doubles_decimals_and_nested_values(project: Lakehouse, capsys: pytest.CaptureFixture[str]) -> None:
    sql = ("SELECT CAST('NaN' AS DOUBLE) AS n, CAST('-Infinity' AS DOUBLE) AS i, 1e10 AS e, "
           "CAST(12345678901234567890.12 AS DECIMAL(38,2)) AS big, true AS b, array(1, 2) AS a, "
           "named_struct('x', 1, 'y', 'z') AS s, id FROM one")
    code, out, err = query(project, capsys, sql)
    assert code == 0, err
    assert out.splitlines()[1] == 'NaN,-Infinity,1.0E10,12345678901234567890.12,true,"[1, 2]","{1, z}",1'
    code, out, err = query(project, capsys, sql, "json")
    assert code == 0 and json.loads(out) == {  # strict JSON: no bare NaN
        "n": "NaN", "i": "-Infinity", "e": 1e10, "big": "12345678901234567890.12", "b": True,
        "a": [1, 2], "s": {"x": 1, "y": "z"}, "id": 1,
    }


def test_engine_errors_are_one_line(project: Lakehouse, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = query(project, capsys, "SELECT CAST(id AS TINYINT) * 1000 AS x, 9223372036854775807 + id AS y FROM one")
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
