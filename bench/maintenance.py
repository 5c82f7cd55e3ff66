"""Maintenance benchmark: the reference project after many incremental updates, with and without.

Two copies of one generated reference project (``soundlake init`` + a SQLite source) get
the same ``--updates`` incremental jobs (simulate a batch of source changes, ingest,
run the pipeline). One keeps the default automatic maintenance (compaction once a table
holds 10 small files, VACUUM at most daily); the other sets ``maintenance.auto: false``.
At the end it prints, per gold and silver table, the data files of the current version
and the best-of-``--repeat`` time of a full-scan query (``SELECT count(*), count(DISTINCT
<key>)``) through ``soundlake query``, plus the total job time of each copy.

Run: ``python bench/maintenance.py [--updates 100] [--scale 0.01] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from deltalake import DeltaTable

from soundlake.project.context import Project
from soundlake.project.ingest_ops import run_ingest
from soundlake.project.pipeline_ops import query, run
from soundlake.project.scaffold import init_project
from soundlake.project.source_ops import create_source, generate, simulate

TABLES = {
    "gold.dim_user": "user_id", "gold.dim_track": "track_id", "gold.dim_artist": "artist_id",
    "gold.fact_stream": "stream_id", "silver.factstream": "stream_id", "silver.dimuser": "user_id",
}
CLOCK = datetime(2026, 1, 5, 12, 0, 0)


def prepare(root: Path, scale: float) -> None:
    init_project(root)
    project = Project.open(root)
    create_source(project)
    generate(project, scale=scale, seed=7)


def set_auto(root: Path, auto: bool) -> None:
    path = root / "soundlake.yml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["maintenance"] = {"auto": auto}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def job(project: Project, step: int) -> None:
    if step:
        simulate(project, seed=step, rate=0.01, now=CLOCK + timedelta(hours=step))
    ingest = run_ingest(project)
    if not ingest.ok:
        raise SystemExit(f"ingest failed at update {step}: {[(t.table, t.error) for t in ingest.failed]}")
    result = run(project)
    if not result.ok:
        raise SystemExit(f"update {step} failed: {result.errors}")


def files(project: Project, table: str) -> int:
    catalog = project.config.catalog
    uri = project.lake.uri(catalog, *table.split("."))
    return len(DeltaTable(uri).file_uris())


def query_seconds(project: Project, table: str, key: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        query(project, f"SELECT count(*), count(DISTINCT {key}) FROM {table}")
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100)
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sl-maint-"))
    try:
        prepare(work / "template", args.scale)
        roots = {"maintained": work / "maintained", "unmaintained": work / "unmaintained"}
        for label, root in roots.items():
            shutil.copytree(work / "template", root)
            set_auto(root, label == "maintained")
        projects = {label: Project.open(root) for label, root in roots.items()}
        seconds = dict.fromkeys(projects, 0.0)
        for step in range(args.updates + 1):  # update 0 is the initial load
            for label, project in projects.items():
                started = time.perf_counter()
                job(project, step)
                seconds[label] += time.perf_counter() - started
        print(f"\n{args.updates} incremental updates after the initial load (scale {args.scale})\n")
        print(f"| {'table':<18} | {'files, none':>11} | {'files, auto':>11} | {'query s, none':>13} "
              f"| {'query s, auto':>13} | {'auto / none':>11} |")
        print(f"|{'-' * 20}|{'-' * 13}|{'-' * 13}|{'-' * 15}|{'-' * 15}|{'-' * 13}|")
        for table, key in TABLES.items():
            counts = {label: files(p, table) for label, p in projects.items()}
            times = {label: query_seconds(p, table, key, args.repeat) for label, p in projects.items()}
            print(f"| {table:<18} | {counts['unmaintained']:>11} | {counts['maintained']:>11} "
                  f"| {times['unmaintained']:>13.4f} | {times['maintained']:>13.4f} "
                  f"| {times['maintained'] / times['unmaintained']:>11.2f} |")
        print(f"\nall jobs: {seconds['unmaintained']:.1f} s without maintenance, "
              f"{seconds['maintained']:.1f} s with ({seconds['maintained'] / seconds['unmaintained']:.2f}x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
