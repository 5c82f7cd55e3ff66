"""The AUTO CDC fold, written once: normalising, de-duplication, SCD1, SCD2, snapshot diff.

Every builder returns Spark SQL text. The Spark engine runs it as is; the DuckDB engine
renders it with :func:`render` (sqlglot, Spark to DuckDB). Both engines therefore compute
the same target rows from the same events: the rows of the affected keys are a pure
function of every remembered event of those keys (docs/cdc.md, "AUTO CDC").

Normalised events have the key columns, the value columns (NULL unless an upsert),
``__seq`` (a struct when ``sequence_by`` has several parts) and ``__op`` (0 upsert,
1 delete, 2 truncate).

Relations and engine expressions that are not Spark SQL (a DuckDB subquery, a DuckDB
sequence expression) are passed as placeholders (:data:`SOURCE` or any ``__cdc_x_*``
identifier) and substituted after rendering.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import sqlglot

from soundlake.core.sql_text import quote_identifier as quote
from soundlake.core.sql_text import spark_identifier as q
from soundlake.engines.base import CdcSpec
from soundlake.engines.cdc_columns import (
    DELETE,
    END_AT,
    META_COLUMNS,
    OP,
    SEQ,
    START_AT,
    TRUNCATE,
    UPSERT,
    cdc_columns,
    check_spec,
)

SOURCE = "__cdc_x_source"
_PLACEHOLDER = re.compile(r"\b__cdc_x_[A-Za-z0-9_]+\b")


@dataclass(frozen=True)
class ResolvedCdc:
    """A CDC spec bound to concrete columns, with its expressions in one engine's dialect.

    Attributes:
        flow: Flow name, used in every error message.
        scd_type: 1 or 2.
        keys: Key columns, compared column by column.
        columns: Target data columns in target order (missing keys first).
        values: ``columns`` without the keys.
        tracked: Value columns whose change opens a new SCD2 version.
        seq_sql: Expression computing the sequence value of an event row.
        seq_fields: Field names when the sequence is a struct, else ``()``.
        seq_parts: Expressions of each sequence part (for NULL checks).
        delete_sql: Boolean expression marking deletes, or None.
        truncate_sql: Boolean expression marking truncates, or None.
        ignore_null_updates: NULL values in an update keep the previous value.
        dialect: The dialect of the expressions ("spark" or "duckdb").
    """

    flow: str
    scd_type: int
    keys: tuple[str, ...]
    columns: tuple[str, ...]
    values: tuple[str, ...]
    tracked: tuple[str, ...]
    seq_sql: str
    seq_fields: tuple[str, ...]
    seq_parts: tuple[str, ...]
    delete_sql: str | None
    truncate_sql: str | None
    ignore_null_updates: bool
    dialect: str

    @property
    def match_columns(self) -> tuple[str, ...]:
        """Columns identifying one target row: the keys (SCD1) or keys + __START_AT."""
        return self.keys + ((START_AT,) if self.scd_type == 2 else ())

    def key_join(self, left: str, right: str, columns: Sequence[str] | None = None) -> str:
        """Equality join on the keys (never NULL) or on ``columns``, in the dialect."""
        return " AND ".join(
            f"{left}.{quote(k, self.dialect)} = {right}.{quote(k, self.dialect)}"
            for k in (columns or self.keys)
        )


def resolve_spec(
    spec: CdcSpec, event_names: Sequence[str], target_names: Sequence[str] | None,
    dialect: str, expression: Callable[[str], str], field_name: Callable[[str, int], str],
    struct: Callable[[Sequence[tuple[str, str]]], str],
) -> ResolvedCdc:
    """Bind ``spec`` to the event columns (and an existing target's) for one engine.

    ``expression`` turns one of the spec's Spark SQL expressions into the dialect (it
    names the flow when it cannot), ``field_name`` names a sequence part, ``struct``
    builds the sequence struct from (field, expression) pairs.

    Raises:
        FlowError: no keys, no sequence, unknown columns, or truncates on SCD type 2.
    """
    check_spec(spec)
    bound = cdc_columns(spec, list(event_names), target_names)
    parts = tuple(expression(e) for e in spec.sequence_by)
    fields: tuple[str, ...] = ()
    if len(parts) == 1:
        seq_sql = f"({parts[0]})"
    else:
        fields = tuple(field_name(e, i) for i, e in enumerate(spec.sequence_by))
        seq_sql = struct([(f, f"({p})") for f, p in zip(fields, parts)])
    return ResolvedCdc(
        flow=spec.flow, scd_type=int(spec.scd_type), keys=bound.keys,
        columns=bound.columns, values=bound.values, tracked=bound.tracked,
        seq_sql=seq_sql, seq_fields=fields, seq_parts=parts,
        delete_sql=expression(spec.apply_as_deletes) if spec.apply_as_deletes else None,
        truncate_sql=expression(spec.apply_as_truncates) if spec.apply_as_truncates else None,
        ignore_null_updates=spec.ignore_null_updates, dialect=dialect,
    )


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
    rc: ResolvedCdc, source: str, seq_sql: str, seq_parts: Sequence[str],
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


def event_columns(rc: ResolvedCdc) -> str:
    """The normal-form columns (what the state table stores)."""
    return qs((*rc.keys, *rc.values, SEQ, OP))


def dedup_sql(rc: ResolvedCdc, source: str) -> str:
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


def filled_values_sql(rc: ResolvedCdc, source: str) -> str:
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


def scd1_rows_sql(rc: ResolvedCdc, source: str) -> str:
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


def scd2_rows_sql(rc: ResolvedCdc, source: str) -> str:
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


def target_rows_sql(rc: ResolvedCdc, source: str) -> str:
    """The target rows of the keys in ``source`` for the spec's SCD type."""
    return scd1_rows_sql(rc, source) if rc.scd_type == 1 else scd2_rows_sql(rc, source)


