"""A SparkSession with Delta Lake, local by default, pointed anywhere by ``master``.

``master`` comes from the project (``spark.master``): ``local[*]`` (default), ``spark://``,
``yarn``, or a Spark Connect URL ``sc://host:port``. Delta's jars resolve from Maven
Central on first use through ``spark.jars.packages`` into an Ivy cache whose location is
predictable (``SOUNDLAKE_SPARK_IVY_DIR``, default ``~/.cache/soundlake/ivy``), so CI can
prefetch them once (``scripts/prefetch-spark-jars.sh``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from soundlake.core.errors import EngineError
from soundlake.engines.spark.class_sharing import DRIVER_OPTIONS, archive_name, with_class_archive
from soundlake.engines.spark.java import java_home_for

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

IVY_ENV = "SOUNDLAKE_SPARK_IVY_DIR"
LOG_ENV = "SOUNDLAKE_SPARK_LOG"
"""A file that receives the JVM's own output (Ivy, log4j); unset or ``-``: the console."""
SCALA_VERSION = "2.13"

#: Settings for every classic session (local or cluster). Project ``conf`` wins.
#: - UTC session time zone: timestamps render and parse the same on every engine and
#:   machine (the DuckDB engine uses UTC too).
#: - Adaptive query execution: shuffle partitions are coalesced to the data's size after
#:   each shuffle, so a small table does not pay for ``spark.sql.shuffle.partitions``
#:   tasks and a large one still spreads out.
#: - FAIR scheduling: flows running at once (``spark.parallel_flows``) share the executors
#:   instead of queueing behind one large job.
#: - Delta defaults every Delta reader (``deltalake``, DuckDB, Polars) understands: no
#:   deletion vectors; VACUUM retention is decided by soundlake's maintenance policy.
COMMON_DEFAULTS: Mapping[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.scheduler.mode": "FAIR",
    "spark.ui.showConsoleProgress": "false",
    "spark.databricks.delta.properties.defaults.enableDeletionVectors": "false",
    "spark.databricks.delta.retentionDurationCheck.enabled": "false",
}

#: Settings for one machine (``local[...]``): few shuffle partitions and Delta snapshot
#: partitions (a laptop has a few cores, not 200 task slots), no UI, loopback only.
#: Memory and the local disk are plentiful next to the few cores that run every task, so
#: CPU is not spent making them smaller: rows soundlake persists for one flow (the
#: expectation split, AUTO CDC batches) are cached uncompressed, and shuffle files, which
#: never leave the machine, are written uncompressed (docs/spark.md has the figures).
LOCAL_DEFAULTS: Mapping[str, str] = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.memory": "2g",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
    "spark.shuffle.compress": "false",
}

