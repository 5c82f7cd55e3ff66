"""Refuse, before anything runs, what the DuckDB engine would not compute like Spark.

Every query flow and expectation of an update is scanned for function calls; a call the
conformance registry marks ``refused`` (a silent difference from Spark was found, or the
function is not covered) or a Databricks platform function fails the dry-run and the run,
naming the function, file and line (``pipeline.sql.functions``); a call of a function with a
known difference (status ``differs``) becomes a warning of the plan.
"""

from __future__ import annotations

from dataclasses import replace

from soundlake.pipeline.definitions import QueryFlow
from soundlake.pipeline.planner import UpdatePlan
from soundlake.pipeline.sql.functions import check_sql


def refuse_unsupported(plan: UpdatePlan) -> UpdatePlan:
    """Raise for the first refused function call in the plan's queries and expectations.

    Returns the plan with one warning per call of a function with a known difference
    (the runner emits plan warnings as WARN events; dry-run prints them).

    Raises:
        DefinitionError: naming the function, the file and line, with a hint.
    """
    warnings: list[str] = []
    for fp in plan.flows:
        flow = fp.flow
        if isinstance(flow, QueryFlow) and flow.sql is not None:
            warnings += check_sql(flow.sql, flow.location, what=f"flow '{fp.name}'")
    for dataset in plan.datasets.values():
        for rule in dataset.expectations:
            warnings += check_sql(rule.condition, rule.location, what=f"expectation '{rule.name}'")
    return replace(plan, warnings=(*plan.warnings, *dict.fromkeys(warnings)))
