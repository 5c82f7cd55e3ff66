"""Benchmark: the reference project's full job (ingest + pipeline) on DuckDB and on Spark.

For each scale S (generated source data, ``soundlake source generate --scale S``) and each
engine, a fresh copy of the Spotify reference project runs ``soundlake job`` (ingestion
into bronze, then a pipeline update) in a child process. Peak memory is the highest sum
of the RSS of the child and all its descendants (the JVM for Spark), sampled every 50 ms;
the child also samples its own RSS by phase (``py ingest``: the engine-independent
ingestion into bronze; ``py update``: the pipeline update, where the soundlake process is
Spark's driver program). Prints seconds, peak memory and the Spark / DuckDB ratio.

    python bench/engines.py            # S = 1 and S = 5
    python bench/engines.py --quick    # S = 1 only
    python bench/engines.py --baseline 43bbac5   # also Spark with that commit's code

``--baseline REV`` checks REV out into a temporary git worktree and runs the Spark job a
second time with that code (``PYTHONPATH``), so before and after come from one run on
the same machine and data.

``--repeat N`` runs every (scale, engine) N times, in rounds that alternate the engines,
each on a fresh copy of the scale's project (generated once). The table shows the median
seconds and every run's seconds; the ratios are of medians; memory is the highest of the
N runs. A shared 2-core machine moves a single job's time by 20% or more from one minute
to the next, so a ratio from one run each is a sample, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

#: One job's measurements (a child's JSON plus the sampled memory).
Result = dict[str, object]

CHILD = r"""
import json, sys, threading, time
import psutil
from soundlake.project.context import Project
from soundlake.project.job import run_job
me = psutil.Process()
peaks = {"ingest": 0, "update": 0}
phase = ["ingest"]
def sample():
    while True:
        rss = me.memory_info().rss
        peaks[phase[0]] = max(peaks[phase[0]], rss)
        time.sleep(0.05)
threading.Thread(target=sample, daemon=True).start()
project = Project.open(sys.argv[1], overrides={"engine": sys.argv[2]})
start = time.perf_counter()
result = run_job(project, after_ingest=lambda _: phase.__setitem__(0, "update"))
seconds = time.perf_counter() - start
errors = dict(result.update.errors) if result.update is not None else {"ingest": "failed"}
print(json.dumps({"ok": result.ok, "seconds": seconds, "errors": errors,
                  "ingest_mib": peaks["ingest"] / 2**20, "update_mib": peaks["update"] / 2**20}))
