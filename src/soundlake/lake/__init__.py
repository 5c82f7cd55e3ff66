"""L1: storage: paths (local, abfss://), Parquet IO, Delta operations via deltalake."""
