"""The pipeline's package (a glob includes it: it defines nothing, as on Databricks)."""
