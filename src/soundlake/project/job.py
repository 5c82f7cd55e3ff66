"""``soundlake job``: what a scheduler calls — ingest into bronze, then a pipeline update."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from soundlake.ingest.results import IngestReporter, IngestResult
from soundlake.observe.events import EventListener
from soundlake.pipeline.runner import UpdateResult
from soundlake.project.context import Project
from soundlake.project.ingest_ops import run_ingest
from soundlake.project.pipeline_ops import close_when_done, run, start_engine


@dataclass(frozen=True)
class JobResult:
    """The outcome of one job: the ingestion, and the update (None when ingestion failed)."""

    ingest: IngestResult
    update: UpdateResult | None

    @property
    def ok(self) -> bool:
        """True when every table was ingested and no flow failed."""
        return self.ingest.ok and self.update is not None and self.update.ok


def run_job(
    project: Project,
    *,
    ingest_reporter: IngestReporter | None = None,
    listeners: Sequence[EventListener] = (),
    run_pipeline_after_ingest_failure: bool = False,
    after_ingest: Callable[[IngestResult], None] | None = None,
) -> JobResult:
    """Ingest every configured table, then run a pipeline update.

    When a table fails to ingest, the update does not run (bronze stays consistent and the
    next job picks up where this one stopped) unless ``run_pipeline_after_ingest_failure``.
    ``after_ingest`` sees the ingestion's result before the update starts (to print it in
    the order things happen).
    """
    # The engine starts while the tables are ingested (Spark's JVM and session take seconds).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="soundlake-engine") as pool:
        started = pool.submit(start_engine, project)
        try:
            ingested = run_ingest(project, reporter=ingest_reporter)
            if after_ingest is not None:
                after_ingest(ingested)
        except BaseException:
            close_when_done(started)
            raise
        if not ingested.ok and not run_pipeline_after_ingest_failure:
            close_when_done(started)
            return JobResult(ingest=ingested, update=None)
        update = run(project, listeners=listeners, started=started)
    return JobResult(ingest=ingested, update=update)
