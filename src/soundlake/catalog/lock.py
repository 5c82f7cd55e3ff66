"""One writer per project: an exclusive lock file naming its holder.

The lock is a file created with ``O_EXCL`` holding the holder's pid, host and start time.
A second run gets :class:`LockedError` naming the holder. A lock left by a dead process on
this host is taken over.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from typing_extensions import Self

from soundlake.core.clock import utc_now
from soundlake.core.errors import LockedError


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ProjectLock:
    """An exclusive, re-entrant-free writer lock (use as a context manager).

    Args:
        path: The lock file (``<storage>/_soundlake/lock.json`` for local storage).
        what: What is being locked, for the error message.
        wait_seconds: How long to wait for another holder before failing (0: fail now).
    """

    def __init__(self, path: Path, *, what: str = "project", wait_seconds: float = 0.0) -> None:
        self.path = Path(path)
        self.what = what
        self.wait_seconds = wait_seconds
        self.held = False

    def holder(self) -> dict[str, object] | None:
        """The current holder's record, or None when unlocked."""
        try:
            value = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockedError`."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.wait_seconds
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": utc_now().isoformat()}
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self._take_over_stale():
                    continue
                if time.monotonic() >= deadline:
                    raise LockedError(self._message()) from None
                time.sleep(0.2)
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(record, handle)
            self.held = True
            return

    def _take_over_stale(self) -> bool:
        holder = self.holder()
        if holder is None:
            # Being written right now, or garbage: garbage older than a few seconds is stale.
            try:
                age = time.time() - self.path.stat().st_mtime
            except FileNotFoundError:
                return True
            if age > 5:
                self.path.unlink(missing_ok=True)
                return True
            return False
        same_host = holder.get("host") == socket.gethostname()
        pid = int(str(holder.get("pid", 0) or 0))
        if same_host and not _pid_alive(pid):
            self.path.unlink(missing_ok=True)
            return True
        return False

    def _message(self) -> str:
        holder = self.holder() or {}
        return (
            f"another soundlake process holds the {self.what} lock "
            f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')} since "
            f"{holder.get('since', '?')}); wait for it to finish. Lock file: {self.path}"
        )

    def release(self) -> None:
        """Release the lock if this object holds it."""
        if self.held:
            holder = self.holder() or {}
            if holder.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
