"""Spark SQL builders for AUTO CDC: resolve a spec, normalise events, fold SCD1 / SCD2.

The fold is the same as the DuckDB engine's (``engines/duckdb/cdc_scd*.py``) so that both
engines give identical tables: the target rows of the affected keys are a pure function
of every remembered event of those keys (SEMANTICS.md section 3).

Normalised events have the key columns, the value columns (NULL unless an upsert),
``__seq`` (a struct when ``sequence_by`` has several parts) and ``__op`` (0 upsert,
1 delete, 2 truncate).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from soundlake.engines.base import CdcSpec
from soundlake.engines.cdc_columns import (
    DELETE,
    END_AT,
    OP,
    SEQ,
    START_AT,
    TRUNCATE,
    UPSERT,
    cdc_columns,
    check_spec,
)

_IDENT = re.compile(r"^`?([A-Za-z_][A-Za-z0-9_]*)`?$")


def q(name: str) -> str:
    """Quote an identifier for Spark SQL."""
    return "`" + name.replace("`", "``") + "`"


def qs(names: Sequence[str], prefix: str = "") -> str:
    """Comma-separated quoted identifiers, each optionally qualified by ``prefix``."""
    return ", ".join(prefix + q(n) for n in names)


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


def _op_sql(rc: ResolvedCdc) -> str:
    cases = []
    if rc.truncate_sql:
        cases.append(f"WHEN coalesce(({rc.truncate_sql}), false) THEN {TRUNCATE}")
    if rc.delete_sql:
        cases.append(f"WHEN coalesce(({rc.delete_sql}), false) THEN {DELETE}")
    if not cases:
        return f"CAST({UPSERT} AS TINYINT)"
    return f"CAST(CASE {' '.join(cases)} ELSE {UPSERT} END AS TINYINT)"


def normalise_sql(rc: ResolvedCdc, source: str) -> str:
    """Events in normal form plus ``__seq_null`` (a sequence part is NULL)."""
    values = "".join(f", CASE WHEN {OP} = {UPSERT} THEN {q(c)} END AS {q(c)}" for c in rc.values)
    seq_null = " OR ".join(f"{p} IS NULL" for p in rc.seq_parts)
    return (
        f"SELECT {qs(rc.keys)}{values}, {SEQ}, {OP}, __seq_null FROM ("
        f"SELECT *, {rc.seq_sql} AS {SEQ}, {_op_sql(rc)} AS {OP}, ({seq_null}) AS __seq_null "
        f"FROM {source})"
    )


def event_columns(rc: ResolvedCdc) -> str:
    """The normal-form columns (what the state table stores)."""
    return qs((*rc.keys, *rc.values, SEQ, OP))


def dedup_sql(rc: ResolvedCdc, source: str) -> str:
    """One event per (keys, sequence): a delete wins; between upserts the greatest values.

    Values are compared column by column in target order with NULL lowest, exactly as the
    DuckDB engine does, so the winner does not depend on arrival order or batch split.
    """
    order = [f"{OP} DESC"] + [f"{q(c)} DESC NULLS LAST" for c in rc.values]
    return (
        f"SELECT {event_columns(rc)} FROM (SELECT *, row_number() OVER "
        f"(PARTITION BY {qs(rc.keys)}, {SEQ} ORDER BY {', '.join(order)}) AS __rn "
        f"FROM {source}) WHERE __rn = 1"
    )


def filled_values_sql(rc: ResolvedCdc, source: str) -> str:
    """Events with ``__run`` (deletes so far) and, when asked, NULLs filled forward."""
    keys = qs(rc.keys)
    cols = event_columns(rc)
    runs = (
        f"SELECT {cols}, sum(CASE WHEN {OP} = {DELETE} THEN 1 ELSE 0 END) OVER "
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
    """The SCD1 target rows (target column order) of the keys in ``source``."""
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
    the open version in place. A version ends at the sequence of the event after its last
    upsert (the next version's first upsert, or the delete closing it).
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
