"""Ingestion of FactStream to Parquet: soundlake vs dlt ``sql_table`` (pyarrow backend).

Usage::

    python bench/ingest.py                 # S=1 and S=10 from SQLite and PostgreSQL
    python bench/ingest.py --quick         # S=0.1 and S=1
    python bench/ingest.py --scales 1 --dbs sqlite
    python bench/ingest.py --scales 1 --lookback 31d   # also soundlake with a look-back window
    python bench/ingest.py --scales 10 --lookback 35d --no-dlt   # the window re-read only

The source is filled by soundlake's generator (S=1 is about 1,000,000 streams). Each
contender then copies the whole FactStream table to Parquet files in a fresh folder, in a
fresh child process, so that the peak RSS (``resource.getrusage`` in the child) belongs to
that run alone:

- ``soundlake``: ``run_tables`` (ADBC reader, typed batches streamed into Parquet row
  groups, manifest and watermark commit), 100,000-row batches;
- ``dlt``: ``dlt.sources.sql_database.sql_table(backend="pyarrow", chunk_size=100_000)``
  run into the ``filesystem`` destination with ``loader_file_format="parquet"`` (dlt's
  extract, normalize and load steps).

With ``--lookback L`` a third contender, ``soundlake+lookback``, runs the same full load
with ``ingest.lookback = L`` (every row hashed, the window's fingerprints written to the
sidecar); both soundlake contenders then run once more with no source change, which
re-reads the window (``cdc >= watermark - L``) and must deliver nothing: its seconds and
the window size are reported in a second table.

Times exclude interpreter start-up and imports. Rows written are verified by reading the
Parquet files back. PostgreSQL runs use a new database on the server of
``SOUNDLAKE_TEST_PG_URL`` (default: the test server), dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

DEFAULT_PG = "postgresql+psycopg://soundlake:soundlake@127.0.0.1:5432/postgres"
BATCH_ROWS = 100_000
CONTENDERS = ("soundlake", "dlt")


def _parquet_rows(folder: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in folder.rglob("*.parquet"))


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process, all threads (less noisy than wall time)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_soundlake(url: str, out: Path, lookback: str | None = None) -> dict[str, float]:
    """Copy FactStream with soundlake (runs in the child process).

    With ``lookback`` set, a second run with no source change follows (timed apart).
    """
    from soundlake.ingest.config import IngestConfig, IngestTable
    from soundlake.ingest.runner import run_tables
    from soundlake.lake.storage import Lake

    config = IngestConfig(
        tables=[IngestTable(table="FactStream", cdc_col="stream_timestamp")],
        batch_rows=BATCH_ROWS,
        lookback=lookback or "0",
    )
    started = time.perf_counter()
    result = run_tables(Lake(str(out)), url, config, pipeline="bench")
    seconds = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"soundlake failed: {result.failed}")
    figures: dict[str, float] = {"rows": result.rows, "seconds": seconds}
    if lookback is not None:
        started, cpu = time.perf_counter(), _cpu_seconds()
        again = run_tables(Lake(str(out)), url, config, pipeline="bench")
        figures["rerun_seconds"] = time.perf_counter() - started
        figures["rerun_cpu_seconds"] = _cpu_seconds() - cpu
        if not again.ok or again.rows:
            raise SystemExit(f"soundlake re-run delivered {again.rows} rows: {again.failed}")
        state = json.loads((out / "bronze" / "FactStream_cdc" / "cdc.json").read_text())
        window = state["soundlake"].get("window") or {}
        figures["window_rows"] = window.get("rows", len(state["soundlake"]["boundary"]))
    return figures


def child_dlt(url: str, out: Path) -> dict[str, float]:
    """Copy FactStream with dlt sql_table, pyarrow backend, Parquet files (child process)."""
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    import dlt
    from dlt.sources.sql_database import sql_table

    started = time.perf_counter()
    pipeline = dlt.pipeline(
        pipeline_name="bench_ingest",
        destination=dlt.destinations.filesystem(bucket_url=(out / "dlt").as_uri()),
        dataset_name="bronze",
        pipelines_dir=str(out / "pipelines"),
    )
    source = sql_table(
        credentials=url, table="FactStream", backend="pyarrow", chunk_size=BATCH_ROWS
    )
    pipeline.run(source, loader_file_format="parquet")
    seconds = time.perf_counter() - started
    return {"rows": _parquet_rows(out / "dlt"), "seconds": seconds}


def child(contender: str, url: str, out: str) -> None:
    """Run one contender and print its figures as JSON."""
    folder = Path(out)
    name, _, lookback = contender.partition(":")
    if name == "dlt":
        figures = child_dlt(url, folder)
    else:
        figures = child_soundlake(url, folder, lookback or None)
    if name != "dlt":
        figures["rows_on_disk"] = _parquet_rows(folder / "bronze" / "FactStream")
    else:
        figures["rows_on_disk"] = figures["rows"]
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


def _pg_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"sl_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(
        admin_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name, name


def _drop_pg(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(
        admin_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _prepare(db: str, scale: float, workdir: Path) -> tuple[str, str | None, int]:
    from soundlake.demo.generate import generate

    pg_name = None
    if db == "sqlite":
        url = f"sqlite:///{workdir / f'source_{scale:g}.db'}"
    else:
        url, pg_name = _pg_database(os.environ.get("SOUNDLAKE_TEST_PG_URL", DEFAULT_PG))
    result = generate(url, scale=scale, seed=1)
    return url, pg_name, int(result.rows["FactStream"])


def _run_child(contender: str, url: str, out: Path) -> dict[str, float]:
    proc = subprocess.run(  # noqa: PLW1510 (the return code is checked)
        [sys.executable, __file__, "--child", contender, url, str(out)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{contender} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    """Parse arguments, run every (db, scale, contender) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="S=0.1 and S=1")
    parser.add_argument("--scales", default=None, help="comma-separated scales (default 1,10)")
    parser.add_argument("--dbs", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument(
        "--lookback", default=None, help="also run soundlake with this look-back window (31d)"
    )
    parser.add_argument(
        "--no-dlt", action="store_true", help="skip the dlt contender (soundlake figures only)"
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("CONTENDER", "URL", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    scales = [float(s) for s in (args.scales or ("0.1,1" if args.quick else "1,10")).split(",")]
    contenders = list(CONTENDERS)
    if args.lookback:  # both soundlake runs also time a no-change re-run
        contenders = ["soundlake:0", f"soundlake:{args.lookback}", "dlt"]
    if args.no_dlt:
        contenders = [c for c in contenders if c != "dlt"]
    rows_out = []
    with tempfile.TemporaryDirectory(prefix="sl_bench_ingest_") as tmp:
        workdir = Path(tmp)
        for db in args.dbs.split(","):
            for scale in scales:
                url, pg_name, streams = _prepare(db, scale, workdir)
                try:
                    for contender in contenders:
                        out = workdir / f"{db}_{scale:g}_{contender.replace(':', '_')}"
                        figures = _run_child(contender, url, out)
                        if figures["rows_on_disk"] != streams:
                            raise SystemExit(
                                f"{contender}: wrote {figures['rows_on_disk']} of {streams} rows"
                            )
                        label = "soundlake" if contender == "soundlake:0" else contender
                        rows_out.append((db, scale, label, streams, figures))
                        shutil.rmtree(out, ignore_errors=True)
                        print(
                            f"  {db} S={scale:g} {contender}: {streams / figures['seconds']:,.0f} rows/s, "
                            f"peak {figures['peak_rss_mib']:,.0f} MiB",
                            file=sys.stderr,
                            flush=True,
                        )
                finally:
                    if pg_name:
                        _drop_pg(os.environ.get("SOUNDLAKE_TEST_PG_URL", DEFAULT_PG), pg_name)
                    elif url.startswith("sqlite:///"):
                        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    if not args.no_dlt:
        _print_table(rows_out)
    else:
        _print_alone(rows_out)
    if args.lookback:
        _print_lookback(rows_out)


def _print_lookback(rows: list[tuple[str, float, str, int, dict[str, float]]]) -> None:
    print()
    print(
        "| source | S | lookback | full load rows/s | peak RSS MiB | no-change re-run s "
        "| re-run CPU s | window rows |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for db, scale, contender, n, f in rows:
        if contender == "dlt":
            continue
        lookback = contender.partition(":")[2] or "0"
        print(
            f"| {db} | {scale:g} | {lookback} | {n / f['seconds']:,.0f} | {f['peak_rss_mib']:,.0f} | "
            f"{f['rerun_seconds']:.2f} | {f['rerun_cpu_seconds']:.2f} | {int(f['window_rows']):,} |"
        )


def _print_alone(rows: list[tuple[str, float, str, int, dict[str, float]]]) -> None:
    print(
        f"# ingest bench: FactStream -> Parquet ({platform.node()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f})"
    )
    print()
    print("| source | S | contender | rows | rows/s | peak RSS MiB |")
    print("|---|---|---|---:|---:|---:|")
    for db, scale, contender, n, f in rows:
        print(
            f"| {db} | {scale:g} | {contender} | {n:,} | {n / f['seconds']:,.0f} | "
            f"{f['peak_rss_mib']:,.0f} |"
        )


def _print_table(rows: list[tuple[str, float, str, int, dict[str, float]]]) -> None:
    print(
        f"# ingest bench: FactStream -> Parquet ({platform.node()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()})"
    )
    print()
    print(
        "| source | S | rows | soundlake rows/s | dlt rows/s | speed ratio | soundlake peak RSS MiB "
        "| dlt peak RSS MiB | memory ratio |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    by_key = {(db, s, c): (n, f) for db, s, c, n, f in rows}
    for db, scale in sorted({(db, s) for db, s, _, _, _ in rows}, key=lambda k: (k[0], k[1])):
        n, ours = by_key[(db, scale, "soundlake")]
        _, theirs = by_key[(db, scale, "dlt")]
        ours_rate, their_rate = n / ours["seconds"], n / theirs["seconds"]
        print(
            f"| {db} | {scale:g} | {n:,} | {ours_rate:,.0f} | {their_rate:,.0f} | "
            f"{ours_rate / their_rate:.2f}x | {ours['peak_rss_mib']:,.0f} | {theirs['peak_rss_mib']:,.0f} | "
            f"{theirs['peak_rss_mib'] / ours['peak_rss_mib']:.2f}x |"
        )
    print()
    print("speed ratio = soundlake rows/s / dlt rows/s; memory ratio = dlt peak / soundlake peak.")
    scales = sorted({s for _, s, _, _, _ in rows})
    if len(scales) > 1:
        low, high = scales[0], scales[-1]
        for db in sorted({db for db, *_ in rows}):
            for contender in CONTENDERS:
                if (db, low, contender) in by_key and (db, high, contender) in by_key:
                    a = by_key[(db, low, contender)][1]["peak_rss_mib"]
                    b = by_key[(db, high, contender)][1]["peak_rss_mib"]
                    print(
                        f"peak RSS growth S={low:g} -> S={high:g}, {db}, {contender}: {a:,.0f} -> {b:,.0f} MiB "
                        f"({b / a:.2f}x)"
                    )


if __name__ == "__main__":
    main()
