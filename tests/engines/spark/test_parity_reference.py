"""Parity on the Spotify reference project: every silver and gold table, DuckDB vs Spark.

The project is generated and ingested once; a copy runs its pipeline on each engine.
Then a simulated change batch is ingested and copied to both, and each engine runs a
second (incremental) update. Every table under the catalog must be equal row for row.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.engines.cdc_reference import canonical
from tests.engines.spark.tables import RUN_COLUMNS

pytestmark = [pytest.mark.spark, pytest.mark.slow]

deltalake = pytest.importorskip("deltalake")



def normal(value: Any) -> Any:
    """Numbers compared by value: Spark SQL types ``x / 60.0`` as DECIMAL, the DuckDB
    engine's transpiled query as DOUBLE (a known typing difference, reported)."""
    return float(value) if isinstance(value, Decimal) else value


def tables(root: Path) -> dict[str, list[tuple[Any, ...]]]:
    found = {}
    for log in sorted((root / "lake" / "spotify_catalog").glob("*/*/_delta_log")):
        table = log.parent
        rows = deltalake.DeltaTable(str(table)).to_pyarrow_table().to_pylist()
        found[f"{table.parent.name}.{table.name}"] = canonical(
            [{k: normal(v) for k, v in r.items() if k not in RUN_COLUMNS} for r in rows]
        )
    return found


def copy_source_and_bronze(src: Path, dst: Path) -> None:
    shutil.copy2(src / "source.db", dst / "source.db")
    shutil.rmtree(dst / "lake" / "bronze", ignore_errors=True)
    shutil.copytree(src / "lake" / "bronze", dst / "lake" / "bronze")


def test_reference_project_tables_are_equal_on_both_engines(spark: Any, tmp_path: Path) -> None:
    from soundlake.project.context import Project
    from soundlake.project.ingest_ops import run_ingest
    from soundlake.project.pipeline_ops import run
    from soundlake.project.scaffold import init_project
    from soundlake.project.source_ops import create_source, generate, simulate

    duck, spk = tmp_path / "duck", tmp_path / "spark"
    init_project(duck)
    project = Project.open(duck)
    create_source(project)
    generate(project, scale=0.02, seed=7)
    assert run_ingest(project).ok
    shutil.copytree(duck, spk)
    for update in (1, 2):
        if update == 2:
            simulate(project, seed=8, rate=0.05)
            assert run_ingest(project).ok
            copy_source_and_bronze(duck, spk)
        for root, engine in ((duck, "duckdb"), (spk, "spark")):
            result = run(Project.open(root, overrides={"engine": engine}))
            assert result.ok, (engine, update, result.errors)
    expected, got = tables(duck), tables(spk)
    assert sorted(got) == sorted(expected)
    assert any(name.startswith("gold.") for name in expected)
    for name in expected:
        assert got[name] == expected[name], name
