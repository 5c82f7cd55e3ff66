"""What a flow's counts mean, in Databricks' metric names and in words.

A ``flow_progress`` event carries ``metrics`` (``num_output_rows``: rows written to the
target in this update; ``num_upserted_rows`` / ``num_deleted_rows``: rows an AUTO CDC flow
inserted or updated / deleted; ``num_input_rows``: rows read from the flow's inputs) and
``data_quality`` (``dropped_records``, ``quarantined_records``, per-expectation
``failed_records``). The size of the target table is never a flow metric: ``status`` and
``describe`` report it separately.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from soundlake.core.text import plural

COUNT_COLUMNS = (
    ("rows in", "num_input_rows"),
    ("written", "num_output_rows"),
    ("upserted", "num_upserted_rows"),
    ("deleted", "num_deleted_rows"),
    ("dropped", "dropped_records"),
    ("quarantined", "quarantined_records"),
)
"""Column heading and metric name of every count, in the order they are shown."""


def flow_counts(progress: Mapping[str, Any]) -> dict[str, int | None]:
    """The counts of one ``flow_progress`` body by metric name (None: not measured)."""
    metrics = progress.get("metrics") or {}
    quality = progress.get("data_quality") or {}
    out: dict[str, int | None] = {}
    for _, name in COUNT_COLUMNS:
        value = metrics.get(name, quality.get(name))
        out[name] = int(value) if value is not None else None
    return out


def describe_counts(progress: Mapping[str, Any]) -> str:
    """``1,000 rows in, 997 written, 3 dropped``: the non-zero counts of a flow, in words.

    ``written`` is always shown for a flow that completed; the CDC counts only when set;
    then the expectations that failed (with their failed records) and how many passed
    (``failed expectations: positive (1), 2 other expectations passed``; ``3 expectations passed``).
    """
    counts = flow_counts(progress)
    parts: list[str] = []
    if counts["num_input_rows"] is not None:
        parts.append(f"{plural(counts['num_input_rows'], 'row')} in")
    parts.append(f"{counts['num_output_rows'] or 0:,} written")
    for label, name in COUNT_COLUMNS[2:]:
        value = counts[name]
        if value:
            parts.append(f"{value:,} {label}")
    checked = (progress.get("data_quality") or {}).get("expectations") or []
    failing = [e for e in checked if e.get("failed_records")]
    if failing:
        names = ", ".join(f"{e['name']} ({e['failed_records']:,})" for e in failing)
        parts.append(f"failed expectations: {names}")
    passing = len(checked) - len(failing)
    if passing and failing:
        parts.append(f"{plural(passing, 'other expectation')} passed")
    elif passing:
        parts.append(f"{plural(passing, 'expectation')} passed")
    return ", ".join(parts)
