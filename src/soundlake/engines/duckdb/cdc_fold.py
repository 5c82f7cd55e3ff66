"""The shared AUTO CDC fold (``engines/cdc_fold.py``) rendered for DuckDB.

The fold is built once as Spark SQL and transpiled with sqlglot; DuckDB relations and
the spec's DuckDB expressions are substituted for placeholders after rendering.
"""

from __future__ import annotations

from soundlake.engines import cdc_fold
from soundlake.engines.cdc_fold import SOURCE, render
from soundlake.engines.duckdb.cdc_spec import ResolvedCdc

_SEQ, _DELETE, _TRUNCATE = "__cdc_x_seq", "__cdc_x_delete", "__cdc_x_truncate"


def dedup_sql(rc: ResolvedCdc, source: str) -> str:
    """Keep one event per (keys, sequence) of ``source`` (see ``cdc_fold.dedup_sql``)."""
    return render(cdc_fold.dedup_sql(rc, SOURCE), "duckdb", {SOURCE: source})


def target_rows_sql(rc: ResolvedCdc, source: str) -> str:
    """The SCD1 or SCD2 target rows of the keys whose events are in ``source``."""
    return render(cdc_fold.target_rows_sql(rc, SOURCE), "duckdb", {SOURCE: source})


def normalise_sql(rc: ResolvedCdc, source: str) -> str:
    """Raw events of ``source`` in normal form plus ``__seq_null``."""
    parts = [f"__cdc_x_part{i}" for i in range(len(rc.seq_parts))]
    subs = {SOURCE: source, _SEQ: rc.seq_sql, **dict(zip(parts, rc.seq_parts))}
    if rc.delete_sql:
        subs[_DELETE] = rc.delete_sql
    if rc.truncate_sql:
        subs[_TRUNCATE] = rc.truncate_sql
    spark_sql = cdc_fold.normalise_sql(
        rc, SOURCE, _SEQ, parts, _DELETE if rc.delete_sql else None,
        _TRUNCATE if rc.truncate_sql else None,
    )
    return render(spark_sql, "duckdb", subs)
