"""Spark SQL for AUTO CDC: resolve a spec and ``MERGE INTO`` the target.

The spec binding and the fold itself (normalising, de-duplication, SCD1, SCD2) are
shared with the DuckDB engine in ``engines/cdc_fold.py`` (Spark SQL, used here as is);
this module re-exports the builders the Spark engine uses.
"""

from __future__ import annotations

import re

from soundlake.core.sql_text import spark_identifier as q
from soundlake.engines.base import CdcSpec
from soundlake.engines.cdc_columns import END_AT, START_AT
from soundlake.engines.cdc_fold import (
    ResolvedCdc,
    dedup_sql,
    event_columns,
    qs,
    resolve_spec,
    target_rows_sql,
)
from soundlake.engines.cdc_fold import normalise_sql as fold_normalise_sql

__all__ = [
    "ResolvedCdc", "dedup_sql", "event_columns", "merge_sql", "normalise_sql", "q", "qs",
    "resolve", "target_rows_sql",
]

_IDENT = re.compile(r"^`?([A-Za-z_][A-Za-z0-9_]*)`?$")


def _field_name(expression: str, index: int) -> str:
    match = _IDENT.match(expression.strip())
    return match.group(1) if match else f"_{index}"


def resolve(spec: CdcSpec, event_names: list[str], target_names: list[str] | None) -> ResolvedCdc:
    """Bind ``spec`` to the event columns (and the existing target's columns, if any).

    Raises:
        FlowError: no keys, no sequence, unknown columns, or truncates on SCD type 2.
    """
    return resolve_spec(
        spec, event_names, target_names, "spark", expression=lambda e: f"({e})",
        field_name=_field_name,
        struct=lambda pairs: "named_struct(" + ", ".join(f"'{f}', {p}" for f, p in pairs) + ")",
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
