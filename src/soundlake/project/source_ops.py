"""Source-database operations on a project (``soundlake source ...``).

Each function resolves the project's ``source.url`` (relative SQLite paths are relative to
the project folder) and calls the URL-level function in :mod:`soundlake.source` (create,
count) or :mod:`soundlake.demo` (generate, load-sql, simulate); tests and benchmarks call
those directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from soundlake.demo.generate import DEFAULT_START, GenerateResult, ProgressFn
from soundlake.demo.generate import generate as generate_url
from soundlake.demo.loadsql import LoadResult, load_sql_files
from soundlake.demo.simulate import SimulationSummary
from soundlake.demo.simulate import simulate as simulate_url
from soundlake.project.context import Project
from soundlake.source.db import create_tables, safe_url, table_counts

__all__ = ["create_source", "display_url", "generate", "load_sql", "simulate", "source_counts"]


def display_url(project: Project) -> str:
    """The project's source URL with any password hidden."""
    return safe_url(project.source_url)


def create_source(project: Project) -> list[str]:
    """Create the five tables at the project's source where missing; returns those created."""
    return create_tables(project.source_url)


def load_sql(project: Project, files: Sequence[str | Path]) -> LoadResult:
    """Load tutorial-format SQL scripts into the project's source (upsert by key)."""
    return load_sql_files(project.source_url, files)


def generate(
    project: Project,
    *,
    scale: float,
    seed: int,
    replace: bool = False,
    progress: ProgressFn | None = None,
    start: date | None = None,
) -> GenerateResult:
    """Fill the project's source with synthetic data (see :mod:`soundlake.demo.generate`).

    ``start`` is the first day of the year of streams (default: the generator's fixed one).
    """
    return generate_url(project.source_url, scale=scale, seed=seed, replace=replace, progress=progress,
                        start=start or DEFAULT_START)


def simulate(
    project: Project,
    *,
    seed: int,
    rate: float = 0.01,
    bad_rows: bool = False,
    now: datetime | None = None,
    summary_json: Path | None = None,
) -> SimulationSummary:
    """Apply one batch of changes to the project's source; optionally write the summary as JSON."""
    summary = simulate_url(project.source_url, seed=seed, rate=rate, bad_rows=bad_rows, now=now)
    if summary_json is not None:
        summary_json.parent.mkdir(parents=True, exist_ok=True)
        summary_json.write_text(summary.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return summary


def source_counts(project: Project) -> dict[str, int]:
    """Row counts of the five tables at the project's source."""
    return table_counts(project.source_url)
