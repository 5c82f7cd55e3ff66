"""Windowed refresh of a materialized view: recompute only its recent partitions.

A materialized view that declares a refresh window in its table properties::

    TBLPROPERTIES (
      'soundlake.refresh.partitionColumn' = 'listen_date',
      'soundlake.refresh.lookback' = '35 days'
    )

is refreshed by recomputing only the rows whose partition column is at least the view's
current largest value minus the look-back (and the rows where it is NULL); older rows are
kept as they are. It is the contract of dbt's incremental look-back and SQLMesh's
``INCREMENTAL_BY_TIME_RANGE`` models, and the same bound soundlake's ingestion already
relies on (``ingest.lookback``): a change of the view's inputs that only affects
partitions older than the window is reflected at the next full refresh
(``soundlake run --full-refresh <view>``). Anything that makes the window unsafe falls
back to a full recompute: no previous result, a changed definition (query, expectations
or window), or an empty view.

One refresh is one overwrite commit of the view carrying the flow's app transaction, like
a full recompute, so exactly-once and the event log are unchanged. The recomputed part is
the view's own query with a filter on the partition column, which DuckDB and Spark push
below aggregates, windows partitioned by it and joins, into the scans.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from soundlake.core.durations import EXAMPLES, UNIT_SECONDS, parse_duration
from soundlake.core.errors import DefinitionError
from soundlake.core.sql_text import spark_identifier, value_literal
from soundlake.engines.base import DeltaRelation
from soundlake.lake import delta
from soundlake.pipeline.context import RunContext
from soundlake.pipeline.definitions import Dataset
from soundlake.pipeline.inputs import Leaf, Node
from soundlake.pipeline.sql.query import FlowInput

PARTITION_PROPERTY = "soundlake.refresh.partitionColumn"
LOOKBACK_PROPERTY = "soundlake.refresh.lookback"
PREVIOUS = "__sl_in_previous"


@dataclass(frozen=True)
class RefreshWindow:
    """The declared refresh window of a view: its partition column and look-back.

    Attributes:
        column: The view's output column the window is on (a date, timestamp or number).
        lookback: How far below the view's largest value rows are recomputed: a duration
            for dates and timestamps, a plain number for numeric columns.
        text: The look-back as written (for messages and the definition hash).
    """

    column: str
    lookback: dt.timedelta | int
    text: str


def refresh_window(dataset: Dataset) -> RefreshWindow | None:
    """The window declared by ``dataset``'s table properties, or None.

    Raises:
        DefinitionError: naming the view when only one of the two properties is set or
            the look-back does not parse.
    """
    props = {k.lower(): str(v) for k, v in dataset.table_properties.items()}
    column = props.get(PARTITION_PROPERTY.lower())
    lookback = props.get(LOOKBACK_PROPERTY.lower())
    if column is None and lookback is None:
        return None
    where = f"materialized view {dataset.name} ({dataset.location})"
    if dataset.kind != "materialized_view":
        raise DefinitionError(f"{where}: '{PARTITION_PROPERTY}' applies to materialized views only")
    if not column or lookback is None:
        raise DefinitionError(f"{where}: set both '{PARTITION_PROPERTY}' and '{LOOKBACK_PROPERTY}'")
    try:
        amount, unit = parse_duration(lookback)
    except ValueError:
        raise DefinitionError(
            f"{where}: '{LOOKBACK_PROPERTY}' = {lookback!r} is not a look-back such as {EXAMPLES}"
        ) from None
    if not unit:
        return RefreshWindow(column.strip(), amount, lookback)
    return RefreshWindow(column.strip(), dt.timedelta(seconds=amount * UNIT_SECONDS[unit]), lookback)


def definition_hash(sql: str, dataset: Dataset, window: RefreshWindow | None) -> str:
    """Identifies what produced the view's rows: query, expectations and window."""
    body = json.dumps(
        {
            "sql": sql,
            "expectations": [(e.name, e.condition, e.action) for e in dataset.expectations],
            "window": None if window is None else [window.column, window.text],
        },
        sort_keys=True,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class WindowedBatch:
    """What one refresh runs: the query, its input nodes and planned entries.

    ``lower`` is the window's lower bound (a SQL literal), None for a full recompute.
    """

    sql: str
    nodes: list[Node]
    entries: dict[str, Any]
    lower: str | None = None


def windowed_batch(
    ctx: RunContext, dataset: Dataset, window: RefreshWindow, sql: str, nodes: list[Node],
    entries: dict[str, Any],
) -> WindowedBatch:
    """The refresh of ``dataset``: its SQL filtered to the window plus its kept older rows.

    Falls back to the full query (``lower`` None) when the view does not exist yet or
    holds no partition value.
    """
    uri = ctx.table_uri(dataset.name)
    version = delta.table_version(uri, ctx.storage_options)
    if version is None:
        return WindowedBatch(sql, nodes, entries)
    column = spark_identifier(window.column)
    previous = DeltaRelation(uri, version, None, ctx.storage_options)
    reader = ctx.engine.execute(f"SELECT max({column}) AS m FROM {PREVIOUS}", {PREVIOUS: previous})
    top = reader.read_all().column(0)[0].as_py()
    if top is None:
        return WindowedBatch(sql, nodes, entries)
    lower = _bound_literal(_subtract(top, window, dataset))
    target = str(dataset.name)
    query = (
        f"SELECT * FROM ({sql}) AS __sl_window WHERE {column} >= {lower} OR {column} IS NULL\n"
        f"UNION ALL\nSELECT * FROM {target} WHERE {column} < {lower}"
    )
    # the view's previous version, keyed apart from the view's own inputs
    table_input = FlowInput(kind="table", streaming=False, table=dataset.name, placeholder=PREVIOUS, written=target)
    leaf = Leaf(key=f"previous:{target}", placeholder=PREVIOUS, input=table_input, streaming=False,
                mentions_metadata=False)
    entry = {"kind": "delta", "uri": uri, "version": version, "files": None}
    return WindowedBatch(query, [*nodes, leaf], {**entries, leaf.key: entry}, lower)


def _subtract(top: Any, window: RefreshWindow, dataset: Dataset) -> Any:
    lookback = window.lookback
    if isinstance(top, (dt.date, dt.datetime)) and isinstance(lookback, dt.timedelta):
        return top - lookback
    if isinstance(top, (int, float)) and isinstance(lookback, int) and not isinstance(top, bool):
        return top - lookback
    raise DefinitionError(
        f"materialized view {dataset.name}: refresh window column {window.column} holds "
        f"{type(top).__name__} values; look-back {window.text!r} needs "
        + ("a date or timestamp column" if isinstance(lookback, dt.timedelta) else "a numeric column")
    )


def _bound_literal(value: Any) -> str:
    return value_literal(value) or repr(value)
