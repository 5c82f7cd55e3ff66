"""The AUTO CDC fold, written once: event normalising, de-duplication, SCD1 and SCD2.

Every builder returns Spark SQL text. The Spark engine runs it as is; the DuckDB engine
renders it with :func:`render` (sqlglot, Spark to DuckDB). Both engines therefore compute
the same target rows from the same events: the rows of the affected keys are a pure
function of every remembered event of those keys (SEMANTICS.md section 3).

Normalised events have the key columns, the value columns (NULL unless an upsert),
``__seq`` (a struct when ``sequence_by`` has several parts) and ``__op`` (0 upsert,
1 delete, 2 truncate).

Relations and engine expressions that are not Spark SQL (a DuckDB subquery, a DuckDB
sequence expression) are passed as placeholders (:data:`SOURCE` or any ``__cdc_x_*``
identifier) and substituted after rendering.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Protocol

import sqlglot

from soundlake.engines.cdc_columns import DELETE, END_AT, OP, SEQ, START_AT, TRUNCATE, UPSERT

SOURCE = "__cdc_x_source"
_PLACEHOLDER = re.compile(r"\b__cdc_x_[A-Za-z0-9_]+\b")


class FoldSpec(Protocol):
    """What the fold needs from a resolved spec (both engines' ``ResolvedCdc`` have it)."""

    @property
    def scd_type(self) -> int: ...  # pragma: no cover
    @property
    def keys(self) -> tuple[str, ...]: ...  # pragma: no cover
    @property
    def columns(self) -> tuple[str, ...]: ...  # pragma: no cover
    @property
    def values(self) -> tuple[str, ...]: ...  # pragma: no cover
    @property
    def tracked(self) -> tuple[str, ...]: ...  # pragma: no cover
    @property
    def ignore_null_updates(self) -> bool: ...  # pragma: no cover


def q(name: str) -> str:
    """Quote an identifier for Spark SQL."""
    return "`" + name.replace("`", "``") + "`"


def qs(names: Sequence[str], prefix: str = "") -> str:
    """Comma-separated quoted identifiers, each optionally qualified by ``prefix``."""
    return ", ".join(prefix + q(n) for n in names)


@lru_cache(maxsize=256)
def _transpile(spark_sql: str, dialect: str) -> str:
    return str(sqlglot.transpile(spark_sql, read="spark", write=dialect)[0])


def render(spark_sql: str, dialect: str, subs: Mapping[str, str] | None = None) -> str:
    """Render fold SQL for ``dialect`` ("spark" or a sqlglot dialect such as "duckdb").

    ``subs`` maps placeholders (``__cdc_x_*`` identifiers) to text in the target dialect;
    every placeholder left in the SQL must be mapped.

    Raises:
        KeyError: a placeholder in the SQL has no substitution.
    """
    text = spark_sql if dialect == "spark" else _transpile(spark_sql, dialect)
    given = dict(subs or {})
    return _PLACEHOLDER.sub(lambda m: given[m.group(0)], text)


def op_sql(delete_sql: str | None, truncate_sql: str | None) -> str:
    """The ``__op`` of a raw event: truncate, else delete, else upsert."""
    cases = []
    if truncate_sql:
        cases.append(f"WHEN coalesce(({truncate_sql}), false) THEN {TRUNCATE}")
    if delete_sql:
        cases.append(f"WHEN coalesce(({delete_sql}), false) THEN {DELETE}")
    if not cases:
        return f"CAST({UPSERT} AS TINYINT)"
    return f"CAST(CASE {' '.join(cases)} ELSE {UPSERT} END AS TINYINT)"


def normalise_sql(
    rc: FoldSpec, source: str, seq_sql: str, seq_parts: Sequence[str],
    delete_sql: str | None, truncate_sql: str | None,
) -> str:
    """Events in normal form plus ``__seq_null`` (a sequence part is NULL)."""
    values = "".join(f", CASE WHEN {OP} = {UPSERT} THEN {q(c)} END AS {q(c)}" for c in rc.values)
    seq_null = " OR ".join(f"({p}) IS NULL" for p in seq_parts)
    return (
        f"SELECT {qs(rc.keys)}{values}, {SEQ}, {OP}, __seq_null FROM ("
        f"SELECT *, {seq_sql} AS {SEQ}, {op_sql(delete_sql, truncate_sql)} AS {OP}, "
        f"({seq_null}) AS __seq_null FROM {source})"
    )


def event_columns(rc: FoldSpec) -> str:
    """The normal-form columns (what the state table stores)."""
    return qs((*rc.keys, *rc.values, SEQ, OP))


def dedup_sql(rc: FoldSpec, source: str) -> str:
    """One event per (keys, sequence): the tie rule, independent of arrival order.

    A delete wins over an upsert. Between different upserts the one with the greatest
    values wins, compared column by column in target column order with NULL lowest, so
    the winner does not depend on arrival order or batch split.
    """
    order = [f"{OP} DESC"] + [f"{q(c)} DESC NULLS LAST" for c in rc.values]
    return (
        f"SELECT {event_columns(rc)} FROM (SELECT *, row_number() OVER "
        f"(PARTITION BY {qs(rc.keys)}, {SEQ} ORDER BY {', '.join(order)}) AS __rn "
        f"FROM {source}) WHERE __rn = 1"
    )


def filled_values_sql(rc: FoldSpec, source: str) -> str:
    """Events with ``__run`` (deletes so far) and, when asked, NULLs filled forward.

    With ``ignore_null_updates`` a NULL value keeps the value of the latest earlier
    upsert since the key was last deleted, in sequence order.
    """
    keys = qs(rc.keys)
    runs = (
        f"SELECT {event_columns(rc)}, sum(CASE WHEN {OP} = {DELETE} THEN 1 ELSE 0 END) OVER "
        f"(PARTITION BY {keys} ORDER BY {SEQ} ROWS UNBOUNDED PRECEDING) AS __run FROM {source}"
    )
    if not rc.ignore_null_updates or not rc.values:
        return runs
    fills = ", ".join(
        f"last_value({q(c)}, true) OVER (PARTITION BY {keys}, __run ORDER BY {SEQ} "
        f"ROWS UNBOUNDED PRECEDING) AS {q(c)}"
        for c in rc.values
    )
    return f"SELECT {keys}, {fills}, {SEQ}, {OP}, __run FROM ({runs})"


def scd1_rows_sql(rc: FoldSpec, source: str) -> str:
    """The SCD1 target rows (target column order) of the keys in ``source``.

    Per key the event with the highest sequence wins; a delete (or a truncate, applied as
    a delete of every key at its sequence) leaves no row.
    """
    inner = filled_values_sql(rc, source) if rc.ignore_null_updates else f"SELECT * FROM {source}"
    return (
        f"SELECT {qs(rc.columns)} FROM (SELECT *, row_number() OVER (PARTITION BY {qs(rc.keys)} "
        f"ORDER BY {SEQ} DESC, {OP} DESC) AS __last FROM ({inner})) "
        f"WHERE __last = 1 AND {OP} = {UPSERT}"
    )


def scd2_rows_sql(rc: FoldSpec, source: str) -> str:
    """The SCD2 rows (columns + __START_AT, __END_AT) of the keys in ``source``.

    An upsert opens a version when it is the key's first event, follows a delete, or
    differs from the previous upsert in a tracked column (NULL-safe); otherwise it updates
    the open version in place (untracked values become the latest, ``__START_AT`` stays).
    A version ends at the sequence of the event after its last upsert (the next version's
    first upsert, or the delete closing it). Late events split intervals exactly as if
    they had arrived in order, because the whole history of a key is recomputed.
    """
    win = f"PARTITION BY {qs(rc.keys)} ORDER BY {SEQ}"
    lags = "".join(f", lag({q(c)}) OVER ({win}) AS {q('__p_' + c)}" for c in rc.tracked)
    changed = " OR ".join(
        ["__prev_op IS NULL", f"__prev_op = {DELETE}"]
        + [f"{q(c)} IS DISTINCT FROM {q('__p_' + c)}" for c in rc.tracked]
    )
    step1 = (
        f"SELECT *, lag({OP}) OVER ({win}) AS __prev_op, lead({SEQ}) OVER ({win}) AS __next_seq"
        f"{lags} FROM ({filled_values_sql(rc, source)})"
    )
    step2 = f"SELECT *, ({OP} = {UPSERT} AND ({changed})) AS __opens FROM ({step1})"
    step3 = (
        f"SELECT *, lead(__opens OR {OP} = {DELETE}) OVER ({win}) AS __next_breaks, "
        f"sum(CASE WHEN __opens THEN 1 ELSE 0 END) OVER ({win} ROWS UNBOUNDED PRECEDING) "
        f"AS __ver FROM ({step2})"
    )
    step4 = (
        f"SELECT *, min({SEQ}) OVER (PARTITION BY {qs(rc.keys)}, __ver) AS __start "
        f"FROM ({step3}) WHERE {OP} = {UPSERT}"
    )
    return (
        f"SELECT {qs(rc.columns)}, __start AS {q(START_AT)}, __next_seq AS {q(END_AT)} "
        f"FROM ({step4}) WHERE __next_breaks IS NULL OR __next_breaks"
    )


def target_rows_sql(rc: FoldSpec, source: str) -> str:
    """The target rows of the keys in ``source`` for the spec's SCD type."""
    return scd1_rows_sql(rc, source) if rc.scd_type == 1 else scd2_rows_sql(rc, source)
