"""SCD type 1: the target rows of the affected keys, recomputed from their events.

The input relation holds every remembered event of the affected keys (one per key and
sequence value). Per key the event with the highest sequence wins; a delete (or a
truncate, applied as a delete of every key at its sequence) leaves no row. With
``ignore_null_updates`` a NULL value keeps the value of the latest earlier upsert since
the key was last deleted, in sequence order.
"""

from __future__ import annotations

from soundlake.engines.cdc_columns import DELETE, OP, SEQ, UPSERT
from soundlake.engines.duckdb.cdc_spec import ResolvedCdc, q


def filled_values_sql(rc: ResolvedCdc, source: str) -> str:
    """Events with ``__run`` (deletes so far) and, when asked, NULLs filled forward."""
    keys = ", ".join(q(k) for k in rc.keys)
    runs = (
        f"SELECT *, sum(({OP} = {DELETE})::INT) OVER (PARTITION BY {keys} ORDER BY {SEQ} "
        f"ROWS UNBOUNDED PRECEDING) AS __run FROM {source}"
    )
    if not rc.ignore_null_updates or not rc.values:
        return runs
    fills = ", ".join(
        f"last_value({q(c)} IGNORE NULLS) OVER (PARTITION BY {keys}, __run ORDER BY {SEQ} "
        f"ROWS UNBOUNDED PRECEDING) AS {q(c)}"
        for c in rc.values
    )
    excl = ", ".join(q(c) for c in rc.values)
    return f"SELECT * EXCLUDE ({excl}), {fills} FROM ({runs})"


def scd1_rows_sql(rc: ResolvedCdc, source: str) -> str:
    """SQL selecting the SCD1 target rows (target column order) of the keys in ``source``."""
    keys = ", ".join(q(k) for k in rc.keys)
    cols = ", ".join(q(c) for c in rc.columns)
    inner = filled_values_sql(rc, source) if rc.ignore_null_updates else f"SELECT * FROM {source}"
    return (
        f"SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY {keys} "
        f"ORDER BY {SEQ} DESC, {OP} DESC) AS __last FROM ({inner})) "
        f"WHERE __last = 1 AND {OP} = {UPSERT}"
    )
