"""What a running update needs: engine, lake, state, event log, names, and the SQL binder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from soundlake.catalog.names import TableName
from soundlake.catalog.state import STATE_DIR, StateStore, safe_name
from soundlake.core.clock import utc_now
from soundlake.core.faults import crash_point
from soundlake.engines.base import Engine
from soundlake.lake.storage import Lake
from soundlake.observe.events import EventLog
from soundlake.pipeline.definitions import Dataset, SinkSpec
from soundlake.pipeline.sql.query import BoundQuery, bind_typed
from soundlake.pipeline.sql.settings import DEFAULT_SETTINGS, SparkSqlSettings

FAULT_EXIT_CODE = 97


def fault_point(step: str, flow: str | None = None) -> None:
    """Crash here (exit 97) when ``SOUNDLAKE_FAULT`` names ``step`` or ``step:flow`` (tests only)."""
    crash_point(step, flow, exit_code=FAULT_EXIT_CODE)


class Binder(Protocol):
    """Turns a flow's Spark SQL into engine SQL over placeholder relation names."""

    @property
    def settings(self) -> SparkSqlSettings:
        """The Spark session settings (ANSI mode, time zone) queries and expectations follow."""
        ...

    def bind(
        self, sql: str, inputs: Sequence[Any], dialect: str, schemas: Mapping[str, pa.Schema] | None = None
    ) -> str:
        """Replace table references by each input's ``placeholder``; transpile to ``dialect``.

        ``schemas`` (placeholder -> schema of the relation bound to it) types the query for
        the DuckDB translation's type-dependent Spark rules.
        """
        ...

    def bind_typed(
        self,
        sql: str,
        inputs: Sequence[Any],
        dialect: str,
        schemas: Mapping[str, pa.Schema] | None = None,
        settings: SparkSqlSettings | None = None,
    ) -> BoundQuery:
        """:meth:`bind`, also giving the Spark types of the result columns (when typed).

        ``settings`` replaces :attr:`settings` for this query (a flow's own Spark conf).
        """
        ...


@dataclass(frozen=True)
class SqlBinder:
    """The SQL front end's ``bind_query`` with the project's default names."""

    catalog: str
    schema: str
    settings: SparkSqlSettings = DEFAULT_SETTINGS

    def bind(
        self, sql: str, inputs: Sequence[Any], dialect: str, schemas: Mapping[str, pa.Schema] | None = None
    ) -> str:
        """Bind with :func:`soundlake.pipeline.sql.query.bind_query`."""
        return self.bind_typed(sql, inputs, dialect, schemas).sql

    def bind_typed(
        self,
        sql: str,
        inputs: Sequence[Any],
        dialect: str,
        schemas: Mapping[str, pa.Schema] | None = None,
        settings: SparkSqlSettings | None = None,
    ) -> BoundQuery:
        """Bind with :func:`soundlake.pipeline.sql.query.bind_typed`.

        Stars over file reads leave ``_metadata`` out on every engine: the relations
        soundlake builds for files (its reader, and the Spark engine's micro-batch frames)
        carry ``_metadata`` as a plain column, hidden on Databricks.
        """
        from soundlake.pipeline.hidden_columns import hide_metadata

        sql = hide_metadata(sql)
        return bind_typed(sql, tuple(inputs), catalog=self.catalog, schema=self.schema, dialect=dialect,
                          settings=settings or self.settings, schemas=schemas)


@dataclass
class RunContext:
    """Everything flows share during one update."""

    pipeline: str
    run_id: str
    lake: Lake
    engine: Engine
    state: StateStore
    events: EventLog
    binder: Binder
    base_dir: Path
    datasets: Mapping[TableName, Dataset]
    view_flows: Mapping[TableName, Any] = field(default_factory=dict)
    started: datetime = field(default_factory=utc_now)

    @property
    def storage_options(self) -> dict[str, str]:
        """Object-store options of the lake."""
        return dict(self.lake.storage_options)

    def table_uri(self, name: TableName) -> str:
        """Where a table lives: ``<storage>/<catalog>/<schema>/<table>``.

        A private dataset (and its quarantine table) lives under the pipeline's state
        folder instead (:func:`dataset_uri`).
        """
        return dataset_uri(self.lake, self.pipeline, name, self.datasets)

    def app_id(self, flow: str) -> str:
        """The Delta app-transaction id of a flow."""
        return f"{self.pipeline}:{flow}"

    def commit_metadata(self, flow: str, batch: int) -> dict[str, str]:
        """Commit metadata naming pipeline, run, flow and batch."""
        return {"pipeline": self.pipeline, "run": self.run_id, "flow": flow, "batch": str(batch)}


def is_private(name: TableName, datasets: Mapping[TableName, Dataset]) -> bool:
    """True when ``name`` (or the table it quarantines) is a private dataset of the pipeline."""
    dataset = datasets.get(name)
    if dataset is None and name.name.endswith("_quarantine"):
        dataset = datasets.get(TableName(name.catalog, name.schema, name.name.removesuffix("_quarantine")))
    return dataset is not None and dataset.private


def dataset_uri(lake: Lake, pipeline: str, name: TableName, datasets: Mapping[TableName, Dataset]) -> str:
    """Where table ``name`` lives for pipeline ``pipeline``.

    Published tables: ``<storage>/<catalog>/<schema>/<table>``, where ``soundlake query``
    and other pipelines find them. Private datasets (``CREATE PRIVATE ...``, ``TEMPORARY``
    tables, ``private=True``): ``<storage>/_soundlake/pipelines/<pipeline>/private/<catalog>/
    <schema>/<table>``, readable only by the pipeline's own flows, as Databricks keeps them
    out of the catalog.
    """
    dataset = datasets.get(name)
    if dataset is not None and dataset.sink is not None:
        return sink_uri(lake, pipeline, name, dataset.sink)
    if is_private(name, datasets):
        return lake.uri(STATE_DIR, "pipelines", safe_name(pipeline), "private", *name.parts)
    return lake.uri(*name.parts)


def sink_uri(lake: Lake, pipeline: str, name: TableName, sink: SinkSpec) -> str:
    """Where a sink's rows go: the Delta table of its ``path`` or ``tableName``.

    A ``foreach_batch`` sink has no table: its URI names a folder under the pipeline's
    state that is never written (so app-transaction look-ups find nothing there).
    """
    if sink.path is not None:
        return sink.path
    if sink.table is not None:
        return lake.uri(*sink.table.parts)
    return lake.uri(STATE_DIR, "pipelines", safe_name(pipeline), "sinks", *name.parts)


def quarantine_name(table: TableName) -> TableName:
    """The quarantine table of ``table``: ``<table>_quarantine`` beside it."""
    return TableName(table.catalog, table.schema, f"{table.name}_quarantine")
