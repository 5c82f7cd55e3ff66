"""Table maintenance: compaction, Z-order and VACUUM of one Delta table, made safe.

The policy comes from the table's own properties, as on Databricks pipelines:

- ``pipelines.autoOptimize.managed`` (default ``true``): compact small files;
- ``pipelines.autoOptimize.zOrderCols`` (``"a,b"``): Z-order by these columns instead;
- ``delta.deletedFileRetentionDuration`` (default ``interval 7 days``): how long a file
  no longer in the table is kept for time travel and for readers of older versions.

Compaction and Z-order are Delta OPTIMIZE commits (``dataChange = false``): readers of the
table's changes (streaming flows here and on Spark) skip them. VACUUM deletes only files
that left the table before the retention window *and* that no protected version still
references: the caller passes the versions that a pipeline checkpoint (a streaming reader
continues after the version it read) or a running reader still needs.
"""

from __future__ import annotations

import math
import os
import posixpath
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from soundlake.core.errors import UsageError
from soundlake.core.faults import crash_point
from soundlake.lake import delta

MANAGED = "pipelines.autoOptimize.managed"
ZORDER = "pipelines.autoOptimize.zOrderCols"
RETENTION = "delta.deletedFileRetentionDuration"
FAULT_EXIT_CODE = 88
"""Exit code of maintenance's crash points (``SOUNDLAKE_FAULT=after_optimize`` or
``before_vacuum``, optionally ``:<table>``; tests only)."""
DEFAULT_RETENTION_HOURS = 7 * 24
"""Delta's default ``deletedFileRetentionDuration``: 7 days."""
TARGET_BYTES = 100 * 1024 * 1024
"""The file size compaction aims at (delta-rs' and Databricks' default OPTIMIZE target)."""

_UNITS = {"week": 168.0, "day": 24.0, "hour": 1.0, "minute": 1 / 60, "second": 1 / 3600,
          "millisecond": 1 / 3_600_000, "microsecond": 1 / 3_600_000_000}
_INTERVAL = re.compile(r"^\s*(?:interval\s+)?(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$", re.IGNORECASE)


def retention_hours(text: str, *, table: str = "") -> float:
    """Hours of a Delta interval: ``interval 7 days``, ``30 days``, ``1 hour``, ``0 hours``.

    Raises:
        UsageError: naming the table and the property when the text is not an interval.
    """
    found = _INTERVAL.match(text)
    unit = found.group(2).lower() if found else ""
    if not found or unit not in _UNITS:
        where = f"table {table}: " if table else ""
        raise UsageError(f"{where}{RETENTION} = '{text}' is not an interval such as 'interval 7 days'")
    return float(found.group(1)) * _UNITS[unit]


@dataclass(frozen=True)
class Policy:
    """What maintenance does to one table (from its properties)."""

    optimize: bool = True
    zorder: tuple[str, ...] = ()
    retention_hours: float = DEFAULT_RETENTION_HOURS

    @classmethod
    def from_properties(cls, properties: Mapping[str, str], *, table: str = "") -> Policy:
        """The policy the table properties ask for (Databricks' names and defaults)."""
        managed = str(properties.get(MANAGED, "true")).strip().lower() != "false"
        zorder = tuple(c.strip().strip("`") for c in str(properties.get(ZORDER, "")).split(",") if c.strip())
        text = properties.get(RETENTION)
        hours = retention_hours(text, table=table) if text else DEFAULT_RETENTION_HOURS
        return cls(managed, zorder, hours)


@dataclass
class Maintained:
    """What maintenance did (or, with ``dry_run``, would do) to one table."""

    table: str
    files_before: int
    files_after: int
    optimized: str = ""
    """``compact``, ``zorder (a, b)`` or empty when nothing was rewritten."""
    rewritten_files: int = 0
    vacuumed: list[str] = field(default_factory=list)
    """The data files VACUUM deleted (or would delete)."""
    kept_versions: int = 0
    """How many versions inside or before the window stayed readable because something needs them."""
    skipped: str = ""
    """Why nothing was done (for example an unsupported table feature)."""


