"""Durations as people write them in configuration: ``35d``, ``35 days``, ``12 hours``, ``90m``.

One syntax everywhere a look-back is configured (``ingest.lookback``, a table's
``lookback``, the ``soundlake.refresh.lookback`` table property): a whole number and an
optional unit, written short or long, with or without a space.
"""

from __future__ import annotations

import re

UNIT_SECONDS = {"w": 7 * 86_400, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
"""Seconds per canonical unit."""

_ALIASES = {
    "w": "w", "week": "w", "weeks": "w",
    "d": "d", "day": "d", "days": "d",
    "h": "h", "hour": "h", "hours": "h",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
}
_PATTERN = re.compile(r"^\s*(\d+)\s*([a-z]*)\s*$", re.IGNORECASE)
EXAMPLES = "'35 days', '35d', '12 hours', '90m' or a plain number"


def parse_duration(text: str | int) -> tuple[int, str]:
    """``(amount, unit)`` with ``unit`` one of ``w d h m s``, or ``""`` for a bare number.

    Raises:
        ValueError: when ``text`` is not a whole number with an optional known unit.
    """
    match = _PATTERN.match(str(text))
    unit = _ALIASES.get(match.group(2).lower()) if match and match.group(2) else ""
    if match is None or unit is None:
        raise ValueError(f"'{text}' is not a duration such as {EXAMPLES}")
    return int(match.group(1)), unit
