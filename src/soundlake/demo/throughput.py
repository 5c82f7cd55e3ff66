"""Row counts and throughput of a write into the source database (generate, load-sql)."""

from __future__ import annotations


class Throughput:
    """Mixin for results with ``rows`` (per table) and ``seconds`` (wall time)."""

    rows: dict[str, int]
    seconds: float

    @property
    def total_rows(self) -> int:
        """Rows written over all tables (an upsert of an existing key counts once)."""
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        """All rows written per second of wall time."""
        return self.total_rows / self.seconds if self.seconds > 0 else float("inf")