"""


def prepare(root: Path, scale: float) -> Path:
    """A fresh reference project with a generated source at ``scale``."""
    from soundlake.project.context import Project
    from soundlake.project.scaffold import init_project
    from soundlake.project.source_ops import create_source, generate

    init_project(root)
    project = Project.open(root)
    create_source(project)
    generate(project, scale=scale, seed=42)
    return root


def rss_parts(proc: psutil.Process) -> tuple[int, int]:
    """RSS of a process itself and of all its descendants (Spark's JVM), in bytes."""
    own = proc.memory_info().rss
    children = 0
    for p in proc.children(recursive=True):
        try:
            children += p.memory_info().rss
        except psutil.Error:
            pass
    return own, children


def run_child(project: Path, engine: str, code: Path | None = None) -> Result:
    """Run the job in a child process (with the soundlake of ``code``/src when given);
    return its JSON result plus ``peak_mib`` (the process tree), ``python_mib`` (the
    soundlake process alone: the driver program) and ``jvm_mib`` (its descendants)."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code / "src"), env.get("PYTHONPATH", "")])
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(project), engine], stdout=subprocess.PIPE,
                             text=True, env=env)
    proc = psutil.Process(child.pid)
    peaks = [0, 0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                own, children = rss_parts(proc)
            except psutil.Error:
                return
            for i, value in enumerate((own + children, own, children)):
                peaks[i] = max(peaks[i], value)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = child.communicate()
    done.set()
    sampler.join()
    result: Result = json.loads(out.strip().splitlines()[-1])
    result["peak_mib"], result["python_mib"], result["jvm_mib"] = (v / 2**20 for v in peaks)
    return result


def summarise(results: list[Result]) -> Result:
    """One row from repeated runs: median seconds, every run's seconds, highest memory."""
    seconds = [float(r["seconds"]) for r in results]  # type: ignore[arg-type]
    row: Result = {key: max(float(r[key]) for r in results)  # type: ignore[arg-type]
                   for key in ("peak_mib", "python_mib", "ingest_mib", "update_mib", "jvm_mib")}
    row.update(ok=all(bool(r["ok"]) for r in results), seconds=statistics.median(seconds), runs=seconds,
               errors=[r["errors"] for r in results if not r["ok"]])
    return row


def print_table(rows: list[tuple[float, str, Result]]) -> None:
    """The table: one row per (scale, engine); ratios against DuckDB at the same scale."""
    print(f"{'S':>4} {'engine':<15} {'ok':<5} {'seconds':>9} {'peak MiB':>9} {'python MiB':>10} "
          f"{'py ingest':>9} {'py update':>9} {'JVM MiB':>8} {'ratio s':>8} {'ratio mem':>9}  runs (s)")
    base: dict[float, Result] = {}
    for scale, engine, result in rows:
        if engine == "duckdb":
            base[scale] = result
        ref = base.get(scale)
        ratio_s = float(result["seconds"]) / float(ref["seconds"]) if ref else 1.0  # type: ignore[arg-type]
        ratio_m = float(result["peak_mib"]) / float(ref["peak_mib"]) if ref else 1.0  # type: ignore[arg-type]
        runs = ", ".join(f"{v:.1f}" for v in result["runs"])  # type: ignore[attr-defined]
        print(f"{scale:>4g} {engine:<15} {result['ok']!s:<5} {float(result['seconds']):>9.1f} "  # type: ignore[arg-type]
              f"{float(result['peak_mib']):>9.0f} {float(result['python_mib']):>10.0f} "  # type: ignore[arg-type]
              f"{float(result['ingest_mib']):>9.0f} {float(result['update_mib']):>9.0f} "  # type: ignore[arg-type]
              f"{float(result['jvm_mib']):>8.0f} {ratio_s:>8.2f} {ratio_m:>9.1f}  {runs}")  # type: ignore[arg-type]
        if not result["ok"]:
            print(f"     errors: {result['errors']}")


def java_line() -> str:
    """Which Java this code's local Spark driver runs on, and pyspark's own choice
    (``JAVA_HOME``, else ``java`` on ``PATH``), which a baseline without the choice uses."""
    from soundlake.engines.spark.java import inspect, java_home_for, system_java_home

    def describe(home: Path | None) -> str:
        found = inspect(home) if home is not None else None
        return f"Java {found.version} ({home})" if found else "none found" if home is None else f"unknown ({home})"

    own = describe(system_java_home())
    chosen = java_home_for("local[*]", None)
    return f"Spark driver: {describe(chosen) if chosen else own}; pyspark's own choice: {own}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="S = 1 only")
    parser.add_argument("--scales", default="1,5", help="comma-separated scales")
    parser.add_argument("--baseline", help="a git revision whose code also runs the Spark job")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scale and engine (median shown)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    scales = [1.0] if args.quick else [float(s) for s in args.scales.split(",")]
    repo = Path(__file__).resolve().parent.parent
    rows: list[tuple[float, str, Result]] = []
    with tempfile.TemporaryDirectory(prefix="sl-bench-engines-") as tmp:
        runs: list[tuple[str, str, Path | None]] = [("duckdb", "duckdb", None)]
        if args.baseline:
            code = Path(tmp) / "baseline"
            subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(code), args.baseline],
                           check=True, capture_output=True)
            runs.append((f"spark@{args.baseline[:7]}", "spark", code))
        runs.append(("spark", "spark", None))
        try:
            for scale in scales:
                template = prepare(Path(tmp) / f"s{scale:g}", scale)
                results: dict[str, list[Result]] = {label: [] for label, _, _ in runs}
                for round_ in range(args.repeat):
                    for label, engine, code_dir in runs:
                        project = Path(tmp) / f"s{scale:g}-{label}-{round_}"
                        shutil.copytree(template, project)
                        results[label].append(run_child(project, engine, code_dir))
                        shutil.rmtree(project, ignore_errors=True)
                rows.extend((scale, label, summarise(results[label])) for label, _, _ in runs)
        finally:
            if args.baseline:
                subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(Path(tmp) / "baseline")],
                               check=False, capture_output=True)
    print(java_line())
    print_table(rows)


if __name__ == "__main__":
    main()
