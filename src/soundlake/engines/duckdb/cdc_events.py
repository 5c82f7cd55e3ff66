"""Turn one batch of raw change events into normalised CDC events inside DuckDB.

A normalised event has the key columns, the target's value columns (NULL for deletes and
truncates), ``__seq`` (the sequence value, a struct when ``sequence_by`` has several parts)
and ``__op`` (0 upsert, 1 delete, 2 truncate). At most one event survives per key and
sequence value; the tie rule is ``engines/cdc_fold.dedup_sql``.
"""

from __future__ import annotations

from typing import Any

from soundlake.core.errors import FlowError
from soundlake.engines.cdc_columns import OP, SEQ, TRUNCATE
from soundlake.engines.duckdb.cdc_fold import dedup_sql, normalise_sql
from soundlake.engines.duckdb.cdc_spec import ResolvedCdc, q


def load_events(con: Any, rc: ResolvedCdc, events: str) -> None:
    """Load the relation ``events`` into temp tables ``cdc_batch`` (keyed events) and check them.

    Also creates ``cdc_batch_truncates`` (the sequence values of truncate events).

    Raises:
        FlowError: an event has a NULL sequence value or (for non-truncates) a NULL key;
            the message names the flow and shows the first offending row.
    """
    con.execute("CREATE OR REPLACE TEMP TABLE cdc_all AS " + normalise_sql(rc, events))
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
