"""soundlake: a local-first lakehouse pipeline.

Watermark ingestion from a SQL database into bronze Parquet, Auto Loader style file
ingestion into silver, and declarative pipelines (Delta Live Tables semantics) with
expectations and SCD Type 2 history into gold, on DuckDB + Delta or Apache Spark.

Importing this package is cheap: it loads neither duckdb nor pyspark.
"""

from __future__ import annotations

__version__ = "0.1.0"

from soundlake.core.errors import SoundlakeError

__all__ = ["SoundlakeError", "__version__"]
