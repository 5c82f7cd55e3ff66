"""Generator throughput into SQLite and PostgreSQL, with peak memory.

Usage::

    python bench/generate.py            # S=1 and S=5 into SQLite and PostgreSQL
    python bench/generate.py --quick    # S=0.05 and S=0.2
    python bench/generate.py --scales 1 --dbs sqlite

Each run happens in a fresh child process (so the peak RSS, read with
``resource.getrusage`` in the child, belongs to that run alone) against an empty target: a
new SQLite file in a temporary folder, or a new PostgreSQL database created on the server
given by ``SOUNDLAKE_TEST_PG_URL`` (default: the test server) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

DEFAULT_PG = "postgresql+psycopg://soundlake:soundlake@127.0.0.1:5432/postgres"


def child(url: str, scale: float, seed: int) -> None:
    """Run one generation and print its figures as JSON (runs in the child process)."""
    from soundlake.demo.generate import generate

    result = generate(url, scale=scale, seed=seed)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "rows": result.total_rows, "streams": result.rows["FactStream"], "seconds": result.seconds,
        "rows_per_s": result.rows_per_second, "streams_per_s": result.streams_per_second,
        "peak_rss_mib": peak_kib / 1024,
    }))


def _pg_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"sl_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name, name


def _drop_pg(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_one(db: str, scale: float, seed: int, workdir: Path) -> dict[str, float]:
    """Generate S=``scale`` into a fresh ``db`` in a child process; returns its figures."""
    admin = os.environ.get("SOUNDLAKE_TEST_PG_URL", DEFAULT_PG)
    dropname = None
    if db == "sqlite":
        url = f"sqlite:///{workdir / f'bench_{scale}.db'}"
    else:
        url, dropname = _pg_database(admin)
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", url, str(scale), str(seed)],
            capture_output=True, text=True, check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"{db} S={scale} failed:\n{out.stderr}")
        figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
        if db == "sqlite":
            figures["db_mib"] = Path(url[len("sqlite:///"):]).stat().st_size / 2**20
        return figures
    finally:
        if dropname:
            _drop_pg(admin, dropname)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small scales (0.05, 0.2)")
    parser.add_argument("--scales", type=float, nargs="+", help="scales to run (default 1 5)")
    parser.add_argument("--dbs", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--child", nargs=3, metavar=("URL", "SCALE", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], float(args.child[1]), int(args.child[2]))
        return
    scales = args.scales or ([0.05, 0.2] if args.quick else [1.0, 5.0])
    print(f"soundlake source generate benchmark: python {platform.python_version()}, "
          f"{os.cpu_count()} cpus, {platform.machine()}")
    header = f"| {'db':<10} | {'S':>5} | {'streams':>10} | {'all rows':>10} | {'seconds':>8} | " \
             f"{'rows/s':>10} | {'streams/s':>10} | {'peak RSS MiB':>12} |"
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    with tempfile.TemporaryDirectory(prefix="sl-bench-") as tmp:
        for scale in scales:
            for db in args.dbs:
                f = run_one(db, scale, args.seed, Path(tmp))
                print(f"| {db:<10} | {scale:>5g} | {int(f['streams']):>10,} | {int(f['rows']):>10,} | "
                      f"{f['seconds']:>8.2f} | {f['rows_per_s']:>10,.0f} | {f['streams_per_s']:>10,.0f} | "
                      f"{f['peak_rss_mib']:>12.0f} |", flush=True)


if __name__ == "__main__":
    main()
