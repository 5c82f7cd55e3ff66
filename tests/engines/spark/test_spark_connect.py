"""The reference project through Spark Connect: ``soundlake job`` against ``sc://``.

A Spark Connect server (``SparkConnectServer`` with Delta, ``local[2]``) runs as its own
process; ``soundlake job --engine spark`` runs in another one with the project's
``spark.master`` pointing at the server, so the client holds no JVM. Its peak RSS is
sampled and every silver and gold table is compared row for row with a DuckDB run of
the same generated project (the helpers of ``test_parity_reference``).

This module does not use the session-wide local ``spark`` fixture: the job is a separate
process, and this process starts no SparkContext.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engines.spark.processes import free_port, run_measured, start, stop, wait_for_port
from tests.engines.spark.test_parity_reference import tables

pytestmark = [pytest.mark.spark, pytest.mark.slow]

psutil = pytest.importorskip("psutil")

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
START_TIMEOUT = 90.0
JOB_TIMEOUT = 900.0
PEAK_RSS_MIB = 600
#: Python modules the Spark Connect client needs (pyspark's ``connect`` extra).
CLIENT_MODULES = ("pyspark", "delta", "grpc", "grpc_status", "google.rpc", "zstandard", "pandas")


def _missing_client_modules() -> list[str]:
    missing = []
    for name in CLIENT_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(name)
    return missing


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Spark Connect server with Delta on a free port; its URL (``sc://127.0.0.1:PORT``)."""
    missing = _missing_client_modules()
    if missing:
        message = f"Spark Connect client modules missing ({', '.join(missing)}): pip install -e '.[spark]'"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI must run the Spark tests)")
        pytest.skip(message)
    import pyspark

    from soundlake.engines.spark.session import delta_maven_coordinates, ivy_dir, session_conf

    home = Path(pyspark.__file__).parent
    jars = sorted((home / "jars").glob("spark-connect_*.jar"))
    if not jars:
        pytest.skip(f"no spark-connect jar under {home / 'jars'}")
    work = tmp_path_factory.mktemp("spark-connect")
    port = free_port()
    conf = session_conf(
        "local[2]",
        {"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2", "spark.driver.memory": "1g"},
        app_name="soundlake-connect-test",
        warehouse_dir=str(work / "warehouse"),
    )
    conf.pop("spark.jars.packages")
    command = [
        str(home / "bin" / "spark-submit"),
        "--master", "local[2]",
        "--class", SERVER_CLASS,
        "--jars", str(jars[0]),
        "--packages", delta_maven_coordinates(),
        "--conf", f"spark.connect.grpc.binding.port={port}",
        "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
    ]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    ivy_dir().mkdir(parents=True, exist_ok=True)
    log = work / "server.log"
    server = start(command, log, {"SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable})
    try:
        wait_for_port(port, server, log, START_TIMEOUT)
        yield f"sc://127.0.0.1:{port}"
    finally:
        stop(server)


def _generate(root: Path) -> None:
    from soundlake.project.context import Project
    from soundlake.project.scaffold import init_project
    from soundlake.project.source_ops import create_source, generate

    init_project(root)
    project = Project.open(root)
    create_source(project)
    generate(project, scale=0.02, seed=7)


def _job(project: Path, engine: str, log: Path) -> tuple[int, float]:
    """Run ``soundlake job --engine ENGINE`` in ``project``; its exit code and peak RSS (MiB)."""
    result, peak = run_measured([sys.executable, "-m", "soundlake.cli.main", "job", "--engine", engine],
                                cwd=project, timeout=JOB_TIMEOUT)
    log.write_text(result.stdout + result.stderr)
    return result.returncode, peak


@pytest.mark.timeout(1500)
def test_reference_project_runs_through_spark_connect(connect_url: str, tmp_path: Path) -> None:
    duck, spk = tmp_path / "duck", tmp_path / "connect"
    _generate(duck)
    shutil.copytree(duck, spk)
    config = spk / "soundlake.yml"
    config.write_text(config.read_text() + f'\nspark:\n  master: "{connect_url}"\n')

    started = time.monotonic()
    code, peak = _job(spk, "spark", tmp_path / "connect-job.log")
    seconds = time.monotonic() - started
    print(f"\nspark connect job: exit {code}, {seconds:.1f} s, client peak RSS {peak:.0f} MiB")
    assert code == 0, (tmp_path / "connect-job.log").read_text()[-4000:]
    assert peak < PEAK_RSS_MIB, f"client peak RSS {peak:.0f} MiB"

    code, _ = _job(duck, "duckdb", tmp_path / "duckdb-job.log")
    assert code == 0, (tmp_path / "duckdb-job.log").read_text()[-4000:]

    expected, got = tables(duck), tables(spk)
    assert sorted(got) == sorted(expected)
    assert any(name.startswith("gold.") for name in expected)
    assert any(name.startswith("silver.") for name in expected)
    for name in expected:
        assert got[name] == expected[name], name
