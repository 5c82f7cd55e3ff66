"""Benchmark: read_files -> silver streaming table (3 expectations) -> materialized view.

Generates ``--rows`` play events as Parquet files (100 files by default), runs a first
update, adds 1% new files and runs an incremental update, then a no-op update. Each
update runs in a fresh child process; peak memory is that child's RSS high-water mark
(``getrusage``). Prints a table.

    python bench/pipeline.py                 # 10,000,000 rows
    python bench/pipeline.py --rows 1000000  # smaller
    python bench/pipeline.py --quick         # 1,000,000 rows
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

PIPELINE = """
CREATE OR REFRESH STREAMING TABLE silver_plays (
  CONSTRAINT valid_user EXPECT (user_id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT positive_duration EXPECT (ms_played > 0) ON VIOLATION DROP ROW,
  CONSTRAINT known_country EXPECT (country <> 'XX')
)
AS SELECT event_id, user_id, track_id, ms_played, country, CAST(ts AS DATE) AS day
FROM STREAM read_files('${bronze}', format => 'parquet');

CREATE OR REFRESH MATERIALIZED VIEW daily_country AS
SELECT day, country, count(*) AS plays, sum(ms_played) / 60000.0 AS minutes,
       min(ms_played) AS shortest, max(ms_played) AS longest
FROM silver_plays GROUP BY day, country;
"""

# With --distinct: a second view whose COUNT(DISTINCT) cannot be maintained from partial
# aggregates, so every refresh recomputes it over the whole silver table.
DISTINCT_VIEW = """
CREATE OR REFRESH MATERIALIZED VIEW daily_listeners AS
SELECT day, country, count(DISTINCT user_id) AS listeners FROM silver_plays GROUP BY day, country;
"""

CHILD = r"""
import json, resource, sys, time
from soundlake.project.context import Project
from soundlake.project.pipeline_ops import run
start = time.perf_counter()
result = run(Project.open(sys.argv[1]))
seconds = time.perf_counter() - start
rows = {name.rsplit('.', 1)[-1]: f.num_output_rows for name, f in result.flows.items()}
print(json.dumps({"ok": result.ok, "errors": result.errors, "seconds": seconds, "rows": rows,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

COUNTRIES = np.array(["US", "GB", "DE", "FR", "BR", "IN", "JP", "MX", "SE", "XX"])


def write_file(path: Path, start_id: int, rows: int, seed: int) -> None:
    """One bronze Parquet file of ``rows`` play events."""
    rng = np.random.default_rng(seed)
    user = rng.integers(1, 200_000, rows)
    user_mask = rng.random(rows) < 0.001
    ms = rng.integers(-1_000, 400_000, rows)
    base = np.datetime64("2025-01-01T00:00:00", "us")
    ts = base + rng.integers(0, 90 * 86_400, rows).astype("timedelta64[s]")
    table = pa.table({
        "event_id": pa.array(np.arange(start_id, start_id + rows, dtype=np.int64)),
        "user_id": pa.array(user, mask=user_mask),
        "track_id": pa.array(rng.integers(1, 50_000, rows)),
        "ms_played": pa.array(ms),
        "country": pa.array(COUNTRIES[rng.integers(0, len(COUNTRIES), rows)]),
        "ts": pa.array(ts, type=pa.timestamp("us")),
    })
    pq.write_table(table, path)


def run_child(project: Path) -> dict[str, object]:
    """One update in a fresh process."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(project)], check=False, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"update failed:\n{out.stdout}\n{out.stderr}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["ok"]:
        raise SystemExit(f"update failed: {result['errors']}")
    return result


def main() -> None:
    """Generate, run first / incremental / no-op updates, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="1,000,000 rows")
    parser.add_argument("--keep", help="use (and keep) this folder instead of a temp folder")
    parser.add_argument("--distinct", action="store_true",
                        help="also a COUNT(DISTINCT) view (fully recomputed on every refresh)")
    args = parser.parse_args()
    rows = 1_000_000 if args.quick else args.rows
    per_file = rows // args.files
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="sl-bench-pipeline-"))
    shutil.rmtree(root, ignore_errors=True)
    (root / "pipelines").mkdir(parents=True)
    bronze = root / "bronze"
    bronze.mkdir()
    (root / "pipelines" / "bench.sql").write_text(PIPELINE + (DISTINCT_VIEW if args.distinct else ""))
    (root / "soundlake.yml").write_text(json.dumps({
        "name": "bench", "catalog": "main", "schema": "silver", "storage": "lake",
        "libraries": ["pipelines/*.sql"], "configuration": {"bronze": str(bronze)},
    }))
    t0 = time.perf_counter()
    for i in range(args.files):
        write_file(bronze / f"plays_{i:05d}.parquet", i * per_file, per_file, seed=i)
    gen = time.perf_counter() - t0
    results = [("first", args.files * per_file, run_child(root))]
    new_files = max(1, args.files // 100)
    for j in range(new_files):
        i = args.files + j
        write_file(bronze / f"plays_{i:05d}.parquet", i * per_file, per_file, seed=i)
    results.append(("incremental (+1% files)", new_files * per_file, run_child(root)))
    results.append(("no-op", 0, run_child(root)))
    print(f"pipeline benchmark: {rows:,} rows in {args.files} files (generated in {gen:.1f}s); "
          f"{platform.machine()}, Python {platform.python_version()}")
    views = "daily_country" + (" + daily_listeners (COUNT DISTINCT)" if args.distinct else "")
    print(f"materialized views: {views}")
    print(f"| {'update':<24} | {'new rows':>11} | {'silver rows':>11} | {'mv rows':>8} | {'seconds':>8} | {'peak RSS MiB':>12} |")
    print(f"|{'-' * 26}|{'-' * 13}|{'-' * 13}|{'-' * 10}|{'-' * 10}|{'-' * 14}|")
    for name, new, res in results:
        flow_rows = res["rows"]
        assert isinstance(flow_rows, dict)
        print(f"| {name:<24} | {new:>11,} | {flow_rows.get('silver_plays', 0):>11,} | "
              f"{flow_rows.get('daily_country', 0):>8,} | {res['seconds']:>8.2f} | {res['rss_mib']:>12.0f} |")
    first, incr = results[0][2]["seconds"], results[1][2]["seconds"]
    assert isinstance(first, float) and isinstance(incr, float)
    print(f"incremental / first = {incr / first:.1%}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
