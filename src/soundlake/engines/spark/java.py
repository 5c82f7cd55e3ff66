"""Which Java installation runs a Spark driver that soundlake starts.

pyspark starts its JVM with ``$JAVA_HOME/bin/java``, or ``java`` on ``PATH``. For a local
master (``local[...]``), where that one JVM runs every task, soundlake chooses the newest
Java release Spark supports among the installations it finds (:data:`SEARCH_PATTERNS`)
when ``JAVA_HOME`` is not set: a newer JIT compiler and garbage collector do the same
work in less time (Java 25 against Java 17: ~8% less for the reference job here,
bench/RESULTS.md). ``spark.java_home`` in the project overrides the choice: a folder, or
``system`` for pyspark's own (``JAVA_HOME``, else ``java`` on ``PATH``). A cluster master
(``spark://``, ``yarn``) keeps pyspark's own choice unless a folder is given, so the
driver runs the Java its executors run.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from soundlake.core.errors import EngineError

SUPPORTED_RELEASES: tuple[int, ...] = (17, 21, 25)
"""The Java feature releases Spark 4.2 runs on (Spark's documentation: "Java 17/21/25")."""

AUTO = "auto"
SYSTEM = "system"

SEARCH_PATTERNS: tuple[str, ...] = (
    "/usr/lib/jvm/*",
    "/usr/java/*",
    "/opt/java/*",
    "/Library/Java/JavaVirtualMachines/*/Contents/Home",
    "~/.sdkman/candidates/java/*",
    "~/.jdks/*",
)
"""Where Java installations are looked for (Debian/Ubuntu, RPM, container images, macOS,
SDKMAN!, IntelliJ's downloads)."""

_VERSION = re.compile(r'^JAVA_VERSION="?([0-9][^"\s]*)"?\s*$', re.MULTILINE)


@dataclass(frozen=True)
class JavaInstallation:
    """One Java installation: its folder (a ``JAVA_HOME``) and its version."""

    home: Path
    version: str

    @property
    def release(self) -> int:
        """The feature release (``25`` for ``25.0.3``, ``8`` for ``1.8.0_412``)."""
        parts = self.version.split(".")
        return int(parts[1]) if parts[0] == "1" and len(parts) > 1 else int(re.sub(r"\D.*", "", parts[0]))


def inspect(home: Path) -> JavaInstallation | None:
    """The installation at ``home``, or None when it has no runnable ``bin/java`` or no
    readable version (its ``release`` file)."""
    java = home / "bin" / "java"
    if not (java.is_file() and os.access(java, os.X_OK)):
        return None
    try:
        match = _VERSION.search((home / "release").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
    if match is None or not match.group(1)[0].isdigit():
        return None
    return JavaInstallation(home=home, version=match.group(1))


def installations(patterns: Iterable[str] = SEARCH_PATTERNS) -> list[JavaInstallation]:
    """Java installations found under ``patterns``, one per real folder, newest first."""
    found: dict[str, JavaInstallation] = {}
    for pattern in patterns:
        for folder in sorted(glob.glob(os.path.expanduser(pattern))):
            real = os.path.realpath(folder)
            if real in found:
                continue
            installation = inspect(Path(real))
            if installation is not None:
                found[real] = installation
    return sorted(found.values(), key=lambda i: (i.release, i.version), reverse=True)


def system_java_home(environ: Mapping[str, str] = os.environ) -> Path | None:
    """pyspark's own choice: ``JAVA_HOME``, else the installation of ``java`` on ``PATH``
    (None when there is neither)."""
    if environ.get("JAVA_HOME"):
        return Path(environ["JAVA_HOME"])
    java = shutil.which("java")
    return Path(os.path.realpath(java)).parent.parent if java else None


def java_home_for(
    master: str,
    setting: str | None,
    environ: Mapping[str, str] = os.environ,
    patterns: Iterable[str] = SEARCH_PATTERNS,
) -> Path | None:
    """The ``JAVA_HOME`` a driver for ``master`` starts with, or None for pyspark's own choice.

    Args:
        master: The project's ``spark.master``.
        setting: ``spark.java_home``: ``auto`` (or None), ``system``, or a folder.
        environ: The environment (``JAVA_HOME`` set there is the user's choice).
        patterns: Where installations are looked for (:data:`SEARCH_PATTERNS`).

    Raises:
        EngineError: when ``setting`` names a folder that is not a Java installation of a
            release Spark runs on.
    """
    choice = (setting or AUTO).strip()
    if choice.lower() == SYSTEM:
        return None
    if choice.lower() != AUTO:
        home = Path(choice).expanduser()
        installation = inspect(home)
        if installation is None:
            raise EngineError(
                f"spark.java_home: {home} is not a Java installation (no bin/java or no release file)",
                hint="give the folder JAVA_HOME would name, 'auto' or 'system'",
            )
        if installation.release not in SUPPORTED_RELEASES:
            raise EngineError(
                f"spark.java_home: {home} is Java {installation.version}; Spark runs on Java "
                + "/".join(str(r) for r in SUPPORTED_RELEASES)
            )
        return home
    if environ.get("JAVA_HOME") or not master.startswith("local"):
        return None
    for installation in installations(patterns):
        if installation.release in SUPPORTED_RELEASES:
            return installation.home
    return None
