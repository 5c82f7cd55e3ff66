"""Source schema changes between runs: widen, add and drop are recorded; others fail.

Each batch manifest lists the columns it was written with. Before a run, the source's
columns are compared with those of the latest soundlake batch:

- a column whose Arrow type *widens* (``int8 -> int16 -> int32 -> int64``,
  ``float32 -> float64``, a decimal with more digits at the same scale) is delivered as
  the new type and recorded as a schema-evolution event in the manifest;
- added and dropped columns are recorded the same way (readers fill a missing column
  with NULL);
- any other type change (``INT -> TEXT``, ``TIMESTAMP -> DATE``, ...) fails the table's
  ingest with one line naming the table, column, old and new type, and the fix: values
  of the new type would otherwise turn into NULL downstream.
"""

from __future__ import annotations

from typing import Any

from soundlake.core.errors import SourceError
from soundlake.lake.bronze import BronzeTable
from soundlake.source.introspect import TableInfo

_INT_ORDER = ("int8", "int16", "int32", "int64")
_FLOAT_ORDER = ("halffloat", "float", "double")


def previous_columns(bronze: BronzeTable) -> list[dict[str, Any]] | None:
    """The columns of the latest soundlake batch (None before the first one)."""
    for manifest in reversed(bronze.manifests()):
        if manifest.get("origin") == "soundlake" and manifest.get("columns"):
            return list(manifest["columns"])
    return None


def widens(old: str, new: str) -> bool:
    """True when every value of Arrow type ``old`` is exactly a value of type ``new``."""
    for order in (_INT_ORDER, _FLOAT_ORDER):
        if old in order and new in order:
            return order.index(new) > order.index(old)
    if old in _INT_ORDER[:3] and new == "double":
        return True
    if old.startswith("decimal") and new.startswith("decimal"):
        try:
            old_t, new_t = _decimal(old), _decimal(new)
        except ValueError:
            return False
        return new_t[1] == old_t[1] and new_t[0] >= old_t[0]
    return False


def _decimal(text: str) -> tuple[int, int]:
    inside = text[text.index("(") + 1 : text.index(")")]
    precision, scale = (int(part) for part in inside.split(","))
    return precision, scale


def schema_changes(
    table: str, info: TableInfo, previous: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """The schema-evolution events of this run (empty when nothing changed).

    Raises:
        SourceError: naming the table, column, old and new type of an incompatible change.
    """
    if previous is None:
        return []
    old = {c["name"]: str(c.get("arrow_type")) for c in previous}
    events: list[dict[str, Any]] = []
    for col in info.columns:
        new_type = str(col.arrow_type)
        if col.name not in old:
            events.append({"column": col.name, "change": "added", "to": new_type})
            continue
        old_type = old[col.name]
        if old_type == new_type:
            continue
        if not widens(old_type, new_type):
            raise SourceError(
                f"table {table}, column '{col.name}' changed type from {old_type} to "
                f"{new_type} ({col.sql_type}) in the source, which bronze cannot hold "
                "without losing values",
                hint=(
                    f"change the column back to a type that widens {old_type}, or add the "
                    "values as a new column; to restart the table from scratch, move "
                    f"bronze/{table} and bronze/{table}_cdc away and ingest again"
                ),
            )
        events.append({"column": col.name, "change": "widened", "from": old_type, "to": new_type})
    current = {c.name for c in info.columns}
    events.extend(
        {"column": name, "change": "dropped", "from": old[name]}
        for name in old
        if name not in current
    )
    return events


def prefix_width(info: TableInfo, previous: list[dict[str, Any]] | None) -> int | None:
    """How many leading source columns the previous batch had, when columns were only appended.

    None when nothing was appended (or the columns were reordered, renamed or dropped).
    """
    if previous is None:
        return None
    names = [c["name"] for c in previous]
    current = [c.name for c in info.columns]
    if len(current) <= len(names) or current[: len(names)] != names:
        return None
    return len(names)
