"""Typed values the HTML report is rendered from (plain frozen dataclasses, no I/O).

The project layer fills a :class:`ReportData` (usually with
:func:`soundlake.observe.report_events.report_data_from_events`) and hands it to
:func:`soundlake.observe.report.render_report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

Layer = Literal["bronze", "silver", "gold", "mart"]
"""Medallion layer of a dataset; the graph draws one group of columns per layer."""

LAYERS: tuple[Layer, ...] = ("bronze", "silver", "gold", "mart")

FlowStatus = Literal[
    "QUEUED",
    "PLANNING",
    "STARTING",
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "SKIPPED",
    "STOPPED",
    "EXCLUDED",
    "IDLE",
]
"""Flow statuses of the event log (docs/pipeline.md, "Event log")."""


@dataclass(frozen=True)
class GraphNode:
    """A dataset in the pipeline graph.

    Attributes:
        name: Fully qualified dataset name (``catalog.schema.table``) or a source path.
        layer: Medallion layer.
        kind: What the dataset is: ``streaming table``, ``materialized view``, ``view``,
            ``files`` (a bronze folder read with ``read_files``) or ``table``.
        rows: Rows in the table now, when known.
        status: Status of the flow(s) writing it in the latest run; ``None`` for sources
            and datasets the latest run did not mention.
        last_output_rows: Rows the latest run wrote to it, when known.
        data_run: Number (1 = oldest) of the latest run in which its flows processed data
            (not IDLE or SKIPPED), when it is not the latest run.
        data_output_rows: Rows that run wrote to it.
    """

    name: str
    layer: Layer
    kind: str = "table"
    rows: int | None = None
    status: str | None = None
    last_output_rows: int | None = None
    data_run: int | None = None
    data_output_rows: int | None = None


@dataclass(frozen=True)
class GraphEdge:
    """A flow's dependency: ``source`` is read to write ``target``."""

    source: str
    target: str


@dataclass(frozen=True)
class FlowRun:
    """One flow in one run (update): its final status, timing and metrics.

    ``start`` and ``end`` are ``None`` when the event log gave no timestamp.
    """

    flow: str
    dataset: str
    status: str
    start: datetime | None = None
    end: datetime | None = None
    output_rows: int = 0
    upserted_rows: int = 0
    deleted_rows: int = 0
    dropped_records: int = 0
    error: str | None = None
    input_rows: int | None = None
    quarantined_records: int = 0


@dataclass(frozen=True)
class RunSummary:
    """One pipeline run (an ``update_id``) with its flows in start order."""

    update_id: str
    status: str
    start: datetime | None = None
    end: datetime | None = None
    flows: tuple[FlowRun, ...] = ()


@dataclass(frozen=True)
class ExpectationResult:
    """Records that passed and failed one expectation on one dataset in one run."""

    update_id: str
    dataset: str
    name: str
    passed_records: int
    failed_records: int


@dataclass(frozen=True)
class DailyListening:
    """Plays and minutes listened on one day (all countries and devices)."""

    day: date
    plays: int
    minutes: float


@dataclass(frozen=True)
class PlanMixPoint:
    """Size of one subscription plan in one month (users, or plays when users are unknown)."""

    month: str
    plan: str
    value: float


@dataclass(frozen=True)
class RankedItem:
    """A bar of a top-N chart (a track or an artist) with its plays."""

    label: str
    detail: str | None
    plays: int


@dataclass(frozen=True)
class MartCharts:
    """Data for the mart charts; ``None`` means the mart is missing (the section says so).

    Attributes:
        daily_listening: Daily plays and minutes, by day.
        plan_mix: Plan sizes per month.
        plan_mix_measure: What ``PlanMixPoint.value`` counts (``users`` or ``plays``).
        top_tracks: Top tracks by plays, largest first.
        top_artists: Top artists by plays, largest first.
    """

    daily_listening: tuple[DailyListening, ...] | None = None
    plan_mix: tuple[PlanMixPoint, ...] | None = None
    plan_mix_measure: str = "users"
    top_tracks: tuple[RankedItem, ...] | None = None
    top_artists: tuple[RankedItem, ...] | None = None


@dataclass(frozen=True)
class ReportData:
    """Everything the HTML report shows. Rendering it is pure and deterministic.

    Attributes:
        title: Page title.
        pipeline_name: Name of the pipeline (from the event log's origin).
        generated_at: Text shown as the generation time; the renderer never reads the clock.
        nodes: Datasets of the pipeline graph.
        edges: Dependencies between them.
        runs: Runs, oldest first.
        expectations: Expectation results of all runs.
        marts: Mart chart data.
        quarantined_rows: Rows held in quarantine, when known.
        lineage: Column lineage edges ``(dataset, column, input, input column)``: the
            report lists each dataset's columns; a click highlights its upstream path.
    """

    title: str = "soundlake report"
    pipeline_name: str | None = None
    generated_at: str | None = None
    nodes: tuple[GraphNode, ...] = ()
    edges: tuple[GraphEdge, ...] = ()
    runs: tuple[RunSummary, ...] = ()
    expectations: tuple[ExpectationResult, ...] = ()
    marts: MartCharts = field(default_factory=MartCharts)
    quarantined_rows: int | None = None
    lineage: tuple[tuple[str, str, str, str], ...] = ()
