"""Fault points: kill the process at a named step, to prove exactly-once under crashes.

Set ``SOUNDLAKE_FAULT=<step>`` (or ``<step>:<Table>`` to hit one table only) and the
process ends with ``os._exit`` when it reaches that step: no cleanup, no ``finally``
blocks, no buffered writes flushed, as with a power cut or ``SIGKILL``. Steps, in order:

- ``query``: after the first batch was read and written to the temp file;
- ``before_rename``: the Parquet file is complete and fsynced but still in ``_tmp``;
- ``before_manifest``: the file is published in ``bronze/<Table>/``, no manifest yet;
- ``before_watermark``: the manifest is written, ``cdc.json`` not yet moved;
- ``watermark_write``: half of the new ``cdc.json`` is written to its temp file.
"""

from __future__ import annotations

import os

FAULT_ENV = "SOUNDLAKE_FAULT"
FAULT_EXIT_CODE = 86
STEPS = ("query", "before_rename", "before_manifest", "before_watermark", "watermark_write")


def fault_point(step: str, table: str) -> None:
    """End the process immediately when ``SOUNDLAKE_FAULT`` names ``step`` (and ``table``)."""
    wanted = os.environ.get(FAULT_ENV)
    if not wanted:
        return
    name, _, only = wanted.partition(":")
    if name == step and (not only or only == table):
        os._exit(FAULT_EXIT_CODE)
