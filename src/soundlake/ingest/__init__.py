"""L3: source -> bronze: extract plans, Parquet batches, watermark commit."""
