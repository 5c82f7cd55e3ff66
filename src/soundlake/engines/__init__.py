"""L2: the Engine protocol and capabilities; duckdb/ and spark/ implementations."""
