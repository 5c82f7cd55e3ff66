"""Compare every silver and gold table of two copies of a project, row for row, in DuckDB.

Tables of millions of rows are compared with ``EXCEPT ALL`` both ways over Arrow (no
Python rows); columns that name the run or the moment are left out, and decimals are
compared by value (Spark types ``x / 60.0`` as DECIMAL, the DuckDB engine as DOUBLE).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

#: Columns that name the run or the moment, which differ between any two runs.
RUN_COLUMNS = {"_run_id", "_quarantined_at"}


def catalog_tables(root: Path) -> dict[str, Path]:
    """``schema.table`` -> folder for every Delta table under the project's catalog."""
    return {
        f"{log.parent.parent.name}.{log.parent.name}": log.parent
        for log in sorted((root / "lake" / "spotify_catalog").glob("*/*/_delta_log"))
    }


def _comparable(path: Path) -> pa.Table:
    import deltalake

    table = deltalake.DeltaTable(str(path)).to_pyarrow_table()
    table = table.drop_columns([c for c in table.column_names if c in RUN_COLUMNS])
    fields = [pa.field(f.name, pa.float64()) if pa.types.is_decimal(f.type) else f for f in table.schema]
    return table.cast(pa.schema(fields))


def differences(expected_root: Path, got_root: Path) -> dict[str, str]:
    """Tables that differ (or exist on one side only), each with what differs; rows counted."""
    expected, got = catalog_tables(expected_root), catalog_tables(got_root)
    found: dict[str, str] = {}
    for name in sorted(set(expected) ^ set(got)):
        found[name] = "only in " + ("expected" if name in expected else "got")
    con = duckdb.connect()
    for name in sorted(set(expected) & set(got)):
        left, right = _comparable(expected[name]), _comparable(got[name])
        if sorted(left.column_names) != sorted(right.column_names):
            found[name] = f"columns {left.column_names} != {right.column_names}"
            continue
        columns = ", ".join(f'"{c}"' for c in left.column_names)
        con.register("l", left)
        con.register("r", right)
        missing = _count(con, f"SELECT {columns} FROM l EXCEPT ALL SELECT {columns} FROM r")
        extra = _count(con, f"SELECT {columns} FROM r EXCEPT ALL SELECT {columns} FROM l")
        if missing or extra:
            found[name] = f"{missing} rows missing, {extra} extra ({left.num_rows} expected)"
        con.unregister("l")
        con.unregister("r")
    con.close()
    return found


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0][0])


def row_counts(root: Path) -> dict[str, int]:
    """Rows per table (from the Delta log's file statistics, without reading the data)."""
    import deltalake

    return {
        name: sum(int(n) for n in deltalake.DeltaTable(str(path)).get_add_actions(flatten=True).column("num_records").to_pylist())
        for name, path in catalog_tables(root).items()
    }
