"""Cost of delete detection (``deletes: true``) on FactStream vs a plain incremental run.

Usage::

    python bench/deletes.py                      # S=10 from SQLite
    python bench/deletes.py --scales 2 5 --dbs sqlite postgresql

For each scale the source is filled by soundlake's generator, FactStream is loaded in full
into a fresh lake, and then, on the same lake and source, timed in this order:

1. ``plain``: an incremental run without ``deletes`` and no source change;
2. ``deletes, key set rebuilt``: the first run with ``deletes: true`` (no sidecar yet: the
   delivered keys are rebuilt from the bronze files);
3. ``deletes``: the steady state, no source change (source key scan + sidecar compare);
4. ``deletes, 0.1% deleted``: after deleting 0.1% of the streams (delete events written).

Every timed run must deliver nothing but the expected delete events; the script checks
it. Times are wall seconds of ``run_tables`` in this process (imports excluded).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path

DEFAULT_PG = "postgresql+psycopg://soundlake:soundlake@127.0.0.1:5432/postgres"


def _pg_database() -> tuple[str, str, str]:
    import psycopg

    admin = os.environ.get("SOUNDLAKE_TEST_PG_URL", DEFAULT_PG)
    name = f"sl_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin, name, f"{admin.rsplit('/', 1)[0]}/{name}"


def _drop(admin: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_scale(scale: float, db: str) -> list[tuple[str, float, int, int]]:
    """The timed runs of one scale: (case, seconds, rows delivered, delete events)."""
    import sqlalchemy as sa

    from soundlake.demo.generate import generate
    from soundlake.ingest.config import IngestConfig, IngestTable
    from soundlake.ingest.runner import run_tables
    from soundlake.lake.storage import Lake

    out: list[tuple[str, float, int, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        pg = None
        if db == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'source.db'}"
        else:
            admin, name, url = _pg_database()
            pg = (admin, name)
        try:
            started = time.monotonic()
            generate(url, scale=scale, seed=42)
            print(f"  generated S={scale} into {db} in {time.monotonic() - started:.1f} s")
            lake = Lake.at("lake", base=Path(tmp))

            def ingest(deletes: bool) -> tuple[float, int, int]:
                spec = IngestTable(
                    schema="dbo", table="FactStream", cdc_col="stream_timestamp", deletes=deletes
                )
                cfg = IngestConfig(tables=[spec], batch_rows=100_000)
                began = time.monotonic()
                result = run_tables(lake, url, cfg, pipeline="bench")
                seconds = time.monotonic() - began
                assert result.ok, result.failed
                table = result.tables[0]
                return seconds, table.rows, table.deleted_rows

            seconds, rows, _ = ingest(False)
            print(f"  full load: {rows:,} rows in {seconds:.1f} s")
            for case, deletes in (
                ("plain", False),
                ("deletes, key set rebuilt", True),
                ("deletes", True),
                ("plain", False),
            ):
                seconds, rows, deleted = ingest(deletes)
                assert rows == 0 and deleted == 0, (case, rows, deleted)
                out.append((case, seconds, rows, deleted))
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                total = conn.exec_driver_sql('SELECT count(*) FROM "FactStream"').scalar_one()
                gone = max(1, total // 1000)
                conn.exec_driver_sql(
                    'DELETE FROM "FactStream" WHERE stream_id IN '
                    f'(SELECT stream_id FROM "FactStream" ORDER BY stream_id LIMIT {gone})'
                )
            engine.dispose()
            seconds, rows, deleted = ingest(True)
            assert rows == 0 and deleted == gone, (rows, deleted, gone)
            out.append(("deletes, 0.1% deleted", seconds, rows, deleted))
        finally:
            if pg is not None:
                _drop(*pg)
    return out


def main() -> None:
    """Run the cases and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[10.0])
    parser.add_argument("--dbs", nargs="+", default=["sqlite"], choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    rows = []
    for db in args.dbs:
        for scale in args.scales:
            print(f"{db} S={scale}")
            for case, seconds, _, deleted in run_scale(scale, db):
                rows.append((db, scale, case, seconds, deleted))
    print(
        f"\n{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| db | S | run | seconds | delete events |")
    print("|---|---:|---|---:|---:|")
    for db, scale, case, seconds, deleted in rows:
        print(f"| {db} | {scale:g} | {case} | {seconds:.2f} | {deleted:,} |")


if __name__ == "__main__":
    main()
