"""The session factory: Delta configured, local defaults, project conf wins."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from soundlake.engines.spark.java import java_home_for, system_java_home
from soundlake.engines.spark.session import (
    COMPILER_DIRECTIVES,
    DELTA_SESSION_CONF,
    delta_maven_coordinates,
    ivy_dir,
    session_conf,
)

pytest.importorskip("delta", reason="pip install -e '.[spark]' to run Spark tests")


def test_session_conf_layers_defaults_delta_and_project_conf() -> None:
    conf = session_conf(
        "local[*]",
        {"spark.sql.shuffle.partitions": "8", "spark.jars.packages": "org.example:x_2.13:1.0"},
        app_name="app",
        warehouse_dir="/tmp/wh",
    )
    assert conf["spark.sql.shuffle.partitions"] == "8"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.sql.extensions"] == DELTA_SESSION_CONF["spark.sql.extensions"]
    assert conf["spark.jars.packages"].split(",") == [
        delta_maven_coordinates(),
        "org.example:x_2.13:1.0",
    ]
    assert conf["spark.sql.warehouse.dir"] == "/tmp/wh"


def test_cluster_master_gets_no_local_defaults() -> None:
    conf = session_conf("spark://host:7077", {}, app_name="app", warehouse_dir="/tmp/wh")
    assert "spark.driver.memory" not in conf
    assert "spark.sql.shuffle.partitions" not in conf
    assert "spark.shuffle.compress" not in conf  # a cluster's shuffles cross the network
    assert "spark.sql.inMemoryColumnarStorage.compressed" not in conf
    assert conf["spark.sql.catalog.spark_catalog"].endswith("DeltaCatalog")
    # What decides results (time zone) and what lets parallel flows share executors
    # apply on a cluster as on a laptop.
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.scheduler.mode"] == "FAIR"
    assert conf["spark.sql.adaptive.enabled"] == "true"



def test_local_driver_uses_the_throughput_collector_unless_the_project_chooses_one() -> None:
    def options(master: str, conf: dict[str, str]) -> str | None:
        return session_conf(master, conf, app_name="a", warehouse_dir="/w").get("spark.driver.extraJavaOptions")

    directives = f"-XX:+UnlockDiagnosticVMOptions -XX:CompilerDirectivesFile={COMPILER_DIRECTIVES}"
    assert options("local[*]", {}) == f"-XX:+UseParallelGC {directives}"
    assert options("local[2]", {"spark.driver.extraJavaOptions": "-Dx=1"}) == f"-XX:+UseParallelGC {directives} -Dx=1"
    assert options("local[2]", {"spark.driver.extraJavaOptions": "-XX:+UseG1GC"}) == f"{directives} -XX:+UseG1GC"
    own = "-XX:CompilerDirectivesFile=/mine.json"
    assert options("local[2]", {"spark.driver.extraJavaOptions": own}) == f"-XX:+UseParallelGC {own}"
    assert options("spark://host:7077", {}) is None


def test_compiler_directives_keep_c2_off_planning_libraries_only() -> None:
    # The file ships with the package, is JSON the JVM accepts (quoted keys), and never
    # names the packages whose code runs per row: generated code, Parquet, shuffles.
    rules = json.loads(COMPILER_DIRECTIVES.read_text(encoding="utf-8"))
    assert [rule["c2"] for rule in rules] == [{"Exclude": True}]
    patterns = rules[0]["match"]
    assert "org/codehaus/janino/*.*" in patterns and "org/antlr/*.*" in patterns
    assert not [p for p in patterns if p.startswith(("org/apache/spark", "org/apache/parquet", "scala/"))]


@pytest.mark.parametrize("choice", ["system", "auto"])
def test_the_jvm_accepts_the_local_driver_options(choice: str) -> None:
    """Both pyspark's own Java and the one a local driver gets (spark.java_home)."""
    home = system_java_home() if choice == "system" else java_home_for("local[*]", None, {})
    if home is None:
        pytest.skip(f"no Java for spark.java_home: {choice}")
    java = str(home / "bin" / "java")
    options = session_conf("local[1]", {}, app_name="a", warehouse_dir="/w")["spark.driver.extraJavaOptions"]
    result = subprocess.run(
        [java, *shlex.split(options), "-version"], capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "1 compiler directives added" in result.stdout + result.stderr


def test_ivy_dir_is_configurable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOUNDLAKE_SPARK_IVY_DIR", str(tmp_path / "ivy"))
    assert ivy_dir() == (tmp_path / "ivy").resolve()
    conf = session_conf("local[1]", {}, app_name="a", warehouse_dir="/w")
    assert conf["spark.jars.ivy"] == str((tmp_path / "ivy").resolve())


def test_delta_coordinates_match_installed_pyspark() -> None:
    pytest.importorskip("pyspark")
    import pyspark

    minor = ".".join(pyspark.__version__.split(".")[:2])
    assert delta_maven_coordinates().startswith(f"io.delta:delta-spark_{minor}_2.13:")


@pytest.mark.spark
def test_local_session_writes_and_reads_delta(spark: Any, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    spark.range(3).write.format("delta").save(path)
    spark.sql(f"INSERT INTO delta.`{path}` VALUES (10)")
    assert sorted(r.id for r in spark.read.format("delta").load(path).collect()) == [0, 1, 2, 10]
    assert spark.conf.get("spark.ui.enabled") == "false"
    # One machine: persisted rows and shuffle files stay uncompressed (CPU over bytes).
    assert spark.conf.get("spark.sql.inMemoryColumnarStorage.compressed") == "false"
    assert spark.sparkContext.getConf().get("spark.shuffle.compress") == "false"


@pytest.mark.slow
def test_spark_logs_go_to_a_file_unless_verbose(tmp_path: Path) -> None:
    """``run --engine spark`` prints soundlake's lines only; ``-v`` shows Spark's own log too."""
    from tests.cli import soundlake

    (tmp_path / "soundlake.yml").write_text("name: p\nstorage: lake\nlibraries: ['p/*.sql']\n")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "t.sql").write_text("CREATE OR REFRESH MATERIALIZED VIEW t AS SELECT id FROM range(3);\n")
    quiet = soundlake("run", "--engine", "spark", project=tmp_path)
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    log = tmp_path / "lake" / "_soundlake" / "logs" / "spark.log"
    jvm = "Using Spark's default log4j profile"  # the JVM's first line (Ivy's report only when it resolves)
    assert jvm in log.read_text()
    for noise in (":: resolving dependencies", "Ivy", "log4j", "WARN "):
        assert noise not in quiet.stdout + quiet.stderr, noise
    assert "COMPLETED" in quiet.stdout
    loud = soundlake("run", "--engine", "spark", "--full-refresh-all", "-v", project=tmp_path)
    assert loud.returncode == 0, loud.stdout + loud.stderr
    assert jvm in loud.stdout + loud.stderr


def test_broadcast_joins_stay_below_a_capped_driver_result_size() -> None:
    from soundlake.engines.spark.session import size_bytes

    assert [size_bytes(t) for t in ("1m", "512k", "2g", "1048576", "1 MiB", "x")] == [
        2**20, 512 * 2**10, 2 * 2**30, 2**20, 2**20, None,
    ]
    capped = session_conf("spark://h:7077", {"spark.driver.maxResultSize": "1m"}, app_name="a", warehouse_dir="/w")
    assert capped["spark.sql.autoBroadcastJoinThreshold"] == str(2**18)
    assert capped["spark.sql.adaptive.autoBroadcastJoinThreshold"] == str(2**18)
    own = session_conf("local[1]", {"spark.driver.maxResultSize": "1m", "spark.sql.autoBroadcastJoinThreshold": "-1"},
                       app_name="a", warehouse_dir="/w")
    assert own["spark.sql.autoBroadcastJoinThreshold"] == "-1"  # the project's own choice wins
    assert "spark.sql.autoBroadcastJoinThreshold" not in session_conf("local[1]", {}, app_name="a", warehouse_dir="/w")


def test_jars_resolved_once_are_used_while_they_are_all_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second start skips Ivy (spark.jars instead of spark.jars.packages) only while every
    remembered jar exists, and a different package list is resolved again."""
    from soundlake.engines.spark.session import remember_resolved_jars, with_resolved_jars

    monkeypatch.setenv("SOUNDLAKE_SPARK_IVY_DIR", str(tmp_path / "ivy"))
    (tmp_path / "ivy").mkdir()
    jar = tmp_path / "ivy" / "a.jar"
    jar.write_bytes(b"")
    settings = {"spark.jars.packages": "io.delta:delta-spark_4.2_2.13:4.4.0", "spark.app.name": "a"}
    assert with_resolved_jars(settings) == settings  # nothing remembered yet
    remember_resolved_jars(settings, f"file://{jar}")
    assert with_resolved_jars(settings) == {"spark.app.name": "a", "spark.jars": f"file://{jar}"}
    other = {**settings, "spark.jars.packages": "org.example:x:1"}
    assert with_resolved_jars(other) == other  # other packages: resolved by Ivy
    jar.unlink()
    assert with_resolved_jars(settings) == settings  # a jar is gone: resolved by Ivy again


def _cache_buffers_id(spark: Any, frame: Any) -> int:
    """The id of the RDD that holds ``frame``'s cached blocks (a new one after a recache)."""
    cached = spark._jsparkSession.sharedState().cacheManager().lookupCachedData(frame._jdf)
    return int(cached.get().cachedRepresentation().cacheBuilder().cachedColumnBuffers().id())


@pytest.mark.spark
def test_dropping_a_view_keeps_another_flows_cache_of_the_same_table(spark: Any, tmp_path: Path) -> None:
    from soundlake.engines.spark.session import drop_view

    path = str(tmp_path / "t")
    spark.range(1000).write.format("delta").save(path)
    # A flow's cache over the table, registered but not built yet (another flow is reading).
    cached = spark.read.format("delta").load(path).groupBy().count().persist()
    try:
        before = _cache_buffers_id(spark, cached)
        # Spark's own drop uncaches the view's plan and rebuilds every unloaded cache over it:
        spark.read.format("delta").load(path).createOrReplaceTempView("other_flows_view")
        spark.catalog.dropTempView("other_flows_view")
        rebuilt = _cache_buffers_id(spark, cached)
        assert rebuilt != before, "Spark no longer rebuilds caches on a view drop: drop_view may go"
        # soundlake's drop leaves it alone.
        spark.read.format("delta").load(path).createOrReplaceTempView("other_flows_view")
        drop_view(spark, "other_flows_view")
        assert _cache_buffers_id(spark, cached) == rebuilt
        assert "other_flows_view" not in {t.name for t in spark.catalog.listTables()}
        assert cached.collect()[0][0] == 1000
    finally:
        cached.unpersist()
