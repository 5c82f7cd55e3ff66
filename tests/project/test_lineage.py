"""Column-level lineage: every hop from a gold column back to the source database column.

The reference project (scaffolded, filled with synthetic data, one ``job``) must trace
``gold.dim_user.user_name`` through its Python gold definition (``dimuser_stg``, AUTO CDC)
and the SQL silver table to the bronze files and ``DimUser.user_name`` in the source
database; a small pipeline checks joins, CTEs, expressions, ``*`` and AUTO CDC's SCD2
columns, each against the hops a reader of the SQL would name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soundlake.core.errors import SoundlakeError
from soundlake.project.context import Project
from soundlake.project.lineage_ops import lineage_edges
from tests.cli import soundlake
from tests.pipeline.conftest import Lakehouse


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lineage") / "proj"
    for args in (("init", str(root)), ("source", "generate", "--scale", "0.002"), ("job",)):
        out = soundlake(*args, project=None if args[0] == "init" else root)
        assert out.returncode == 0, out.stdout + out.stderr
    return root


def test_a_gold_column_reaches_the_source_database_column(reference: Path) -> None:
    edges = [(e.column, e.source, e.flow) for e in lineage_edges(Project.open(reference), "gold.dim_user.user_name")]
    assert edges == [
        ("spotify_catalog.gold.dim_user.user_name", "spotify_catalog.gold.dimuser_stg.user_name",
         "spotify_catalog.gold.dim_user"),
        ("spotify_catalog.gold.dimuser_stg.user_name", "spotify_catalog.silver.dimuser.user_name",
         "spotify_catalog.gold.dimuser_stg"),  # the Python gold definition
        ("spotify_catalog.silver.dimuser.user_name", "files:lake/bronze/DimUser.user_name",
         "spotify_catalog.silver.dimuser"),
        ("files:lake/bronze/DimUser.user_name", "source:dbo.DimUser.user_name", "ingest"),
    ]


def test_the_cli_prints_text_json_and_dot(reference: Path) -> None:
    out = soundlake("lineage", "gold.dim_user.user_name", "--format", "json", project=reference)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["source"] == "source:dbo.DimUser.user_name"
    out = soundlake("lineage", "silver.dimuser.user_name", "--downstream", project=reference)
    assert "spotify_catalog.gold.dimuser_stg.user_name  ->  spotify_catalog.gold.dim_user.user_name" in out.stdout
    out = soundlake("lineage", "gold.dim_user", "--format", "dot", project=reference)
    assert out.stdout.startswith("digraph lineage {") and '"source:dbo.DimUser.user_name"' in out.stdout
    out = soundlake("lineage", "gold.dim_user.nope", project=reference)
    assert out.returncode == 2 and "has no column 'nope'" in out.stderr and "Traceback" not in out.stderr


PIPELINE = """
CREATE OR REFRESH STREAMING TABLE plays AS SELECT * FROM STREAM read_files('${data}/plays', format => 'parquet');
CREATE OR REFRESH MATERIALIZED VIEW users AS SELECT * FROM read_files('${data}/users', format => 'parquet');
CREATE OR REFRESH MATERIALIZED VIEW per_country AS
WITH joined AS (SELECT p.seconds, u.country, upper(u.name) AS who FROM plays p JOIN users u ON p.user_id = u.id)
SELECT country, sum(seconds) / 60 AS minutes, max(who) AS top FROM joined GROUP BY country;
CREATE OR REFRESH STREAMING TABLE history;
CREATE FLOW history_cdc AS AUTO CDC INTO history FROM STREAM(plays) KEYS (id) SEQUENCE BY ts
  COLUMNS * EXCEPT (_rescued_data) STORED AS SCD TYPE 2;
"""


def test_joins_ctes_expressions_and_scd2_columns(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.sql(PIPELINE)
    lake.parquet("plays", "a.parquet", [{"id": 1, "user_id": 7, "seconds": 120, "ts": 1}])
    lake.parquet("users", "a.parquet", [{"id": 7, "name": "ann", "country": "SE"}])
    assert lake.run().ok

    def upstream(name: str) -> set[tuple[str, str]]:
        return {(e.column, e.source) for e in lineage_edges(lake.project, name)}

    assert upstream("per_country.minutes") == {
        ("main.silver.per_country.minutes", "main.silver.plays.seconds"),
        ("main.silver.plays.seconds", "files:data/plays.seconds"),
    }
    assert upstream("per_country.top") == {
        ("main.silver.per_country.top", "main.silver.users.name"),
        ("main.silver.users.name", "files:data/users.name"),
    }
    assert ("main.silver.history.__START_AT", "main.silver.plays.ts") in upstream("history.__START_AT")
    assert {c for c, _ in upstream("history")} >= {"main.silver.history.id", "main.silver.history.__END_AT"}
    assert not any("_rescued_data" in c for c, _ in upstream("history"))
    with pytest.raises(SoundlakeError, match="no dataset or dataset column named 'nothing'"):
        lineage_edges(lake.project, "nothing")
