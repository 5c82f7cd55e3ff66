"""One writer per project: the lock file, a clear error for a second run, stale takeover."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from soundlake.catalog.lock import ProjectLock
from soundlake.core.errors import LockedError


def test_second_holder_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    with ProjectLock(path, what="project 'x'"):
        record = json.loads(path.read_text())
        assert record["pid"] == os.getpid() and record["host"] == socket.gethostname()
        with pytest.raises(LockedError) as info:
            ProjectLock(path, what="project 'x'").acquire()
        message = str(info.value)
        assert f"pid {os.getpid()}" in message and "project 'x'" in message and str(path) in message
    assert not path.exists()
    with ProjectLock(path):
        pass


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=False, capture_output=True, text=True)
    path = tmp_path / "lock.json"
    path.write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "since": "then"}))
    with ProjectLock(path) as lock:
        assert lock.held
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_lock_of_another_host_is_respected(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    path.write_text(json.dumps({"pid": 1, "host": "elsewhere", "since": "then"}))
    with pytest.raises(LockedError, match="elsewhere"):
        ProjectLock(path).acquire()


def test_a_run_while_another_holds_the_lock_fails(tmp_path: Path) -> None:
    from tests.pipeline.conftest import Lakehouse

    lh = Lakehouse(tmp_path / "p")
    lh.sql("CREATE OR REFRESH MATERIALIZED VIEW one AS SELECT 1 AS x;")
    from soundlake.project.pipeline_ops import writer_lock

    with writer_lock(lh.project), pytest.raises(LockedError, match="another soundlake process"):
        lh.run()
    assert lh.run().ok
