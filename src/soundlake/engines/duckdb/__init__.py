"""DuckDB engine: DuckDB computes, deltalake reads snapshots and commits."""
