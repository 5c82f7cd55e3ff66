"""Crash points: end the process at a named step, to prove exactly-once under crashes (tests).

A crash point does nothing unless an environment variable names its step: ``step`` or
``step:scope`` (a table or flow), for example ``SOUNDLAKE_FAULT=before_checkpoint:main.silver.t``.
The process then ends with ``os._exit``: no cleanup, no ``finally`` blocks, no buffered
writes flushed, as with a power cut or ``SIGKILL``. Each stage exits with its own code so a
test knows which crash point fired.
"""

from __future__ import annotations

import os

FAULT_ENV = "SOUNDLAKE_FAULT"
"""The variable that names the step (and optionally the table or flow) to crash at."""


def crash_point(step: str, scope: str | None = None, *, exit_code: int, env: str = FAULT_ENV) -> None:
    """End the process with ``exit_code`` when ``env`` names ``step`` (and ``scope``, if given there)."""
    wanted = os.environ.get(env)
    if not wanted:
        return
    name, _, only = wanted.partition(":")
    if name == step and (not only or only == scope):
        os._exit(exit_code)
