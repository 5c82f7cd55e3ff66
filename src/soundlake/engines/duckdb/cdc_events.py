"""Turn one batch of raw change events into normalised CDC events inside DuckDB.

A normalised event has the key columns, the target's value columns (NULL for deletes and
truncates), ``__seq`` (the sequence value, a struct when ``sequence_by`` has several parts)
and ``__op`` (0 upsert, 1 delete, 2 truncate). At most one event survives per key and
sequence value; see :func:`dedup_sql` for the tie rule.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from soundlake.core.errors import FlowError
from soundlake.engines.cdc_columns import DELETE, OP, SEQ, TRUNCATE, UPSERT
from soundlake.engines.duckdb.cdc_spec import ResolvedCdc, q


def dedup_sql(rc: ResolvedCdc, source: str) -> str:
    """Keep one event per (keys, sequence): the tie rule, independent of arrival order.

    A delete wins over an upsert. Between different upserts the one with the greatest
    values wins, compared column by column in target column order with NULL lowest.
    """
    part = ", ".join([q(k) for k in rc.keys] + [SEQ])
    order = [f"{OP} DESC"] + [f"{q(c)} DESC NULLS LAST" for c in rc.values]
    return (
        f"SELECT * EXCLUDE (__rn) FROM (SELECT *, row_number() OVER "
        f"(PARTITION BY {part} ORDER BY {', '.join(order)}) AS __rn FROM {source}) "
        f"WHERE __rn = 1"
    )


def _op_sql(rc: ResolvedCdc) -> str:
    cases = []
    if rc.truncate_sql:
        cases.append(f"WHEN coalesce(({rc.truncate_sql}), false) THEN {TRUNCATE}")
    if rc.delete_sql:
        cases.append(f"WHEN coalesce(({rc.delete_sql}), false) THEN {DELETE}")
    if not cases:
        return f"{UPSERT}::TINYINT"
    return f"(CASE {' '.join(cases)} ELSE {UPSERT} END)::TINYINT"


def load_events(con: Any, rc: ResolvedCdc, events: pa.Table | pa.RecordBatchReader) -> None:
    """Load ``events`` into temp tables ``cdc_batch`` (keyed events) and check them.

    Also creates ``cdc_batch_truncates`` (the sequence values of truncate events).

    Raises:
        FlowError: an event has a NULL sequence value or (for non-truncates) a NULL key;
            the message names the flow and shows the first offending row.
    """
    con.register("cdc_raw_events", events)
    values = ", ".join(f"CASE WHEN {OP} = {UPSERT} THEN {q(c)} END AS {q(c)}" for c in rc.values)
    keys = ", ".join(q(k) for k in rc.keys)
    seq_null = " OR ".join(f"({p}) IS NULL" for p in rc.seq_parts)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE cdc_all AS "
        f"SELECT {keys}{', ' if values else ''}{values}, {SEQ}, {OP}, __seq_null FROM ("
        f"SELECT *, {rc.seq_sql} AS {SEQ}, {_op_sql(rc)} AS {OP}, ({seq_null}) AS __seq_null "
        "FROM cdc_raw_events)"
    )
    con.unregister("cdc_raw_events")
    _check_nulls(con, rc)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE cdc_batch AS "
        + dedup_sql(rc, f"(SELECT * EXCLUDE (__seq_null) FROM cdc_all WHERE {OP} < {TRUNCATE})")
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE cdc_batch_truncates AS SELECT {SEQ} FROM cdc_all "
        f"WHERE {OP} = {TRUNCATE}"
    )
    con.execute("DROP TABLE cdc_all")


def _check_nulls(con: Any, rc: ResolvedCdc) -> None:
    row = con.execute("SELECT * EXCLUDE (__seq_null) FROM cdc_all WHERE __seq_null LIMIT 1")
    rows = row.fetchall()
    bad = rows[0] if rows else None
    if bad is not None:
        n = con.execute("SELECT count(*) FROM cdc_all WHERE __seq_null").fetchall()[0][0]
        raise FlowError(
            f"flow {rc.flow!r}: {n} change event(s) have a NULL sequence value "
            f"(sequence_by {rc.seq_parts}); first: {_describe(con, rc, bad)}"
        )
    key_null = " OR ".join(f"{q(k)} IS NULL" for k in rc.keys)
    bad = con.execute(
        f"SELECT * EXCLUDE (__seq_null) FROM cdc_all WHERE {OP} < {TRUNCATE} AND ({key_null}) "
        "LIMIT 1"
    ).fetchall()
    bad = bad[0] if bad else None
    if bad is not None:
        n = con.execute(
            f"SELECT count(*) FROM cdc_all WHERE {OP} < {TRUNCATE} AND ({key_null})"
        ).fetchall()[0][0]
        raise FlowError(
            f"flow {rc.flow!r}: {n} change event(s) have a NULL key "
            f"(keys {list(rc.keys)}); first: {_describe(con, rc, bad)}"
        )


def _describe(con: Any, rc: ResolvedCdc, row: tuple[Any, ...]) -> str:
    names = list(rc.keys) + list(rc.values) + [SEQ, OP]
    return ", ".join(f"{n}={v!r}" for n, v in zip(names, row))