DELTA_SESSION_CONF: Mapping[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def is_connect(master: str, session: object = None) -> bool:
    """True for a Spark Connect session (``sc://`` master, or a Connect session given)."""
    if session is not None:
        return type(session).__module__.startswith("pyspark.sql.connect")
    return str(master).startswith("sc://")


def drop_view(spark: SparkSession, name: str) -> None:
    """Drop soundlake's own temporary view ``name`` without touching Spark's query cache.

    ``spark.catalog.dropTempView`` also uncaches the view's plan, and Spark then discards
    the blocks of every cached plan that contains it and has not finished loading: a flow
    dropping its view of a table threw away another flow's half-built cache over the same
    table version, which was then computed again (the silver streams split was computed
    three times at S=5). soundlake never caches a view (it persists DataFrames and
    unpersists them itself), so in a local or cluster session only the name is removed
    from the session's catalog. Over Spark Connect the server's own drop is used.
    """
    jsession = getattr(spark, "_jsparkSession", None)
    if jsession is None:  # Spark Connect: no JVM on this side
        spark.catalog.dropTempView(name)
        return
    jsession.sessionState().catalog().dropTempView(name)


def ivy_dir() -> Path:
    """The Ivy cache where Delta's jars are resolved (``SOUNDLAKE_SPARK_IVY_DIR``)."""
    configured = os.environ.get(IVY_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return Path.home() / ".cache" / "soundlake" / "ivy"


def delta_maven_coordinates() -> str:
    """The Maven coordinates of the delta-spark jar matching the installed wheels.

    Raises:
        EngineError: when pyspark or delta-spark is not installed.
    """
    try:
        delta_version = metadata.version("delta-spark")
        spark_version = metadata.version("pyspark")
    except metadata.PackageNotFoundError as exc:
        raise EngineError(
            "the spark engine needs pyspark and delta-spark",
            hint="pip install 'soundlake[spark]'",
        ) from exc
    spark_minor = ".".join(spark_version.split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_{SCALA_VERSION}:{delta_version}"


def session_conf(
    master: str, conf: Mapping[str, str], *, app_name: str, warehouse_dir: str
) -> dict[str, str]:
    """The full configuration a session is built with (defaults, Delta, then ``conf``)."""
    settings: dict[str, str] = dict(COMMON_DEFAULTS)
    if master.startswith("local"):
        settings.update(LOCAL_DEFAULTS)
    settings.update(DELTA_SESSION_CONF)
    settings["spark.app.name"] = app_name
    settings["spark.sql.warehouse.dir"] = warehouse_dir
    settings["spark.jars.ivy"] = str(ivy_dir())
    packages = [delta_maven_coordinates()]
    extra = conf.get("spark.jars.packages")
    if extra:
        packages.extend(p.strip() for p in extra.split(",") if p.strip())
    settings.update(conf)
    settings["spark.jars.packages"] = ",".join(dict.fromkeys(packages))
    settings.update(broadcast_within_result_cap(settings))
    if master.startswith("local"):
        settings.update(with_local_jvm_options(settings))
    return settings


LOCAL_COLLECTOR = "-XX:+UseParallelGC"
"""The local driver's garbage collector: on one machine the driver JVM also runs every
task, and Java's throughput collector left more of two cores to them than G1 (the
default) did: the reference job took ~8% less time at S=1 and ~10% less at S=5, in two
alternated pairs of runs per scale (docs/spark.md)."""

COMPILER_DIRECTIVES = Path(__file__).with_name("compiler_directives.json")
"""HotSpot compiler directives for the local driver: the libraries Spark runs while it
plans and ships a query (the Janino compiler of generated code, the ANTLR SQL parser,
Java serialization of tasks, closure and bytecode readers, ICU) are compiled by C1 only,
never by C2. On the reference job at S=1 C2 compiled for 62 s of ~125 busy CPU-seconds
(``-XX:+CITime``), two fifths of it those libraries, competing with the tasks for two
cores; the code that touches every row (Spark's generated code, Parquet, shuffles) keeps
C2. The job took ~10% less time at S=1 and no more at S=5 (docs/spark.md)."""


def with_local_jvm_options(settings: Mapping[str, str]) -> dict[str, str]:
    """``spark.driver.extraJavaOptions`` with :data:`LOCAL_COLLECTOR` (unless the options
    already choose a collector, ``-XX:+Use...GC``) and :data:`COMPILER_DIRECTIVES` (unless
    they give a directives file or the file is missing) added."""
    options = settings.get(DRIVER_OPTIONS, "")
    added: list[str] = []
    if not re.search(r"-XX:\+Use\w*GC\b", options):
        added.append(LOCAL_COLLECTOR)
    if "CompilerDirectivesFile" not in options and COMPILER_DIRECTIVES.is_file():
        path = str(COMPILER_DIRECTIVES)
        path = f'"{path}"' if re.search(r"\s", path) else path
        added += ["-XX:+UnlockDiagnosticVMOptions", f"-XX:CompilerDirectivesFile={path}"]
    if not added:
        return {}
    return {DRIVER_OPTIONS: " ".join(part for part in (*added, options) if part)}


#: Spark's default ``spark.sql.autoBroadcastJoinThreshold`` (10 MiB).
DEFAULT_BROADCAST_BYTES = 10 * 2**20
_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def size_bytes(text: str) -> int | None:
    """A Spark size setting in bytes (``512k``, ``1m``, ``2g``, ``1048576``), or None."""
    match = _SIZE.match(text)
    if match is None:
        return None
    return int(match.group(1)) * int(1024 ** "bkmgt".index(match.group(2).lower() or "b"))


def broadcast_within_result_cap(settings: Mapping[str, str]) -> dict[str, str]:
    """Broadcast-join thresholds below ``spark.driver.maxResultSize`` when it is capped.

    A broadcast join collects its small side on the driver, which counts against
    ``maxResultSize``; a driver capped below Spark's 10 MiB threshold would fail such a
    join instead of shuffling. Unless the project sets them, both thresholds (planned and
    adaptive) become a quarter of the cap, so only small tables ever cross the driver.
    """
    cap = size_bytes(settings.get("spark.driver.maxResultSize", ""))
    if cap is None or cap == 0 or cap // 4 >= DEFAULT_BROADCAST_BYTES:
        return {}
    value = str(cap // 4)
    keys = ("spark.sql.autoBroadcastJoinThreshold", "spark.sql.adaptive.autoBroadcastJoinThreshold")
    return {key: value for key in keys if key not in settings}


def spark_session(
    master: str = "local[*]",
    conf: Mapping[str, str] | None = None,
    *,
    app_name: str = "soundlake",
    warehouse_dir: str,
    java_home: str | None = None,
) -> SparkSession:
    """Start (or reuse) a SparkSession with Delta Lake configured.

    Args:
        master: ``local[*]``, ``local[N]``, ``spark://...``, ``yarn``, or ``sc://...`` for
            Spark Connect (the server must already have Delta configured; only runtime
            settings of ``conf`` apply then).
        conf: Extra Spark settings from the project; they override soundlake's defaults.
        app_name: The application name shown by the cluster manager.
        warehouse_dir: ``spark.sql.warehouse.dir`` (a folder under the project's storage).
        java_home: ``spark.java_home``: ``auto`` (None), ``system`` or a Java folder
            (:func:`~soundlake.engines.spark.java.java_home_for`).

    Raises:
        EngineError: when pyspark or delta-spark is missing, ``java_home`` is not a Java
            installation Spark runs on, or the session fails to start.
    """
    conf = dict(conf or {})
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise EngineError(
            "the spark engine needs pyspark", hint="pip install 'soundlake[spark]'"
        ) from exc
    if master.startswith("sc://"):
        return _connect_session(SparkSession, master, conf)
    ivy_dir().mkdir(parents=True, exist_ok=True)
    settings = session_conf(master, conf, app_name=app_name, warehouse_dir=warehouse_dir)
    builder = SparkSession.builder.master(master)
    with java_environment(java_home_for(master, java_home)):
        for key, value in with_class_archive(with_resolved_jars(settings), archive_name(settings)).items():
            builder = builder.config(key, value)
        try:
            with jvm_output(os.environ.get(LOG_ENV)):
                session = builder.getOrCreate()
        except Exception as exc:  # py4j and JVM startup raise many types
            raise EngineError(f"cannot start Spark (master {master}): {exc}") from exc
    remember_resolved_jars(settings, session.sparkContext.getConf().get("spark.jars", ""))
    session.sparkContext.setLogLevel(conf.get("soundlake.log_level", "ERROR"))
    return session


def _resolution_file(settings: Mapping[str, str]) -> Path:
    """Where the jars that ``spark.jars.*`` settings resolve to are remembered (by their values)."""
    wanted = "\n".join(f"{k}={v}" for k, v in sorted(settings.items()) if k.startswith("spark.jars"))
    return ivy_dir() / f"soundlake-resolved-{hashlib.sha256(wanted.encode()).hexdigest()[:16]}.txt"


def with_resolved_jars(settings: Mapping[str, str]) -> dict[str, str]:
    """``settings`` with ``spark.jars.packages`` replaced by the jar files an earlier start
    resolved them to (``spark.jars``), when every one of them is still there.

    spark-submit resolves packages with Ivy on every start (~1.2 s here, offline); the
    files it finds are the same until a setting changes, which changes the file's name.
    """
    if "spark.jars.packages" not in settings:
        return dict(settings)
    try:
        jars = [j for j in _resolution_file(settings).read_text(encoding="utf-8").splitlines() if j]
    except OSError:
        return dict(settings)
    local = [j.removeprefix("file://") for j in jars if "://" not in j or j.startswith("file://")]
    if not jars or not all(os.path.isfile(path) for path in local):
        return dict(settings)
    out = {k: v for k, v in settings.items() if k != "spark.jars.packages"}
    out["spark.jars"] = ",".join(jars)
    return out


def remember_resolved_jars(settings: Mapping[str, str], resolved: str) -> None:
    """Keep the ``spark.jars`` a start with ``spark.jars.packages`` resolved (:func:`with_resolved_jars`)."""
    if "spark.jars.packages" not in settings or not resolved:
        return
    target = _resolution_file(settings)
    temporary = target.with_name(f"{target.name}.{os.getpid()}")
    try:
        temporary.write_text("\n".join(j for j in resolved.split(",") if j) + "\n", encoding="utf-8")
        temporary.replace(target)
    except OSError:
        pass  # only a faster next start is lost


@contextlib.contextmanager
def java_environment(home: Path | None) -> Iterator[None]:
    """While a JVM starts, ``JAVA_HOME`` names ``home`` (None: the environment as it is).

    pyspark's launcher reads ``JAVA_HOME`` from this process's environment when it starts
    the driver's JVM; the previous value is put back when the block ends.
    """
    if home is None:
        yield
        return
    previous = os.environ.get("JAVA_HOME")
    os.environ["JAVA_HOME"] = str(home)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("JAVA_HOME", None)
        else:
            os.environ["JAVA_HOME"] = previous


@contextlib.contextmanager
def jvm_output(log_file: str | None) -> Iterator[None]:
    """While a JVM starts, point this process's stdout and stderr at ``log_file``.

    The JVM inherits the file descriptors, so everything it prints later (Ivy's
    resolution report, log4j warnings) goes to the file for its whole life; Python's own
    ``sys.stdout``/``sys.stderr`` get their descriptors back when the block ends.
    """
    if not log_file or log_file == "-":
        yield
        return
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    target = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(target, 1)
        os.dup2(target, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, target):
            os.close(fd)


def _connect_session(factory: type[SparkSession], url: str, conf: Mapping[str, str]) -> SparkSession:
    builder = factory.builder.remote(url)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # grpc and import errors vary
        raise EngineError(
            f"cannot connect to Spark Connect at {url}: {exc}",
            hint="Spark Connect needs the pyspark[connect] dependencies and a server with Delta",
        ) from exc
    for key, value in conf.items():
        if not key.startswith("spark.jars") and key != "soundlake.log_level":
            try:
                session.conf.set(key, value)
            except Exception as exc:  # a static or core setting: the server decides it
                raise EngineError(
                    f"Spark Connect at {url} refuses the setting {key}: {str(exc).splitlines()[0]}",
                    hint="set it where the Connect server starts (spark-submit --conf)",
                ) from exc
    return session
