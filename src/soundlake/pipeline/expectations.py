"""Expectations: rules evaluated per row by the engine, then keep, drop, quarantine or fail.

A rule is violated only when its condition is FALSE: NULL is not a violation (SQL CHECK
semantics). The pipeline turns a dataset's expectations into engine :class:`Rule` values
(conditions transpiled to the engine's dialect) and an :class:`ExpectationSplit`; the
engine evaluates them in the same pass as the flow's query and reports the counts
(``engines/split_sql.py``).

Precedence for a row that violates several rules: fail > quarantine > drop > warn.
Every input row ends up in exactly one of: written, dropped, quarantined (the flow fails
as a whole on a FAIL rule, writing nothing).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from soundlake.core.errors import DefinitionError, ExpectationViolation
from soundlake.engines.base import DeltaTarget, ExpectationSplit, Rule, RuleViolation, SplitCounts
from soundlake.pipeline.definitions import Expectation
from soundlake.pipeline.sql.query import transpile_expression
from soundlake.pipeline.sql.refusal import NotLikeSpark
from soundlake.pipeline.sql.settings import DEFAULT_SETTINGS, SparkSqlSettings


def transpile_condition(
    condition: str,
    dialect: str,
    settings: SparkSqlSettings = DEFAULT_SETTINGS,
    schema: pa.Schema | Mapping[str, str] | None = None,
) -> str:
    """Transpile a Spark SQL boolean expression to ``dialect``, exactly as queries are.

    ``schema`` (the rows the condition reads) types it as the query's own expressions are.

    Raises:
        DefinitionError: when the expression does not parse.
    """
    if dialect == "spark":
        return condition
    try:
        return transpile_expression(condition, dialect=dialect, settings=settings, schema=schema)
    except NotLikeSpark:
        raise
    except DefinitionError as exc:
        raise DefinitionError(f"expectation condition '{condition}' does not parse: {exc.message}") from exc


def expectation_split(
    expectations: Sequence[Expectation],
    dialect: str,
    *,
    quarantine: DeltaTarget | None,
    flow: str,
    run_id: str,
    batch_id: int,
    now: datetime,
    settings: SparkSqlSettings = DEFAULT_SETTINGS,
    schema: pa.Schema | Mapping[str, str] | None = None,
) -> ExpectationSplit:
    """The engine's split for a dataset's expectations (``quarantine``: where its rows go).

    ``schema`` is the schema of the query's result: conditions are typed with it.
    """
    rules = tuple(Rule(e.name, translate_rule(e, dialect, settings, schema), e.action) for e in expectations)
    return ExpectationSplit(rules, quarantine, flow=flow, run_id=run_id, batch_id=batch_id, quarantined_at=now)


def violation_error(
    violation: RuleViolation, expectations: Sequence[Expectation], dataset: str, flow: str
) -> ExpectationViolation:
    """The error of a violated ``FAIL UPDATE`` rule, showing the offending row."""
    rule = expectations[violation.rule]
    row = json.dumps(dict(violation.row), default=str)[:500]
    return ExpectationViolation(
        f"expectation '{rule.name}' (ON VIOLATION FAIL UPDATE) failed on dataset {dataset} "
        f"in flow '{flow}': condition ({rule.condition}) is false for row {row}; "
        f"the flow wrote nothing ({rule.location})"
    )


@dataclass
class ExpectationMetrics:
    """Counts for one update of one flow; every input row is accounted for."""

    dataset: str
    names: tuple[str, ...]
    input_rows: int = 0
    output_rows: int = 0
    dropped_rows: int = 0
    quarantined_rows: int = 0
    failed: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.failed:
            self.failed = [0] * len(self.names)

    @classmethod
    def from_counts(cls, dataset: str, expectations: Sequence[Expectation], counts: SplitCounts) -> ExpectationMetrics:
        """The metrics of one engine write."""
        names = tuple(e.name for e in expectations)
        return cls(
            dataset, names, counts.input_rows, counts.output_rows, counts.dropped_rows, counts.quarantined_rows,
            list(counts.failed) or [0] * len(names),
        )

    def as_data_quality(self) -> dict[str, object]:
        """The ``data_quality`` part of a ``flow_progress`` event."""
        return {
            "dropped_records": self.dropped_rows,
            "quarantined_records": self.quarantined_rows,
            "expectations": [
                {
                    "name": name,
                    "dataset": self.dataset,
                    "passed_records": self.input_rows - failed,
                    "failed_records": failed,
                }
                for name, failed in zip(self.names, self.failed)
            ],
        }


def translate_rule(
    rule: Expectation, dialect: str, settings: SparkSqlSettings, schema: pa.Schema | Mapping[str, str] | None
) -> str:
    """:func:`transpile_condition` of one expectation; a refusal names the rule, its file and line."""
    try:
        return transpile_condition(rule.condition, dialect, settings, schema)
    except NotLikeSpark as exc:
        raise DefinitionError(f"{rule.location}: expectation '{rule.name}': {exc.message}", hint=exc.hint) from exc
