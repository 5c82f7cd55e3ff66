"""``soundlake demo``: the reference project end to end on embedded defaults.

Creates the project, generates a realistic source, runs the job (ingest + pipeline),
applies a simulated batch of changes (upgrades, churn, late streams, a few bad rows), runs
the job again, writes the HTML report, and returns what a user should look at.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from soundlake.catalog.names import TableName
from soundlake.core.clock import utc_now
from soundlake.core.errors import ConfigError
from soundlake.demo.generate import GenerateResult
from soundlake.demo.simulate import SimulationSummary
from soundlake.ingest.results import IngestReporter
from soundlake.lake import delta
from soundlake.observe.events import EventListener
from soundlake.observe.report_events import infer_layer
from soundlake.observe.report_model import LAYERS
from soundlake.project.context import Project
from soundlake.project.ingest_ops import ingest_status
from soundlake.project.job import JobResult, run_job
from soundlake.project.pipeline_ops import events
from soundlake.project.report_ops import row_counts, write_report
from soundlake.project.scaffold import init_project
from soundlake.project.source_ops import create_source, generate, simulate, source_counts

DEFAULT_SCALE = 1.0
StepFn = Callable[[str], None]


@dataclass(frozen=True)
class LayerCount:
    """Rows of one table in one layer."""

    layer: str
    table: str
    rows: int


@dataclass(frozen=True)
class ExpectationCount:
    """Passed and failed records of one expectation, summed over the given update."""

    dataset: str
    expectation: str
    passed: int
    failed: int


@dataclass(frozen=True)
class DemoResult:
    """What the demo did and what it found."""

    project_dir: Path
    generated: GenerateResult
    first: JobResult
    simulation: SimulationSummary
    second: JobResult
    layers: list[LayerCount]
    expectations: list[ExpectationCount]
    quarantine: dict[str, int]
    history_user: int | None
    history: list[dict[str, Any]] = field(default_factory=list)
    report: Path | None = None

    @property
    def ok(self) -> bool:
        """True when both jobs succeeded."""
        return self.first.ok and self.second.ok


HISTORY_DAYS = 365


def history_start(today: date) -> date:
    """The first day of the demo's year of generated streams: the year ends yesterday."""
    return today - timedelta(days=HISTORY_DAYS)


def prepare_directory(directory: Path, *, force: bool) -> Path:
    """Create an empty demo folder (refusing to clobber a non-empty one unless ``force``)."""
    directory = directory.resolve()
    if directory.exists() and any(directory.iterdir()):
        if not force:
            raise ConfigError(f"{directory} is not empty (use --force to replace it)")
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def run_demo(
    directory: Path,
    *,
    scale: float = DEFAULT_SCALE,
    seed: int = 7,
    force: bool = False,
    on_step: StepFn = lambda _: None,
    ingest_reporter: IngestReporter | None = None,
    listeners: Sequence[EventListener] = (),
) -> DemoResult:
    """Run the whole demo in ``directory`` and return its findings."""
    root = prepare_directory(directory, force=force)
    on_step(f"creating the project in {root}")
    init_project(root)
    project = Project.open(root)
    create_source(project)
    on_step(f"generating the source database (scale {scale})")
    # a continuous timeline: a year of history ending yesterday, then today's changes
    generated = generate(project, scale=scale, seed=seed, start=history_start(utc_now().date()))
    on_step("job 1: ingest into bronze, then run the pipeline")
    first = run_job(project, ingest_reporter=ingest_reporter, listeners=listeners)
    on_step("simulating a batch of changes (upgrades, churn, late streams, bad rows)")
    simulation = simulate(project, seed=seed + 1, rate=0.02, bad_rows=True,
                          summary_json=root / "simulation.json")
    on_step("job 2: ingest the changes, then run the pipeline")
    second = run_job(project, ingest_reporter=ingest_reporter, listeners=listeners)
    on_step("writing the report")
    report = write_report(project)
    counts = row_counts(project)
    user = _changed_user(simulation)
    return DemoResult(
        project_dir=root,
        generated=generated,
        first=first,
        simulation=simulation,
        second=second,
        layers=layer_counts(project, counts),
        expectations=expectation_counts(project, second.update.run_id if second.update else None),
        quarantine={name: rows for name, rows in counts.items() if name.endswith("_quarantine")},
        history_user=user,
        history=user_history(project, user) if user is not None else [],
        report=report,
    )


def layer_counts(project: Project, counts: dict[str, int]) -> list[LayerCount]:
    """Rows per table in flow order: source, bronze, silver, gold, mart.

    A table's layer is the report's (``infer_layer``: ``mart_*`` tables are marts, else
    the bronze/silver/gold schema), so the CLI and the report call each table the same.
    """
    rows = [LayerCount("source", table, n) for table, n in source_counts(project).items()]
    rows += [LayerCount("bronze", s.table, s.rows) for s in ingest_status(project)]
    lake = [
        LayerCount(infer_layer(name) or name.split(".")[1], name, n)
        for name, n in counts.items() if not name.endswith("_quarantine")
    ]
    order: dict[str, int] = {layer: i for i, layer in enumerate(LAYERS)}
    return rows + sorted(lake, key=lambda r: (order.get(r.layer, len(order)), r.table))


def expectation_counts(project: Project, run_id: str | None) -> list[ExpectationCount]:
    """Passed/failed records per expectation in one update, from the event log."""
    if run_id is None:
        return []
    totals: dict[tuple[str, str], list[int]] = {}
    for row in events(project, run_id=run_id).to_pylist():
        if row["event_type"] != "flow_progress":
            continue
        progress = json.loads(row["details"] or "{}").get("flow_progress", {})
        for exp in (progress.get("data_quality") or {}).get("expectations", []) or []:
            key = (exp["dataset"], exp["name"])
            total = totals.setdefault(key, [0, 0])
            total[0] += int(exp.get("passed_records", 0))
            total[1] += int(exp.get("failed_records", 0))
    return [ExpectationCount(d, e, p, f) for (d, e), (p, f) in sorted(totals.items())]


def _changed_user(summary: SimulationSummary) -> int | None:
    for kind in ("upgrade", "downgrade", "cancel"):
        for change in summary.changes:
            if change.table == "DimUser" and change.kind == kind:
                return change.key
    return None


def user_history(project: Project, user_id: int) -> list[dict[str, Any]]:
    """The SCD2 versions of one user in gold ``dim_user``, oldest first."""
    name = TableName(project.config.catalog, "gold", "dim_user")
    uri = project.lake.uri(*name.parts)
    if not delta.is_delta_table(uri, project.lake.storage_options):
        return []
    import pyarrow.compute as pc

    dataset = delta.snapshot_dataset(uri, project.lake.storage_options)
    table = dataset.to_table(filter=pc.field("user_id") == user_id)
    rows = table.to_pylist()
    return sorted(rows, key=lambda r: (r["__START_AT"] is None, r["__START_AT"]))
