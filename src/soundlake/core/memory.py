"""Give memory that a finished phase freed back to the operating system."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc


def release_freed_memory() -> None:
    """Return freed heap pages to the OS: Arrow's pool, then the C allocator's arenas.

    Arrow's allocator and glibc keep memory freed by worker threads for reuse, so after a
    phase such as ingestion the process stays as large as that phase's peak. A long phase
    that follows (a pipeline update) would run on top of it. Best effort: a platform
    without ``malloc_trim`` keeps what its allocator keeps.
    """
    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)
