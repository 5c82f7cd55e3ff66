"""Time in one place so that tests and file names agree on UTC."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


def utc_stamp(moment: datetime | None = None) -> str:
    """Return a compact, sortable UTC timestamp such as ``20251007T194956_123456Z``."""
    moment = (moment or utc_now()).astimezone(timezone.utc)
    return moment.strftime("%Y%m%dT%H%M%S_%fZ")
