"""Crash points of ingestion (see :mod:`soundlake.core.faults`).

Set ``SOUNDLAKE_FAULT=<step>`` (or ``<step>:<Table>`` to hit one table only); the process
ends with exit code 86 at that step. Steps, in order:

- ``query``: after the first batch was read and written to the temp file;
- ``fingerprints`` (look-back windows only): the new window sidecar is written, the
  batch file is not finished;
- ``before_rename``: the Parquet file is complete and fsynced but still in ``_tmp``;
- ``before_manifest``: the file is published in ``bronze/<Table>/``, no manifest yet;
- ``before_watermark``: the manifest is written, ``cdc.json`` not yet moved;
- ``watermark_write``: half of the new ``cdc.json`` is written to its temp file;
- ``before_cleanup`` (look-back windows only): ``cdc.json`` points at the new sidecar,
  the old sidecar is not yet deleted.
"""

from __future__ import annotations

from soundlake.core.faults import FAULT_ENV, crash_point

__all__ = ["FAULT_ENV", "FAULT_EXIT_CODE", "STEPS", "WINDOW_STEPS", "fault_point"]

FAULT_EXIT_CODE = 86
STEPS = ("query", "before_rename", "before_manifest", "before_watermark", "watermark_write")
WINDOW_STEPS = (
    "query",
    "fingerprints",
    "before_rename",
    "before_manifest",
    "before_watermark",
    "watermark_write",
    "before_cleanup",
)
"""Every step of a run with a look-back window, in order (``STEPS`` plus two)."""


def fault_point(step: str, table: str) -> None:
    """End the process (exit 86) when ``SOUNDLAKE_FAULT`` names ``step`` (and ``table``)."""
    crash_point(step, table, exit_code=FAULT_EXIT_CODE)
