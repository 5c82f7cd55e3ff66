"""Resolve a :class:`CdcSpec` against the event schema into DuckDB-ready names and SQL.

The pipeline hands over Spark SQL text; this module transpiles it once with sqlglot and
fixes the target's column list, the tracked columns and the sequence type, so the SCD
builders only deal with quoted identifiers and DuckDB expressions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa
import sqlglot
from sqlglot import exp

from soundlake.core.errors import FlowError
from soundlake.engines.base import CdcSpec
from soundlake.engines.cdc_columns import START_AT, cdc_columns, check_spec


def q(name: str) -> str:
    """Quote an identifier for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


_IDENTIFIER = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)$")


def to_duckdb(flow: str, spark_sql: str) -> str:
    """Transpile one Spark SQL expression to DuckDB SQL, naming the flow on failure."""
    text = spark_sql.strip()
    if _IDENTIFIER.match(text):  # a plain column name: no parser needed
        return q(text.strip("`"))
    try:
        out = sqlglot.transpile(spark_sql, read="spark", write="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise FlowError(f"flow {flow!r}: cannot parse expression {spark_sql!r}: {exc}") from exc
    if len(out) != 1:
        raise FlowError(f"flow {flow!r}: expected one expression, got {spark_sql!r}")
    return out[0]


def _field_name(spark_sql: str, index: int) -> str:
    text = spark_sql.strip()
    if _IDENTIFIER.match(text):
        return text.strip("`")
    try:
        node = sqlglot.parse_one(spark_sql, read="spark")
    except sqlglot.errors.ParseError:
        return f"_{index}"
    if isinstance(node, (exp.Column, exp.Alias)) and node.alias_or_name:
        return str(node.alias_or_name)
    return f"_{index}"


@dataclass(frozen=True)
class ResolvedCdc:
    """A CDC spec bound to concrete columns.

    Attributes:
        flow: Flow name, used in every error message.
        scd_type: 1 or 2.
        keys: Key columns, compared column by column.
        columns: Target data columns in target order (keys included).
        values: ``columns`` without the keys.
        tracked: Value columns whose change opens a new SCD2 version.
        seq_sql: DuckDB expression computing the sequence value of an event row.
        seq_fields: Field names when the sequence is a struct, else ``()``.
        seq_parts: DuckDB expressions of each sequence part (for NULL checks).
        delete_sql: DuckDB boolean expression marking deletes, or None.
        truncate_sql: DuckDB boolean expression marking truncates, or None.
        ignore_null_updates: NULL values in an update keep the previous value.
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

    @property
    def match_columns(self) -> tuple[str, ...]:
        """Columns identifying one target row: the keys (SCD1) or keys + __START_AT."""
        return self.keys + ((START_AT,) if self.scd_type == 2 else ())

    def key_join(self, left: str, right: str) -> str:
        """Equality join condition on the keys (keys are never NULL)."""
        return " AND ".join(f"{left}.{q(k)} = {right}.{q(k)}" for k in self.keys)


def resolve(
    spec: CdcSpec, event_schema: pa.Schema, target_names: list[str] | None
) -> ResolvedCdc:
    """Bind ``spec`` to the event schema (and the existing target's columns, if any).

    Raises:
        FlowError: unknown columns, no keys, or truncates requested on SCD type 2.
    """
    flow = spec.flow
    check_spec(spec)
    bound = cdc_columns(spec, list(event_schema.names), target_names)
    parts = tuple(to_duckdb(flow, e) for e in spec.sequence_by)
    fields: tuple[str, ...] = ()
    if len(parts) == 1:
        seq_sql, fields = f"({parts[0]})", ()
    else:
        fields = tuple(_field_name(e, i) for i, e in enumerate(spec.sequence_by))
        seq_sql = "struct_pack(" + ", ".join(
            f"{q(name)} := ({p})" for name, p in zip(fields, parts)
        ) + ")"
    return ResolvedCdc(
        flow=flow,
        scd_type=int(spec.scd_type),
        keys=tuple(spec.keys),
        columns=bound.columns,
        values=bound.values,
        tracked=bound.tracked,
        seq_sql=seq_sql,
        seq_fields=fields,
        seq_parts=parts,
        delete_sql=to_duckdb(flow, spec.apply_as_deletes) if spec.apply_as_deletes else None,
        truncate_sql=(
            to_duckdb(flow, spec.apply_as_truncates) if spec.apply_as_truncates else None
        ),
        ignore_null_updates=spec.ignore_null_updates,
    )