def small_files(uri: str, storage_options: Mapping[str, str] | None = None, *,
                target_bytes: int = TARGET_BYTES) -> int:
    """How many data files of the current version are smaller than ``target_bytes``."""
    return _small(delta.open_table(uri, storage_options), target_bytes)


def maintain_table(
    name: str,
    uri: str,
    policy: Policy,
    *,
    keep_versions: Collection[int] = (),
    optimize: bool = True,
    vacuum: bool = True,
    dry_run: bool = False,
    storage_options: Mapping[str, str] | None = None,
) -> Maintained:
    """Optimize (compact or Z-order) then VACUUM one table, as ``policy`` says.

    ``keep_versions``: versions whose files VACUUM must keep whatever their age (a pipeline
    checkpoint continues after a version; a reader holds one). The retention window always
    protects time travel to every version inside it and to the last version before it.
    """
    table = delta.open_table(uri, storage_options)
    before = _file_count(table)
    done = Maintained(name, before, before)
    missing = [c for c in policy.zorder if c not in table.schema().to_arrow().names]
    if missing:
        raise UsageError(f"table {name}: {ZORDER} names {', '.join(missing)}: not a column of the table")
    try:
        if optimize and policy.optimize and before > 1:
            done.optimized = f"zorder ({', '.join(policy.zorder)})" if policy.zorder else "compact"
            if dry_run:
                done.rewritten_files = before if policy.zorder else _small(table, TARGET_BYTES)
            else:
                metrics = _optimize(table, policy)
                done.rewritten_files = int(metrics.get("numFilesRemoved", 0))
                if done.rewritten_files == 0:
                    done.optimized = ""
                crash_point("after_optimize", name, exit_code=FAULT_EXIT_CODE)
                table = delta.open_table(uri, storage_options)
        if vacuum:
            current = int(table.version())
            kept = sorted(v for v in set(keep_versions) if 0 <= v <= current)
            done.kept_versions = len(kept)
            sweep = {
                "retention_hours": math.ceil(policy.retention_hours), "enforce_retention_duration": False,
                "keep_versions": kept or None,
            }
            # files an earlier VACUUM deleted stay listed: only a real deletion is a commit
            done.vacuumed = [f for f in table.vacuum(dry_run=True, **sweep) if _exists(uri, f)]
            if done.vacuumed and not dry_run:
                crash_point("before_vacuum", name, exit_code=FAULT_EXIT_CODE)
                table.vacuum(dry_run=False, **sweep)
    except Exception as exc:  # noqa: BLE001 - a table delta-rs cannot maintain is reported, never broken
        done.skipped = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    done.files_after = _file_count(delta.open_table(uri, storage_options))
    return done


def _optimize(table: Any, policy: Policy) -> dict[str, Any]:
    if policy.zorder:
        return dict(table.optimize.z_order(policy.zorder))
    return dict(table.optimize.compact(target_size=TARGET_BYTES))


def _exists(uri: str, path: str) -> bool:
    """True when data file ``path`` (relative to the table, or absolute) is still stored."""
    if "://" in uri and not uri.startswith("file://"):
        return True  # an object store: let VACUUM decide (deleting twice is harmless)
    root = uri.removeprefix("file://")
    full = path if path.startswith("/") else posixpath.join(root, path)
    return os.path.exists(full)


def _file_count(table: Any) -> int:
    return int(pa.table(table.get_add_actions(flatten=True)).num_rows)


def _small(table: Any, target_bytes: int) -> int:
    """Small files compaction would rewrite (one small file alone is left as it is)."""
    adds = pa.table(table.get_add_actions(flatten=True))
    if adds.num_rows == 0:
        return 0
    small = sum(1 for size in adds.column("size_bytes").to_pylist() if size < target_bytes)
    return small if small > 1 else 0
