"""The reference project's full job, first run / 1% change run / no-op run, per stage.

Usage::

    python bench/e2e.py                 # S=1 and S=10
    python bench/e2e.py --scales 0.1    # a quick look

For each scale: a fresh project (soundlake init), a generated SQLite source, then three
jobs: the first (everything is new), one after a simulated batch that changes about 1% of
the data, and one with no source change. Each job runs in its own child process, which
reports the seconds of each stage (ingest, pipeline) and its own peak RSS
(``resource.getrusage``), so figures of one job never include another's.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child_job(project_dir: str) -> None:
    """Run one job (ingest, then the pipeline update) and print its figures as JSON."""
    from soundlake.project.context import Project
    from soundlake.project.ingest_ops import run_ingest
    from soundlake.project.pipeline_ops import run

    project = Project.open(Path(project_dir))
    start = time.perf_counter()
    ingested = run_ingest(project)
    middle = time.perf_counter()
    update = run(project)
    end = time.perf_counter()
    print(json.dumps({
        "ingest_s": middle - start, "pipeline_s": end - middle, "total_s": end - start,
        "rows_ingested": ingested.rows, "ok": ingested.ok and update.ok,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def _child(*args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, *args], check=False, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def child_prepare(project_dir: str, scale: float) -> None:
    """Create the project and generate its source (not timed as a stage)."""
    from soundlake.project.context import Project
    from soundlake.project.scaffold import init_project
    from soundlake.project.source_ops import create_source, generate

    init_project(Path(project_dir))
    project = Project.open(Path(project_dir))
    create_source(project)
    result = generate(project, scale=scale, seed=1)
    print(json.dumps({"rows": result.total_rows, "seconds": result.seconds}))


def child_change(project_dir: str) -> None:
    """Apply a simulated batch touching about 1% of the rows."""
    from soundlake.project.context import Project
    from soundlake.project.source_ops import simulate

    summary = simulate(Project.open(Path(project_dir)), seed=2, rate=0.01, bad_rows=True)
    print(json.dumps({"changes": len(summary.changes)}))


def bench_scale(scale: float, workdir: Path) -> list[dict[str, object]]:
    project = workdir / f"s{scale:g}"
    prepared = _child("--prepare", str(project), str(scale))
    print(f"S={scale:g}: generated {prepared['rows']:,} source rows in {prepared['seconds']:.1f}s",
          file=sys.stderr)
    rows = []
    first = _child("--job", str(project))
    rows.append({"scale": scale, "run": "first", **first})
    changed = _child("--change", str(project))
    second = _child("--job", str(project))
    rows.append({"scale": scale, "run": f"1% change ({changed['changes']:,} rows)", **second})
    third = _child("--job", str(project))
    rows.append({"scale": scale, "run": "no-op", **third})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--prepare", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--change", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        return child_job(args.job)
    if args.prepare:
        return child_prepare(args.prepare[0], float(args.prepare[1]))
    if args.change:
        return child_change(args.change)
    print(f"machine: {platform.machine()}, {platform.python_version()}, cores={__import__('os').cpu_count()}")
    header = f"{'S':>5} {'run':<26} {'rows in':>10} {'ingest s':>9} {'pipeline s':>11} {'total s':>8} {'vs first':>9} {'peak RSS MiB':>13}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="sl_bench_e2e_") as tmp:
        for scale in args.scales:
            rows = bench_scale(scale, Path(tmp))
            first_total = float(rows[0]["total_s"])  # type: ignore[arg-type]
            for r in rows:
                total = float(r["total_s"])  # type: ignore[arg-type]
                print(f"{scale:>5g} {r['run']:<26} {int(r['rows_ingested']):>10,} {float(r['ingest_s']):>9.2f} "  # type: ignore[arg-type]
                      f"{float(r['pipeline_s']):>11.2f} {total:>8.2f} {total / first_total:>8.1%} "  # type: ignore[arg-type]
                      f"{float(r['peak_rss_mib']):>13.0f}{'' if r['ok'] else '  FAILED'}", flush=True)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
