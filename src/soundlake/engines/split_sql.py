"""The SQL of the expectation split, written once and rendered for each engine's dialect.

An engine runs a flow's query with one violation flag per rule next to each row
(:func:`flagged_sql`), keeps that result inside the engine (a DuckDB temp table, a
persisted Spark DataFrame), reads every count from it in one aggregate
(:func:`counts_sql`), and writes the kept rows (:func:`kept_sql`) and the quarantined
rows (:func:`quarantine_sql`) from it. Only the counts (and, for a violated ``fail``
rule, one example row) leave the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from soundlake.core.sql_text import quote_identifier, string_literal
from soundlake.engines.base import (
    FLAG_PREFIX,
    DeltaTarget,
    ExpectationSplit,
    Rule,
    RuleViolation,
    SplitCounts,
)

QUARANTINE_COLUMNS = ("_failed_expectations", "_flow", "_run_id", "_batch_id", "_quarantined_at")
"""Columns a quarantine table adds to the target's columns."""


def quarantine_to(split: ExpectationSplit) -> DeltaTarget | None:
    """The quarantine table to write: the split's, when a rule quarantines; else None."""
    return split.quarantine if any(r.action == "quarantine" for r in split.rules) else None


def flag(index: int) -> str:
    """The name of rule ``index``'s violation flag column."""
    return f"{FLAG_PREFIX}{index}"


def flagged_sql(sql: str, rules: Sequence[Rule]) -> str:
    """``sql`` with one boolean flag per rule: TRUE when the rule's condition is FALSE."""
    flags = "".join(f", coalesce(NOT ({r.condition}), false) AS {flag(i)}" for i, r in enumerate(rules))
    return f"SELECT __sl_q.*{flags} FROM ({sql}) AS __sl_q"


def _any(rules: Sequence[Rule], action: str) -> str:
    picked = [flag(i) for i, r in enumerate(rules) if r.action == action]
    return "(" + " OR ".join(picked) + ")" if picked else "false"


def removed_condition(rules: Sequence[Rule]) -> str:
    """TRUE for a row that is not written to the target (dropped or quarantined)."""
    return f"({_any(rules, 'drop')} OR {_any(rules, 'quarantine')})"


def _sum(condition: str) -> str:
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def counts_sql(source: str, rules: Sequence[Rule]) -> str:
    """One row: input rows, dropped, quarantined, then the violations of each rule."""
    quarantined = _any(rules, "quarantine")
    parts = [
        "count(*)",
        _sum(f"{_any(rules, 'drop')} AND NOT {quarantined}"),
        _sum(quarantined),
        *(_sum(flag(i)) for i in range(len(rules))),
    ]
    return f"SELECT {', '.join(parts)} FROM {source}"


def counts_from_row(row: Sequence[object] | None, rules: Sequence[Rule]) -> SplitCounts:
    """The :class:`SplitCounts` of a :func:`counts_sql` result row."""
    values = [int(str(v)) if v is not None else 0 for v in (row or [0] * (3 + len(rules)))]
    total, dropped, quarantined = values[:3]
    return SplitCounts(total, total - dropped - quarantined, dropped, quarantined, tuple(values[3:]))


def first_failed(counts: SplitCounts, rules: Sequence[Rule]) -> int | None:
    """The index of the first ``fail`` rule some row violates, or None."""
    for i, (rule, failed) in enumerate(zip(rules, counts.failed)):
        if rule.action == "fail" and failed:
            return i
    return None


def example_sql(source: str, columns: Sequence[str], rule: int, dialect: str) -> str:
    """One row violating rule ``rule`` (data columns only)."""
    return f"SELECT {_select(columns, dialect)} FROM {source} AS __sl_f WHERE {flag(rule)} LIMIT 1"


def violation(rule: int, columns: Sequence[str], values: Sequence[object]) -> RuleViolation:
    """A :class:`RuleViolation` from an :func:`example_sql` row."""
    return RuleViolation(rule, dict(zip(columns, values)))


def kept_sql(source: str, columns: Sequence[str], rules: Sequence[Rule], dialect: str) -> str:
    """The rows to write to the target."""
    where = f" WHERE NOT {removed_condition(rules)}" if rules else ""
    return f"SELECT {_select(columns, dialect)} FROM {source} AS __sl_f{where}"


def quarantine_sql(source: str, columns: Sequence[str], split: ExpectationSplit, dialect: str) -> str:
    """The quarantined rows with the names of every rule each one violates, and the batch's metadata."""
    rules = split.rules
    names = ", ".join(f"CASE WHEN {flag(i)} THEN {string_literal(r.name)} END" for i, r in enumerate(rules))
    if dialect == "spark":
        failed = f"filter(array({names}), x -> x IS NOT NULL)"
        at = f"timestamp_micros({_micros(split.quarantined_at)})"
    else:
        failed = f"list_filter([{names}]::VARCHAR[], lambda x: x IS NOT NULL)"
        at = f"make_timestamptz({_micros(split.quarantined_at)})"
    values = [
        failed,
        string_literal(split.flow),
        string_literal(split.run_id),
        f"CAST({int(split.batch_id)} AS BIGINT)",
        at,
    ]
    extra = [f"{value} AS {name}" for value, name in zip(values, QUARANTINE_COLUMNS, strict=True)]
    return (
        f"SELECT {_select(columns, dialect)}, {', '.join(extra)} FROM {source} AS __sl_f "
        f"WHERE {_any(rules, 'quarantine')}"
    )


def data_columns(columns: Sequence[str]) -> list[str]:
    """The columns of a flagged result without its flags."""
    return [c for c in columns if not c.startswith(FLAG_PREFIX)]


# Every FROM names its alias: Spark parses ``FROM v WHERE (x)`` as table ``v`` aliased
# ``WHERE`` with column list ``(x)`` (WHERE is not reserved in Spark SQL).


def _select(columns: Sequence[str], dialect: str) -> str:
    return ", ".join(quote_identifier(c, dialect) for c in columns) or "*"


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _micros(at: datetime | None) -> int:
    """Microseconds since the epoch (a naive time is UTC), in exact integer arithmetic."""
    moment = at or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // timedelta(microseconds=1)
