"""The driver JVM's class archive: written by a first start, mapped by the next ones."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from soundlake.engines.spark.class_sharing import (
    CDS_ENV,
    DRIVER_OPTIONS,
    archive_name,
    with_class_archive,
)

SETTINGS = {"spark.jars.packages": "io.delta:delta-spark_4.2_2.13:4.4.0"}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CDS_ENV, str(tmp_path / "cds"))
    return tmp_path / "cds"


def test_a_first_start_dumps_and_a_later_one_maps_the_finished_dump(folder: Path) -> None:
    name = archive_name(SETTINGS)
    first = with_class_archive(SETTINGS, name)[DRIVER_OPTIONS]
    dump = folder / f"{name}.{os.getpid()}"
    assert f"-XX:ArchiveClassesAtExit={dump}" in first and "-Xlog:cds=off" in first
    dump.write_bytes(b"archive")  # what the JVM writes as it exits
    assert DRIVER_OPTIONS not in with_class_archive(SETTINGS, name)  # still being written: neither
    old = time.time() - 60
    os.utime(dump, (old, old))
    assert f"-XX:SharedArchiveFile={folder / name}" in with_class_archive(SETTINGS, name)[DRIVER_OPTIONS]
    assert (folder / name).read_bytes() == b"archive" and not dump.exists()


def test_other_jars_have_another_archive_and_a_project_s_own_choice_is_kept(folder: Path) -> None:
    assert archive_name(SETTINGS) != archive_name({"spark.jars.packages": "org.example:x:1"})
    own = {**SETTINGS, DRIVER_OPTIONS: "-Xshare:off -Dx=1"}
    assert with_class_archive(own, archive_name(own)) == own
    kept = with_class_archive({**SETTINGS, DRIVER_OPTIONS: "-Dx=1"}, archive_name(SETTINGS))[DRIVER_OPTIONS]
    assert kept.startswith("-Dx=1 -XX:ArchiveClassesAtExit=")


def test_off_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CDS_ENV, "off")
    assert with_class_archive(SETTINGS, archive_name(SETTINGS)) == SETTINGS
