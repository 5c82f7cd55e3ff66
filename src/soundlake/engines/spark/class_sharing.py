"""Application Class Data Sharing for the driver's JVM: Spark starts faster after its first run.

A Spark driver loads some 20,000 classes from ~300 jars when it starts and while its first
queries run (measured here: ~7 s to a session, then ~11 s of first-query warm-up shared by
the first flows). Java 13+ can write the classes a JVM loaded into an archive when it
exits (``-XX:ArchiveClassesAtExit``) and map that archive at the next start
(``-XX:SharedArchiveFile``), which takes about 4 s off a small update here
(bench/RESULTS.md). The archive belongs to one JDK, one pyspark and one set of jars, so
its name is a hash of them; a JVM that cannot use an archive ignores it and starts as it
would without (``-Xshare:auto``, the default).

The archive lives in ``~/.cache/soundlake/cds`` (``SOUNDLAKE_SPARK_CDS`` names another
folder, or ``off`` turns this off; ~200 MB). A JVM writes its dump under its own name
(``<archive>.<pid>``); a later start makes a finished dump the archive. A project that
sets ``-XX:SharedArchiveFile``, ``-XX:ArchiveClassesAtExit`` or ``-Xshare`` in
``spark.driver.extraJavaOptions`` keeps its own choice.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

CDS_ENV = "SOUNDLAKE_SPARK_CDS"
DRIVER_OPTIONS = "spark.driver.extraJavaOptions"
QUIET = ("-Xlog:cds=off", "-Xlog:cds+dynamic=off")
"""The JVM's notes on classes it cannot archive go nowhere (they would reach ``-v`` output)."""
SETTLED_SECONDS = 10
"""A dump untouched this long is complete (a JVM writes one in a few seconds as it exits)."""


def archive_folder() -> Path | None:
    """Where archives are kept, or None when ``SOUNDLAKE_SPARK_CDS`` is ``off``."""
    configured = os.environ.get(CDS_ENV, "").strip()
    if configured.lower() in ("off", "0", "false", "no"):
        return None
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "soundlake" / "cds"


def archive_name(settings: Mapping[str, str]) -> str:
    """The archive's file name: a hash of the JDK, pyspark and the jars the driver loads."""
    java = os.environ.get("JAVA_HOME") or os.path.realpath(shutil.which("java") or "java")
    try:
        pyspark = metadata.version("pyspark")
    except metadata.PackageNotFoundError:
        pyspark = "?"
    jars = settings.get("spark.jars", "") + "|" + settings.get("spark.jars.packages", "")
    return hashlib.sha256(f"{java}|{pyspark}|{jars}".encode()).hexdigest()[:16] + ".jsa"


def with_class_archive(settings: Mapping[str, str], name: str) -> dict[str, str]:
    """``settings`` with the driver JVM mapping the class archive ``name``
    (:func:`archive_name`), or writing it when it exits."""
    out = dict(settings)
    options = out.get(DRIVER_OPTIONS, "")
    folder = archive_folder()
    if folder is None or any(flag in options for flag in ("SharedArchiveFile", "ArchiveClassesAtExit", "-Xshare")):
        return out
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return out
    archive = folder / name
    if _settle(archive):
        return out  # another JVM's dump is being written: this one neither maps nor dumps
    if archive.is_file():
        flag = f"-XX:SharedArchiveFile={archive}"
    else:
        flag = f"-XX:ArchiveClassesAtExit={archive}.{os.getpid()}"
    out[DRIVER_OPTIONS] = " ".join(part for part in (options, flag, *QUIET) if part)
    return out


def _settle(archive: Path) -> bool:
    """Make a finished dump of an earlier JVM the archive and delete the other dumps;
    True when a dump may still be being written."""
    now = time.time()
    pending = False
    for dump in sorted(archive.parent.glob(f"{archive.name}.*")):
        try:
            age = now - dump.stat().st_mtime
            if age < SETTLED_SECONDS:
                pending = True  # a JVM may still be writing it
                continue
            if not archive.exists() and dump.stat().st_size > 0:
                dump.replace(archive)
            else:
                dump.unlink()
        except OSError:
            continue
    return pending
