"""Run the ``soundlake`` command in a child process, as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def soundlake(
    *args: str,
    project: Path | None = None,
    cwd: Path | None = None,
    columns: int | None = 250,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    inherit_env: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``soundlake [--project P] ARGS`` with captured text output (never raises on exit codes).

    The child's stdin is closed. ``columns`` sets ``COLUMNS`` (None: unset, as in a CI
    log); ``env`` adds variables;
    fault-injection variables of the parent are never passed on. ``inherit_env=False`` starts
    the child without the parent's environment: it gets only ``env``, ``COLUMNS`` and, when the
    parent has it, ``PYTHONPATH`` (so that soundlake still imports); for tests that show the
    command needs nothing from the caller's environment.
    """
    if inherit_env:
        child = {k: v for k, v in os.environ.items() if not (k.startswith("SOUNDLAKE_") and k.endswith("FAULT"))}
    else:
        child = {k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}
    child.pop("COLUMNS", None)
    if columns is not None:
        child["COLUMNS"] = str(columns)
    child.update(env or {})
    prefix = ["--project", str(project)] if project is not None else []
    return subprocess.run(
        [sys.executable, "-m", "soundlake.cli.main", *prefix, *args],
        capture_output=True, text=True, cwd=cwd, env=child, timeout=timeout, check=False,
        stdin=subprocess.DEVNULL,  # a prompt would fail at once instead of waiting for input
    )


PYTHON_WITH_SIGINT = [
    sys.executable, "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.executable, [sys.executable, *sys.argv[1:]])",
]
"""``python`` with SIGINT at its default, as from a terminal, for tests that press Ctrl-C.

A runner started in the background of a non-interactive shell ignores SIGINT, children
inherit that, and Python then installs no KeyboardInterrupt handler: such a test would
measure the runner, not soundlake."""
