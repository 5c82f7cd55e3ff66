"""The Engine protocol and the engine-neutral values exchanged with the pipeline.

The planner reads :class:`EngineCapabilities` as data and never branches on an engine's
type. Engines cannot import the ``pipeline`` package (it is a layer above), so everything
crossing the boundary is defined here in plain terms: Spark SQL text, table URIs, specs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class EngineCapabilities:
    """What an engine can do, declared as data.

    Attributes:
        name: ``duckdb`` or ``spark``.
        sql_dialect: Dialect the engine executes; Spark SQL definitions are transpiled
            with sqlglot when it is not ``spark``.
        native_streaming: True when file and table streams run on the engine's own
            streaming runtime (Structured Streaming); otherwise soundlake's checkpoints.
        native_merge: True when the engine runs ``MERGE INTO`` itself.
        app_transactions: True when commits carry Delta app transactions (idempotent
            batch re-runs).
        parallel_flows: How many independent flows may run at once.
    """

    name: str
    sql_dialect: str
    native_streaming: bool = False
    native_merge: bool = False
    app_transactions: bool = True
    parallel_flows: int = 1


@dataclass(frozen=True)
class CommitInfo:
    """Identifies one idempotent commit: Delta app transaction plus commit metadata.

    A commit whose ``(app_id, version)`` is already recorded in the target's log is a
    no-op, so a re-run of a committed batch writes nothing.
    """

    app_id: str
    version: int
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CdcSpec:
    """An AUTO CDC flow in engine-neutral terms (SEMANTICS.md section 3).

    Column names are plain identifiers; expressions are Spark SQL over the event row.
    ``columns`` is the resolved list of target data columns (after ``column_list`` /
    ``except_column_list``); ``tracked_columns`` is None to track every data column.
    """

    flow: str
    target: str
    keys: tuple[str, ...]
    sequence_by: tuple[str, ...]
    scd_type: Literal[1, 2]
    columns: tuple[str, ...] | None = None
    except_columns: tuple[str, ...] = ()
    ignore_null_updates: bool = False
    apply_as_deletes: str | None = None
    apply_as_truncates: str | None = None
    tracked_columns: tuple[str, ...] | None = None
    untracked_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class CdcMetrics:
    """Outcome of applying one batch of change events."""

    num_upserted_rows: int = 0
    num_deleted_rows: int = 0
    num_output_rows: int = 0
    plan: str = ""
