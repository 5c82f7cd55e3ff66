"""Which Java runs the driver: JAVA_HOME, spark.java_home, or the newest Java Spark runs on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from soundlake.core.errors import EngineError
from soundlake.engines.spark.java import (
    SEARCH_PATTERNS,
    JavaInstallation,
    inspect,
    installations,
    java_home_for,
    system_java_home,
)
from soundlake.engines.spark.session import java_environment


def make_java(root: Path, name: str, version: str | None, *, runnable: bool = True) -> Path:
    """A folder laid out as a Java installation (``bin/java`` and a ``release`` file)."""
    home = root / name
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text("#!/bin/sh\nexit 0\n")
    java.chmod(0o755 if runnable else 0o644)
    if version is not None:
        (home / "release").write_text(f'IMPLEMENTOR="Test"\nJAVA_VERSION="{version}"\nOS_ARCH="x86_64"\n')
    return home


@pytest.fixture
def jvms(tmp_path: Path) -> Path:
    root = tmp_path / "jvm"
    make_java(root, "java-11", "11.0.22")
    make_java(root, "java-17", "17.0.15")
    make_java(root, "temurin-25", "25.0.3")
    make_java(root, "openjdk-26", "26-ea")  # newer than any release Spark runs on
    make_java(root, "no-release", None)
    make_java(root, "not-runnable", "21.0.1", runnable=False)
    (root / "java-1.17.0").symlink_to(root / "java-17")  # Debian's alias of the same JDK
    (root / "empty").mkdir()
    return root


def test_versions_become_feature_releases() -> None:
    for version, release in (("1.8.0_412", 8), ("17.0.15", 17), ("21", 21), ("25.0.3", 25), ("26-ea", 26)):
        assert JavaInstallation(Path("/j"), version).release == release


def test_installations_are_found_once_each_newest_first(jvms: Path) -> None:
    found = installations([f"{jvms}/*"])
    assert [(i.home.name, i.release) for i in found] == [
        ("openjdk-26", 26), ("temurin-25", 25), ("java-17", 17), ("java-11", 11),
    ]
    assert inspect(jvms / "no-release") is None and inspect(jvms / "not-runnable") is None


def test_a_local_driver_gets_the_newest_java_spark_runs_on(jvms: Path) -> None:
    patterns = [f"{jvms}/*"]
    assert java_home_for("local[*]", None, {}, patterns) == jvms / "temurin-25"
    assert java_home_for("local[2]", "auto", {}, patterns) == jvms / "temurin-25"
    assert java_home_for("local[*]", None, {}, [f"{jvms}/java-1*"]) == jvms / "java-17"
    assert java_home_for("local[*]", None, {}, [f"{jvms}/empty/*"]) is None  # none found: pyspark's choice


def test_java_home_a_cluster_and_system_keep_pyspark_s_choice(jvms: Path) -> None:
    patterns = [f"{jvms}/*"]
    assert java_home_for("local[*]", "auto", {"JAVA_HOME": "/opt/mine"}, patterns) is None
    assert java_home_for("spark://127.0.0.1:7077", None, {}, patterns) is None
    assert java_home_for("local[*]", "system", {}, patterns) is None


def test_a_named_folder_is_used_for_any_master_and_checked(jvms: Path) -> None:
    assert java_home_for("spark://m:7077", str(jvms / "java-17"), {"JAVA_HOME": "/x"}) == jvms / "java-17"
    with pytest.raises(EngineError, match=r"spark.java_home: .*empty is not a Java installation"):
        java_home_for("local[*]", str(jvms / "empty"), {})
    with pytest.raises(EngineError, match=r"is Java 11.0.22; Spark runs on Java 17/21/25"):
        java_home_for("local[*]", str(jvms / "java-11"), {})


def test_pyspark_s_own_choice_is_java_home_else_java_on_path(jvms: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert system_java_home({"JAVA_HOME": str(jvms / "java-17")}) == jvms / "java-17"
    monkeypatch.setenv("PATH", str(jvms / "java-1.17.0" / "bin"))
    assert system_java_home({}) == jvms / "java-17"  # the real folder behind the alias
    monkeypatch.setenv("PATH", str(jvms / "empty"))
    assert system_java_home({}) is None


def test_java_home_is_set_only_while_the_jvm_starts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JAVA_HOME", "/before")
    with java_environment(tmp_path):
        assert os.environ["JAVA_HOME"] == str(tmp_path)
    assert os.environ["JAVA_HOME"] == "/before"
    monkeypatch.delenv("JAVA_HOME")
    with java_environment(tmp_path):
        assert os.environ["JAVA_HOME"] == str(tmp_path)
    assert "JAVA_HOME" not in os.environ


def chosen_here() -> Path | None:
    """The Java a local driver gets on this machine (without the caller's JAVA_HOME)."""
    return java_home_for("local[*]", None, {}, SEARCH_PATTERNS)


def test_the_local_session_runs_on_the_chosen_java(spark: Any) -> None:
    if os.environ.get("JAVA_HOME"):
        pytest.skip("JAVA_HOME is set: pyspark's own choice")
    home = chosen_here()
    if home is None:
        pytest.skip("no Java installation found where soundlake looks")
    installation = inspect(home)
    assert installation is not None
    running = spark.sparkContext._jvm.java.lang.System.getProperty("java.version")
    assert running == installation.version
