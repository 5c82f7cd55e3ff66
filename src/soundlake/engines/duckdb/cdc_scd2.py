"""SCD type 2: the history of the affected keys, recomputed from their events.

Per key, events are taken in sequence order. An upsert opens a new version when it is
the key's first event, follows a delete, or differs from the previous upsert in a
tracked column (NULL-safe); otherwise it updates the open version in place (its
untracked values become the latest ones, ``__START_AT`` stays). A version ends at the
sequence of the next event after its last upsert: the upsert opening the next version or
the delete closing it. Because the whole history of a key is recomputed from its
remembered events, late events split intervals exactly as if they had arrived in order.
"""

from __future__ import annotations

from soundlake.engines.cdc_columns import DELETE, END_AT, OP, SEQ, START_AT, UPSERT
from soundlake.engines.duckdb.cdc_scd1 import filled_values_sql
from soundlake.engines.duckdb.cdc_spec import ResolvedCdc, q


def scd2_rows_sql(rc: ResolvedCdc, source: str) -> str:
    """SQL selecting the SCD2 rows (columns + __START_AT, __END_AT) of keys in ``source``."""
    keys = ", ".join(q(k) for k in rc.keys)
    win = f"PARTITION BY {keys} ORDER BY {SEQ}"
    lags = "".join(f", lag({q(c)}) OVER w AS {q('__p_' + c)}" for c in rc.tracked)
    changed = " OR ".join(
        ["__prev_op IS NULL", f"__prev_op = {DELETE}"]
        + [f"{q(c)} IS DISTINCT FROM {q('__p_' + c)}" for c in rc.tracked]
    )
    step1 = (
        f"SELECT *, lag({OP}) OVER w AS __prev_op, lead({SEQ}) OVER w AS __next_seq{lags} "
        f"FROM ({filled_values_sql(rc, source)}) WINDOW w AS ({win})"
    )
    step2 = (
        f"SELECT *, ({OP} = {UPSERT} AND ({changed})) AS __opens FROM ({step1})"
    )
    step3 = (
        f"SELECT *, lead(__opens OR {OP} = {DELETE}) OVER w AS __next_breaks, "
        f"sum(__opens::INT) OVER (w ROWS UNBOUNDED PRECEDING) AS __ver "
        f"FROM ({step2}) WINDOW w AS ({win})"
    )
    step4 = (
        f"SELECT *, min({SEQ}) OVER (PARTITION BY {keys}, __ver) AS __start "
        f"FROM ({step3}) WHERE {OP} = {UPSERT}"
    )
    cols = ", ".join(q(c) for c in rc.columns)
    return (
        f"SELECT {cols}, __start AS {q(START_AT)}, __next_seq AS {q(END_AT)} FROM ({step4}) "
        f"WHERE __next_breaks IS NULL OR __next_breaks"
    )
