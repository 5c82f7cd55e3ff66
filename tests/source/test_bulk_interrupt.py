"""Ctrl-C during a bulk load into SQLite stops the load and rolls it back (ADBC ingest)."""

from __future__ import annotations

import signal
import subprocess
import textwrap
import time
from pathlib import Path

import sqlalchemy as sa

from tests.cli import PYTHON_WITH_SIGINT

# Loads 40 chunks of 1.5 million rows through BulkWriter (each ingest takes ~0.5-1 s);
# prints "loading" once the first chunk is in, "done" if the load ran to the end.
LOADER = textwrap.dedent(
    """
    import sys
    import pyarrow as pa
    from soundlake.source.bulk import BulkWriter
    from soundlake.source.db import connect, create_missing

    n = 1_500_000
    with connect(sys.argv[1]) as engine:
        create_missing(engine)
        with BulkWriter(engine) as writer:
            for i in range(40):
                ids = pa.array(range(i * n + 1, (i + 1) * n + 1), pa.int32())
                writer.write("DimDate", pa.table({"date_key": ids}))
                if i == 0:
                    print("loading", flush=True)
    print("done", flush=True)
    """
)

def test_ctrl_c_during_an_adbc_ingest_interrupts_and_rolls_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    proc = subprocess.Popen(
        [*PYTHON_WITH_SIGINT, "-c", LOADER, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "loading", proc.stderr.read() if proc.stderr else ""
    time.sleep(0.3)  # inside a later chunk's ingest (most of the loop's time)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert "done" not in out, "the interrupt was lost: the load ran to the end"
    # a KeyboardInterrupt, not a failed write (ADBC turned it into "NOT_IMPLEMENTED")
    assert proc.returncode != 0 and err.strip().splitlines()[-1] == "KeyboardInterrupt", err
    with sa.create_engine(url).connect() as conn:
        assert conn.execute(sa.text('SELECT count(*) FROM "DimDate"')).scalar() == 0
