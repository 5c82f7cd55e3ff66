"""release_freed_memory gives the pages that worker threads freed back to the OS."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from soundlake.core.memory import ARROW_POOL_ENV

CHILD = r"""
import json, threading
import numpy as np, psutil, pyarrow as pa
from soundlake.core.memory import release_freed_memory

me = psutil.Process()

def work():  # what an ingest worker does: many batch-sized buffers, filled, then dropped
    buffers = [pa.allocate_buffer(256 * 1024) for _ in range(400)]
    for buffer in buffers:
        np.frombuffer(buffer, dtype="u1")[:] = 1

threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
before = me.memory_info().rss
release_freed_memory()
print(json.dumps({"before": before, "after": me.memory_info().rss}))
"""


def test_freed_batches_leave_the_process() -> None:
    # A fresh process: 400 MiB written by four threads, all freed. Arrow's allocator keeps
    # such pages for reuse, so without the release the process stays ~400 MiB larger.
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
    sizes = json.loads(out.stdout.strip().splitlines()[-1])
    assert sizes["before"] - sizes["after"] > 200 * 2**20, sizes


POOL_CHILD = r"""
import pyarrow as pa
from soundlake.core.memory import prefer_system_allocator
prefer_system_allocator()
prefer_system_allocator()  # idempotent
print(pa.default_memory_pool().backend_name)
"""


def _pool_after_prefer(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", POOL_CHILD], capture_output=True, text=True, check=True, env=env)
    return out.stdout.strip().splitlines()[-1]


def test_ingestion_allocates_from_the_system_heap_unless_arrow_is_told_otherwise() -> None:
    env = {k: v for k, v in os.environ.items() if k != ARROW_POOL_ENV}
    assert _pool_after_prefer(env) == "system"
    # The user's own choice of Arrow allocator is kept.
    assert _pool_after_prefer({**env, ARROW_POOL_ENV: "mimalloc"}) == "mimalloc"
