"""Spark SQL for AUTO CDC: resolve a spec and ``MERGE INTO`` the target.

The fold itself (normalising, de-duplication, SCD1, SCD2) is shared with the DuckDB
engine and lives in ``engines/cdc_fold.py``; this module re-exports the builders the
Spark engine uses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from soundlake.engines.base import CdcSpec
from soundlake.engines.cdc_columns import END_AT, START_AT, cdc_columns, check_spec
from soundlake.engines.cdc_fold import (
    dedup_sql,
    event_columns,
    q,
    qs,
    target_rows_sql,
)
from soundlake.engines.cdc_fold import normalise_sql as fold_normalise_sql

__all__ = [
    "ResolvedCdc", "dedup_sql", "event_columns", "merge_sql", "normalise_sql", "q", "qs",
    "resolve", "target_rows_sql",
]

_IDENT = re.compile(r"^`?([A-Za-z_][A-Za-z0-9_]*)`?$")


@dataclass(frozen=True)
class ResolvedCdc:
    """A CDC spec bound to concrete columns (see the DuckDB engine's twin).

    Attributes:
        flow: Flow name, used in every error message.
        scd_type: 1 or 2.
        keys: Key columns, compared column by column.
        columns: Target data columns in target order (keys first when added).
        values: ``columns`` without the keys.
        tracked: Value columns whose change opens a new SCD2 version.
        seq_sql: Spark SQL computing an event's sequence value.
        seq_parts: Spark SQL of each sequence part (for NULL checks).
        delete_sql: Boolean expression marking deletes, or None.
        truncate_sql: Boolean expression marking truncates, or None.
        ignore_null_updates: NULL values in an update keep the previous value.
    """

    flow: str
    scd_type: int
    keys: tuple[str, ...]
    columns: tuple[str, ...]
    values: tuple[str, ...]
    tracked: tuple[str, ...]
    seq_sql: str
    seq_parts: tuple[str, ...]
    delete_sql: str | None
    truncate_sql: str | None
    ignore_null_updates: bool

    @property
    def match_columns(self) -> tuple[str, ...]:
        """Columns identifying one target row: the keys (SCD1) or keys + __START_AT."""
        return self.keys + ((START_AT,) if self.scd_type == 2 else ())

    def key_join(self, left: str, right: str, columns: Sequence[str] | None = None) -> str:
        """Equality join on the keys (never NULL) or on ``columns``."""
        return " AND ".join(f"{left}.{q(k)} = {right}.{q(k)}" for k in (columns or self.keys))


def _field_name(expression: str, index: int) -> str:
    match = _IDENT.match(expression.strip())
    return match.group(1) if match else f"_{index}"


def resolve(spec: CdcSpec, event_names: list[str], target_names: list[str] | None) -> ResolvedCdc:
    """Bind ``spec`` to the event columns (and the existing target's columns, if any).

    Raises:
        FlowError: no keys, no sequence, unknown columns, or truncates on SCD type 2.
    """
    flow = spec.flow
    check_spec(spec)
    bound = cdc_columns(spec, event_names, target_names)
    parts = tuple(f"({e})" for e in spec.sequence_by)
    if len(parts) == 1:
        seq_sql = parts[0]
    else:
        fields = [_field_name(e, i) for i, e in enumerate(spec.sequence_by)]
        seq_sql = "named_struct(" + ", ".join(f"'{f}', {p}" for f, p in zip(fields, parts)) + ")"
    return ResolvedCdc(
        flow=flow,
        scd_type=int(spec.scd_type),
        keys=tuple(spec.keys),
        columns=bound.columns,
        values=bound.values,
        tracked=bound.tracked,
        seq_sql=seq_sql,
        seq_parts=parts,
        delete_sql=spec.apply_as_deletes,
        truncate_sql=spec.apply_as_truncates,
        ignore_null_updates=spec.ignore_null_updates,
    )


def normalise_sql(rc: ResolvedCdc, source: str) -> str:
    """Events in normal form plus ``__seq_null`` (a sequence part is NULL)."""
    return fold_normalise_sql(rc, source, rc.seq_sql, rc.seq_parts, rc.delete_sql, rc.truncate_sql)


def merge_sql(rc: ResolvedCdc, target_path: str, source: str) -> str:
    """``MERGE INTO`` the target from ``source`` rows flagged ``__present``.

    ``source`` holds the recomputed rows of the affected keys (``__present`` true) and the
    target's rows of those keys that are no longer produced (``__present`` false).
    """
    match = rc.match_columns
    updatable = [c for c in (*rc.columns, *((END_AT,) if rc.scd_type == 2 else ())) if c not in match]
    all_cols = (*rc.columns, *((START_AT, END_AT) if rc.scd_type == 2 else ()))
    differs = " OR ".join(f"t.{q(c)} IS DISTINCT FROM s.{q(c)}" for c in updatable) or "false"
    sets = ", ".join(f"t.{q(c)} = s.{q(c)}" for c in updatable)
    update = f"WHEN MATCHED AND s.__present AND ({differs}) THEN UPDATE SET {sets} " if sets else ""
    return (
        f"MERGE INTO delta.{q(target_path)} t USING {source} s ON {rc.key_join('t', 's', match)} "
        f"WHEN MATCHED AND NOT s.__present THEN DELETE "
        f"{update}"
        f"WHEN NOT MATCHED AND s.__present THEN INSERT ({qs(all_cols)}) VALUES ({qs(all_cols, 's.')})"
    )