SNAPSHOT_VERSION = "__snapshot_version"
SNAPSHOT_OP = "__snapshot_op"
VERSION = "__cdc_x_version"


def snapshot_columns(spec: CdcSpec, names: Sequence[str], target_names: Sequence[str] | None) -> list[str]:
    """The target columns a snapshot must supply (an existing target's, else the spec's).

    ``spec`` must already be bound to the snapshot's spelling (:func:`bind_names`)."""
    if target_names is not None:
        return [n for n in target_names if n not in META_COLUMNS]
    excluded = set(spec.except_columns)
    chosen = list(spec.columns) if spec.columns is not None else [n for n in names if n not in excluded]
    return [k for k in spec.keys if k not in chosen] + chosen


def snapshot_diff_sql(
    keys: Sequence[str], columns: Sequence[str], snap: str, cur: str,
    null_types: Mapping[str, str] | None = None,
) -> str:
    """Change events turning the live rows ``cur`` into the snapshot ``snap``.

    Rows of the snapshot not in ``cur`` (NULL-safe, ``EXCEPT``) become upserts (``'U'``),
    live keys absent from the snapshot become deletes (``'D'``); both carry the snapshot
    version (the :data:`VERSION` placeholder) in ``__snapshot_version``. ``null_types``
    gives the SQL type of the NULL value columns of deletes (untyped when omitted).
    """
    sel = qs(columns)
    types = null_types or {}
    nulls = "".join(
        f", CAST(NULL AS {types[c]}) AS {q(c)}" if c in types else f", NULL AS {q(c)}"
        for c in columns if c not in keys
    )
    on = " AND ".join(f"s.{q(k)} = c.{q(k)}" for k in keys)
    return (
        f"SELECT *, {VERSION} AS {SNAPSHOT_VERSION}, 'U' AS {SNAPSHOT_OP} FROM "
        f"(SELECT {sel} FROM {snap} EXCEPT SELECT {sel} FROM {cur}) "
        f"UNION ALL SELECT {qs(keys, 'c.')}{nulls}, {VERSION}, 'D' "
        f"FROM {cur} c LEFT ANTI JOIN {snap} s ON {on}"
    )
