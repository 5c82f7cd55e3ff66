"""The reference project on a real Spark standalone cluster, with a driver that holds no data.

A master and two workers run as separate JVMs (pyspark's own ``spark-class`` launcher);
``soundlake run`` runs as a user would, in a child process, against
``spark://127.0.0.1:PORT``, with ``spark.driver.maxResultSize`` at 1 MiB while millions
of rows go through silver, the gold AUTO CDC tables and the marts: any collect of data to
the driver fails the run. Every silver and gold table must equal the DuckDB engine's,
row for row, after the first update (and an incremental one with
``SOUNDLAKE_CLUSTER_UPDATES=2``; the incremental parity on ``local`` Spark is
``test_parity_reference.py``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engines.spark.processes import Cluster, run_measured, standalone_cluster
from tests.engines.spark.tables import differences, row_counts
from tests.engines.spark.test_parity_reference import copy_source_and_bronze

pytestmark = [pytest.mark.spark, pytest.mark.slow]

#: Source scale: 3 means 3 million stream events (FactStream) in the first update.
SCALE = float(os.environ.get("SOUNDLAKE_CLUSTER_SCALE", "3"))
#: Updates to run: 1 (CI: the first update, ~3 min on 2 cores) or 2 (then an
#: incremental update of a 2% simulated change, ~3 more minutes at S=3).
UPDATES = int(os.environ.get("SOUNDLAKE_CLUSTER_UPDATES", "1"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A standalone master and two one-core workers, stopped after the module."""
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("pyspark not installed (CI must run the Spark tests)")
        pytest.skip("pyspark not installed: pip install -e '.[spark]'")
    with standalone_cluster(tmp_path_factory.mktemp("cluster"), workers=2, cores=1, memory="1536m") as running:
        yield running


def spark_section(master: str) -> str:
    """The project's ``spark:`` settings for this cluster (sized for two one-core workers)."""
    conf = {
        "spark.driver.maxResultSize": "1m",
        "spark.executor.memory": "1g",
        "spark.executor.cores": "1",
        "spark.sql.shuffle.partitions": "4",
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
    }
    lines = ["spark:", f'  master: "{master}"', "  conf:"]
    lines += [f'    {key}: "{value}"' for key, value in conf.items()]
    return "\n".join(lines) + "\n"


def run_cli(project: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """``soundlake ARGS`` in ``project``; the result and the peak RSS (MiB) of the driver
    process tree (Python and its JVM; executors live under the workers)."""
    return run_measured([sys.executable, "-m", "soundlake.cli.main", "--project", str(project), *args])


def executors_launched(cluster: Cluster) -> int:
    """Workers that launched an executor for an application (their logs say so)."""
    return sum(
        "Asked to launch executor" in log.read_text(errors="replace")
        for log in cluster.logs.glob("worker-*.log")
    )


def test_reference_project_on_a_standalone_cluster_equals_duckdb(cluster: Cluster, tmp_path: Path) -> None:
    from soundlake.project.context import Project
    from soundlake.project.ingest_ops import run_ingest
    from soundlake.project.pipeline_ops import run
    from soundlake.project.scaffold import init_project
    from soundlake.project.source_ops import create_source, generate, simulate

    duck, spk = tmp_path / "duck", tmp_path / "spark"
    init_project(duck)
    project = Project.open(duck)
    create_source(project)
    generate(project, scale=SCALE, seed=11)
    assert run_ingest(project).ok
    shutil.copytree(duck, spk)
    with (spk / "soundlake.yml").open("a") as config:
        config.write(spark_section(cluster.master_url))
    for update in range(1, UPDATES + 1):
        if update == 2:
            simulate(project, seed=12, rate=0.02)
            assert run_ingest(project).ok
            copy_source_and_bronze(duck, spk)
        started = time.perf_counter()
        result, peak = run_cli(spk, "run", "--engine", "spark")
        seconds = time.perf_counter() - started
        print(f"update {update} on {cluster.master_url}: exit {result.returncode} in {seconds:.0f} s, "
              f"driver peak RSS {peak:.0f} MiB")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        started = time.perf_counter()
        assert run(Project.open(duck, overrides={"engine": "duckdb"})).ok
        print(f"update {update} on duckdb: {time.perf_counter() - started:.0f} s")
    assert executors_launched(cluster) == 2  # the work ran in the workers' JVMs
    counts = row_counts(spk)
    assert counts["silver.factstream"] >= SCALE * 1_000_000 * 0.99
    assert counts["gold.fact_stream"] >= counts["silver.factstream"] * 0.99
    assert all(counts[name] > 0 for name in counts if name.startswith("gold.mart_") and "changes" not in name)
    assert differences(duck, spk) == {}
