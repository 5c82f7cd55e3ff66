"""Full-table rewrite written by DuckDB's parallel Parquet writer, committed by deltalake.

deltalake's writer encodes one Arrow stream on one thread; DuckDB writes one file per
thread. For a local table whose columns are all plain types (integers, floats, strings,
booleans, dates, and structs of those) the new files are written by DuckDB straight into
the table folder and committed with ``create_write_transaction(mode="overwrite")`` in one
commit; the per-file statistics come from DuckDB (``RETURN_STATS``): row count, null
counts and exact min/max of integer and string columns. Any other table falls back to
``write_deltalake``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable
from deltalake.transaction import AddAction, RemoveAction

from soundlake.engines.duckdb.cdc_io import local_files

CREATE_FILE_BYTES = 16 * 1024 * 1024
_STAT_TYPES = (pa.types.is_integer, pa.types.is_string, pa.types.is_large_string,
               pa.types.is_string_view)


def _plain(t: pa.DataType) -> bool:
    if pa.types.is_struct(t):
        return all(_plain(t.field(i).type) for i in range(t.num_fields))
    return bool(
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
        or pa.types.is_date32(t) or pa.types.is_string(t) or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
    )


def can_write(target: DeltaTable, schema: pa.Schema) -> bool:
    """True when DuckDB may write the table's files (local, plain column types)."""
    if local_files(target) is None or target.metadata().partition_columns:
        return False
    return plain_schema(schema)


def _stats(row_count: int, column_stats: dict[str, dict[str, str]], schema: pa.Schema) -> str:
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    for field in schema:
        if pa.types.is_struct(field.type):
            continue
        st = column_stats.get(f'"{field.name}"') or column_stats.get(field.name)
        if not st:
            continue
        if "null_count" in st:
            nulls[field.name] = int(st["null_count"])
        exact = st.get("min_is_exact") == "true" and st.get("max_is_exact") == "true"
        if exact and "min" in st and "max" in st and any(p(field.type) for p in _STAT_TYPES):
            conv = int if pa.types.is_integer(field.type) else str
            mins[field.name], maxs[field.name] = conv(st["min"]), conv(st["max"])
    return json.dumps({"numRecords": row_count, "minValues": mins, "maxValues": maxs,
                       "nullCount": nulls})


def local_uri(uri: str) -> bool:
    """True for a plain path or a file:// URI."""
    return uri.startswith("file://") or "://" not in uri


def plain_schema(schema: pa.Schema) -> bool:
    """True when every column has a type DuckDB writes exactly as Delta expects it."""
    return all(_plain(f.type) for f in schema)


def write_with_duckdb(
    con: Any,
    sql: str,
    target: DeltaTable,
    schema: pa.Schema,
    props: CommitProperties,
    *,
    mode: str = "overwrite",
    types_from: str = "cdc_target_ds",
    ordered_by: str | None = None,
) -> None:
    """Write the rows of ``sql`` into the table in one ``mode`` commit.

    Columns are cast to the types of relation ``types_from``. With ``ordered_by`` the rows
    are written in that order into files of about CREATE_FILE_BYTES (narrow key ranges per
    file); otherwise one file per thread.
    """
    root = target.table_uri.removeprefix("file://")
    types = dict(
        con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {types_from})").fetchall()
    )
    cols = ", ".join(f'CAST("{f.name}" AS {types[f.name]}) AS "{f.name}"' for f in schema)
    out = os.path.join(root, f"sl-{uuid.uuid4().hex}")
    query = f"SELECT {cols} FROM ({sql})"
    layout = "PER_THREAD_OUTPUT"
    if ordered_by:
        # an ORDER BY is kept by COPY even with preserve_insertion_order off (the engine's
        # setting, which a confined connection cannot change): files get narrow key ranges
        query += f" ORDER BY {ordered_by}"
        layout = f"FILE_SIZE_BYTES '{CREATE_FILE_BYTES // 2**20}MiB'"
    rows = con.execute(
        f"COPY ({query}) TO '{out}' (FORMAT parquet, COMPRESSION snappy, {layout}, RETURN_STATS)"
    ).fetchall()
    now = int(time.time() * 1000)
    actions: list[AddAction | RemoveAction] = []
    for filename, count, size, _footer, column_stats, *_ in rows:
        rel = os.path.relpath(filename, root).replace(os.sep, "/")
        actions.append(AddAction(rel, int(size), {}, now, True,
                                 _stats(int(count), column_stats or {}, schema)))
    target.create_write_transaction(actions, mode=mode, schema=schema, commit_properties=props)
