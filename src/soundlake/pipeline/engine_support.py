"""Refuse, before anything runs, what the DuckDB engine would not compute like Spark.

Every query flow and expectation of an update is scanned for function calls; a call the
conformance registry marks ``refused`` (a silent difference from Spark was found, or the
function is not covered) or a Databricks platform function fails the dry-run and the run,
naming the function, file and line (``pipeline.sql.functions``); a result column without
an alias whose Spark name is not proven becomes a warning of the plan.

A Python DataFrame flow is checked call by call first: the SQL each DataFrame API call
wrote (``F.log10(...)``, ``F.expr("...")``) at the file and line of the call, under the
name the user called; then its whole rendered query (which also holds the calls
soundlake's DataFrame methods write, such as ``row_number`` for ``dropDuplicates``).
"""

from __future__ import annotations

from dataclasses import replace

from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import QueryFlow
from soundlake.pipeline.planner import UpdatePlan
from soundlake.pipeline.sql.functions import check_sql, unnamed_columns
from soundlake.pipeline.sql.settings import SparkSqlSettings


def refuse_unsupported(plan: UpdatePlan, settings: SparkSqlSettings, *, engine: str = "duckdb") -> UpdatePlan:
    """Raise for the first refused function call in the plan's queries and expectations.

    On the DuckDB engine: calls the registry refuses and Databricks platform functions;
    a flow whose own Spark conf (``SET`` / ``spark_conf``) names another session time
    zone than the pipeline's is refused too (the DuckDB engine has one zone per update).
    On engines that run Spark itself (``engine`` other than ``duckdb``) only platform
    functions are refused, and the plan is returned unchanged.

    Returns the plan with one warning per result column whose Spark name is not proven
    (the runner emits plan warnings as WARN events; dry-run prints them).

    Raises:
        DefinitionError: naming the function, the file and line, with a hint.
    """
    if engine != "duckdb":
        _refuse_platform_functions(plan)
        return plan
    warnings: list[str] = []
    for fp in plan.flows:
        flow = fp.flow
        zone = settings.updated(flow.spark_conf).time_zone if isinstance(flow, QueryFlow) else settings.time_zone
        if zone != settings.time_zone:
            raise DefinitionError(
                f"{flow.location}: flow '{fp.name}' sets spark.sql.session.timeZone to "
                f"'{zone}', the pipeline uses '{settings.time_zone}': the "
                "DuckDB engine has one session time zone per update",
                hint="set spark.sql.session.timeZone under configuration: in soundlake.yml",
            )
        if isinstance(flow, QueryFlow) and flow.sql is not None:
            _check_flow(flow, what=f"flow '{fp.name}'")
            warnings += [
                f"{flow.location}: flow '{fp.name}': column `{text}` has no alias, and its name on the DuckDB "
                "engine may differ from Spark's: add AS <name>"
                for text in unnamed_columns(flow.sql)
            ]
    for dataset in plan.datasets.values():
        for rule in dataset.expectations:
            check_sql(rule.condition, rule.location, what=f"expectation '{rule.name}'")
    return replace(plan, warnings=(*plan.warnings, *dict.fromkeys(warnings)))


def _refuse_platform_functions(plan: UpdatePlan) -> None:
    for fp in plan.flows:
        if isinstance(fp.flow, QueryFlow) and fp.flow.sql is not None:
            _check_flow(fp.flow, what=f"flow '{fp.name}'", platform_only=True)
    for dataset in plan.datasets.values():
        for rule in dataset.expectations:
            check_sql(rule.condition, rule.location, what=f"expectation '{rule.name}'", platform_only=True)


def _check_flow(flow: QueryFlow, *, what: str, platform_only: bool = False) -> None:
    """Refuse a query flow's first refused call (see the module docstring)."""
    assert flow.sql is not None
    for written in flow.written or ():
        check_sql(written.sql, written.location, what=what, platform_only=platform_only)
    # SQL text, or the whole rendered DataFrame
    check_sql(flow.sql, flow.location, what=what, platform_only=platform_only)
