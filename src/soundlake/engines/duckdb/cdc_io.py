"""Expose a Delta table snapshot to DuckDB as a view.

Local tables without deletion vectors or column mapping are read by DuckDB's own Parquet
reader over the snapshot's file list, matching columns by name (parallel, projection and row-group pruning, join
filters pushed into the scan). Anything else goes through deltalake's Arrow dataset.
"""

from __future__ import annotations

from typing import Any

from deltalake import DeltaTable

_UNSUPPORTED_FEATURES = {"deletionVectors", "columnMapping"}


def local_files(table: DeltaTable) -> list[str] | None:
    """Local paths of the snapshot's data files, or None when DuckDB cannot read them."""
    protocol = table.protocol()
    features = set(protocol.reader_features or [])
    if features & _UNSUPPORTED_FEATURES or table.metadata().partition_columns:
        return None
    if table.metadata().configuration.get("delta.columnMapping.mode", "none") != "none":
        return None
    uris = table.file_uris()
    if not uris:
        return None
    files = []
    for uri in uris:
        if uri.startswith("file://"):
            uri = uri[len("file://"):]
        elif "://" in uri:
            return None
        files.append(uri)
    return files


def register_delta(con: Any, name: str, table: DeltaTable) -> None:
    """Create (or replace) the view ``name`` over the current snapshot of ``table``."""
    files = local_files(table)
    if files is None:
        con.register(f"{name}_ds", table.to_pyarrow_dataset())
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {name}_ds")
        return
    listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    # by name: files written by another engine (or before a schema merge) can lack a column
    # such as the CDC state's __commit tag, or order the columns differently
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_parquet([{listing}], union_by_name = true)"
    )
